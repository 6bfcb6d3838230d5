import CVSegCore

/// Calls `body(base, stride)` for every softmax vector of an `[N, C, …]` tensor: the C values
/// at `base + c·stride`.
func forEachChannelVector(_ shape: Shape, _ body: (Int, Int) -> Void) {
    let (n, c) = (shape[0], shape[1])
    let inner = c == 0 || n == 0 ? 0 : shape.count / (n * c)
    for i in 0..<n { for k in 0..<inner { body(i * c * inner + k, inner) } }
}

/// The maximum m of the vector `x[base + j·stride]`, j < c, and Σ exp(x − m).
@inline(__always)
func maxAndExpSum(_ x: [Float], _ base: Int, _ stride: Int, _ c: Int) -> (max: Float, sum: Float) {
    var m = -Float.infinity
    for j in 0..<c { m = max(m, x[base + j * stride]) }
    var s: Float = 0
    for j in 0..<c { s += _expf(x[base + j * stride] - m) }
    return (m, s)
}

func checkSoftmaxShape(_ x: Tensor, _ op: String) throws {
    guard x.shape.rank >= 2 else { throw CVSegError.invalidArgument("\(op): needs [N, C, …], got \(x.shape)") }
}

/// Softmax over dimension 1 (classes) of an `[N, C, …]` tensor, max-subtracted for stability.
public func softmax(_ x: Tensor) throws -> Tensor {
    try checkSoftmaxShape(x, "softmax")
    let c = x.shape[1]
    let xv = x.values
    var y = [Float](repeating: 0, count: x.count)
    forEachChannelVector(x.shape) { base, stride in
        let (m, sum) = maxAndExpSum(xv, base, stride, c)
        for j in 0..<c { y[base + j * stride] = _expf(xv[base + j * stride] - m) / sum }
    }
    let shape = x.shape
    return try result("softmax", shape: shape, values: y, inputs: [x]) { g in
        let gv = g.values
        var dx = [Float](repeating: 0, count: gv.count)
        forEachChannelVector(shape) { base, stride in
            var dot: Float = 0
            for j in 0..<c { dot += gv[base + j * stride] * y[base + j * stride] }
            for j in 0..<c { dx[base + j * stride] = y[base + j * stride] * (gv[base + j * stride] - dot) }
        }
        return [Tensor(shape: shape, values: dx)]
    }
}

/// log(softmax(x)) over dimension 1, computed as x − max − log Σ exp(x − max).
public func logSoftmax(_ x: Tensor) throws -> Tensor {
    try checkSoftmaxShape(x, "logSoftmax")
    let c = x.shape[1]
    let xv = x.values
    var y = [Float](repeating: 0, count: x.count)
    forEachChannelVector(x.shape) { base, stride in
        let (m, sum) = maxAndExpSum(xv, base, stride, c)
        let lse = m + _logf(sum)
        for j in 0..<c { y[base + j * stride] = xv[base + j * stride] - lse }
    }
    let shape = x.shape
    return try result("log_softmax", shape: shape, values: y, inputs: [x]) { g in
        let gv = g.values
        var dx = [Float](repeating: 0, count: gv.count)
        forEachChannelVector(shape) { base, stride in
            var total: Float = 0
            for j in 0..<c { total += gv[base + j * stride] }
            for j in 0..<c { dx[base + j * stride] = gv[base + j * stride] - _expf(y[base + j * stride]) * total }
        }
        return [Tensor(shape: shape, values: dx)]
    }
}
