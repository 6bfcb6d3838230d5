import Foundation
import Testing
import CVSegCore
import CVSegIO
import CVSegNN

/// `cvseg train rcnn|fast-rcnn|faster-rcnn` and `cvseg detect`: the real binary on small
/// synthetic folders in PennFudan's layout (bright rectangles are objects; instance masks).
@Suite(.serialized) struct DetectCLITests {
    /// `count` images `<prefix>/images/pNN.png` (64×64) with one or two bright boxes and their
    /// instance masks `<prefix>/masks/pNN_mask.png`.
    static func makeSet(_ dir: TempDir, _ prefix: String, count: Int, seed: UInt64) throws {
        var g = SplitMix64(seed: seed)
        for i in 0..<count {
            let (w, h) = (64, 64)
            var rgb = [UInt8](repeating: 0, count: w * h * 3), mask = [UInt8](repeating: 0, count: w * h)
            for y in 0..<h { for x in 0..<w { for c in 0..<3 { rgb[(y * w + x) * 3 + c] = UInt8(20 + g.next() % 40) } } }
            let objects = 1 + Int(g.next() % 2)
            for k in 0..<objects {
                let x0 = k == 0 ? Int(g.next() % 12) : 34 + Int(g.next() % 10), y0 = Int(g.next() % 20)
                let bw = 12 + Int(g.next() % 8), bh = 26 + Int(g.next() % 12)
                for y in y0..<min(h, y0 + bh) {
                    for x in x0..<min(w, x0 + bw) {
                        rgb[(y * w + x) * 3] = 230; rgb[(y * w + x) * 3 + 1] = 200
                        mask[y * w + x] = UInt8(k + 1)
                    }
                }
            }
            let name = String(format: "p%02d", i)
            try dir.write("\(prefix)/images/\(name).png", ImageEncoder.png(Image(width: w, height: h, layout: .rgb, samples: rgb)))
            try dir.write("\(prefix)/masks/\(name)_mask.png", ImageEncoder.png(Image(width: w, height: h, layout: .gray, samples: mask)))
        }
    }

    static func trainArguments(_ dir: TempDir, _ method: String, output: String, epochs: Int, validation: Bool = true) -> [String] {
        var a = ["train", method, "--images", dir.path + "/train/images", "--gt", dir.path + "/train/masks",
                 "-o", dir.path + "/" + output, "--epochs", String(epochs), "--batch-size", "2",
                 "--config", "widths=4,4,8,8,8", "--config", "convs=1,1,1,1,1", "--config", "fc_width=16",
                 "--config", "min_size=64", "--config", "max_size=64", "--config", "anchor_sizes=16,32",
                 "--config", "anchor_ratios=2", "--config", "rpn_batch_size_per_image=32", "--config", "box_batch_size_per_image=16",
                 "--config", "max_proposals=60", "--optimizer", "adam", "--lr", "0.01", "--seed", "4", "--quiet"]
        if validation { a += ["--val-images", dir.path + "/val/images", "--val-gt", dir.path + "/val/masks"] }
        return a
    }

    @Test func trainFasterRCNNThenDetectDrawAndEvaluate() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeSet(dir, "train", count: 6, seed: 1)
        try Self.makeSet(dir, "val", count: 3, seed: 2)
        let r = try CLI.run(Self.trainArguments(dir, "faster-rcnn", output: "m.safetensors", epochs: 3))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(dir.files().filter { $0.hasPrefix("m.") } == ["m.ckpt.safetensors", "m.csv", "m.png", "m.safetensors"])
        let csv = try String(contentsOfFile: dir.path + "/m.csv", encoding: .utf8)
        let records = try DetectionEpochRecord.parse(csv: csv, source: "m.csv")
        #expect(records.map(\.epoch) == [1, 2, 3] && records.map(\.steps) == [3, 6, 9])
        #expect(records.allSatisfy { $0.validationAP != nil && $0.validationAP50 != nil && $0.parts.allSatisfy { $0 >= 0 } })
        #expect(records.allSatisfy { $0.parts[0] > 0 && $0.parts[2] > 0 })
        let meta = try #require(try Safetensors.read(dir.path + "/m.safetensors").metadata)
        #expect(meta["architecture"] == "faster-rcnn" && meta["classes"] == "1" && meta["class_names"] == #"["pedestrian"]"#)
        #expect(meta["min_size"] == "64" && meta["anchor_ratios"] == "2.0" && meta["category_ids"] == "[1]")
        guard case .image(.uint8(let curve)) = try ImageFile.read(dir.path + "/m.png", options: DecodeOptions(palette: .expand)) else {
            Issue.record("curve"); return
        }
        #expect(curve.width == 640 && curve.height == 640)

