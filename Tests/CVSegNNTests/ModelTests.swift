import Foundation
import Testing
import CVSegCore
import CVSegTensor
@testable import CVSegNN

/// The segmentation models (FCN-32s/16s/8s, DeconvNet, the dilated context network) equal
/// PyTorch modules of the same tree (scripts/reference/models_reference.py): same state_dict
/// names, same outputs for the same weights within 1e-4 relative.
@Suite struct ModelTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/models/"
    static let fixture: JSON? = {
        let path = directory + "models.json"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSON.parse([UInt8](data), file: path)
    }()
    static let architectures = ["fcn32s", "fcn16s", "fcn8s", "deconvnet", "dilated"]

    /// The tiny configuration of the fixtures.
    static func tinyMetadata(_ arch: String, classes: Int = 3) -> [String: String] {
        var m = ["architecture": arch, "classes": String(classes), "in_channels": "3", "widths": "4,8,8,8,8", "convs": "2,2,3,3,3",
                 "fc_width": "16", "fc_kernel": "3"]
        if arch != "deconvnet" { m["dropout"] = "0.5" }
        if arch == "dilated" { m["context"] = "basic"; m["context_dilations"] = "1,1,2,4,8,16,1" }
        return m
    }

    static func input() throws -> Tensor {
        let fixture = try #require(fixture, "models fixture missing (run scripts/reference/models_reference.py)")
        return TorchParityTests.tensor(fixture["input"])
    }

    /// Our output against PyTorch's sample (every `stride`-th value) and checksums of all values.
    func check(_ y: Tensor, _ expected: JSON?, _ label: String) throws {
        let expected = try #require(expected, "\(label): no expected output")
        let shape = expected["shape"]?.arrayValue?.compactMap(\.intValue) ?? []
        #expect(y.shape.dims == shape, "\(label): shape \(y.shape)")
        guard y.shape.dims == shape else { return }
        let stride = try #require(expected["stride"]?.intValue)
        let values = y.values
        let sample = Swift.stride(from: 0, to: values.count, by: stride).map { values[$0] }
        let (ok, at) = TorchParityTests.close(sample, TorchParityTests.floats(expected["sample"]), rtol: 1e-4, atol: 1e-5)
        #expect(ok, "\(label): \(at) (sampled every \(stride))")
        var sum = 0.0, absSum = 0.0, weighted = 0.0, weightedAbs = 0.0
        for (i, v) in values.enumerated() {
            let w = Double(i % 97 + 1), d = Double(v)
            sum += d; absSum += abs(d); weighted += w * d; weightedAbs += w * abs(d)
        }
        let refAbs = expected["abs_sum"]?.doubleValue ?? 0, refWeightedAbs = expected["weighted_abs_sum"]?.doubleValue ?? 0
        #expect(abs(absSum - refAbs) <= 1e-4 * refAbs, "\(label): Σ|y| \(absSum) vs \(refAbs)")
        #expect(abs(sum - (expected["sum"]?.doubleValue ?? 0)) <= 1e-4 * refAbs, "\(label): Σy \(sum)")
        #expect(abs(weighted - (expected["weighted_sum"]?.doubleValue ?? 0)) <= 1e-4 * refWeightedAbs, "\(label): Σ w·y \(weighted)")
        #expect(abs(weightedAbs - refWeightedAbs) <= 1e-4 * refWeightedAbs, "\(label): Σ w·|y| \(weightedAbs)")
    }

    /// PyTorch's weights (safetensors.torch.save_file with the model's metadata) build the
    /// model from the metadata, load strictly, and give PyTorch's output (64×64, and 45×61:
    /// padded to the output stride and cropped back).
    @Test(arguments: architectures)
    func matchesPyTorch(_ arch: String) throws {
        let fixture = try #require(Self.fixture?["models"]?[arch], "models fixture missing")
        let path = Self.directory + arch + ".safetensors"
        let model = try SegmentationModel.load(from: path)
        #expect(model.architecture == arch)
        #expect(model.classes == 3)
        let x = try Self.input()
        try check(model(x, .inference()), fixture["output"], arch)
        if fixture["odd_output"] != nil {
            let odd = try cropTopLeft(x, height: 45, width: 61)
            try check(model(odd, .inference()), fixture["odd_output"], "\(arch) 45×61")
        }
    }

    /// State_dict names are PyTorch's, one to one; the file's metadata is the model's; a model
    /// built from the tiny configuration loads the file strictly.
    @Test(arguments: architectures)
    func namesAndMetadataMatchPyTorch(_ arch: String) throws {
        let fixture = try #require(Self.fixture?["models"]?[arch], "models fixture missing")
        let model = try SegmentationModel.make(metadata: Self.tinyMetadata(arch), seed: 3)
        let keys = fixture["keys"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(model.stateDict().map(\.0).sorted() == keys)
        let file = try Safetensors.read(Self.directory + arch + ".safetensors")
        #expect(file.metadata == model.metadata)
        #expect(Set(file.tensors.map(\.name)) == Set(keys))
        try model.loadChecked(from: Self.directory + arch + ".safetensors")
        let (missing, unexpected) = try model.loadWeights(from: Self.directory + arch + ".safetensors")
        #expect(missing.isEmpty && unexpected.isEmpty)
    }

    /// Metadata → model → metadata is the identity; make(metadata:) builds the same tree.
    @Test(arguments: architectures)
    func metadataRoundTrip(_ arch: String) throws {
        let a = try SegmentationModel.make(metadata: Self.tinyMetadata(arch, classes: 5), seed: 1)
        #expect(a.metadata == Self.tinyMetadata(arch, classes: 5))
        var withExtra = a.metadata
        withExtra["format"] = "pt" // keys of other tools are ignored
        let b = try SegmentationModel.make(metadata: withExtra, seed: 2)
        #expect(b.metadata == a.metadata)
        #expect(a.stateDict().map { "\($0.0) \($0.1.shape)" } == b.stateDict().map { "\($0.0) \($0.1.shape)" })
        // Save with metadata, load back: the same outputs.
        let path = NSTemporaryDirectory() + "cvseg-model-\(arch)-\(getpid()).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try a.save(to: path)
        let c = try SegmentationModel.load(from: path)
        #expect(c.metadata == a.metadata)
        var rng = SplitMix64(seed: 4)
        let x = Tensor.randomNormal([1, 3, 32, 40], generator: &rng)
        #expect(try a(x, .inference()).values == c(x, .inference()).values)
    }

    @Test func typedConfigsRoundTrip() throws {
        let f = FCN.Config(variant: .fcn16s, classes: 21, widths: [8, 16, 32, 64, 64], fcWidth: 128, fcKernel: 7, dropout: 0.25)
        #expect(try FCN.Config(metadata: f.metadata) == f)
        let d = DeconvNet.Config(classes: 2, inChannels: 1, widths: [4, 4, 8, 8, 16], convs: [1, 1, 2, 2, 2], fcWidth: 32, fcKernel: 1)
        #expect(try DeconvNet.Config(metadata: d.metadata) == d)
        let g = DilatedNet.Config(classes: 4, dropout: 0, context: .none, contextDilations: [1, 2, 1])
        #expect(try DilatedNet.Config(metadata: g.metadata) == g)
        #expect(FCN.Config.vgg16(.fcn8s, classes: 21).metadata["widths"] == "64,128,256,512,512")
    }

    /// `batch_norm=true` puts batch norm after every backbone convolution (vgg16_bn's naming:
    /// conv, BN, ReLU), is recorded only when true (older files still describe the same model),
    /// and trains: the running statistics move.
    @Test(arguments: ["fcn8s", "dilated"])
    func batchNormOption(_ arch: String) throws {
        var m = Self.tinyMetadata(arch)
        let plain = try SegmentationModel.make(metadata: m, seed: 1)
        #expect(plain.metadata["batch_norm"] == nil)
        #expect(!plain.namedBuffers().contains { $0.0.hasPrefix("stage1.") })
        m["batch_norm"] = "true"
        let model = try SegmentationModel.make(metadata: m, seed: 1)
        #expect(model.metadata == m)
        let names = model.namedParameters().map(\.0) + model.namedBuffers().map(\.0)
        #expect(names.contains("stage1.0.weight") && names.contains("stage1.1.weight") && names.contains("stage1.1.running_mean")
                && names.contains("stage1.3.weight") && names.contains("stage5.7.running_var"), "\(names)")
        var rng = SplitMix64(seed: 2)
        let x = Tensor.randomNormal([2, 3, 32, 32], generator: &rng)
        let optimizer = try Adam(model.parameters)
        try trainingStep(optimizer: optimizer, step: 0) { context in
            try Loss.crossEntropy(model(x, context), targets: (0..<(2 * 32 * 32)).map { Int32($0 % 3) })
        }
        #expect(model.namedBuffers().first { $0.0 == "stage1.1.running_mean" }!.1.value.values.contains { $0 != 0 })
        m["batch_norm"] = "yes"
        do { _ = try SegmentationModel.make(metadata: m); Issue.record("batch_norm=yes accepted") } catch {
            #expect("\(error)".contains("key 'batch_norm' is 'yes', expected true or false"))
        }
    }

    /// Bad metadata is refused naming the key.
    @Test func badMetadataNamesTheKey() throws {
        func message(_ m: [String: String]) -> String {
            do { _ = try SegmentationModel.make(metadata: m); return "no error" } catch { return "\(error)" }
        }
        var m = Self.tinyMetadata("fcn8s")
        m["widths"] = "4,8,8"
        #expect(message(m).contains("key 'widths' is '4,8,8', expected 5 integers"))
        m = Self.tinyMetadata("fcn8s")
        m.removeValue(forKey: "fc_width")
        #expect(message(m).contains("key 'fc_width' is missing"))
        m = Self.tinyMetadata("fcn8s")
        m["fc_kernel"] = "4"
        #expect(message(m).contains("key 'fc_kernel' is '4', expected an odd kernel size"))
        m = Self.tinyMetadata("dilated")
        m["dropout"] = "1.5"
        #expect(message(m).contains("key 'dropout' is '1.5'"))
        m["dropout"] = "0.5"
        m["context"] = "large"
        #expect(message(m).contains("key 'context' is 'large', expected one of basic, none"))
        m = Self.tinyMetadata("deconvnet")
        m["classes"] = "x"
        #expect(message(m).contains("key 'classes' is 'x'"))
        m["classes"] = "99999999999"
        #expect(message(m).contains("key 'classes'"))
        m = Self.tinyMetadata("fcn8s")
        m["architecture"] = "unet"
        #expect(message(m).contains("key 'architecture' is 'unet', expected one of fcn32s, fcn16s, fcn8s, deconvnet, dilated"))
        m.removeValue(forKey: "architecture")
        #expect(message(m).contains("key 'architecture' is missing"))
    }

    /// Weights of another architecture or class count are refused, naming the keys (strict
    /// load) or the differing metadata key (loadChecked); nothing is loaded.
    @Test func otherWeightsAreRefused() throws {
        let fcn32 = try SegmentationModel.make(metadata: Self.tinyMetadata("fcn32s"))
        let before = fcn32.stateDict().map(\.1.values)
        let fcn8Path = Self.directory + "fcn8s.safetensors"
        do {
            try fcn32.loadWeights(from: fcn8Path)
            Issue.record("fcn8s weights loaded into fcn32s")
        } catch {
            #expect("\(error)".contains("unexpected: score_pool3.bias, score_pool3.weight, score_pool4.bias, score_pool4.weight, upscore2.weight, upscore_pool4.weight"), "\(error)")
        }
        do {
            try fcn32.loadChecked(from: fcn8Path)
            Issue.record("fcn8s weights loaded into fcn32s")
        } catch {
            #expect("\(error)".contains("metadata key 'architecture' is 'fcn8s', this fcn32s model has 'fcn32s'"), "\(error)")
        }
        #expect(fcn32.stateDict().map(\.1.values) == before)

        let dilated4 = try SegmentationModel.make(metadata: Self.tinyMetadata("dilated", classes: 4))
        let dilatedPath = Self.directory + "dilated.safetensors"
        do {
            try dilated4.loadWeights(from: dilatedPath)
            Issue.record("3-class weights loaded into a 4-class model")
        } catch {
            let text = "\(error)"
            #expect(text.contains("mis-shaped: context.0.bias: expected [4], got [3]"), "\(text)")
            #expect(text.contains("fc_final.weight: expected [4, 16, 1, 1], got [3, 16, 1, 1]"), "\(text)")
        }
        do {
            try dilated4.loadChecked(from: dilatedPath)
            Issue.record("3-class weights loaded into a 4-class model")
        } catch {
            #expect("\(error)".contains("metadata key 'classes' is '3', this dilated model has '4'"), "\(error)")
        }
        let deconv = try SegmentationModel.make(metadata: Self.tinyMetadata("deconvnet"))
        #expect(throws: CVSegError.self) { try deconv.loadWeights(from: dilatedPath) }
    }

    /// The upsampling layers start as FCN's get_upsampling_weight (PyTorch's values for sizes
    /// 3, 4, 5, 16); the fixed final upsampling is that kernel per channel, and it interpolates
    /// a linear ramp exactly away from the borders.
    @Test func bilinearInitialisationIsTheReferenceFormula() throws {
        let reference = try #require(Self.fixture?["bilinear"])
        for k in [3, 4, 5, 16] {
            #expect(ModelInit.bilinearKernel(size: k) == TorchParityTests.floats(reference[String(k)]), "size \(k)")
        }
        let model = try #require(try SegmentationModel.make(metadata: Self.tinyMetadata("fcn8s")) as? FCN)
        let diagonal = ModelInit.bilinearWeight(channels: 3, size: 4)
        #expect(model.upscore2?.weight.value.values == diagonal.values)
        #expect(model.upscorePool4?.weight.value.values == diagonal.values)
        let k16 = TorchParityTests.floats(reference["16"])
        #expect(model.finalUpsampling.shape == [3, 1, 16, 16])
        #expect(model.finalUpsampling.values == Array([k16, k16, k16].joined()))
        // Diagonal: channel c only feeds channel c.
        let w = diagonal.values
        for o in 0..<3 { for i in 0..<3 where i != o { #expect(w[(i * 3 + o) * 16..<(i * 3 + o + 1) * 16].allSatisfy { $0 == 0 }) } }
        // A ramp 0, 1, 2, … upsampled ×8 with stride 8, padding 4: output column o is at input
        // coordinate (o − 3.5)/8, exactly, away from the zero-padded borders.
        let coarse = Tensor(shape: [1, 1, 6, 6], values: (0..<36).map { Float($0 % 6) })
        let y = try convTranspose2d(coarse, weight: Tensor(shape: [1, 1, 16, 16], values: k16), stride: 8, padding: 4)
        #expect(y.shape == [1, 1, 48, 48])
        for o in 8..<40 {
            let v = y.values[20 * 48 + o]
            #expect(abs(v - (Float(o) - 3.5) / 8) < 1e-5, "column \(o): \(v)")
        }
    }

    /// The identity-initialised context module passes a non-negative input through unchanged
    /// and computes relu(x) on a signed one (its ReLUs).
    @Test func identityInitialisedContextIsTheIdentity() throws {
        let model = try #require(try SegmentationModel.make(metadata: Self.tinyMetadata("dilated")) as? DilatedNet)
        let context = try #require(model.context)
        for (i, layer) in context.layers.enumerated() {
            guard let conv = layer as? Conv2d else { continue }
            let s = conv.weight.value.shape
            let w = conv.weight.value.values
            for o in 0..<s[0] {
                for c in 0..<s[1] {
                    for t in 0..<(s[2] * s[3]) {
                        let expected: Float = o == c && t == s[2] * s[3] / 2 ? 1 : 0
                        #expect(w[(o * s[1] + c) * s[2] * s[3] + t] == expected, "context.\(i) [\(o), \(c), \(t)]")
                    }
                }
            }
            #expect(conv.bias?.value.values.allSatisfy { $0 == 0 } == true)
        }
        var rng = SplitMix64(seed: 11)
        let signed = Tensor.randomNormal([2, 3, 11, 13], generator: &rng)
        let positive = try relu(signed)
        #expect(try context(positive, .inference()).values == positive.values)
        #expect(try context(signed, .inference()).values == positive.values)
    }

    /// One training step on each tiny model: a finite loss, gradients reaching every layer's
    /// weights, weights changed.
    @Test(arguments: architectures)
    func trainingStepChangesWeights(_ arch: String) throws {
        let model = try SegmentationModel.make(metadata: Self.tinyMetadata(arch), seed: 21)
        var rng = SplitMix64(seed: 5)
        let x = Tensor.randomNormal([2, 3, 32, 32], generator: &rng)
        let targets = (0..<(2 * 32 * 32)).map { _ in Int32(rng.next() % 3) }
        let before = model.namedParameters().map { ($0.0, $0.1.value.values) }
        let optimizer = try SGD(model.parameters, learningRate: 0.01, momentum: 0.9)
        weak var tape: Tape?
        let loss = try trainingStep(optimizer: optimizer, step: 0) { context in
            tape = context.tape
            let y = try model(x, context)
            #expect(y.shape == [2, 3, 32, 32])
            return try Loss.crossEntropy(y, targets: targets)
        }
        #expect(loss.isFinite && loss > 0, "\(arch): loss \(loss)")
        // The step's tape (a reference cycle with its recorded tensors) is freed afterwards:
        // without that, training leaked every step's activations.
        #expect(tape == nil, "\(arch): the training step's tape outlived the step")
        let after = model.namedParameters().map(\.1.value.values)
        let changed = zip(before, after).filter { $0.0.1 != $0.1 }.count
        #expect(changed > before.count / 2, "\(arch): \(changed) of \(before.count) parameters changed")
        #expect(after.allSatisfy { $0.allSatisfy(\.isFinite) })
        // Batch norm's running statistics moved (DeconvNet).
        if arch == "deconvnet" {
            #expect(model.namedBuffers().first { $0.0 == "enc1.1.num_batches_tracked" }?.1.value.scalarValue == 1)
        }
    }

    /// Inputs whose sides are not multiples of the output stride give scores of the input's size.
    @Test func anySizeGivesScoresOfTheInputSize() throws {
        var rng = SplitMix64(seed: 8)
        let x = Tensor.randomNormal([1, 3, 9, 70], generator: &rng)
        for arch in Self.architectures {
            let model = try SegmentationModel.make(metadata: Self.tinyMetadata(arch))
            #expect(try model(x, .inference()).shape == [1, 3, 9, 70], "\(arch)")
        }
        let model = try SegmentationModel.make(metadata: Self.tinyMetadata("fcn8s"))
        #expect(throws: CVSegError.self) { try model(Tensor.zeros([1, 4, 32, 32]), .inference()) }
    }

    /// Pad and crop are each other's adjoints (their backward passes).
    @Test func padAndCropGradients() throws {
        var rng = SplitMix64(seed: 2)
        let x = Tensor.randomNormal([2, 2, 3, 5], generator: &rng)
        let tape = Tape()
        let p = tape.parameter(x)
        let padded = try padBottomRight(p, height: 4, width: 8)
        #expect(try cropTopLeft(padded.detached, height: 3, width: 5).values == x.values)
        let r = Tensor.randomNormal([2, 2, 4, 8], generator: &rng)
        let g = try tape.gradients(of: sum(mul(padded, r)), for: [p])[0]
        #expect(try g.values == cropTopLeft(r, height: 3, width: 5).values)
    }
}
