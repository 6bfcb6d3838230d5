import CVSegCore

// Region-of-interest pooling for two-stage detectors: RoI max pooling (Fast R-CNN) and RoIAlign
// (Mask R-CNN), with torchvision's semantics (`torchvision.ops.roi_pool` / `roi_align`, CPU
// kernels) so that weights trained there give the same features here.
//
// Both take the feature map `[N, C, H, W]` and the regions as a `[K, 5]` tensor of rows
// `(batch index, x1, y1, x2, y2)` in input-image coordinates; `spatialScale` maps them onto the
// feature map (1/16 for a stride-16 backbone). The result is `[K, C, outH, outW]`. Gradients
// flow to the feature map only: the boxes are read as constants (as in torchvision, whose boxes
// get no gradient), and they are not recorded as inputs, so they may live on any tape or none.
//
// Geometry is computed in Float32 with the operations in the order torchvision's kernels use, so
// sample positions, bin edges and roundings come out as there (RoITests: within 5e-7).

/// The regions of a `[K, 5]` box tensor, validated against a feature map with `batch` images.
struct RoIRows {
    /// The image each region is read from.
    let batch: [Int]
    /// `x1, y1, x2, y2` of each region, in input-image coordinates, 4 per region.
    let coords: [Float]
    var count: Int { batch.count }

    /// - Throws: `invalidArgument` for a shape other than `[K, 5]`, a batch index that is not a
    ///   whole number in `0..<batch`, a non-finite coordinate, or one whose scaled magnitude
    ///   exceeds 2^24 (beyond it Float32 no longer addresses single pixels, and torchvision's
    ///   int conversions would overflow further on).
    init(_ boxes: Tensor, batch n: Int, spatialScale: Float, op: String) throws {
        guard boxes.shape.rank == 2, boxes.shape[1] == 5 else {
            throw CVSegError.invalidArgument("\(op): boxes must be [K, 5] rows (batch, x1, y1, x2, y2), got \(boxes.shape)")
        }
        let v = boxes.values, k = boxes.shape[0]
        var batch = [Int](repeating: 0, count: k), coords = [Float](repeating: 0, count: 4 * k)
        for r in 0..<k {
            let b = v[5 * r]
            guard b.isFinite, b == b.rounded(.towardZero), b >= 0, b < Float(n) else {
                throw CVSegError.invalidArgument("\(op): box \(r) has batch index \(b), not an image in 0..<\(n)")
            }
            batch[r] = Int(b)
            for j in 0..<4 {
                let c = v[5 * r + 1 + j]
                guard c.isFinite else { throw CVSegError.invalidArgument("\(op): box \(r) has a non-finite coordinate \(c)") }
                guard abs(c * spatialScale) <= 0x1p24 else {
                    throw CVSegError.invalidArgument("\(op): box \(r) coordinate \(c) × scale \(spatialScale) is beyond ±2^24")
                }
                coords[4 * r + j] = c
            }
        }
        (self.batch, self.coords) = (batch, coords)
    }
}

/// Checks shared by both operations; returns the feature map's dimensions.
private func checkRoIArguments(_ x: Tensor, outputHeight: Int, outputWidth: Int, spatialScale: Float,
                               op: String) throws -> (n: Int, c: Int, h: Int, w: Int) {
    let (n, c, h, w) = try checkNCHW(x, op)
    guard outputHeight >= 1, outputWidth >= 1 else {
        throw CVSegError.invalidArgument("\(op): output size \(outputHeight)×\(outputWidth) must be at least 1×1")
    }
    guard h >= 1, w >= 1 else { throw CVSegError.invalidArgument("\(op): empty feature plane in \(x.shape)") }
    guard spatialScale.isFinite, spatialScale > 0 else {
        throw CVSegError.invalidArgument("\(op): spatial scale \(spatialScale) must be finite and positive")
    }
    return (n, c, h, w)
}

// MARK: - RoI max pooling

