import CVSegCore
import CVSegTensor

/// Central-difference check of a tape's gradients.
///
/// `f` maps the inputs to any tensor; the checked function is `L = Σ f(x) ⊙ R` with fixed seeded
/// random weights R, so every output element matters. For each input element, `(L(x + h) −
/// L(x − h)) / 2h` is compared with the tape's gradient. The forward passes run in Float32 with
/// the sums in Double, so `h` is 1e-2 by default and the tolerance `atol + rtol·|numeric|`
/// (defaults 2e-3 and 2e-2) is set for that; keep inputs away from kinks (ReLU at 0, max ties).
/// - Returns: the largest `|analytic − numeric| − rtol·|numeric|` seen (≤ atol when it passes)
///   and a description of where.
public func gradientCheck(_ inputs: [Tensor], step h: Float = 1e-2, atol: Double = 2e-3, rtol: Double = 2e-2,
                          seed: UInt64 = 99, _ f: ([Tensor]) throws -> Tensor) throws -> (passed: Bool, worst: Double, at: String) {
    var rng = SplitMix64(seed: seed)
    let probe = try f(inputs)
    let weights = Tensor.randomUniform(probe.shape, low: -1, high: 1, generator: &rng)
    func loss(_ xs: [Tensor]) throws -> Double {
        let y = try f(xs)
        var total = 0.0
        for (a, b) in zip(y.values, weights.values) { total += Double(a) * Double(b) }
        return total
    }
    let tape = Tape()
    let tracked = inputs.map { tape.parameter($0) }
    let l = try sum(mul(f(tracked), weights))
    let analytic = try tape.gradients(of: l, for: tracked)
    var worst = -Double.infinity, at = ""
    for (k, x) in inputs.enumerated() {
        for i in 0..<x.count {
            var plus = x.values, minus = x.values
            plus[i] += h
            minus[i] -= h
            var xsPlus = inputs, xsMinus = inputs
            xsPlus[k] = Tensor(shape: x.shape, values: plus)
            xsMinus[k] = Tensor(shape: x.shape, values: minus)
            let numeric = (try loss(xsPlus) - loss(xsMinus)) / (Double(plus[i]) - Double(minus[i]))
            let a = Double(analytic[k].values[i])
            let excess = abs(a - numeric) - rtol * abs(numeric)
            if excess > worst { worst = excess; at = "input \(k) element \(i): analytic \(a), numeric \(numeric)" }
        }
    }
    return (worst <= atol, worst, at)
}
