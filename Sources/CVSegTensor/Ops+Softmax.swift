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
    // Plane by plane (all C values of a pixel are `inner` apart): the loops run along the
    // contiguous pixel axis, in the same summation order per pixel as a per-vector loop.
    let (n, c) = (x.shape[0], x.shape[1])
    let inner = n * c == 0 ? 0 : x.count / (n * c)
    let xv = x.values
    var y = [Float](repeating: 0, count: x.count)
    var m = [Float](repeating: 0, count: inner), s = [Float](repeating: 0, count: inner)
    xv.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
            m.withUnsafeMutableBufferPointer { mp in
                s.withUnsafeMutableBufferPointer { sp in
                    for i in 0..<n {
                        let base = i * c * inner
                        for k in 0..<inner { mp[k] = -Float.infinity; sp[k] = 0 }
                        for j in 0..<c { for k in 0..<inner { mp[k] = max(mp[k], xp[base + j * inner + k]) } }
                        for j in 0..<c { for k in 0..<inner { sp[k] += _expf(xp[base + j * inner + k] - mp[k]) } }
                        for k in 0..<inner { sp[k] = mp[k] + _logf(sp[k]) }
                        for j in 0..<c { for k in 0..<inner { yp[base + j * inner + k] = xp[base + j * inner + k] - sp[k] } }
                    }
                }
            }
        }
    }
    let shape = x.shape
    return try result("log_softmax", shape: shape, values: y, inputs: [x]) { g in
        let gv = g.values
        var dx = [Float](repeating: 0, count: gv.count)
        var total = [Float](repeating: 0, count: inner)
        gv.withUnsafeBufferPointer { gp in
            y.withUnsafeBufferPointer { yp in
                dx.withUnsafeMutableBufferPointer { dp in
                    total.withUnsafeMutableBufferPointer { tp in
                        for i in 0..<n {
                            let base = i * c * inner
                            for k in 0..<inner { tp[k] = 0 }
                            for j in 0..<c { for k in 0..<inner { tp[k] += gp[base + j * inner + k] } }
                            for j in 0..<c {
                                for k in 0..<inner {
                                    dp[base + j * inner + k] = gp[base + j * inner + k] - _expf(yp[base + j * inner + k]) * tp[k]
                                }
                            }
                        }
                    }
                }
            }
        }
        return [Tensor(shape: shape, values: dx)]
    }
}