/// RoI max pooling (Fast R-CNN), as torchvision's `roi_pool(x, boxes, (outH, outW), spatialScale)`.
///
/// Each region is snapped to whole feature cells: its corners are scaled and rounded to the
/// nearest integer (halves away from zero), and it spans `x2 − x1 + 1` columns and `y2 − y1 + 1`
/// rows, at least one of each (inverted or degenerate boxes become 1×1). That span is divided
/// into `outH × outW` bins of fractional size; bin `i` covers the cells from `floor(i·size)` to
/// `ceil((i+1)·size)` (exclusive) past the region's start, so neighbouring bins may share a row or
/// column, and is then clipped to the feature map. A bin's output is the largest value in it —
/// the first in row-major order on ties (a later value must be strictly greater), starting from
/// −`Float.greatestFiniteMagnitude`, so NaNs are never chosen — and 0 for a bin entirely outside
/// the map. The gradient goes to that chosen element (summed where bins share one); empty bins
/// pass none.
///
/// - Parameters:
///   - x: the feature map `[N, C, H, W]` (on a tape or not).
///   - boxes: `[K, 5]` rows `(batch index, x1, y1, x2, y2)` in input-image coordinates; the
///     batch index must be a whole number in `0..<N`. Never differentiated.
///   - spatialScale: feature cells per input pixel (e.g. 1/16).
/// - Returns: `[K, C, outputHeight, outputWidth]`.
/// - Throws: `invalidArgument` for a rank other than 4, an empty plane, an output size below
///   1×1, a scale that is not finite and positive, or a bad box (see the batch-index and
///   coordinate rules above; coordinates must be finite and within ±2^24 once scaled).
public func roiPool(_ x: Tensor, boxes: Tensor, outputHeight outH: Int, outputWidth outW: Int,
                    spatialScale: Float) throws -> Tensor {
    let op = "roiPool"
    let (n, c, h, w) = try checkRoIArguments(x, outputHeight: outH, outputWidth: outW, spatialScale: spatialScale, op: op)
    let rois = try RoIRows(boxes, batch: n, spatialScale: spatialScale, op: op)
    let k = rois.count, binCount = outH * outW, plane = h * w

    /// The clipped `[start, end)` cell ranges of the bins along one axis.
    func bins(start: Float, end: Float, count: Int, size limit: Int) -> [(Int, Int)] {
        let s = Int((start * spatialScale).rounded()), e = Int((end * spatialScale).rounded())
        let span = max(e - s + 1, 1)
        let binSize = Float(span) / Float(count)
        return (0..<count).map { i in
            let lo = Int((Float(i) * binSize).rounded(.down)), hi = Int((Float(i + 1) * binSize).rounded(.up))
            return (min(max(lo + s, 0), limit), min(max(hi + s, 0), limit))
        }
    }

    var y = [Float](repeating: 0, count: k * c * binCount)
    // The flat `h·W + w` within its plane of each output's maximum; -1 for an empty bin.
    var argmax = [Int32](repeating: -1, count: y.count)
    x.values.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
            argmax.withUnsafeMutableBufferPointer { ap in
                for r in 0..<k {
                    let q = rois.coords[(4 * r)..<(4 * r + 4)].map { $0 }
                    let rows = bins(start: q[1], end: q[3], count: outH, size: h)
                    let cols = bins(start: q[0], end: q[2], count: outW, size: w)
                    for ch in 0..<c {
                        let src = xp.baseAddress! + (rois.batch[r] * c + ch) * plane
                        let o = (r * c + ch) * binCount
                        for (ph, (y0, y1)) in rows.enumerated() {
                            for (pw, (x0, x1)) in cols.enumerated() {
                                guard y1 > y0, x1 > x0 else { continue } // empty: 0, index -1
                                var best = -Float.greatestFiniteMagnitude, at = -1
                                for iy in y0..<y1 {
                                    for ix in x0..<x1 where src[iy * w + ix] > best {
                                        best = src[iy * w + ix]
                                        at = iy * w + ix
                                    }
                                }
                                yp[o + ph * outW + pw] = best
                                ap[o + ph * outW + pw] = Int32(at)
                            }
                        }
                    }
                }
            }
        }
    }
    let shape = x.shape, batch = rois.batch
    return try result("roi_pool", shape: [k, c, outH, outW], values: y, inputs: [x]) { g in
        var dx = [Float](repeating: 0, count: shape.count)
        g.values.withUnsafeBufferPointer { gp in
            dx.withUnsafeMutableBufferPointer { dp in
                for r in 0..<k {
                    for ch in 0..<c {
                        let dst = dp.baseAddress! + (batch[r] * c + ch) * plane, o = (r * c + ch) * binCount
                        for i in 0..<binCount where argmax[o + i] >= 0 { dst[Int(argmax[o + i])] += gp[o + i] }
                    }
                }
            }
        }
        return [Tensor(shape: shape, values: dx)]
    }
}

// MARK: - RoIAlign

/// One bilinear sample position along one axis: the two neighbouring cells `lo` and `hi` and
/// their weights `1 − t` and `t` (t the position's distance past `lo`); `valid` is false for a
/// position outside `[−1, size]`, which contributes nothing.
private struct AlignTap {
    var lo: Int32 = 0, hi: Int32 = 0
    var wLo: Float = 0, wHi: Float = 0
    var valid = false
}

