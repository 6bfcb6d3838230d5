import Testing
import CVSegCore
import CVSegTensor
@testable import CVSegNN

/// The module tree: PyTorch-style names, strict and non-strict loading, parameters on the tape.
@Suite struct ModuleTests {
    final class Block: Module {
        let weight = Parameter(Tensor.ones([2, 3]))
        let bias = Parameter(Tensor.zeros([2]))
        let running = Parameter(Tensor.zeros([2]))
        override init() {
            super.init()
            register(parameter: weight, as: "weight")
            register(parameter: bias, as: "bias")
            register(buffer: running, as: "running_mean")
        }
    }

    final class Net: Module {
        let conv1 = Block(), head = Block()
        override init() {
            super.init()
            register(child: conv1, as: "conv1")
            let backbone = Module()
            register(child: backbone, as: "backbone")
            backbone.register(child: head, as: "head")
        }
    }

    @Test func namesFollowTheTree() {
        let net = Net()
        #expect(net.namedParameters().map(\.0) == ["conv1.weight", "conv1.bias", "backbone.head.weight", "backbone.head.bias"])
        #expect(net.stateDict().map(\.0) == ["conv1.weight", "conv1.bias", "backbone.head.weight", "backbone.head.bias",
                                             "conv1.running_mean", "backbone.head.running_mean"])
    }

    @Test func strictLoadingNamesEveryProblem() throws {
        let net = Net()
        var state = net.stateDict().filter { $0.0 != "conv1.bias" }
        state.append(("extra.weight", Tensor.zeros([1])))
        state = state.map { $0.0 == "backbone.head.weight" ? ($0.0, Tensor.zeros([3, 2])) : $0 }
        #expect(throws: CVSegError.invalidContent(file: "w.safetensors", reason:
            "cannot load weights: mis-shaped: backbone.head.weight: expected [2, 3], got [3, 2]; missing: conv1.bias; unexpected: extra.weight")) {
            try net.load(stateDict: state, source: "w.safetensors")
        }
        // Nothing was loaded by the failed call.
        #expect(net.conv1.weight.value.values == [Float](repeating: 1, count: 6))
        // Non-strict: matching keys load, the rest is reported.
        let fixed = state.filter { $0.0 != "backbone.head.weight" }.map { ($0.0, $0.0 == "conv1.weight" ? Tensor.full([2, 3], 7) : $0.1) }
        let (missing, unexpected) = try net.load(stateDict: fixed, strict: false)
        #expect(missing == ["backbone.head.weight", "conv1.bias"] && unexpected == ["extra.weight"])
        #expect(net.conv1.weight.value.values == [Float](repeating: 7, count: 6))
    }

    @Test func parametersGoOnTheTapeOncePerPass() throws {
        let net = Net()
        let context = ForwardContext.training()
        let a = context.value(of: net.conv1.weight, name: "conv1.weight")
        let b = context.value(of: net.conv1.weight, name: "conv1.weight")
        #expect(a.isRecorded && context.tape?.count == 1 && a.values == b.values)
        let inference = ForwardContext.inference()
        #expect(!inference.value(of: net.conv1.weight, name: "w").isRecorded)
        // Errors inside a scope carry the layer name.
        #expect(throws: CVSegError.invalidArgument("in head: add: shapes [2, 3] and [2] differ")) {
            try context.scope("head") { try add(a, net.conv1.bias.value) }
        }
    }

    /// `Sequential` runs a `Conv2d` followed by `Activation(.relu)` as one fused convolution: same
    /// names, same outputs, same gradients as the two layers one after the other.
    @Test func convReLUIsFusedInSequential() throws {
        var rng = SplitMix64(seed: 5)
        let conv = Conv2d(3, 20, kernel: 3, padding: 1, generator: &rng)
        let net = Sequential([conv, Activation(.relu), Conv2d(20, 4, kernel: 1, generator: &rng)])
        #expect(net.stateDict().map(\.0) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        let x = Tensor.randomNormal([2, 3, 9, 7], generator: &rng)
        func unfused(_ context: ForwardContext) throws -> Tensor {
            try net.layers[2](try relu(try conv(x, context)), context)
        }
        let fused = try net(x, .inference()).values, plain = try unfused(.inference()).values
        #expect(zip(fused, plain).allSatisfy { abs($0 - $1) <= 1e-5 * (1 + abs($1)) })
        func gradients(_ body: (ForwardContext) throws -> Tensor) throws -> [[Float]] {
            let context = ForwardContext.training()
            let loss = try sum(try mul(try body(context), Tensor.randomNormal([2, 4, 9, 7], generator: &rng)))
            return try context.tape!.gradients(of: loss, for: context.recorded(net.parameters).compactMap { $0 }).map(\.values)
        }
        let seed = rng
        let a = try gradients { try net(x, $0) }
        rng = seed
        let b = try gradients(unfused)
        #expect(a.count == 4 && b.count == 4)
        for (ga, gb) in zip(a, b) {
            let scale = gb.map(abs).max() ?? 1
            #expect(zip(ga, gb).allSatisfy { abs($0 - $1) <= 1e-5 * scale })
        }
        // One tape entry less than conv2d + relu.
        let (fusedContext, plainContext) = (ForwardContext.training(), ForwardContext.training())
        _ = try net(x, fusedContext)
        _ = try unfused(plainContext)
        #expect(fusedContext.tape!.count == plainContext.tape!.count - 1)
    }
}
