import Foundation
import Testing
import CVSegCore
import CVSegIO

/// `cvseg eval` end to end on the reference fixtures: shards merged equal one run, and bad
/// input gets a clear message.
@Suite(.serialized) struct EvalCLITests {
    static let fixtures = CLI.packageRoot + "/Tests/CVSegEvalTests/Fixtures"

    func json(_ path: String) throws -> JSON { try JSON.parse(FileBytes.read(path), file: path) }

    @Test func segmentationShardsMergeToTheWholeRun() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let set = Self.fixtures + "/seg/multiclass"
        let names = try FileManager.default.contentsOfDirectory(atPath: set + "/gt").sorted()
        for (i, name) in names.enumerated() {
            let part = i % 2 == 0 ? "a" : "b"
            try dir.write("\(part)/pred/\(name)", FileBytes.read("\(set)/pred/\(name)"))
            try dir.write("\(part)/gt/\(name)", FileBytes.read("\(set)/gt/\(name)"))
        }
        let whole = try CLI.run(["eval", "seg", "--pred", set + "/pred", "--gt", set + "/gt", "--num-classes", "6",
                                 "--per-image", "--json", dir.path + "/whole.json"])
        #expect(whole.status == 0, "\(whole.stderr)")
        for part in ["a", "b"] {
            let r = try CLI.run(["eval", "seg", "--pred", "\(dir.path)/\(part)/pred", "--gt", "\(dir.path)/\(part)/gt",
                                 "--num-classes", "6", "--per-image", "--save-state", "\(dir.path)/\(part).state"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let merged = try CLI.run(["eval", "merge", dir.path + "/a.state", dir.path + "/b.state", "--json", dir.path + "/merged.json"])
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(try json(dir.path + "/merged.json") == json(dir.path + "/whole.json"))
        #expect(merged.stdout == whole.stdout)
        // The reference numbers (numpy) for the whole set.
        let expected = try json(set + "/expected.json")
        #expect(abs((try json(dir.path + "/merged.json")["mIoU"]?.doubleValue ?? 0) - expected["mIoU"]!.doubleValue!) < 1e-12)
    }

    @Test func detectionShardsMergeToTheWholeRun() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let set = Self.fixtures + "/coco/basic"
        let detections = try json(set + "/dt.json").arrayValue!
        let half = detections.count / 2
        try dir.write("a.json", Array(JSON.array(Array(detections[..<half])).text().utf8))
        try dir.write("b.json", Array(JSON.array(Array(detections[half...])).text().utf8))
        let whole = try CLI.run(["eval", "det", "--pred", set + "/dt.json", "--gt", set + "/gt.json", "--json", dir.path + "/whole.json"])
        #expect(whole.status == 0, "\(whole.stderr)")
        for part in ["a", "b"] {
            let r = try CLI.run(["eval", "det", "--pred", "\(dir.path)/\(part).json", "--gt", set + "/gt.json",
                                 "--save-state", "\(dir.path)/\(part).state"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let merged = try CLI.run(["eval", "merge", dir.path + "/a.state", dir.path + "/b.state", "--json", dir.path + "/merged.json"])
        #expect(merged.status == 0, "\(merged.stderr)")
        let m = try json(dir.path + "/merged.json"), w = try json(dir.path + "/whole.json")
        for key in ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"] {
            #expect(m[key]?.doubleValue == w[key]?.doubleValue, "\(key)")
        }
        let reference = try json(set + "/expected.json")["stats"]!.arrayValue!.map { $0.doubleValue! }
        #expect(abs(m["AP"]!.doubleValue! - reference[0]) < 1e-6)
        // States made against different ground truth do not merge.
        let other = try CLI.run(["eval", "det", "--pred", Self.fixtures + "/coco/crowd/dt.json", "--gt", Self.fixtures + "/coco/crowd/gt.json",
                                 "--save-state", dir.path + "/c.state"])
        #expect(other.status == 0)
        let mixed = try CLI.run(["eval", "merge", dir.path + "/a.state", dir.path + "/c.state"])
        #expect(mixed.status == 1)
        #expect(mixed.stderr.contains("ground truth differs"))
    }

    @Test func badInputGetsClearMessages() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let gt = Self.fixtures + "/coco/basic/gt.json"
        try dir.write("bad.json", Array("[{\"image_id\": 1,\n  \"bbox\": [1, 2, 3, 4], }]".utf8))
        let malformed = try CLI.run(["eval", "det", "--pred", dir.path + "/bad.json", "--gt", gt])
        #expect(malformed.status == 1)
        #expect(malformed.stderr.contains("bad.json:2:25: expected a string key"), "\(malformed.stderr)")
        try dir.write("unknown.json", Array(#"[{"image_id": 999999, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]"#.utf8))
        let unknownImage = try CLI.run(["eval", "det", "--pred", dir.path + "/unknown.json", "--gt", gt])
        #expect(unknownImage.status == 1)
        #expect(unknownImage.stderr.contains("image_id 999999 is not in the ground truth"))
        let unknownCategory = try CLI.run(["eval", "det", "--pred", Self.fixtures + "/coco/empty_category/dt.json",
                                           "--gt", Self.fixtures + "/coco/empty_category/gt.json", "--strict"])
        #expect(unknownCategory.status == 1)
        #expect(unknownCategory.stderr.contains("category_id that is not in the ground truth"))

        // Segmentation: a size mismatch, a label past --num-classes, a file without partner.
        try dir.write("p/a.png", ImageEncoder.png(Image<UInt8>(width: 4, height: 4, layout: .gray)))
        try dir.write("g/a.png", ImageEncoder.png(Image<UInt8>(width: 5, height: 4, layout: .gray)))
        try dir.write("p/b.png", ImageEncoder.png(Image<UInt8>(width: 2, height: 2, layout: .gray, samples: [0, 1, 2, 7])))
        try dir.write("g/b.png", ImageEncoder.png(Image<UInt8>(width: 2, height: 2, layout: .gray)))
        try dir.write("p/c.png", ImageEncoder.png(Image<UInt8>(width: 2, height: 2, layout: .gray)))
        try dir.write("g/c.png", ImageEncoder.png(Image<UInt8>(width: 2, height: 2, layout: .gray)))
        try dir.write("p/only.png", ImageEncoder.png(Image<UInt8>(width: 2, height: 2, layout: .gray)))
        let seg = try CLI.run(["eval", "seg", "--pred", dir.path + "/p", "--gt", dir.path + "/g", "--num-classes", "3"])
        #expect(seg.status == 1)
        #expect(seg.stderr.contains("prediction is 4x4 but ground truth"))
        #expect(seg.stderr.contains("label out of range 0..<3: ground truth 0, prediction 7"))
        #expect(seg.stderr.contains("only.png: no ground truth for it"))
        #expect(seg.stdout.contains("images 1,")) // c.png alone was evaluated
        let strict = try CLI.run(["eval", "seg", "--pred", dir.path + "/p", "--gt", dir.path + "/g", "--num-classes", "3", "--strict"])
        #expect(strict.status == 1)
        #expect(!strict.stdout.contains("mIoU"))
    }

    @Test func vocFolderAndInstanceMasksAsGroundTruth() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try dir.write("voc/img1.xml", Array("""
            <annotation><filename>img1.jpg</filename><object><name>dog</name><difficult>0</difficult>
            <bndbox><xmin>10</xmin><ymin>10</ymin><xmax>49</xmax><ymax>49</ymax></bndbox></object></annotation>
            """.utf8))
        try dir.write("pred.json", Array("""
            [{"file_name": "img1.png", "image_id": 0, "category_id": 1, "bbox": [10, 10, 39, 39], "score": 0.9}]
            """.utf8))
        let r = try CLI.run(["eval", "det", "--pred", dir.path + "/pred.json", "--gt", dir.path + "/voc", "--metric", "voc12"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("mAP 1.0000"))
        // An instance mask with two objects; one detection finds one of them.
        var mask = Image<UInt8>(width: 20, height: 10, layout: .gray)
        for y in 2..<6 { for x in 1..<5 { mask[x, y] = 1 } }
        for y in 1..<9 { for x in 10..<18 { mask[x, y] = 2 } }
        try dir.write("masks/p1_mask.png", ImageEncoder.png(mask))
        try dir.write("pred2.json", Array("""
            [{"file_name": "p1.png", "image_id": 0, "category_id": 1, "bbox": [10, 1, 8, 8], "score": 0.9}]
            """.utf8))
        let m = try CLI.run(["eval", "det", "--pred", dir.path + "/pred2.json", "--gt", dir.path + "/masks", "--json", dir.path + "/m.json"])
        #expect(m.status == 0, "\(m.stderr)")
        let j = try json(dir.path + "/m.json")
        // One of two objects found at every IoU threshold, precision 1: AP 0.5 (101-point: recall 0…0.5).
        #expect(abs(j["AP50"]!.doubleValue! - 51.0 / 101.0) < 1e-9)
    }

    @Test func plotsAreWrittenAsPNG() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let f = Self.fixtures
        let det = try CLI.run(["eval", "det", "--pred", f + "/coco/crowd/dt.json", "--gt", f + "/coco/crowd/gt.json", "--plots", dir.path + "/det"])
        #expect(det.status == 0, "\(det.stderr)")
        #expect(dir.files("det") == ["pr/1_class_1.png", "pr/2_class_2.png", "pr/3_class_3.png"])
        let seg = try CLI.run(["eval", "seg", "--pred", f + "/seg/multiclass/pred", "--gt", f + "/seg/multiclass/gt",
                               "--num-classes", "6", "--plots", dir.path + "/seg"])
        #expect(seg.status == 0, "\(seg.stderr)")
        for path in [dir.path + "/det/pr/1_class_1.png", dir.path + "/seg/confusion.png"] {
            guard case .image(.uint8(let image)) = try ImageFile.read(path, options: DecodeOptions(palette: .expand)) else {
                Issue.record("\(path) is not an 8-bit image"); continue
            }
            #expect(image.layout == .rgb && image.width >= 640 && image.height >= 480)
            // Not a blank canvas: several colours drawn.
            #expect(Set(stride(from: 0, to: image.samples.count, by: 3).map { image.samples[$0] }).count > 5)
        }
    }

    /// The README's document path end to end: Otsu masks of the DIBCO 2009/2010 development
    /// images scored with --metric dibco give doxapy 0.9.9's means for the same binarization.
    @Test func dibcoMeansMatchDoxapy() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let data = ProcessInfo.processInfo.environment["CVSEG_DATA"] ?? CLI.packageRoot + "/../shared/data"
        let seg = try CLI.run(["segment", "otsu", data + "/dibco/images", "-o", dir.path + "/masks", "--quiet"])
        #expect(seg.status == 0, "\(seg.stderr)")
        let r = try CLI.run(["eval", "seg", "--metric", "dibco", "--pred", dir.path + "/masks", "--gt", data + "/dibco/gt",
                             "--json", dir.path + "/d.json"])
        #expect(r.status == 0, "\(r.stderr)")
        let got = try json(dir.path + "/d.json")
        let want = try json(Self.fixtures + "/dibco/expected.json")["means"]!["otsu_gray15"]!
        #expect(got["images"]?.intValue == 20)
        for (mine, theirs) in [("fm", "fm"), ("pfm", "pfm"), ("recall", "recall"), ("precision", "precision"),
                               ("psnr", "psnr"), ("drd", "drdm")] {
            let a = got["means"]![mine]!.doubleValue!, b = want[theirs]!.doubleValue!
            #expect(abs(a - b) <= 1e-9 * max(1, abs(b)), "\(mine): \(a) vs \(b)")
        }
    }
}