/// RoIAlign's sampling plan for one region: `grid` sample positions per bin along each axis
/// (`outSize · grid` taps, bin-major) and the divisor of the average.
private struct AlignAxes {
    let rows: [AlignTap], cols: [AlignTap]
    let gridH: Int, gridW: Int
    let count: Float

    init(_ q: ArraySlice<Float>, outH: Int, outW: Int, h: Int, w: Int, scale: Float, samplingRatio: Int, aligned: Bool) {
        let b = q.startIndex
        let offset: Float = aligned ? 0.5 : 0
        let x1 = q[b] * scale - offset, y1 = q[b + 1] * scale - offset
        let x2 = q[b + 2] * scale - offset, y2 = q[b + 3] * scale - offset
        var roiW = x2 - x1, roiH = y2 - y1
        if !aligned { (roiW, roiH) = (max(roiW, 1), max(roiH, 1)) }
        let binH = roiH / Float(outH), binW = roiW / Float(outW)
        // Adaptive: about one sample per cell, rounded up. With `aligned` a negative extent gives
        // a grid of 0 or less: no samples, output 0.
        let gridH = samplingRatio > 0 ? samplingRatio : Int((roiH / Float(outH)).rounded(.up))
        let gridW = samplingRatio > 0 ? samplingRatio : Int((roiW / Float(outW)).rounded(.up))
        func axis(_ start: Float, _ bin: Float, _ out: Int, _ grid: Int, _ size: Int) -> [AlignTap] {
            guard grid > 0 else { return [] }
            var taps = [AlignTap](repeating: AlignTap(), count: out * grid)
            for p in 0..<out {
                for i in 0..<grid {
                    // The sample sits at the centre of its sub-cell: start + p·bin + (i + ½)·bin/grid.
                    var v = start + Float(p) * bin + (Float(i) + 0.5) * bin / Float(grid)
                    guard v >= -1, v <= Float(size) else { continue }
                    v = max(v, 0)
                    var lo = Int(v), hi = lo + 1
                    if lo >= size - 1 { (lo, hi) = (size - 1, size - 1); v = Float(lo) }
                    let t = v - Float(lo)
                    taps[p * grid + i] = AlignTap(lo: Int32(lo), hi: Int32(hi), wLo: 1 - t, wHi: t, valid: true)
                }
            }
            return taps
        }
        rows = axis(y1, binH, outH, gridH, h)
        cols = axis(x1, binW, outW, gridW, w)
        (self.gridH, self.gridW) = (gridH, gridW)
        count = Float(max(gridH * gridW, 1))
    }

    var isEmpty: Bool { gridH <= 0 || gridW <= 0 }
}

