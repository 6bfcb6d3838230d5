import Foundation
import Testing
import CVSegCore
import CVSegIO

/// `cvseg eval partition` end to end: annotator files `<name>_<k>` pair with `<name>`, values
/// are means over annotators then over images, unpaired files fail the run, JSON keys.
@Suite(.serialized) struct EvalPartitionCLITests {
    func json(_ path: String) throws -> JSON { try JSON.parse(FileBytes.read(path), file: path) }

    /// The 2×3 example of PartitionMetricsTests: S = [[1 1 2] [1 3 3]] against G = [[5 5 5] [6 6 6]]
    /// has VI = 1.5·log2(3) − 1 bits and covering 3.5/6; against itself VI 0 and covering 1.
    static let s: [UInt16] = [1, 1, 2, 1, 3, 3], g: [UInt16] = [5, 5, 5, 6, 6, 6]

    func gray16(_ values: [UInt16]) throws -> [UInt8] {
        try ImageEncoder.png(Image<UInt16>(width: 3, height: 2, layout: .gray, samples: values))
    }

    func gray8(_ values: [UInt8], width: Int = 3, height: Int = 2) throws -> [UInt8] {
        try ImageEncoder.png(Image<UInt8>(width: width, height: height, layout: .gray, samples: values))
    }

    @Test func annotatorsPairAndAverage() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        // a/img.png has two annotators (one identical, one the worked example); b.png one, same name.
        try dir.write("p/a/img.png", gray16(Self.s))
        try dir.write("g/a/img_1.png", gray16(Self.s))
        try dir.write("g/a/img_2.png", gray16(Self.g))
        try dir.write("p/b.png", gray16(Self.s))
        try dir.write("g/b.PNG", gray8(Self.g.map { UInt8($0) }))
        let r = try CLI.run(["eval", "partition", "--pred", dir.path + "/p", "--gt", dir.path + "/g",
                             "--per-image", "--json", dir.path + "/out.json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("images 2, ground-truth maps 3 (1–2 per image)"), "\(r.stdout)")
        #expect(r.stdout.contains("VI (bits, lower is better)"))
        let j = try json(dir.path + "/out.json")
        let vi = 1.5 * log2(3.0) - 1
        #expect(j["images"]?.intValue == 2)
        // Image a: mean of (0, vi) and of (1, 3.5/6); image b: vi and 3.5/6; then the mean of images.
        let wantVI: Double = (vi / 2 + vi) / 2, cover: Double = 3.5 / 6
        let wantCovering: Double = ((1 + cover) / 2 + cover) / 2
        let gotVI = try #require(j["VI"]?.doubleValue), gotCovering = try #require(j["covering"]?.doubleValue)
        #expect(abs(gotVI - wantVI) < 1e-12)
        #expect(abs(gotCovering - wantCovering) < 1e-12)
        #expect(j["covering_reverse"]?.doubleValue != nil && j["PRI"]?.doubleValue != nil)
        #expect(j["oracle_fg_IoU"] == nil)
        let rows = try #require(j["per_image"]?.arrayValue)
        #expect(rows.map { $0["file"]?.stringValue } == ["a/img.png", "b.png"])
        #expect(rows[0]["ground_truth"]?.arrayValue?.compactMap(\.stringValue).map { String($0.suffix(9)) } == ["img_1.png", "img_2.png"])
        #expect(rows[0]["per_annotator"]?.arrayValue?.count == 2)
        #expect(abs((rows[1]["VI"]?.doubleValue ?? .nan) - vi) < 1e-12)
        let plain = try CLI.run(["eval", "partition", "--pred", dir.path + "/p", "--gt", dir.path + "/g", "--json", dir.path + "/plain.json"])
        #expect(plain.status == 0)
        #expect(try json(dir.path + "/plain.json")["per_image"] == nil)
    }

    @Test func unpairedFilesFailTheRun() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try dir.write("p/img.png", gray16(Self.s))
        try dir.write("g/img_1.png", gray16(Self.g))
        try dir.write("p/lonely.png", gray16(Self.s))
        try dir.write("g/other_3.png", gray16(Self.g))
        let r = try CLI.run(["eval", "partition", "--pred", dir.path + "/p", "--gt", dir.path + "/g"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("lonely.png: no ground truth for it"), "\(r.stderr)")
        #expect(r.stderr.contains("other_3.png: no prediction for it"), "\(r.stderr)")
        #expect(r.stdout.contains("images 1,")) // the paired image is still scored
        let allowed = try CLI.run(["eval", "partition", "--pred", dir.path + "/p", "--gt", dir.path + "/g", "--allow-unpaired"])
        #expect(allowed.status == 0)
        // A size mismatch names both files.
        try dir.write("p2/x.png", gray16(Self.s))
        try dir.write("g2/x_1.png", gray8([0, 0, 0, 0], width: 2, height: 2))
        let bad = try CLI.run(["eval", "partition", "--pred", dir.path + "/p2", "--gt", dir.path + "/g2"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("x.png: prediction is 3x2 but ground truth") && bad.stderr.contains("x_1.png is 2x2"), "\(bad.stderr)")
    }

    @Test func binaryGroundTruthAddsOracleIoU() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        // Regions 1 (one foreground pixel of two: a tie, background), 2 (foreground), 3 (background).
        try dir.write("p/h.png", gray8([1, 1, 2, 2, 3], width: 5, height: 1))
        try dir.write("g/h.png", gray8([0, 255, 1, 1, 0], width: 5, height: 1))
        let r = try CLI.run(["eval", "partition", "--pred", dir.path + "/p", "--gt", dir.path + "/g", "--binary-gt",
                             "--per-image", "--json", dir.path + "/o.json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("oracle foreground IoU 0.6667"), "\(r.stdout)")
        let j = try json(dir.path + "/o.json")
        #expect(abs((j["oracle_fg_IoU"]?.doubleValue ?? .nan) - 2.0 / 3) < 1e-12)
        #expect(j["oracle"]?["tp"]?.intValue == 2 && j["oracle"]?["fn"]?.intValue == 1)
        #expect(j["per_image"]?.arrayValue?.first?["oracle_fg_IoU"]?.doubleValue != nil)
        // --ignore compares with the file's values: the 255 pixel leaves, region 1 is background only.
        let ignored = try CLI.run(["eval", "partition", "--pred", dir.path + "/p", "--gt", dir.path + "/g", "--binary-gt",
                                   "--ignore", "255", "--json", dir.path + "/i.json"])
        #expect(ignored.status == 0, "\(ignored.stderr)")
        let i = try json(dir.path + "/i.json")
        #expect(i["oracle"]?["tp"]?.intValue == 2 && i["oracle"]?["fn"]?.intValue == 0 && i["oracle"]?["tn"]?.intValue == 2)
    }
}
