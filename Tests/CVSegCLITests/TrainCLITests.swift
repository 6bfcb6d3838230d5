import Foundation
import Testing
import CVSegCore
import CVSegIO
import CVSegNN
import CVSegTensor

/// `cvseg train <arch>`: the real binary on small synthetic folders (a bright red rectangle on
/// a dark noisy background is class 1), its files, its determinism, `--resume`, and its errors.
@Suite(.serialized) struct TrainCLITests {
    /// `count` pairs `<prefix>/images/iNN.png` + `<prefix>/masks/iNN.png` (0/1 masks, 40×32).
    static func makeSet(_ dir: TempDir, _ prefix: String, count: Int, seed: UInt64) throws {
        var g = SplitMix64(seed: seed)
        for i in 0..<count {
            let (w, h) = (40, 32)
            var rgb = [UInt8](repeating: 0, count: w * h * 3), mask = [UInt8](repeating: 0, count: w * h)
            let x0 = Int(g.next() % 20), y0 = Int(g.next() % 16), rw = 8 + Int(g.next() % 12), rh = 8 + Int(g.next() % 12)
            for y in 0..<h {
                for x in 0..<w {
                    let inside = x >= x0 && x < x0 + rw && y >= y0 && y < y0 + rh
                    let noise = UInt8(g.next() % 40)
                    let p = (y * w + x) * 3
                    rgb[p] = inside ? 200 + noise : 30 + noise
                    rgb[p + 1] = 30 + noise
                    rgb[p + 2] = inside ? 40 : 60 + noise
                    mask[y * w + x] = inside ? 1 : 0
                }
            }
            let name = String(format: "i%02d.png", i)
            try dir.write("\(prefix)/images/\(name)", ImageEncoder.png(Image(width: w, height: h, layout: .rgb, samples: rgb)))
            try dir.write("\(prefix)/masks/\(name)", ImageEncoder.png(Image(width: w, height: h, layout: .gray, samples: mask)))
        }
    }

    /// A small FCN-8s run's arguments (tiny widths, 32-pixel input).
    static func trainArguments(_ dir: TempDir, output: String, epochs: Int, validation: Bool = true) -> [String] {
        var a = ["train", "fcn8s", "--images", dir.path + "/train/images", "--masks", dir.path + "/train/masks",
                 "-o", dir.path + "/" + output, "--epochs", String(epochs), "--batch-size", "4", "--input-size", "32",
                 "--config", "widths=4,8,8,8,8", "--config", "convs=1,1,1,1,1", "--config", "fc_width=16",
                 "--lr", "0.01", "--seed", "5", "--quiet"]
        if validation { a += ["--val-images", dir.path + "/val/images", "--val-masks", dir.path + "/val/masks"] }
        return a
    }

