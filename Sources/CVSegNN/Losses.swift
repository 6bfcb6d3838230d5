import CVSegCore
import CVSegTensor

#if canImport(Glibc)
import Glibc
#endif

/// Losses with PyTorch's definitions and its default `reduction="mean"`.
public enum Loss {
    /// Cross-entropy of `logits` `[N, C, …]` against class indices `targets` `[N, …]`, as
    /// `torch.nn.functional.cross_entropy(logits, targets, weight, ignore_index)`: per element
    /// `−w[y]·log softmax(x)[y]`, summed over the elements whose target is not `ignoreIndex` and
    /// divided by the sum of their weights `w[y]` (not by their count). With every target ignored
    /// the result is NaN, as PyTorch's (0/0).
    /// - Throws: for mismatched shapes, weights not of length C, or a target outside `0..<C`
    ///   that is not `ignoreIndex`.
    public static func crossEntropy(_ logits: Tensor, targets: [Int32], ignoreIndex: Int32 = -100,
                                    classWeights: [Float]? = nil) throws -> Tensor {
        guard logits.shape.rank >= 2 else {
            throw CVSegError.invalidArgument("crossEntropy: logits need [N, C, …], got \(logits.shape)")
        }
        let c = logits.shape[1]
        let n = logits.shape[0]
        let inner = n * c == 0 ? 0 : logits.count / (n * c)
        guard targets.count == n * inner else {
            throw CVSegError.invalidArgument("crossEntropy: \(targets.count) targets for logits \(logits.shape) (need \(n * inner))")
        }
        if let w = classWeights, w.count != c {
            throw CVSegError.invalidArgument("crossEntropy: \(w.count) class weights for \(c) classes")
        }
        for t in targets where t != ignoreIndex && !(0..<Int32(c)).contains(t) {
            throw CVSegError.invalidArgument("crossEntropy: target \(t) outside 0..<\(c) (ignore index \(ignoreIndex))")
        }
        // One fused operation on the logits (log-softmax and the gather together), computed
        // plane by plane along the contiguous pixel axis: log p = x − (m + log Σ exp(x − m)).
        let xv = logits.values
        var lse = [Float](repeating: 0, count: n * inner)
        xv.withUnsafeBufferPointer { x in
            lse.withUnsafeMutableBufferPointer { l in
                var m = [Float](repeating: 0, count: inner)
                for i in 0..<n {
                    let base = i * c * inner
                    for k in 0..<inner { m[k] = -Float.infinity }
                    for j in 0..<c { for k in 0..<inner { m[k] = max(m[k], x[base + j * inner + k]) } }
                    for j in 0..<c { for k in 0..<inner { l[i * inner + k] += expf(x[base + j * inner + k] - m[k]) } }
                    for k in 0..<inner { l[i * inner + k] = m[k] + logf(l[i * inner + k]) }
                }
            }
        }
        var total = 0.0, weightSum = 0.0
        for i in 0..<n {
            for k in 0..<inner {
                let t = targets[i * inner + k]
                guard t != ignoreIndex else { continue }
                let w = Double(classWeights?[Int(t)] ?? 1)
                total -= w * Double(xv[(i * c + Int(t)) * inner + k] - lse[i * inner + k])
                weightSum += w
            }
        }
        let shape = logits.shape
        let value = Float(total / weightSum)
        return try recordScalar("cross_entropy", value: value, input: logits) { g in
            // d/dx_j = w_y/Σw · (p_j − [j = y]) · g, zero at ignored pixels.
            var grad = [Float](repeating: 0, count: shape.count)
            let scale = g / Float(weightSum)
            // Per-pixel weight (0 where ignored), then plane by plane.
            var pixelWeight = [Float](repeating: 0, count: n * inner)
            for p in 0..<(n * inner) where targets[p] != ignoreIndex {
                pixelWeight[p] = (classWeights?[Int(targets[p])] ?? 1) * scale
            }
            grad.withUnsafeMutableBufferPointer { d in
                xv.withUnsafeBufferPointer { x in
                    pixelWeight.withUnsafeBufferPointer { w in
                        lse.withUnsafeBufferPointer { l in
                            for i in 0..<n {
                                for j in 0..<c {
                                    let plane = (i * c + j) * inner, row = i * inner
                                    for k in 0..<inner where w[row + k] != 0 {
                                        d[plane + k] = expf(x[plane + k] - l[row + k]) * w[row + k]
                                    }
                                }
                                for k in 0..<inner where w[i * inner + k] != 0 {
                                    d[(i * c + Int(targets[i * inner + k])) * inner + k] -= w[i * inner + k]
                                }
                            }
                        }
                    }
                }
            }
            return Tensor(shape: shape, values: grad)
        }
    }

