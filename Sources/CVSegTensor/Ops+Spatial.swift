import CVSegCore

func checkNCHW(_ x: Tensor, _ op: String) throws -> (n: Int, c: Int, h: Int, w: Int) {
    guard x.shape.rank == 4 else { throw CVSegError.invalidArgument("\(op): needs [N, C, H, W], got \(x.shape)") }
    return (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
}

/// Bilinear resizing of `[N, C, H, W]` to `[N, C, outH, outW]`, as PyTorch's
/// `F.interpolate(x, size=(outH, outW), mode="bilinear", align_corners=…)`: with
/// `alignCorners` the corner pixels' centres map onto each other (`src = dst·(in−1)/(out−1)`),
/// without it pixel areas do (`src = (dst + 0.5)·in/out − 0.5`, clamped at 0).
public func upsampleBilinear(_ x: Tensor, height outH: Int, width outW: Int, alignCorners: Bool) throws -> Tensor {
    let (n, c, h, w) = try checkNCHW(x, "upsampleBilinear")
    guard outH > 0, outW > 0, h > 0, w > 0 else {
        throw CVSegError.invalidArgument("upsampleBilinear: \(x.shape) to \(outH)×\(outW)")
    }
    struct Tap { var i0: Int; var i1: Int; var l0: Float; var l1: Float }
    func taps(_ inSize: Int, _ outSize: Int) -> [Tap] {
        let scale: Float = alignCorners ? (outSize > 1 ? Float(inSize - 1) / Float(outSize - 1) : 0) : Float(inSize) / Float(outSize)
        return (0..<outSize).map { d in
            let src = alignCorners ? scale * Float(d) : max(scale * (Float(d) + 0.5) - 0.5, 0)
            let i0 = min(Int(src), inSize - 1)
            let i1 = i0 < inSize - 1 ? i0 + 1 : i0
            let l1 = src - Float(i0)
            return Tap(i0: i0, i1: i1, l0: 1 - l1, l1: l1)
        }
    }
    let (ty, tx) = (taps(h, outH), taps(w, outW))
    let xv = x.values
    let planes = n * c
    // Separable: along the width first (input rows × output columns), then along the height,
    // so the inner loops run along contiguous output rows.
    var y = [Float](repeating: 0, count: planes * outH * outW)
    var rows = [Float](repeating: 0, count: h * outW)
    xv.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
            rows.withUnsafeMutableBufferPointer { rp in
                for p in 0..<planes {
                    let src = xp.baseAddress! + p * h * w, dst = yp.baseAddress! + p * outH * outW
                    for iy in 0..<h {
                        let line = src + iy * w, out = rp.baseAddress! + iy * outW
                        for (ox, b) in tx.enumerated() { out[ox] = b.l0 * line[b.i0] + b.l1 * line[b.i1] }
                    }
                    for (oy, a) in ty.enumerated() {
                        let r0 = rp.baseAddress! + a.i0 * outW, r1 = rp.baseAddress! + a.i1 * outW, out = dst + oy * outW
                        for ox in 0..<outW { out[ox] = a.l0 * r0[ox] + a.l1 * r1[ox] }
                    }
                }
            }
        }
    }
    let shape = x.shape
    return try result("upsample_bilinear", shape: [n, c, outH, outW], values: y, inputs: [x]) { g in
        let gv = g.values
        var dx = [Float](repeating: 0, count: shape.count)
        var drows = [Float](repeating: 0, count: h * outW)
        gv.withUnsafeBufferPointer { gp in
            dx.withUnsafeMutableBufferPointer { dp in
                drows.withUnsafeMutableBufferPointer { rp in
                    for p in 0..<planes {
                        let src = gp.baseAddress! + p * outH * outW, dst = dp.baseAddress! + p * h * w
                        for i in 0..<(h * outW) { rp[i] = 0 }
                        for (oy, a) in ty.enumerated() {
                            let r0 = rp.baseAddress! + a.i0 * outW, r1 = rp.baseAddress! + a.i1 * outW, line = src + oy * outW
                            for ox in 0..<outW { r0[ox] += a.l0 * line[ox] }
                            for ox in 0..<outW { r1[ox] += a.l1 * line[ox] }
                        }
                        for iy in 0..<h {
                            let row = rp.baseAddress! + iy * outW, out = dst + iy * w
                            for (ox, b) in tx.enumerated() {
                                out[b.i0] += b.l0 * row[ox]
                                out[b.i1] += b.l1 * row[ox]
                            }
                        }
                    }
                }
            }
        }
        return [Tensor(shape: shape, values: dx)]
    }
}