/// RoIAlign (He et al., Mask R-CNN), as torchvision's
/// `roi_align(x, boxes, (outH, outW), spatialScale, samplingRatio, aligned)`.
///
/// The region is scaled onto the feature map without any rounding and split into
/// `outH × outW` equal bins; each bin's output is the mean of `gridH × gridW` bilinear samples
/// taken at the centres of an even sub-grid of the bin. The grid is `samplingRatio` per axis
/// when it is positive; otherwise (0 or −1) it adapts to the region, `ceil(regionHeight / outH)`
/// by `ceil(regionWidth / outW)`.
///
/// `aligned` chooses the pixel model. With `false` (the original RoIAlign) a feature cell's
/// centre sits at integer coordinates, and regions narrower or lower than one cell are widened
/// to one (inverted boxes too). With `true` the scaled coordinates are shifted by −0.5 so that a
/// box edge on a pixel border maps onto the cell border, and no minimum size is imposed: an
/// empty or inverted region samples nothing and outputs 0 with the adaptive grid, and samples
/// backwards with a fixed `samplingRatio`. (torchvision raises an error instead when the adaptive
/// grid is negative along one axis and positive along the other — a region inverted by more than
/// one bin along one axis only; here that region outputs 0 like any other empty grid.)
///
/// A sample reads the four cells around it with bilinear weights. Positions below −1 or beyond
/// the map's height (width) contribute 0 (they still count in the mean); positions in
/// `[−1, 0]` read row (column) 0; positions at or past the last cell read the last cell only.
/// The gradient is the transpose: each output's gradient, times the weights, divided by the
/// number of samples, is added into the cells that were read.
///
/// - Parameters:
///   - x: the feature map `[N, C, H, W]` (on a tape or not).
///   - boxes: `[K, 5]` rows `(batch index, x1, y1, x2, y2)` in input-image coordinates; the
///     batch index must be a whole number in `0..<N`. Never differentiated.
///   - spatialScale: feature cells per input pixel (e.g. 1/16).
///   - samplingRatio: samples per bin along each axis; 0 or less for the adaptive grid.
///   - aligned: the half-pixel shift described above.
/// - Returns: `[K, C, outputHeight, outputWidth]`.
/// - Throws: `invalidArgument` for a rank other than 4, an empty plane, an output size below
///   1×1, a scale that is not finite and positive, or a bad box (batch index not a whole number
///   in `0..<N`, a coordinate that is not finite or beyond ±2^24 once scaled).
public func roiAlign(_ x: Tensor, boxes: Tensor, outputHeight outH: Int, outputWidth outW: Int,
                     spatialScale: Float, samplingRatio: Int = -1, aligned: Bool = false) throws -> Tensor {
    let op = "roiAlign"
    let (n, c, h, w) = try checkRoIArguments(x, outputHeight: outH, outputWidth: outW, spatialScale: spatialScale, op: op)
    let rois = try RoIRows(boxes, batch: n, spatialScale: spatialScale, op: op)
    let k = rois.count, binCount = outH * outW, plane = h * w
    func plan(_ r: Int) -> AlignAxes {
        AlignAxes(rois.coords[(4 * r)..<(4 * r + 4)], outH: outH, outW: outW, h: h, w: w, scale: spatialScale,
                  samplingRatio: samplingRatio, aligned: aligned)
    }

    var y = [Float](repeating: 0, count: k * c * binCount)
    x.values.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
            for r in 0..<k {
                let a = plan(r)
                guard !a.isEmpty else { continue }
                a.rows.withUnsafeBufferPointer { rows in
                    a.cols.withUnsafeBufferPointer { cols in
                        for ch in 0..<c {
                            let src = xp.baseAddress! + (rois.batch[r] * c + ch) * plane
                            let out = yp.baseAddress! + (r * c + ch) * binCount
                            for ph in 0..<outH {
                                for pw in 0..<outW {
                                    var acc: Float = 0
                                    for iy in 0..<a.gridH {
                                        let ty = rows[ph * a.gridH + iy]
                                        guard ty.valid else { continue }
                                        let r0 = src + Int(ty.lo) * w, r1 = src + Int(ty.hi) * w
                                        for ix in 0..<a.gridW {
                                            let tx = cols[pw * a.gridW + ix]
                                            guard tx.valid else { continue }
                                            let (x0, x1) = (Int(tx.lo), Int(tx.hi))
                                            // Same products and order as torchvision: w1·v1 + w2·v2 + w3·v3 + w4·v4.
                                            acc += ty.wLo * tx.wLo * r0[x0] + ty.wLo * tx.wHi * r0[x1]
                                                + ty.wHi * tx.wLo * r1[x0] + ty.wHi * tx.wHi * r1[x1]
                                        }
                                    }
                                    out[ph * outW + pw] = acc / a.count
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let shape = x.shape
    return try result("roi_align", shape: [k, c, outH, outW], values: y, inputs: [x]) { g in
        var dx = [Float](repeating: 0, count: shape.count)
        g.values.withUnsafeBufferPointer { gp in
            dx.withUnsafeMutableBufferPointer { dp in
                for r in 0..<k {
                    let a = plan(r)
                    guard !a.isEmpty else { continue }
                    a.rows.withUnsafeBufferPointer { rows in
                        a.cols.withUnsafeBufferPointer { cols in
                            for ch in 0..<c {
                                let dst = dp.baseAddress! + (rois.batch[r] * c + ch) * plane
                                let grad = gp.baseAddress! + (r * c + ch) * binCount
                                for ph in 0..<outH {
                                    for pw in 0..<outW {
                                        let gBin = grad[ph * outW + pw]
                                        for iy in 0..<a.gridH {
                                            let ty = rows[ph * a.gridH + iy]
                                            guard ty.valid else { continue }
                                            let r0 = dst + Int(ty.lo) * w, r1 = dst + Int(ty.hi) * w
                                            for ix in 0..<a.gridW {
                                                let tx = cols[pw * a.gridW + ix]
                                                guard tx.valid else { continue }
                                                let (x0, x1) = (Int(tx.lo), Int(tx.hi))
                                                r0[x0] += gBin * (ty.wLo * tx.wLo) / a.count
                                                r0[x1] += gBin * (ty.wLo * tx.wHi) / a.count
                                                r1[x0] += gBin * (ty.wHi * tx.wLo) / a.count
                                                r1[x1] += gBin * (ty.wHi * tx.wHi) / a.count
                                            }
                                        }
                                    }
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