        // Detect on the validation folder plus a corrupt file: the others are written, the
        // corrupt one is named and the status is 1.
        try dir.write("val/images/zz.png", Array("not a png".utf8))
        let d = try CLI.run(["detect", "faster-rcnn", "--weights", dir.path + "/m.safetensors", dir.path + "/val/images",
                             "-o", dir.path + "/det.json", "--score-threshold", "0", "--draw", dir.path + "/drawn", "--draw-threshold", "0"])
        #expect(d.status == 1 && d.stderr.contains("FAILED") && d.stderr.contains("zz.png"), "\(d.stderr)")
        let json = try JSON.parse(String(contentsOfFile: dir.path + "/det.json", encoding: .utf8), file: "det.json")
        let list = try #require(json.arrayValue)
        #expect(!list.isEmpty)
        let files = Set(list.compactMap { $0["file_name"]?.stringValue })
        #expect(files.isSubset(of: ["p00.png", "p01.png", "p02.png"]))
        for item in list {
            let name = try #require(item["file_name"]?.stringValue)
            let id = try #require(item["image_id"]?.intValue)
            #expect(id == ["p00.png": 1, "p01.png": 2, "p02.png": 3][name], "sorted input order gives the ids")
            #expect(item["category_id"]?.intValue == 1 && item["bbox"]?.arrayValue?.count == 4)
        }
        #expect(dir.files("drawn").sorted() == ["p00.png", "p01.png", "p02.png"])
        guard case .image(.uint8(let drawn)) = try ImageFile.read(dir.path + "/drawn/p00.png", options: DecodeOptions(palette: .expand)) else {
            Issue.record("drawn"); return
        }
        #expect(drawn.width == 64 && drawn.height == 64 && drawn.layout == .rgb)

        // The results evaluate against the masks' boxes.
        try FileManager.default.removeItem(atPath: dir.path + "/val/images/zz.png")
        let e = try CLI.run(["eval", "det", "--pred", dir.path + "/det.json", "--gt", dir.path + "/val/masks", "--metric", "coco",
                             "--json", dir.path + "/eval.json"])
        #expect(e.status == 0, "\(e.stderr)")

        // Two shards together give the whole batch's detections, with the whole batch's ids.
        var shards: [JSON] = []
        for k in 1...2 {
            let r = try CLI.run(["detect", "faster-rcnn", "--weights", dir.path + "/m.safetensors", dir.path + "/val/images",
                                 "-o", dir.path + "/s\(k).json", "--score-threshold", "0", "--shard", "\(k)/2", "--quiet"])
            #expect(r.status == 0, "\(r.stderr)")
            shards += try #require(try JSON.parse(String(contentsOfFile: dir.path + "/s\(k).json", encoding: .utf8), file: "s").arrayValue)
        }
        func key(_ j: JSON) -> String { j.text(indent: 0) }
        #expect(Set(shards.map(key)) == Set(list.map(key)))