/// The mean over H and W of `[N, C, H, W]`, as `[N, C, 1, 1]` (PyTorch's `adaptive_avg_pool2d(x, 1)`).
public func globalAveragePool(_ x: Tensor) throws -> Tensor {
    let (n, c, h, w) = try checkNCHW(x, "globalAveragePool")
    guard h * w > 0 else { throw CVSegError.invalidArgument("globalAveragePool of an empty plane: \(x.shape)") }
    let xv = x.values, area = h * w
    let y = (0..<(n * c)).map { p -> Float in
        var s: Float = 0
        for i in 0..<area { s += xv[p * area + i] }
        return s / Float(area)
    }
    let shape = x.shape
    return try result("global_avg_pool", shape: [n, c, 1, 1], values: y, inputs: [x]) { g in
        let gv = g.values
        var dx = [Float](repeating: 0, count: shape.count)
        for p in 0..<(n * c) { for i in 0..<area { dx[p * area + i] = gv[p] / Float(area) } }
        return [Tensor(shape: shape, values: dx)]
    }
}

/// Max unpooling as PyTorch's `max_unpool2d(x, indices, output_size)`: each value goes to the
/// flat position `indices` names within its `[outH, outW]` plane; the rest is 0. With
/// overlapping windows two values can name one position: the later one wins, as in PyTorch's
/// CPU kernel.
public func maxUnpool(_ x: Tensor, indices: [Int32], height outH: Int, width outW: Int) throws -> Tensor {
    let (n, c, h, w) = try checkNCHW(x, "maxUnpool")
    guard indices.count == x.count else {
        throw CVSegError.invalidArgument("maxUnpool: \(indices.count) indices for input \(x.shape)")
    }
    let plane = outH * outW
    for i in indices where !(0..<Int32(plane)).contains(i) {
        throw CVSegError.invalidArgument("maxUnpool: index \(i) outside the \(outH)×\(outW) output plane")
    }
    let xv = x.values, area = h * w
    var y = [Float](repeating: 0, count: n * c * plane)
    for p in 0..<(n * c) { for i in 0..<area { y[p * plane + Int(indices[p * area + i])] = xv[p * area + i] } }
    let shape = x.shape
    return try result("max_unpool", shape: [n, c, outH, outW], values: y, inputs: [x]) { g in
        let gv = g.values
        var dx = [Float](repeating: 0, count: shape.count)
        for p in 0..<(n * c) { for i in 0..<area { dx[p * area + i] = gv[p * plane + Int(indices[p * area + i])] } }
        return [Tensor(shape: shape, values: dx)]
    }
}

/// Inverted dropout: in training each element is zeroed with probability `p` and the others
/// scaled by `1/(1 − p)` (PyTorch's `F.dropout`), drawn from `generator`; the identity otherwise.
public func dropout(_ x: Tensor, probability p: Float, training: Bool, generator: inout SplitMix64) throws -> Tensor {
    guard (0...1).contains(p) else { throw CVSegError.invalidArgument("dropout: probability \(p) outside 0...1") }
    guard training, p > 0 else { return x }
    let keep: [Float] = (0..<x.count).map { _ in
        Float(Double(generator.next() >> 11) * 0x1p-53) < p ? 0 : (p < 1 ? 1 / (1 - p) : 0)
    }
    let xv = x.values
    return try result("dropout", shape: x.shape, values: zipValues(xv, keep, *), inputs: [x]) { g in
        [Tensor(shape: g.shape, values: zipValues(g.values, keep, *))]
    }
}