    /// `torch.nn.functional.binary_cross_entropy_with_logits(x, y, pos_weight)`, mean over
    /// elements: `−[p·y·log σ(x) + (1 − y)·log(1 − σ(x))]`, computed stably as
    /// `(1 − y)·x + (1 + (p − 1)·y)·(log(1 + e^−|x|) + max(−x, 0))`.
    public static func binaryCrossEntropyWithLogits(_ logits: Tensor, targets: Tensor, posWeight: Float = 1) throws -> Tensor {
        guard logits.shape == targets.shape else {
            throw CVSegError.invalidArgument("binaryCrossEntropyWithLogits: logits \(logits.shape) and targets \(targets.shape) differ")
        }
        guard logits.count > 0 else { throw CVSegError.invalidArgument("binaryCrossEntropyWithLogits of an empty tensor") }
        let (x, y) = (logits.values, targets.values)
        var total = 0.0
        for i in 0..<x.count {
            let l = 1 + (posWeight - 1) * y[i]
            total += Double((1 - y[i]) * x[i] + l * (log1pf(expf(-abs(x[i]))) + max(-x[i], 0)))
        }
        let count = Float(x.count)
        return try recordScalar("bce_with_logits", value: Float(total / Double(x.count)), input: logits) { g in
            // d/dx = (1 − y) − l·σ(−x) with l = 1 + (p − 1)·y.
            let grad = (0..<x.count).map { i -> Float in
                let l = 1 + (posWeight - 1) * y[i]
                let sNeg = x[i] >= 0 ? expf(-x[i]) / (1 + expf(-x[i])) : 1 / (1 + expf(x[i]))
                return ((1 - y[i]) - l * sNeg) * g / count
            }
            return Tensor(shape: logits.shape, values: grad)
        }
    }

    /// Mean squared error, `mean((x − y)²)`.
    public static func meanSquaredError(_ prediction: Tensor, _ target: Tensor) throws -> Tensor {
        let d = try sub(prediction, target.detached)
        return try mean(mul(d, d))
    }

    /// Smooth L1 (Huber with PyTorch's `beta`): `0.5·d²/β` where |d| < β, else `|d| − 0.5·β`;
    /// mean over elements. β = 0 is plain L1.
    public static func smoothL1(_ prediction: Tensor, _ target: Tensor, beta: Float = 1) throws -> Tensor {
        guard prediction.shape == target.shape else {
            throw CVSegError.invalidArgument("smoothL1: shapes \(prediction.shape) and \(target.shape) differ")
        }
        guard beta >= 0, prediction.count > 0 else { throw CVSegError.invalidArgument("smoothL1: beta must be >= 0 and the input non-empty") }
        let d = zip(prediction.values, target.values).map { $0 - $1 }
        var total = 0.0
        for v in d { total += Double(abs(v) < beta ? 0.5 * v * v / beta : abs(v) - 0.5 * beta) }
        let count = Float(d.count)
        return try recordScalar("smooth_l1", value: Float(total / Double(d.count)), input: prediction) { g in
            Tensor(shape: prediction.shape, values: d.map { v in
                (abs(v) < beta ? v / beta : (v > 0 ? 1 : (v < 0 ? -1 : 0))) * g / count
            })
        }
    }

    /// Weight decay as a loss term: `λ/2 · Σ w²` over the given parameter values (so its
    /// gradient is `λ·w`, what SGD's `weight_decay` adds).
    public static func l2Penalty(_ weights: [Tensor], lambda: Float) throws -> Tensor {
        var total: Tensor? = nil
        for w in weights {
            let term = try sum(mul(w, w))
            total = try total.map { try add($0, term) } ?? term
        }
        return try scale(total ?? Tensor.scalar(0), by: lambda / 2)
    }

    /// A scalar that depends on `input` with the given backward (output gradient → input gradient).
    static func recordScalar(_ name: String, value: Float, input: Tensor, backward: @escaping (Float) -> Tensor) throws -> Tensor {
        try customOperation(name, shape: [], values: [value], inputs: [input]) { g in [backward(g.scalarValue)] }
    }
}
