import CVSegCore

// Max and average pooling on plain NCHW in Swift.
//
// oneDNN 2.6 has no fast pooling for plain NCHW (it picks `simple_nchw`: 10 ms for a 2×2 max pool
// of 1×64×128×128 on one thread, against 0.3 ms here), so the tensor operations run these loops
// instead. Semantics are PyTorch's: windows in row-major order, padding never chosen by max
// pooling, the first maximum wins on ties, a NaN wins and propagates (the last NaN's index);
// average pooling divides by the window clipped at `H + top`, `W + left` (count_include_pad) or
// by the number of input elements in it.

/// The pooling geometry as loop bounds: for each output row (column), the first input row
/// (column) inside the input, how many taps fall inside, and the number of taps PyTorch's
/// `count_include_pad` divisor counts.
struct PoolPlan {
    let planes: Int, h: Int, w: Int, oh: Int, ow: Int
    let dy: Int, dx: Int
    let rowStart: [Int], rowCount: [Int], rowCounted: [Int]
    let colStart: [Int], colCount: [Int], colCounted: [Int]
    /// 2×2 windows, stride 2, no padding, no dilation: the unrolled path.
    var isTwoByTwo: Bool

    init(_ p: DNNL.Pool2D, output out: Shape) {
        planes = out[0] * out[1]
        (h, w, oh, ow) = (p.inputShape[2], p.inputShape[3], out[2], out[3])
        (dy, dx) = (p.dilation.height, p.dilation.width)
        func axis(_ count: Int, _ size: Int, _ before: Int, _ k: Int, _ s: Int, _ d: Int) -> ([Int], [Int], [Int]) {
            var start = [Int](repeating: 0, count: count), taps = start, counted = start
            for o in 0..<count {
                let base = o * s - before
                var first = -1, n = 0, c = 0
                for t in 0..<k {
                    let i = base + t * d
                    if i < size + before { c += 1 }
                    guard i >= 0, i < size else { continue }
                    if first < 0 { first = i }
                    n += 1
                }
                (start[o], taps[o], counted[o]) = (max(first, 0), n, c)
            }
            return (start, taps, counted)
        }
        (rowStart, rowCount, rowCounted) = axis(oh, h, p.padding.top, p.kernel.height, p.stride.height, p.dilation.height)
        (colStart, colCount, colCounted) = axis(ow, w, p.padding.left, p.kernel.width, p.stride.width, p.dilation.width)
        isTwoByTwo = p.kernel == DNNL.Pair(2, 2) && p.stride == DNNL.Pair(2, 2) && p.dilation == DNNL.Pair(1, 1)
            && p.padding == .zero
    }

    var inputCount: Int { planes * h * w }
    var outputCount: Int { planes * oh * ow }

    /// Max pooling: the maxima, and (when `indices`) the flat `h·W + w` of each within its plane.
    func maxForward(_ input: [Float], indices wantIndices: Bool) -> (output: [Float], indices: [Int32]?) {
        var indices: [Int32]? = nil
        let output = [Float](unsafeUninitializedCapacity: outputCount) { y, n in
            input.withUnsafeBufferPointer { xb in
                let x = xb.baseAddress!, out = y.baseAddress!
                if wantIndices {
                    indices = [Int32](unsafeUninitializedCapacity: outputCount) { ib, m in
                        maxKernel(x, out, ib.baseAddress)
                        m = outputCount
                    }
                } else {
                    maxKernel(x, out, nil)
                }
            }
            n = outputCount
        }
        return (output, indices)
    }

