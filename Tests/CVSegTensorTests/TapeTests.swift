import Glibc
import Testing
import CVSegCore
import CVSegTestSupport
@testable import CVSegTensor

/// The tape and the elementwise, reduction, shape and activation operations: gradients against
/// central differences, and the tape's bookkeeping.
@Suite struct TapeTests {
    static func random(_ shape: Shape, seed: UInt64, awayFromZero: Bool = false) -> Tensor {
        var rng = SplitMix64(seed: seed)
        let t = Tensor.randomUniform(shape, low: -2, high: 2, generator: &rng)
        guard awayFromZero else { return t }
        // Keep |x| >= 0.1 so that kinks (ReLU at 0) sit far from the finite-difference steps.
        return Tensor(shape: shape, values: t.values.map { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 })
    }

    static func expectGradients(_ name: String, _ inputs: [Tensor], _ f: ([Tensor]) throws -> Tensor) throws {
        let check = try gradientCheck(inputs, f)
        #expect(check.passed, "\(name): \(check.at) (excess \(check.worst))")
    }

    @Test func elementwiseAndReductions() throws {
        let a = Self.random([2, 3, 4], seed: 1), b = Self.random([2, 3, 4], seed: 2)
        try Self.expectGradients("add", [a, b]) { try add($0[0], $0[1]) }
        try Self.expectGradients("sub", [a, b]) { try sub($0[0], $0[1]) }
        try Self.expectGradients("mul", [a, b]) { try mul($0[0], $0[1]) }
        try Self.expectGradients("scale", [a]) { try scale($0[0], by: -1.5) }
        try Self.expectGradients("sum", [a]) { try sum($0[0]) }
        try Self.expectGradients("mean", [a]) { try mean($0[0]) }
        try Self.expectGradients("reshape", [a]) { try reshape($0[0], [4, 6]) }
        try Self.expectGradients("flatten", [a]) { try flatten($0[0]) }
        let bias = Self.random([3], seed: 3)
        try Self.expectGradients("addChannelBias", [a, bias]) { try addChannelBias($0[0], $0[1]) }
        let c = Self.random([2, 1, 4], seed: 4)
        try Self.expectGradients("concat", [a, c, b]) { try concatChannels($0) }
        // The same tensor used twice accumulates both paths: d(a·a)/da = 2a.
        try Self.expectGradients("square", [a]) { try mul($0[0], $0[0]) }
    }

    @Test func activationsAndSoftmax() throws {
        let x = Self.random([2, 5, 3, 2], seed: 5, awayFromZero: true)
        try Self.expectGradients("relu", [x]) { try relu($0[0]) }
        try Self.expectGradients("leakyRelu", [x]) { try leakyRelu($0[0], slope: 0.2) }
        try Self.expectGradients("sigmoid", [x]) { try sigmoid($0[0]) }
        try Self.expectGradients("tanh", [x]) { try tanh($0[0]) }
        try Self.expectGradients("softmax", [x]) { try softmax($0[0]) }
        try Self.expectGradients("logSoftmax", [x]) { try logSoftmax($0[0]) }
        // Values: softmax sums to one over dimension 1; logSoftmax is its log; huge logits are stable.
        let s = try softmax(Tensor(shape: [1, 3, 1, 1], values: [1000, 1001, 1002]))
        let e: [Float] = [0.09003057, 0.24472847, 0.66524096]
        #expect(zip(s.values, e).allSatisfy { abs($0 - $1) < 1e-6 })
        let l = try logSoftmax(Tensor(shape: [1, 3], values: [1000, 1001, 1002]))
        #expect(zip(l.values, e).allSatisfy { abs($0 - logf($1)) < 1e-4 }) // ulp(1002) in Float is 6e-5
        let sg = try sigmoid(Tensor(shape: [3], values: [-100, 0, 100]))
        #expect(sg.values == [sigmoidOf(-100), 0.5, 1])
    }

    func sigmoidOf(_ v: Float) -> Float { expf(v) / (1 + expf(v)) }