        // Image ids from a COCO instances file (by file name).
        let coco = #"{"images": [{"id": 7, "file_name": "p00.png", "width": 64, "height": 64}, {"id": 9, "file_name": "p01.png", "width": 64, "height": 64}, {"id": 11, "file_name": "p02.png", "width": 64, "height": 64}], "categories": [{"id": 1, "name": "pedestrian"}], "annotations": []}"#
        try dir.write("gt.json", Array(coco.utf8))
        let g = try CLI.run(["detect", "faster-rcnn", "--weights", dir.path + "/m.safetensors", dir.path + "/val/images",
                             "-o", dir.path + "/det2.json", "--score-threshold", "0", "--gt", dir.path + "/gt.json", "--quiet"])
        #expect(g.status == 0, "\(g.stderr)")
        let list2 = try #require(try JSON.parse(String(contentsOfFile: dir.path + "/det2.json", encoding: .utf8), file: "det2.json").arrayValue)
        #expect(list2.count == list.count)
        for item in list2 {
            let name = try #require(item["file_name"]?.stringValue)
            #expect(item["image_id"]?.intValue == ["p00.png": 7, "p01.png": 9, "p02.png": 11][name])
        }
    }

    /// Two epochs, then one more from the checkpoint, equal three epochs in one go.
    @Test func resumingContinuesExactly() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeSet(dir, "train", count: 4, seed: 3)
        let whole = try CLI.run(Self.trainArguments(dir, "faster-rcnn", output: "whole.safetensors", epochs: 3, validation: false))
        #expect(whole.status == 0, "\(whole.stderr)")
        let first = try CLI.run(Self.trainArguments(dir, "faster-rcnn", output: "part.safetensors", epochs: 2, validation: false))
        #expect(first.status == 0, "\(first.stderr)")
        let rest = try CLI.run(Self.trainArguments(dir, "faster-rcnn", output: "part.safetensors", epochs: 3, validation: false)
                               + ["--resume", dir.path + "/part.ckpt.safetensors"])
        #expect(rest.status == 0, "\(rest.stderr)")
        let a = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/whole.safetensors"))
        #expect(a == (try Data(contentsOf: URL(fileURLWithPath: dir.path + "/part.safetensors"))))
        let other = try CLI.run(Self.trainArguments(dir, "faster-rcnn", output: "x.safetensors", epochs: 3, validation: false)
                                + ["--config", "rpn_nms_thresh=0.6", "--resume", dir.path + "/part.ckpt.safetensors"])
        #expect(other.status != 0 && other.stderr.contains("rpn_nms_thresh"), "\(other.stderr)")
    }

    /// R-CNN and Fast R-CNN train on selective-search proposals and detect.
    @Test(arguments: ["rcnn", "fast-rcnn"])
    func selectiveSearchMethodsTrainAndDetect(_ method: String) throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeSet(dir, "train", count: 4, seed: 5)
        try Self.makeSet(dir, "val", count: 2, seed: 6)
        var args = Self.trainArguments(dir, method, output: "m.safetensors", epochs: 2)
        if method == "rcnn" { args += ["--config", "pool_size=2"] }  // 32-pixel warps in this test
        let r = try CLI.run(args)
        #expect(r.status == 0, "\(r.stderr)")
        let records = try DetectionEpochRecord.parse(csv: String(contentsOfFile: dir.path + "/m.csv", encoding: .utf8), source: "m.csv")
        #expect(records.count == 2 && records.allSatisfy { $0.parts[0] == 0 && $0.parts[1] == 0 && $0.parts[2] > 0 })
        let d = try CLI.run(["detect", method, "--weights", dir.path + "/m.safetensors", dir.path + "/val/images",
                             "-o", dir.path + "/det.json", "--quiet"])
        #expect(d.status == 0, "\(d.stderr)")
        // The wrong method for the file is refused.
        let wrong = try CLI.run(["detect", method == "rcnn" ? "fast-rcnn" : "rcnn", "--weights", dir.path + "/m.safetensors",
                                 dir.path + "/val/images", "-o", dir.path + "/x.json", "--quiet"])
        #expect(wrong.status != 0 && wrong.stderr.contains("a \(method) model"), "\(wrong.stderr)")
    }

    @Test func badInputIsNamed() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeSet(dir, "train", count: 3, seed: 7)
        // An image without ground truth: an error naming it, unless --negatives.
        try FileManager.default.removeItem(atPath: dir.path + "/train/masks/p01_mask.png")
        let missing = try CLI.run(Self.trainArguments(dir, "faster-rcnn", output: "m.safetensors", epochs: 1, validation: false))
        #expect(missing.status != 0 && missing.stderr.contains("p01"), "\(missing.stderr)")
        let negatives = try CLI.run(Self.trainArguments(dir, "faster-rcnn", output: "m.safetensors", epochs: 1, validation: false)
                                    + ["--negatives"])
        #expect(negatives.status == 0, "\(negatives.stderr)")
        // An unknown setting lists the known ones.
        let unknown = try CLI.run(Self.trainArguments(dir, "faster-rcnn", output: "m.safetensors", epochs: 1, validation: false)
                                  + ["--negatives", "--config", "anchors=3"])
        #expect(unknown.status != 0 && unknown.stderr.contains("no setting 'anchors'") && unknown.stderr.contains("anchor_sizes"), "\(unknown.stderr)")
        // A file that is not a detector.
        try dir.write("seg.safetensors", Array(try Safetensors.encode([(name: "w", array: FloatArray(shape: [1], values: [1]))],
                                                                       metadata: ["architecture": "fcn8s"])))
        let notDetector = try CLI.run(["detect", "faster-rcnn", "--weights", dir.path + "/seg.safetensors", dir.path + "/train/images",
                                       "-o", dir.path + "/d.json"])
        #expect(notDetector.status != 0 && notDetector.stderr.contains("seg.safetensors") && notDetector.stderr.contains("not a cvseg detector"),
                "\(notDetector.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/d.json"))
    }
}