    @Test func writesModelLogCurveAndCheckpointAndTheModelRunsWithoutFlags() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeSet(dir, "train", count: 8, seed: 1)
        try Self.makeSet(dir, "val", count: 3, seed: 2)
        try dir.write("names.txt", Array("background\nred box\n".utf8))
        let r = try CLI.run(Self.trainArguments(dir, output: "m.safetensors", epochs: 3) + ["--class-names", dir.path + "/names.txt"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(dir.files() .filter { $0.hasPrefix("m.") } == ["m.ckpt.safetensors", "m.csv", "m.png", "m.safetensors"])

        let csv = try String(contentsOfFile: dir.path + "/m.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(csv.count == 4 && csv[0] == EpochRecord.csvHeader)
        let records = try EpochRecord.parse(csv: csv.joined(separator: "\n"), source: "m.csv")
        #expect(records.map(\.epoch) == [1, 2, 3] && records.map(\.steps) == [2, 4, 6])
        #expect(records.allSatisfy { $0.validationMIoU != nil && $0.validationForegroundIoU != nil && $0.loss.isFinite })
        #expect(records[2].loss < records[0].loss, "the loss should fall on this easy task: \(records.map(\.loss))")

        // The model records its architecture, classes and preprocessing.
        let file = try Safetensors.read(dir.path + "/m.safetensors")
        let meta = try #require(file.metadata)
        #expect(meta["architecture"] == "fcn8s" && meta["classes"] == "2" && meta["widths"] == "4,8,8,8,8")
        #expect(meta["input_size"] == "32" && meta["class_names"] == #"["background","red box"]"#)
        let best = try #require(records.max { ($0.validationMIoU ?? 0) < ($1.validationMIoU ?? 0) })
        #expect(meta["best_epoch"] == String(best.epoch))

        // The curve picture: two charts of 640×320 stacked.
        guard case .image(.uint8(let curve)) = try ImageFile.read(dir.path + "/m.png", options: DecodeOptions(palette: .expand)) else { Issue.record("curve"); return }
        #expect(curve.width == 640 && curve.height == 640)

        // `segment` needs only --weights: it reads the input size from the metadata.
        let s = try CLI.run(["segment", "fcn8s", "--weights", dir.path + "/m.safetensors", dir.path + "/val/images/i00.png",
                             "-o", dir.path + "/out", "--format", "labels", "--quiet"])
        #expect(s.status == 0, "\(s.stderr)")
        let model = try SegmentationModel.load(from: dir.path + "/m.safetensors")
        let out = try SegmentNetCLITests.readGray(dir.path + "/out/i00.png")
        let expected = try SegmentNetCLITests.expectedLabels(model, dir.path + "/val/images/i00.png", inputSize: 32)
        #expect(out.samples.map(Int32.init) == expected.labels)
    }

    /// Same seed, same bytes; and 2 epochs, then 2 more from the checkpoint, equal 4 epochs in
    /// one go (with a constant learning rate: poly and cosine schedules span --epochs, so
    /// raising --epochs on resume changes their later rates).
    @Test func resumingContinuesExactly() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeSet(dir, "train", count: 8, seed: 3)
        let constant = ["--schedule", "constant"]
        let whole = try CLI.run(Self.trainArguments(dir, output: "whole.safetensors", epochs: 4, validation: false) + constant)
        #expect(whole.status == 0, "\(whole.stderr)")
        let again = try CLI.run(Self.trainArguments(dir, output: "again.safetensors", epochs: 4, validation: false) + constant)
        #expect(again.status == 0, "\(again.stderr)")
        let first = try CLI.run(Self.trainArguments(dir, output: "part.safetensors", epochs: 2, validation: false) + constant)
        #expect(first.status == 0, "\(first.stderr)")
        let rest = try CLI.run(Self.trainArguments(dir, output: "part.safetensors", epochs: 4, validation: false) + constant
                               + ["--resume", dir.path + "/part.ckpt.safetensors"])
        #expect(rest.status == 0, "\(rest.stderr)")
        let a = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/whole.safetensors"))
        #expect(a == (try Data(contentsOf: URL(fileURLWithPath: dir.path + "/again.safetensors"))))
        #expect(a == (try Data(contentsOf: URL(fileURLWithPath: dir.path + "/part.safetensors"))))
        func losses(_ name: String) throws -> [Double] {
            try EpochRecord.parse(csv: String(contentsOfFile: dir.path + "/" + name, encoding: .utf8), source: name).map(\.loss)
        }
        #expect(try losses("whole.csv") == losses("part.csv"))
        #expect(try losses("part.csv").count == 4)

        // A checkpoint of other settings is refused, naming the setting.
        let other = try CLI.run(Self.trainArguments(dir, output: "x.safetensors", epochs: 4, validation: false) + constant
                                + ["--crop", "24", "--resume", dir.path + "/part.ckpt.safetensors"])
        #expect(other.status != 0 && other.stderr.contains("part.ckpt.safetensors") && other.stderr.contains("crop"), "\(other.stderr)")
        let done = try CLI.run(Self.trainArguments(dir, output: "y.safetensors", epochs: 4, validation: false) + constant
                               + ["--resume", dir.path + "/part.ckpt.safetensors"])
        #expect(done.status != 0 && done.stderr.contains("already trained 4 epochs"), "\(done.stderr)")
    }

    /// --patience: with a learning rate too small to change the predictions, the validation
    /// mIoU never improves after epoch 1, so training stops after 1 + patience epochs and the
    /// model file keeps epoch 1.
    @Test func earlyStoppingAfterPatienceEpochs() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeSet(dir, "train", count: 8, seed: 7)
        try Self.makeSet(dir, "val", count: 2, seed: 8)
        var args = Self.trainArguments(dir, output: "p.safetensors", epochs: 10)
        args[args.firstIndex(of: "--lr")! + 1] = "1e-12"
        let r = try CLI.run(args.filter { $0 != "--quiet" } + ["--patience", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("early stopping: no improvement for 2 epochs"), "\(r.stderr)")
        let records = try EpochRecord.parse(csv: String(contentsOfFile: dir.path + "/p.csv", encoding: .utf8), source: "p.csv")
        #expect(records.count == 3)
        #expect(try Safetensors.read(dir.path + "/p.safetensors").metadata?["best_epoch"] == "1")
    }

    /// DeconvNet's two-stage training: the first --easy-epochs epochs on object crops.
    @Test func twoStageTraining() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeSet(dir, "train", count: 8, seed: 6)
        let r = try CLI.run(["train", "deconvnet", "--images", dir.path + "/train/images", "--masks", dir.path + "/train/masks",
                             "-o", dir.path + "/d.safetensors", "--epochs", "3", "--easy-epochs", "2", "--batch-size", "4",
                             "--input-size", "32", "--config", "widths=4,4,8,8,8", "--config", "convs=1,1,1,1,1",
                             "--config", "fc_width=8", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let records = try EpochRecord.parse(csv: String(contentsOfFile: dir.path + "/d.csv", encoding: .utf8), source: "d.csv")
        #expect(records.map(\.stage) == ["easy", "easy", "full"])
        let bad = try CLI.run(Self.trainArguments(dir, output: "e.safetensors", epochs: 2, validation: false) + ["--easy-epochs", "2"])
        #expect(bad.status == 64 && bad.stderr.contains("--easy-epochs must be 0...1"), "\(bad.stderr)")
    }

    /// Bad data and weights are reported before any training step, and nothing is written.
    @Test func badInputIsRefusedBeforeTraining() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeSet(dir, "train", count: 8, seed: 4)
        try Self.makeSet(dir, "val", count: 2, seed: 5)
        func fails(_ extra: [String], _ fragments: [String], validation: Bool = false, output: String = "bad.safetensors") throws {
            let r = try CLI.run(Self.trainArguments(dir, output: output, epochs: 1, validation: validation) + extra)
            #expect(r.status != 0, "\(extra)")
            for f in fragments { #expect(r.stderr.contains(f), "\(extra): \(r.stderr)") }
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/" + output), "\(extra)")
        }
        // A label beyond the class count (a 3 in a 2-class mask).
        var mask = [UInt8](repeating: 0, count: 40 * 32)
        mask[5] = 3
        try dir.write("val/masks/i01.png", ImageEncoder.png(Image(width: 40, height: 32, layout: .gray, samples: mask)))
        try fails(["--classes", "2"], ["i01.png", "3"], validation: true)
        // Image and mask sizes differ.
        try dir.write("val/masks/i01.png", ImageEncoder.png(Image(width: 20, height: 32, layout: .gray, samples: [UInt8](repeating: 0, count: 640))))
        try fails([], ["i01.png", "20x32", "40x32"], validation: true)
        // An empty folder.
        try FileManager.default.createDirectory(atPath: dir.path + "/empty", withIntermediateDirectories: true)
        let empty = try CLI.run(["train", "dilated", "--images", dir.path + "/empty", "--masks", dir.path + "/train/masks",
                                 "-o", dir.path + "/e.safetensors", "--quiet"])
        #expect(empty.status != 0 && empty.stderr.contains("no image files") && empty.stderr.contains("empty"), "\(empty.stderr)")
        // Weights of another architecture, and of another class count.
        var g = SplitMix64(seed: 1)
        try DilatedNet(DilatedNet.Config(classes: 2, widths: [4, 8, 8, 8, 8], convs: [1, 1, 1, 1, 1], fcWidth: 16), generator: &g)
            .save(to: dir.path + "/dilated.safetensors")
        try fails(["--init-weights", dir.path + "/dilated.safetensors"], ["dilated.safetensors", "architecture", "'dilated'"])
        try FCN(FCN.Config(variant: .fcn8s, classes: 3, widths: [4, 8, 8, 8, 8], convs: [1, 1, 1, 1, 1], fcWidth: 16), generator: &g)
            .save(to: dir.path + "/three.safetensors")
        try fails(["--init-weights", dir.path + "/three.safetensors"], ["three.safetensors", "classes", "'3'"])
        // Settings.
        try fails(["--batch-size", "9"], ["--batch-size 9 is larger than the 8 training pairs"])
        try fails(["--config", "depth=3"], ["no setting 'depth'"])
        try fails(["--optimizer", "rmsprop"], ["--optimizer must be adam, adamw or sgd"])
    }
}
