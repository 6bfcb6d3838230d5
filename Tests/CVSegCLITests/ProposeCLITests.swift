import Foundation
import Testing
import CVSegCore
import CVSegIO

/// `cvseg propose` end to end: one JSON for the batch, files relative to their input root,
/// broken files reported while the others go on, --draw, determinism and option errors.
@Suite(.serialized) struct ProposeCLITests {
    static func picture(seed: UInt8) -> Image<UInt8> {
        var samples = [UInt8](repeating: 0, count: 40 * 30 * 3)
        for y in 0..<30 {
            for x in 0..<40 {
                let inside = x > 8 && x < 25 && y > 5 && y < 20
                let i = 3 * (y * 40 + x)
                samples[i] = inside ? 220 : 30 &+ seed
                samples[i + 1] = inside ? 40 : 90
                samples[i + 2] = UInt8((x * 3 + y * 5) % 50)
            }
        }
        return Image(width: 40, height: 30, layout: .rgb, samples: samples)
    }

    @Test func writesOneJSONAndGoesOnPastBrokenFiles() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try dir.write("in/a.png", ImageEncoder.png(Self.picture(seed: 0)))
        try dir.write("in/sub/b.jpg", ImageEncoder.jpeg(Self.picture(seed: 9), quality: 95))
        try dir.write("in/sub/broken.png", Array(try ImageEncoder.png(Self.picture(seed: 1)).prefix(60)))
        let out = dir.path + "/p.json"
        let r = try CLI.run(["propose", "--mode", "single", dir.path + "/in", "-o", out, "--draw", dir.path + "/draw",
                             "--max-boxes", "50", "-q"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("FAILED") && r.stderr.contains("broken.png"))
        let json = try JSON.parse(FileBytes.read(out), file: out)
        let entries = try #require(json.arrayValue)
        #expect(entries.map { $0["file"]?.stringValue } == ["a.png", "sub/b.jpg"])
        for entry in entries {
            #expect(entry["width"]?.intValue == 40 && entry["height"]?.intValue == 30)
            let boxes = try #require(entry["boxes"]?.arrayValue)
            #expect(!boxes.isEmpty && boxes.count <= 50)
            for box in boxes {
                let v = box.arrayValue?.compactMap(\.intValue) ?? []
                #expect(v.count == 4 && v[0] >= 0 && v[1] >= 0 && v[2] >= 1 && v[3] >= 1 && v[0] + v[2] <= 40 && v[1] + v[3] <= 30)
            }
            // The red rectangle (x 9...24, y 6...19) is proposed.
            #expect(boxes.contains { $0.arrayValue?.compactMap(\.intValue) == [9, 6, 16, 14] })
        }
        #expect(dir.files("draw") == ["a.png", "sub/b.png"])
        // Same inputs and seed: the same bytes; jobs do not matter.
        let again = dir.path + "/p2.json"
        let r2 = try CLI.run(["propose", "--mode", "single", dir.path + "/in", "-o", again,
                              "--max-boxes", "50", "--jobs", "1", "-q"])
        #expect(r2.status == 1)
        let first = String(decoding: try FileBytes.read(out), as: UTF8.self)
        #expect(first == String(decoding: try FileBytes.read(again), as: UTF8.self))
        // A file named directly is relative to its own folder.
        let r3 = try CLI.run(["propose", "--mode", "single", dir.path + "/in/sub/b.jpg", "-o", again, "-q"])
        #expect(r3.status == 0)
        #expect(String(decoding: try FileBytes.read(again), as: UTF8.self).contains("\"file\":\"b.jpg\""))
    }

    @Test func optionErrors() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try dir.write("a.png", ImageEncoder.png(Self.picture(seed: 0)))
        let cases: [([String], String)] = [
            (["--color-spaces", "hsv,xyz"], "--color-spaces: cannot read 'xyz'"),
            (["--ks", "50,-1"], "--ks: cannot read '-1'"),
            (["--similarities", "C+T+Q"], "--similarities: cannot read 'C+T+Q'"),
            (["--max-boxes", "0"], "--max-boxes must be at least 1"),
            (["--min-size", "-2"], "--min-size must be 0 or more"),
            (["--sigma", "-1"], "--sigma must be 0 or more"),
            (["--mode", "best"], "'best' is invalid for '--mode"),
        ]
        for (args, message) in cases {
            let r = try CLI.run(["propose", dir.path + "/a.png", "-o", dir.path + "/p.json"] + args)
            #expect(r.status == 64, "\(args): \(r.status)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/p.json"))
        // Explicit lists replace the mode's.
        let r = try CLI.run(["propose", dir.path + "/a.png", "-o", dir.path + "/p.json", "--color-spaces", "rgI,H",
                             "--ks", "30", "--similarities", "S,F", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
    }
}