/// Stochastic pooling (Zeiler and Fergus, ICLR 2013) over `k×k` windows with stride `k` of a
/// non-negative `[N, C, H, W]` (after a ReLU; negative inputs are refused): in training each
/// window outputs one of its activations drawn with probability `a_i / Σ a` (a window summing to
/// 0 outputs 0), and the gradient flows to the drawn element; in inference it outputs the
/// probability-weighted mean `Σ a_i² / Σ a`. Partial windows at the right and bottom edges are
/// dropped (floor), as PyTorch's pooling does.
public func stochasticPool(_ x: Tensor, kernel k: Int, training: Bool, generator: inout SplitMix64) throws -> Tensor {
    let (n, c, h, w) = try checkNCHW(x, "stochasticPool")
    guard k >= 1 else { throw CVSegError.invalidArgument("stochasticPool: kernel \(k) < 1") }
    let (oh, ow) = (h / k, w / k)
    let xv = x.values
    if let bad = xv.first(where: { !($0 >= 0) }) {
        throw CVSegError.invalidArgument("stochasticPool: needs non-negative inputs (after a ReLU), found \(bad)")
    }
    var y = [Float](repeating: 0, count: n * c * oh * ow)
    var chosen = [Int](repeating: -1, count: y.count)
    for p in 0..<(n * c) {
        for oy in 0..<oh {
            for ox in 0..<ow {
                var total: Float = 0, squares: Float = 0
                for dy in 0..<k { for dx in 0..<k {
                    let v = xv[p * h * w + (oy * k + dy) * w + ox * k + dx]
                    total += v; squares += v * v
                } }
                let o = (p * oh + oy) * ow + ox
                guard total > 0 else { continue }
                if training {
                    var u = Float(Double(generator.next() >> 11) * 0x1p-53) * total
                    var pick = -1
                    for dy in 0..<k { for dx in 0..<k where pick < 0 {
                        let i = p * h * w + (oy * k + dy) * w + ox * k + dx
                        u -= xv[i]
                        if u < 0 { pick = i }
                    } }
                    if pick < 0 { // rounding left u ≥ 0: the last non-zero element
                        for dy in 0..<k { for dx in 0..<k {
                            let i = p * h * w + (oy * k + dy) * w + ox * k + dx
                            if xv[i] > 0 { pick = i }
                        } }
                    }
                    chosen[o] = pick
                    y[o] = xv[pick]
                } else {
                    y[o] = squares / total
                }
            }
        }
    }
    let shape = x.shape
    return try result("stochastic_pool", shape: [n, c, oh, ow], values: y, inputs: [x]) { g in
        let gv = g.values
        var dx = [Float](repeating: 0, count: shape.count)
        for p in 0..<(n * c) {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let o = (p * oh + oy) * ow + ox
                    if training {
                        if chosen[o] >= 0 { dx[chosen[o]] += gv[o] }
                        continue
                    }
                    var total: Float = 0, squares: Float = 0
                    for dy in 0..<k { for dxx in 0..<k {
                        let v = xv[p * h * w + (oy * k + dy) * w + ox * k + dxx]
                        total += v; squares += v * v
                    } }
                    guard total > 0 else { continue }
                    for dy in 0..<k { for dxx in 0..<k {
                        let i = p * h * w + (oy * k + dy) * w + ox * k + dxx
                        dx[i] += gv[o] * (2 * xv[i] * total - squares) / (total * total)
                    } }
                }
            }
        }
        return [Tensor(shape: shape, values: dx)]
    }
}
