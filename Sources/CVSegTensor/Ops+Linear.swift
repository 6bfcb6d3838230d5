import CVSegCore

/// `C[M, N] = A[M, K] · B[K, N]` (or Bᵀ when `transposeB`), row-major, accumulating in Float.
func gemm(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>, _ c: UnsafeMutableBufferPointer<Float>,
          m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false) {
    for i in 0..<(m * n) { c[i] = 0 }
    for i in 0..<m {
        for p in 0..<k {
            let av = transposeA ? a[p * m + i] : a[i * k + p]
            if av == 0 { continue }
            if transposeB {
                for j in 0..<n { c[i * n + j] += av * b[j * k + p] }
            } else {
                let row = p * n
                for j in 0..<n { c[i * n + j] += av * b[row + j] }
            }
        }
    }
}

/// `x · Wᵀ + b` as PyTorch's `linear`: `x` `[N, in]`, `weight` `[out, in]`, `bias` `[out]`.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
    guard x.shape.rank == 2, weight.shape.rank == 2, x.shape[1] == weight.shape[1] else {
        throw CVSegError.invalidArgument("linear: input \(x.shape) and weight \(weight.shape) do not fit ([N, in] and [out, in])")
    }
    let (n, inF, outF) = (x.shape[0], x.shape[1], weight.shape[0])
    if let bias, bias.shape != [outF] {
        throw CVSegError.invalidArgument("linear: bias \(bias.shape) for \(outF) outputs")
    }
    let (xv, wv) = (x.values, weight.values)
    var y = [Float](repeating: 0, count: n * outF)
    xv.withUnsafeBufferPointer { xp in
        wv.withUnsafeBufferPointer { wp in
            y.withUnsafeMutableBufferPointer { yp in gemm(xp, wp, yp, m: n, n: outF, k: inF, transposeB: true) }
        }
    }
    if let bias {
        let b = bias.values
        for i in 0..<n { for j in 0..<outF { y[i * outF + j] += b[j] } }
    }
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    return try result("linear", shape: [n, outF], values: y, inputs: inputs) { g in
        let gv = g.values
        var dx = [Float](repeating: 0, count: n * inF), dw = [Float](repeating: 0, count: outF * inF)
        gv.withUnsafeBufferPointer { gp in
            wv.withUnsafeBufferPointer { wp in
                dx.withUnsafeMutableBufferPointer { dp in gemm(gp, wp, dp, m: n, n: inF, k: outF) }
            }
            xv.withUnsafeBufferPointer { xp in
                dw.withUnsafeMutableBufferPointer { dp in gemm(gp, xp, dp, m: outF, n: inF, k: n, transposeA: true) }
            }
        }
        var grads: [Tensor?] = [Tensor(shape: [n, inF], values: dx), Tensor(shape: [outF, inF], values: dw)]
        if bias != nil {
            var db = [Float](repeating: 0, count: outF)
            for i in 0..<n { for j in 0..<outF { db[j] += gv[i * outF + j] } }
            grads.append(Tensor(shape: [outF], values: db))
        }
        return grads
    }
}