    @Test func inferenceRecordsNothing() throws {
        let x = Self.random([2, 3], seed: 6)
        let y = try relu(add(x, x))
        #expect(!y.isRecorded && y.tape == nil)
        let tape = Tape()
        let p = tape.parameter(x, name: "w")
        let z = try tape.withScope("block") { try relu(add(p, x)) }
        #expect(z.isRecorded && tape.count == 3)
        #expect(tape.entries.map(\.name) == ["w", "block.add", "block.relu"])
        // Detached values stop the gradient.
        let w = try sum(mul(p.detached, p))
        let g = try tape.gradients(of: w, for: [p])[0]
        #expect(g.values == x.values)
    }

    @Test func errorsNameShapesAndEntries() throws {
        let a = Tensor.zeros([2, 3]), b = Tensor.zeros([3, 2])
        #expect(throws: CVSegError.invalidArgument("add: shapes [2, 3] and [3, 2] differ")) { try add(a, b) }
        #expect(throws: CVSegError.invalidArgument("reshape: [2, 3] has 6 elements, [4] has 4")) { try reshape(a, [4]) }
        let t1 = Tape(), t2 = Tape()
        #expect(throws: CVSegError.invalidArgument("add: inputs recorded on different tapes")) {
            try add(t1.parameter(a), t2.parameter(a))
        }
        // A non-finite gradient is reported with the entry's layer path.
        let tape = Tape()
        let p = tape.parameter(Tensor(shape: [2], values: [1, 2]), name: "x")
        let big = try tape.withScope("head") { try scale(p, by: Float.greatestFiniteMagnitude) }
        let loss = try sum(mul(big, big))
        #expect(throws: CVSegError.self) { try tape.gradients(of: loss, for: [p]) }
        do {
            _ = try tape.gradients(of: loss, for: [p])
        } catch let error as CVSegError {
            #expect("\(error)".contains("head.scale") || "\(error)".contains("mul"), "\(error)")
        }
        #expect(throws: CVSegError.self) { try tape.gradients(of: p, for: [p]) } // not a scalar
    }

    /// The checker itself fails on a wrong backward (here: the derivative of x² taken as x).
    @Test func checkerCatchesAWrongGradient() throws {
        let x = Self.random([5], seed: 8, awayFromZero: true)
        let check = try gradientCheck([x]) { xs in
            let v = xs[0].values
            return try result("bad_square", shape: xs[0].shape, values: v.map { $0 * $0 }, inputs: [xs[0]]) { g in
                [Tensor(shape: g.shape, values: zip(g.values, v).map { $0 * $1 })]
            }
        }
        #expect(!check.passed)
    }

    @Test func linearAndSpatialOps() throws {
        let x = Self.random([3, 5], seed: 11), w = Self.random([4, 5], seed: 12), b = Self.random([4], seed: 13)
        try Self.expectGradients("linear", [x, w, b]) { try linear($0[0], weight: $0[1], bias: $0[2]) }
        let img = Self.random([2, 2, 5, 4], seed: 14)
        for ac in [true, false] {
            try Self.expectGradients("bilinear up \(ac)", [img]) { try upsampleBilinear($0[0], height: 9, width: 7, alignCorners: ac) }
            try Self.expectGradients("bilinear down \(ac)", [img]) { try upsampleBilinear($0[0], height: 3, width: 2, alignCorners: ac) }
        }
        try Self.expectGradients("globalAveragePool", [img]) { try globalAveragePool($0[0]) }
        let indices: [Int32] = (0..<80).map { Int32((($0 % 20) * 7) % 30) } // distinct within each plane
        try Self.expectGradients("maxUnpool", [img]) { try maxUnpool($0[0], indices: indices, height: 5, width: 6) }
        // Stochastic pooling on positive inputs: inference is Σa²/Σa; training picks members.
        var rng = SplitMix64(seed: 3)
        let positive = Tensor(shape: [1, 2, 4, 4], values: Self.random([1, 2, 4, 4], seed: 15).values.map { abs($0) + 0.2 })
        try Self.expectGradients("stochasticPool inference", [positive]) { try stochasticPool($0[0], kernel: 2, training: false, generator: &rng) }
        let window = Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 0])
        #expect(try stochasticPool(window, kernel: 2, training: false, generator: &rng).values == [14.0 / 6])
        var counts = [Float: Int]()
        for _ in 0..<6000 { counts[try stochasticPool(window, kernel: 2, training: true, generator: &rng).scalarValue, default: 0] += 1 }
        #expect(counts[0] == nil && abs(Double(counts[3] ?? 0) / 6000 - 0.5) < 0.03 && abs(Double(counts[1] ?? 0) / 6000 - 1.0 / 6) < 0.03)
        #expect(try stochasticPool(Tensor.zeros([1, 1, 2, 2]), kernel: 2, training: true, generator: &rng).values == [0])
        #expect(throws: CVSegError.self) { try stochasticPool(Tensor(shape: [1, 1, 1, 1], values: [-1]), kernel: 1, training: false, generator: &rng) }
        // Dropout: the identity in inference; in training zeros about p and scales the rest.
        let ones = Tensor.ones([10000])
        #expect(try dropout(ones, probability: 0.3, training: false, generator: &rng).values == ones.values)
        let dropped = try dropout(ones, probability: 0.3, training: true, generator: &rng).values
        let zeros = dropped.filter { $0 == 0 }.count
        #expect(abs(Double(zeros) / 10000 - 0.3) < 0.02 && dropped.allSatisfy { $0 == 0 || abs($0 - 1 / 0.7) < 1e-6 })
    }

    @Test func oneDNNOperations() throws {
        let x = Self.random([2, 4, 5, 4], seed: 21), w = Self.random([6, 2, 3, 3], seed: 22), b = Self.random([6], seed: 23)
        try Self.expectGradients("conv2d", [x, w, b]) { try conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1, groups: 2) }
        let wd = Self.random([3, 4, 3, 3], seed: 24)
        try Self.expectGradients("conv2d dilated", [x, wd]) { try conv2d($0[0], weight: $0[1], padding: 2, dilation: 2) }
        let wt = Self.random([4, 3, 3, 3], seed: 25), bt = Self.random([3], seed: 26)
        try Self.expectGradients("convTranspose2d", [x, wt, bt]) {
            try convTranspose2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1, outputPadding: 1)
        }
        // Distinct values keep max pooling away from ties.
        let distinct = Tensor(shape: [1, 2, 5, 4], values: (0..<40).map { Float(($0 * 17) % 40) * 0.25 })
        try Self.expectGradients("maxPool2d", [distinct]) { try maxPool2d($0[0], kernel: 3, stride: 2, padding: 1).output }
        try Self.expectGradients("avgPool2d", [x]) { try avgPool2d($0[0], kernel: 3, stride: 2, padding: 1, countIncludePadding: false) }
        let gamma = Tensor(shape: [4], values: [0.5, 1, 1.5, 2]), beta = Self.random([4], seed: 27)
        try Self.expectGradients("batchNorm training", [x, gamma, beta]) { try batchNorm($0[0], scale: $0[1], shift: $0[2], statistics: nil).output }
        try Self.expectGradients("batchNorm inference", [x, gamma, beta]) {
            try batchNorm($0[0], scale: $0[1], shift: $0[2], statistics: ([0.1, -0.2, 0.3, 0], [1, 2, 0.5, 1.5])).output
        }
        try Self.expectGradients("localResponseNorm", [x]) { try localResponseNorm($0[0], size: 3, alpha: 0.05) }
        // Shape errors name both shapes.
        #expect(throws: CVSegError.invalidArgument("conv2d: input [2, 4, 5, 4] does not fit weight [6, 3, 3, 3] with 1 groups")) {
            try conv2d(x, weight: Tensor.zeros([6, 3, 3, 3]))
        }
    }
}
