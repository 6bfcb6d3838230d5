import Foundation
import Testing
import CVSegCore
import CVSegTensor
@testable import CVSegNN

/// Forward values and gradients equal to PyTorch's (scripts/reference/nn_reference.py) within
/// 1e-4 relative error (plus 1e-6 absolute for values near zero).
@Suite struct TorchParityTests {
    static let fixture: JSON? = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/torch/basic.json"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSON.parse([UInt8](data), file: path)
    }()

    static func floats(_ json: JSON?) -> [Float] { json?.arrayValue?.compactMap { $0.doubleValue.map(Float.init) } ?? [] }
    static func tensor(_ json: JSON?) -> Tensor {
        let shape = json?["shape"]?.arrayValue?.compactMap(\.intValue) ?? []
        return Tensor(shape: Shape(shape), values: floats(json?["values"]))
    }

    static func close(_ a: [Float], _ b: [Float], rtol: Float = 1e-4, atol: Float = 1e-6) -> (Bool, String) {
        guard a.count == b.count else { return (false, "\(a.count) values, expected \(b.count)") }
        for i in 0..<a.count where !(abs(a[i] - b[i]) <= atol + rtol * abs(b[i])) {
            return (false, "element \(i): \(a[i]) vs \(b[i])")
        }
        return (true, "")
    }

    func int(_ c: JSON, _ key: String) -> Int { c[key]?.intValue ?? 0 }

    func run(_ c: JSON, _ x: [Tensor]) throws -> Tensor {
        let name = c["name"]?.stringValue ?? ""
        let targets = c["targets"]?.arrayValue?.compactMap { $0.intValue.map(Int32.init) } ?? []
        let ignore = Int32(c["ignore_index"]?.intValue ?? -100)
        var targetTensor: Tensor { Tensor(shape: x[0].shape, values: Self.floats(c["targets_f"])) }
        switch name {
        case "relu": return try relu(x[0])
        case "leaky_relu_0.2": return try leakyRelu(x[0], slope: 0.2)
        case "sigmoid": return try sigmoid(x[0])
        case "tanh": return try tanh(x[0])
        case "softmax": return try softmax(x[0])
        case "log_softmax": return try logSoftmax(x[0])
        case "cross_entropy", "cross_entropy_2d":
            return try Loss.crossEntropy(x[0], targets: targets, ignoreIndex: ignore)
        case "cross_entropy_weighted":
            return try Loss.crossEntropy(x[0], targets: targets, ignoreIndex: ignore, classWeights: Self.floats(c["class_weights"]))
        case "bce_with_logits": return try Loss.binaryCrossEntropyWithLogits(x[0], targets: targetTensor)
        case "bce_with_logits_pos3":
            return try Loss.binaryCrossEntropyWithLogits(x[0], targets: targetTensor, posWeight: Float(c["pos_weight"]?.doubleValue ?? 1))
        case "mse": return try Loss.meanSquaredError(x[0], targetTensor)
        case "smooth_l1_1", "smooth_l1_0.5": return try Loss.smoothL1(x[0], targetTensor, beta: Float(c["beta"]?.doubleValue ?? 1))
        case "linear": return try linear(x[0], weight: x[1], bias: x[2])
        case "linear_nobias": return try linear(x[0], weight: x[1], bias: nil)
        case "global_avg_pool": return try globalAveragePool(x[0])
        case "max_unpool":
            let size = c["size"]?.arrayValue?.compactMap(\.intValue) ?? []
            return try maxUnpool(x[0], indices: c["indices"]?.arrayValue?.compactMap { $0.intValue.map(Int32.init) } ?? [],
                                 height: size[0], width: size[1])
        case _ where name.hasPrefix("bilinear_"):
            let size = c["size"]?.arrayValue?.compactMap(\.intValue) ?? []
            return try upsampleBilinear(x[0], height: size[0], width: size[1], alignCorners: c["align_corners"]?.boolValue ?? false)
        case _ where name.hasPrefix("conv2d"):
            return try conv2d(x[0], weight: x[1], bias: x.count > 2 ? x[2] : nil, stride: Size2(integerLiteral: int(c, "stride")),
                              padding: Size2(integerLiteral: int(c, "padding")), dilation: Size2(integerLiteral: int(c, "dilation")),
                              groups: int(c, "groups"))
        case _ where name.hasPrefix("deconv"):
            return try convTranspose2d(x[0], weight: x[1], bias: x.count > 2 ? x[2] : nil, stride: Size2(integerLiteral: int(c, "stride")),
                                       padding: Size2(integerLiteral: int(c, "padding")),
                                       outputPadding: Size2(integerLiteral: int(c, "output_padding")),
                                       dilation: Size2(integerLiteral: int(c, "dilation")), groups: int(c, "groups"))
        case _ where name.hasPrefix("max_pool"):
            let (y, indices) = try maxPool2d(x[0], kernel: Size2(integerLiteral: int(c, "kernel")), stride: Size2(integerLiteral: int(c, "stride")),
                                             padding: Size2(integerLiteral: int(c, "padding")), returnIndices: true)
            if let expected = c["indices"]?.arrayValue {
                #expect(indices == expected.compactMap { $0.intValue.map(Int32.init) }, "\(name): indices")
            }
            return y
        case _ where name.hasPrefix("avg_pool"):
            return try avgPool2d(x[0], kernel: Size2(integerLiteral: int(c, "kernel")), stride: Size2(integerLiteral: int(c, "stride")),
                                 padding: Size2(integerLiteral: int(c, "padding")), countIncludePadding: c["count_include_pad"]?.boolValue ?? true)
        case "batch_norm_train":
            return try batchNorm(x[0], scale: x[1], shift: x[2], statistics: nil).output
        case "batch_norm_eval":
            return try batchNorm(x[0], scale: x[1], shift: x[2],
                                 statistics: (Self.floats(c["running_mean"]), Self.floats(c["running_var"]))).output
        case _ where name.hasPrefix("lrn"):
            return try localResponseNorm(x[0], size: int(c, "size"), alpha: Float(c["alpha"]?.doubleValue ?? 1e-4),
                                         k: Float(c["k"]?.doubleValue ?? 1))
        default: throw CVSegError.invalidArgument("unknown case \(name)")
        }
    }

    @Test func operationsAndLosses() throws {
        let fixture = try #require(Self.fixture, "torch fixture missing")
        let cases = try #require(fixture["cases"]?.arrayValue)
        #expect(cases.count == 40)
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let inputs = (c["inputs"]?.arrayValue ?? []).map(Self.tensor)
            let tape = Tape()
            let tracked = inputs.map { tape.parameter($0) }
            let y = try run(c, tracked)
            let expected = Self.tensor(c["output"])
            #expect(y.shape == expected.shape, "\(name): shape \(y.shape) vs \(expected.shape)")
            let (ok, at) = Self.close(y.values, expected.values)
            #expect(ok, "\(name) forward: \(at)")
            let r = Tensor(shape: y.shape, values: Self.floats(c["weights"]))
            let grads = try tape.gradients(of: sum(mul(y, r)), for: tracked)
            for (k, g) in grads.enumerated() {
                let (ok, at) = Self.close(g.values, Self.floats(c["grads"]?.arrayValue?[k]))
                #expect(ok, "\(name) gradient \(k): \(at)")
            }
        }
    }

    @Test func optimizers() throws {
        let fixture = try #require(Self.fixture, "torch fixture missing")
        for o in fixture["optimizers"]?.arrayValue ?? [] {
            let name = o["name"]?.stringValue ?? "?"
            let p = Parameter(Tensor(shape: [3, 4], values: Self.floats(o["initial"])))
            let opt: Optimizer = switch name {
            case "sgd": try SGD([p], learningRate: 0.1)
            case "sgd_momentum": try SGD([p], learningRate: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 1e-2)
            case "sgd_nesterov": try SGD([p], learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true)
            case "adam": try Adam([p], learningRate: 0.01, weightDecay: 1e-2)
            default: try Adam.adamW([p], learningRate: 0.01, weightDecay: 0.05)
            }
            let grads = o["grads"]?.arrayValue ?? []
            let trajectory = o["trajectory"]?.arrayValue ?? []
            #expect(grads.count == 5 && trajectory.count == 5)
            for (step, (g, w)) in zip(grads, trajectory).enumerated() {
                try opt.step([Tensor(shape: [3, 4], values: Self.floats(g))])
                let (ok, at) = Self.close(p.value.values, Self.floats(w), rtol: 1e-5)
                #expect(ok, "\(name) step \(step + 1): \(at)")
            }
        }
    }

    @Test func schedulesAndClipping() throws {
        let fixture = try #require(Self.fixture, "torch fixture missing")
        let schedules: [(String, LearningRateSchedule)] = [
            ("step", .step(size: 3, gamma: 0.5)), ("cosine", .cosine(total: 10, minimum: 0.001)), ("poly", .poly(total: 8, power: 0.9)),
        ]
        for (name, schedule) in schedules {
            let expected = Self.floats(fixture["schedules"]?[name])
            #expect(expected.count == 10)
            let got = (0..<10).map { schedule.rate(base: 0.1, at: $0) }
            let (ok, at) = Self.close(got, expected, rtol: 1e-5, atol: 1e-7)
            #expect(ok, "\(name): \(at)")
        }
        let clip = try #require(fixture["clip"])
        let grads = (clip["grads"]?.arrayValue ?? []).map(Self.floats)
        let (clipped, norm) = clipGradientNorm([Tensor(shape: [3, 4], values: grads[0]), Tensor(shape: [5], values: grads[1])], maxNorm: 1)
        #expect(abs(norm - Float(clip["norm"]?.doubleValue ?? 0)) < 1e-5)
        for (k, g) in clipped.enumerated() {
            let (ok, at) = Self.close(g.values, Self.floats(clip["clipped"]?.arrayValue?[k]))
            #expect(ok, "clipped \(k): \(at)")
        }
    }

    @Test func batchNormRunningStatistics() throws {
        let fixture = try #require(Self.fixture?["bn_running"], "torch fixture missing")
        let x = Tensor(shape: [3, 4, 5, 5], values: Self.floats(fixture["x"]))
        let bn = BatchNorm2d(4)
        _ = try bn(x, .training())
        _ = try bn(try add(scale(x, by: 2), Tensor.ones(x.shape)), .training())
        let (ok1, at1) = Self.close(bn.runningMean.value.values, Self.floats(fixture["running_mean"]), rtol: 1e-5)
        let (ok2, at2) = Self.close(bn.runningVar.value.values, Self.floats(fixture["running_var"]), rtol: 1e-5)
        #expect(ok1, "running mean: \(at1)")
        #expect(ok2, "running var: \(at2)")
        #expect(bn.batchesTracked.value.scalarValue == Float(fixture["num_batches_tracked"]?.intValue ?? -1))
    }
}
