import Foundation
import Testing
import CVSegCore
import CVSegIO
import CVSegNN
import CVSegTensor

/// `cvseg segment fcn8s|…|dilated --weights FILE`: the real binary with tiny models built and
/// saved here, its label maps checked against the model's own argmax computed in this process.
@Suite(.serialized) struct SegmentNetCLITests {
    /// A seeded FCN-8s; its biases are zeroed so that the image, not the biases, decides the
    /// class (a fresh model's biases put every pixel in one class).
    static func tinyFCN(_ variant: FCN.Variant = .fcn8s, seed: UInt64 = 7) throws -> FCN {
        var g = SplitMix64(seed: seed)
        let model = try FCN(FCN.Config(variant: variant, classes: 2, widths: [4, 8, 8, 8, 8], convs: [1, 1, 1, 1, 1],
                                       fcWidth: 8, fcKernel: 3), generator: &g)
        zeroBiases(model)
        return model
    }

    static func zeroBiases(_ model: SegmentationModel) {
        for (name, p) in model.namedParameters() where name.hasSuffix(".bias") { p.value = Tensor.zeros(p.value.shape) }
    }

    static func tinyDilated(seed: UInt64 = 3) throws -> DilatedNet {
        var g = SplitMix64(seed: seed)
        let model = try DilatedNet(DilatedNet.Config(classes: 2, widths: [4, 8, 8, 8, 8], convs: [1, 1, 1, 1, 1], fcWidth: 8),
                                   generator: &g)
        zeroBiases(model)
        return model
    }

    static func tinyDeconvNet(seed: UInt64 = 5) throws -> DeconvNet {
        var g = SplitMix64(seed: seed)
        let model = try DeconvNet(DeconvNet.Config(classes: 3, widths: [4, 8, 8, 8, 8], convs: [1, 1, 1, 1, 1], fcWidth: 8),
                                  generator: &g)
        zeroBiases(model)
        return model
    }

    /// in/a.png (RGB 40×30), in/b.jpg (gray 40×30), in/broken.png (truncated).
    static func makeInputs(_ dir: TempDir) throws {
        let gray = testImage(width: 40, height: 30, seed: 11)
        var rgb = [UInt8]()
        for (i, v) in gray.samples.enumerated() { rgb += [v, UInt8((i * 7) % 256), 255 - v] }
        try dir.write("in/a.png", ImageEncoder.png(Image(width: 40, height: 30, layout: .rgb, samples: rgb)))
        try dir.write("in/b.jpg", ImageEncoder.jpeg(testImage(width: 40, height: 30, seed: 12), quality: 90))
        let good = try ImageEncoder.png(gray)
        try dir.write("in/broken.png", Array(good.prefix(good.count / 2)))
    }

    /// The model's labels for the image file, computed in-process as the command should:
    /// RGB planes, ImageNet normalisation, full size or longer side `inputSize`, argmax.
    static func expectedLabels(_ model: SegmentationModel, _ path: String, inputSize: Int? = nil) throws -> LabelMap {
        let image = try ImageFile.read(path, options: DecodeOptions(palette: .expand)).expanded()
        let planar = PlanarImage(image.to8Bit())
        let x: Tensor
        if let s = inputSize {
            let (w, h) = planar.width >= planar.height
                ? (s, max(1, Int((Double(planar.height) * Double(s) / Double(planar.width)).rounded())))
                : (max(1, Int((Double(planar.width) * Double(s) / Double(planar.height)).rounded())), s)
            x = try InferenceResize.input(planar, width: w, height: h, normalization: .imageNet)
        } else {
            x = try Normalization.imageNet.tensor([planar])
        }
        return try InferenceResize.labels(model(x, .inference()), width: planar.width, height: planar.height)[0]
    }

    static func readGray(_ path: String) throws -> Image<UInt8> {
        guard case .image(.uint8(let image)) = try ImageFile.read(path, options: DecodeOptions(palette: .expand)) else {
            throw CVSegError.invalidArgument("\(path) is not an 8-bit image")
        }
        return image
    }

