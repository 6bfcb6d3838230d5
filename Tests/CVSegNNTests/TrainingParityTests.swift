import Foundation
import Testing
import CVSegCore
import CVSegTensor
@testable import CVSegNN

/// A small network trained for 20 SGD steps from PyTorch's initial weights follows PyTorch's
/// loss curve (scripts/reference/nn_reference.py, `training_mlp`).
@Suite struct TrainingParityTests {
    @Test func mlpLossCurveMatchesPyTorch() throws {
        let fixture = try #require(TorchParityTests.fixture?["training_mlp"], "torch fixture missing")
        var rng = SplitMix64(seed: 0)
        let net = Sequential([Linear(inputs: 6, outputs: 8, generator: &rng), Activation(.relu),
                              Linear(inputs: 8, outputs: 3, generator: &rng)])
        // PyTorch's initial weights, as safetensors.torch.save_file wrote them.
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/torch/mlp_initial.safetensors"
        try net.loadWeights(from: path)
        let state = (fixture["state"]?.objectValue ?? []).map { ($0.0, TorchParityTests.tensor($0.1)) }
        for (name, t) in state { #expect(net.stateDict().first { $0.0 == name }?.1.values == t.values, "\(name)") }
        let x = Tensor(shape: [10, 6], values: TorchParityTests.floats(fixture["x"]))
        let y = fixture["y"]?.arrayValue?.compactMap { $0.intValue.map(Int32.init) } ?? []
        let expected = TorchParityTests.floats(fixture["losses"])
        #expect(expected.count == 20)
        let optimizer = try SGD(net.parameters, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-3)
        var losses: [Float] = []
        for step in 0..<20 {
            let context = ForwardContext.training(seed: UInt64(step))
            let loss = try Loss.crossEntropy(net(x, context), targets: y)
            losses.append(loss.scalarValue)
            let tracked = context.recorded(net.parameters).compactMap { $0 }
            try optimizer.step(try context.tape!.gradients(of: loss, for: tracked))
        }
        let (ok, at) = TorchParityTests.close(losses, expected, rtol: 1e-4)
        #expect(ok, "loss curve: \(at)")
        for (name, values) in fixture["final"]?.objectValue ?? [] {
            let mine = try #require(net.stateDict().first { $0.0 == name }?.1)
            let (ok, at) = TorchParityTests.close(mine.values, TorchParityTests.floats(values), rtol: 1e-4, atol: 1e-5)
            #expect(ok, "\(name) after 20 steps: \(at)")
        }
        #expect(losses.last! < losses.first!)
    }

    @Test func weightsRoundTripThroughSafetensors() throws {
        var rng = SplitMix64(seed: 5)
        let a = Sequential([Linear(inputs: 4, outputs: 3, generator: &rng), Activation(.relu), Linear(inputs: 3, outputs: 2, generator: &rng)])
        let b = Sequential([Linear(inputs: 4, outputs: 3, generator: &rng), Activation(.relu), Linear(inputs: 3, outputs: 2, generator: &rng)])
        let path = NSTemporaryDirectory() + "cvseg-weights-\(getpid()).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try a.saveWeights(to: path)
        try b.loadWeights(from: path)
        #expect(a.stateDict().map(\.1.values) == b.stateDict().map(\.1.values))
        // A model of another shape is refused, naming the keys.
        let c = Sequential([Linear(inputs: 5, outputs: 3, generator: &rng)])
        #expect(throws: CVSegError.self) { try c.loadWeights(from: path) }
        do { try c.loadWeights(from: path) } catch { #expect("\(error)".contains("0.weight: expected [3, 5], got [3, 4]") && "\(error)".contains("unexpected: 2.bias, 2.weight")) }
    }

    /// NaN appearing in training stops the step, naming the step and the layer, and leaves the
    /// weights as they were.
    @Test func nonFiniteValuesNameTheStepAndLayer() throws {
        var rng = SplitMix64(seed: 9)
        let net = Sequential([Linear(inputs: 3, outputs: 4, generator: &rng), Activation(.relu), Linear(inputs: 4, outputs: 2, generator: &rng)])
        let optimizer = try SGD(net.parameters, learningRate: 0.1)
        let x = Tensor.randomNormal([5, 3], generator: &rng)
        let y: [Int32] = [0, 1, 1, 0, 1]
        for step in 0..<3 {
            try trainingStep(optimizer: optimizer, step: step) { context in try Loss.crossEntropy(net(x, context), targets: y) }
        }
        let last = try #require(net.layers[2] as? Linear)
        var w = last.weight.value.values
        w[3] = .nan
        last.weight.value = Tensor(shape: last.weight.value.shape, values: w)
        let before = net.stateDict().map(\.1.values)
        #expect(throws: CVSegError.nonFinite("step 3: the loss is nan; non-finite values first appeared in 2.linear")) {
            try trainingStep(optimizer: optimizer, step: 3) { context in try Loss.crossEntropy(net(x, context), targets: y) }
        }
        #expect(net.stateDict().map(\.1.values).elementsEqual(before) { zip($0, $1).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) } })
    }

    /// A convolutional network (conv, batch norm, ReLU, max pooling, dilated conv, transposed
    /// conv) loaded from PyTorch's safetensors (with BN's integer num_batches_tracked) follows
    /// PyTorch's loss curve over 20 SGD steps, running statistics included.
    @Test func convNetLossCurveMatchesPyTorch() throws {
        let fixture = try #require(TorchParityTests.fixture?["training_conv"], "torch fixture missing")
        var rng = SplitMix64(seed: 0)
        let net = Sequential([Conv2d(3, 8, kernel: 3, padding: 1, generator: &rng), BatchNorm2d(8), Activation(.relu),
                              MaxPool2d(kernel: 2), Conv2d(8, 8, kernel: 3, padding: 2, dilation: 2, generator: &rng),
                              Activation(.relu), ConvTranspose2d(8, 4, kernel: 4, stride: 2, padding: 1, generator: &rng)])
        try net.loadWeights(from: URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/torch/convnet_initial.safetensors")
        let x = Tensor(shape: [2, 3, 8, 8], values: TorchParityTests.floats(fixture["x"]))
        let y = fixture["y"]?.arrayValue?.compactMap { $0.intValue.map(Int32.init) } ?? []
        let optimizer = try SGD(net.parameters, learningRate: 0.05, momentum: 0.9)
        var losses: [Float] = []
        for step in 0..<20 {
            losses.append(try trainingStep(optimizer: optimizer, step: step) { context in
                try Loss.crossEntropy(net(x, context), targets: y, ignoreIndex: 255)
            })
        }
        let (ok, at) = TorchParityTests.close(losses, TorchParityTests.floats(fixture["losses"]), rtol: 1e-4)
        #expect(ok, "loss curve: \(at)")
        for (name, values) in fixture["final"]?.objectValue ?? [] {
            let mine = try #require(net.stateDict().first { $0.0 == name }?.1, "\(name) missing")
            let (ok, at) = TorchParityTests.close(mine.values, TorchParityTests.floats(values), rtol: 1e-3, atol: 1e-5)
            #expect(ok, "\(name) after 20 steps: \(at)")
        }
    }
}