    private func maxKernel(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ idx: UnsafeMutablePointer<Int32>?) {
        if isTwoByTwo {
            for plane in 0..<planes {
                let px = x + plane * h * w, py = y + plane * oh * ow
                for oy in 0..<oh {
                    let r0 = px + 2 * oy * w, r1 = r0 + w, row = py + oy * ow
                    if let idx {
                        let ir = idx + plane * oh * ow + oy * ow
                        let i0 = Int32(2 * oy * w)
                        for ox in 0..<ow {
                            var m = r0[2 * ox], k = i0 + Int32(2 * ox)
                            let b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1]
                            if b > m || b.isNaN { m = b; k = i0 + Int32(2 * ox + 1) }
                            if c > m || c.isNaN { m = c; k = i0 + Int32(w + 2 * ox) }
                            if d > m || d.isNaN { m = d; k = i0 + Int32(w + 2 * ox + 1) }
                            row[ox] = m
                            ir[ox] = k
                        }
                    } else {
                        for ox in 0..<ow {
                            var m = r0[2 * ox]
                            let b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1]
                            m = b > m || b.isNaN ? b : m
                            m = c > m || c.isNaN ? c : m
                            m = d > m || d.isNaN ? d : m
                            row[ox] = m
                        }
                    }
                }
            }
            return
        }
        rowStart.withUnsafeBufferPointer { rs in rowCount.withUnsafeBufferPointer { rc in
        colStart.withUnsafeBufferPointer { cs in colCount.withUnsafeBufferPointer { cc in
            for plane in 0..<planes {
                let px = x + plane * h * w
                var o = plane * oh * ow
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        // Every window holds at least one input element (checked by Pool2D).
                        var best = -Float.infinity, bestIndex = -1
                        var iy = rs[oy]
                        for _ in 0..<rc[oy] {
                            var ix = cs[ox]
                            for _ in 0..<cc[ox] {
                                let v = px[iy * w + ix]
                                if bestIndex < 0 || v > best || v.isNaN { best = v; bestIndex = iy * w + ix }
                                ix += dx
                            }
                            iy += dy
                        }
                        y[o] = best
                        idx?[o] = Int32(max(bestIndex, 0))
                        o += 1
                    }
                }
            }
        }}}}
    }

    /// Max pooling backward: each output gradient added at its maximum's index.
    func maxBackward(_ gradient: [Float], indices: [Int32]) -> [Float] {
        var dx = [Float](repeating: 0, count: inputCount)
        dx.withUnsafeMutableBufferPointer { d in
            gradient.withUnsafeBufferPointer { g in
                indices.withUnsafeBufferPointer { ix in
                    let hw = h * w, ohw = oh * ow
                    for plane in 0..<planes {
                        let pd = d.baseAddress! + plane * hw
                        for o in (plane * ohw)..<((plane + 1) * ohw) { pd[Int(ix[o])] += g[o] }
                    }
                }
            }
        }
        return dx
    }

    private func divisor(_ oy: Int, _ ox: Int, includePadding: Bool) -> Float {
        Float(includePadding ? rowCounted[oy] * colCounted[ox] : rowCount[oy] * colCount[ox])
    }

    /// Average pooling.
    func averageForward(_ input: [Float], includePadding: Bool) -> [Float] {
        [Float](unsafeUninitializedCapacity: outputCount) { yb, n in
            input.withUnsafeBufferPointer { xb in
                let x = xb.baseAddress!, y = yb.baseAddress!
                if isTwoByTwo {
                    for plane in 0..<planes {
                        let px = x + plane * h * w, py = y + plane * oh * ow
                        for oy in 0..<oh {
                            let r0 = px + 2 * oy * w, r1 = r0 + w, row = py + oy * ow
                            for ox in 0..<ow { row[ox] = (r0[2 * ox] + r0[2 * ox + 1] + r1[2 * ox] + r1[2 * ox + 1]) * 0.25 }
                        }
                    }
                    return
                }
                var o = 0
                for plane in 0..<planes {
                    let px = x + plane * h * w
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            var sum: Float = 0
                            var iy = rowStart[oy]
                            for _ in 0..<rowCount[oy] {
                                var ix = colStart[ox]
                                for _ in 0..<colCount[ox] { sum += px[iy * w + ix]; ix += dx }
                                iy += dy
                            }
                            y[o] = sum / divisor(oy, ox, includePadding: includePadding)
                            o += 1
                        }
                    }
                }
            }
            n = outputCount
        }
    }

    /// Average pooling backward: each output gradient spread over its window's input elements.
    func averageBackward(_ gradient: [Float], includePadding: Bool) -> [Float] {
        var dxs = [Float](repeating: 0, count: inputCount)
        dxs.withUnsafeMutableBufferPointer { db in
            gradient.withUnsafeBufferPointer { g in
                let d = db.baseAddress!
                var o = 0
                for plane in 0..<planes {
                    let pd = d + plane * h * w
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let share = g[o] / divisor(oy, ox, includePadding: includePadding)
                            var iy = rowStart[oy]
                            for _ in 0..<rowCount[oy] {
                                var ix = colStart[ox]
                                for _ in 0..<colCount[ox] { pd[iy * w + ix] += share; ix += dx }
                                iy += dy
                            }
                            o += 1
                        }
                    }
                }
            }
        }
        return dxs
    }
}

/// Max pooling as PyTorch's `max_pool2d` (stride defaults to the kernel; padding counts as −∞),
/// with the flat index `h·W + w` of each maximum within its input plane when `returnIndices`
/// (for ``maxUnpool(_:indices:height:width:)``).
public func maxPool2d(_ x: Tensor, kernel: Size2, stride: Size2? = nil, padding: Size2 = 0, dilation: Size2 = 1,
                      returnIndices: Bool = false) throws -> (output: Tensor, indices: [Int32]?) {
    guard x.shape.rank == 4 else { throw CVSegError.invalidArgument("maxPool2d: needs [N, C, H, W], got \(x.shape)") }
    let p = DNNL.Pool2D(inputShape: x.shape, kernel: kernel.pair, stride: stride?.pair, padding: padding.padding, dilation: dilation.pair)
    let outShape = try onDNNL("maxPool2d") { _ in try p.outputShape() }
    guard x.shape[2] * x.shape[3] <= Int(Int32.max) else {
        throw CVSegError.invalidArgument("maxPool2d: input plane \(x.shape) too large for Int32 indices")
    }
    let plan = PoolPlan(p, output: outShape)
    let recorded = x.isRecorded
    let r = plan.maxForward(x.values, indices: returnIndices || recorded)
    let indices = r.indices
    let y = try result("max_pool2d", shape: outShape, values: r.output, inputs: [x]) { g in
        guard let indices else { throw CVSegError.invalidArgument("maxPool2d backward: no indices recorded") }
        return [Tensor(shape: x.shape, values: plan.maxBackward(g.values, indices: indices))]
    }
    return (y, returnIndices ? indices : nil)
}

/// Average pooling as PyTorch's `avg_pool2d` (`count_include_pad` = `countIncludePadding`).
public func avgPool2d(_ x: Tensor, kernel: Size2, stride: Size2? = nil, padding: Size2 = 0,
                      countIncludePadding: Bool = true) throws -> Tensor {
    guard x.shape.rank == 4 else { throw CVSegError.invalidArgument("avgPool2d: needs [N, C, H, W], got \(x.shape)") }
    let p = DNNL.Pool2D(inputShape: x.shape, kernel: kernel.pair, stride: stride?.pair, padding: padding.padding)
    let outShape = try onDNNL("avgPool2d") { _ in try p.outputShape() }
    let plan = PoolPlan(p, output: outShape)
    let y = plan.averageForward(x.values, includePadding: countIncludePadding)
    return try result("avg_pool2d", shape: outShape, values: y, inputs: [x]) { g in
        [Tensor(shape: x.shape, values: plan.averageBackward(g.values, includePadding: countIncludePadding))]
    }
}
