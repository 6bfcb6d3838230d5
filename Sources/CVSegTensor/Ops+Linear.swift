import CVSegCore

/// `x · Wᵀ + b` as PyTorch's `linear`: `x` `[N, in]`, `weight` `[out, in]`, `bias` `[out]`
/// (oneDNN's sgemm).
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
    try onDNNL("linear") { _ in try DNNLEngine.sgemm(transposeB: true, m: n, n: outF, k: inF, a: xv, b: wv, c: &y) }
    if let bias {
        let b = bias.values
        for i in 0..<n { for j in 0..<outF { y[i * outF + j] += b[j] } }
    }
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    return try result("linear", shape: [n, outF], values: y, inputs: inputs) { g in
        let gv = g.values
        var dx = [Float](repeating: 0, count: n * inF), dw = [Float](repeating: 0, count: outF * inF)
        try onDNNL("linear backward") { _ in
            try DNNLEngine.sgemm(m: n, n: inF, k: outF, a: gv, b: wv, c: &dx)
            try DNNLEngine.sgemm(transposeA: true, m: outF, n: inF, k: n, a: gv, b: xv, c: &dw)
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