    @Test func labelMapsEqualTheModelsArgmaxAndTheBrokenFileIsReported() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeInputs(dir)
        let model = try Self.tinyFCN()
        try model.save(to: dir.path + "/fcn8s.safetensors")
        let r = try CLI.run(["segment", "fcn8s", "--weights", dir.path + "/fcn8s.safetensors", dir.path + "/in",
                             "-o", dir.path + "/out", "--format", "labels", "--json", "--jobs", "2", "--quiet"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(dir.files("out") == ["a.png", "b.png"])
        #expect(r.stderr.contains("FAILED") && r.stderr.contains("broken.png"))
        let summary = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect(summary["command"] as? String == "segment fcn8s")
        #expect(summary["written"] as? Int == 2 && summary["failed"] as? Int == 1)
        let files = summary["files"] as! [[String: Any]]
        var allClasses = Set<Int32>()
        for (file, name) in zip(files, ["a", "b"]) {
            let input = dir.path + "/in/" + name + (name == "a" ? ".png" : ".jpg")
            let out = try Self.readGray(dir.path + "/out/\(name).png")
            #expect(out.width == 40 && out.height == 30 && out.layout == .gray)
            #expect(out.samples.allSatisfy { $0 < 2 })
            let expected = try Self.expectedLabels(model, input)
            #expect(out.samples.map(Int32.init) == expected.labels, "\(name)")
            let details = file["details"] as! [String: Any]
            #expect(details["width"] as? Int == 40 && details["height"] as? Int == 30)
            #expect(details["classes"] as? [Int] == Set(expected.labels).sorted().map(Int.init))
            allClasses.formUnion(expected.labels)
        }
        #expect(allClasses == [0, 1], "the seed should give a model that finds both classes")
    }

    @Test func inputSizeAndBinaryFormat() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeInputs(dir)
        // The first seed whose model finds both classes in this image (a random dilated model
        // often puts every pixel in one class), so the comparison below means something.
        var model = try Self.tinyDilated(seed: 0)
        for seed in UInt64(1)..<64 where Set(try Self.expectedLabels(model, dir.path + "/in/a.png", inputSize: 24).labels).count < 2 {
            model = try Self.tinyDilated(seed: seed)
        }
        try model.save(to: dir.path + "/d.safetensors")
        let r = try CLI.run(["segment", "dilated", "--weights", dir.path + "/d.safetensors", dir.path + "/in/a.png",
                             "-o", dir.path + "/out", "--input-size", "24", "--jobs", "1", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try Self.readGray(dir.path + "/out/a.png")
        #expect(out.width == 40 && out.height == 30)
        let expected = try Self.expectedLabels(model, dir.path + "/in/a.png", inputSize: 24)
        #expect(out.samples == expected.labels.map { $0 > 0 ? UInt8(255) : 0 })
        #expect(Set(out.samples) == [0, 255], "the seed should give a model that finds both classes")
    }

    /// DeconvNet (batch norm in inference, unpooling; 40×30 padded to 64×32 and cropped back)
    /// with three classes and the gray JPEG.
    @Test func deconvNetOnAGrayJPEG() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeInputs(dir)
        let model = try Self.tinyDeconvNet()
        try model.save(to: dir.path + "/dn.safetensors")
        let r = try CLI.run(["segment", "deconvnet", "--weights", dir.path + "/dn.safetensors", dir.path + "/in/b.jpg",
                             "-o", dir.path + "/out", "--format", "labels", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try Self.readGray(dir.path + "/out/b.png")
        #expect(out.width == 40 && out.height == 30 && out.samples.allSatisfy { $0 < 3 })
        #expect(out.samples.map(Int32.init) == (try Self.expectedLabels(model, dir.path + "/in/b.jpg")).labels)
    }

    @Test func anotherArchitecturesWeightsAreRefusedBeforeAnyImage() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeInputs(dir)
        try Self.tinyDilated().save(to: dir.path + "/dilated.safetensors")
        let r = try CLI.run(["segment", "fcn8s", "--weights", dir.path + "/dilated.safetensors", dir.path + "/in",
                             "-o", dir.path + "/out", "--quiet"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("dilated.safetensors") && r.stderr.contains("'dilated'") && r.stderr.contains("'fcn8s'"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/out"))
        #expect(r.stdout.isEmpty)
    }

    /// Without --weights, `<model>-<arch>.safetensors` from $CVSEG_MODELS.
    @Test func shippedModelIsFoundWithoutWeights() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeInputs(dir)
        let model = try Self.tinyDeconvNet()
        try FileManager.default.createDirectory(atPath: dir.path + "/models", withIntermediateDirectories: true)
        try model.save(to: dir.path + "/models/camvid-deconvnet.safetensors")
        let r = try CLI.run(["segment", "deconvnet", "--model", "camvid", dir.path + "/in/b.jpg", "-o", dir.path + "/out",
                             "--format", "labels", "--quiet"], environment: ["CVSEG_MODELS": dir.path + "/models"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try Self.readGray(dir.path + "/out/b.png")
        #expect(out.samples.map(Int32.init) == (try Self.expectedLabels(model, dir.path + "/in/b.jpg")).labels)
        let horse = try CLI.run(["segment", "deconvnet", dir.path + "/in/b.jpg", "-o", dir.path + "/out2"],
                                environment: ["CVSEG_MODELS": dir.path + "/models"])
        #expect(horse.status == 64 && horse.stderr.contains("horse-deconvnet.safetensors"), "\(horse.stderr)")
    }

    @Test func missingOrCorruptWeightsAndNoWeights() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeInputs(dir)
        let missing = try CLI.run(["segment", "deconvnet", "--weights", dir.path + "/nope.safetensors", dir.path + "/in", "-o", dir.path + "/out"])
        #expect(missing.status != 0 && missing.stderr.contains("nope.safetensors"), "\(missing.stderr)")
        try dir.write("junk.safetensors", Array("not a safetensors file at all".utf8))
        let corrupt = try CLI.run(["segment", "fcn32s", "--weights", dir.path + "/junk.safetensors", dir.path + "/in", "-o", dir.path + "/out"])
        #expect(corrupt.status != 0 && corrupt.stderr.contains("junk.safetensors"), "\(corrupt.stderr)")
        // No --weights and no shipped model where CVSEG_MODELS points.
        let none = try CLI.run(["segment", "fcn16s", dir.path + "/in", "-o", dir.path + "/out"], environment: ["CVSEG_MODELS": dir.path])
        #expect(none.status == 64)
        #expect(none.stderr.contains("no shipped horse model for fcn16s (horse-fcn16s.safetensors is not in \(dir.path))"), "\(none.stderr)")
        let unknown = try CLI.run(["segment", "fcn16s", "--model", "cats", dir.path + "/in", "-o", dir.path + "/out"])
        #expect(unknown.status == 64 && unknown.stderr.contains("--model must be one of horse, camvid, not 'cats'"), "\(unknown.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/out"))
    }
}
