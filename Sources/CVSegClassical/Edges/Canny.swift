import CVSegCore

/// The gradient magnitude used by ``canny(_:sigma:thresholds:norm:edgeValue:)``.
public enum GradientNorm: Sendable {
    /// `|dx| + |dy|` (OpenCV's default, `L2gradient=false`).
    case l1
    /// `sqrt(dx² + dy²)` (OpenCV `L2gradient=true`, scikit-image).
    case l2
}

/// The hysteresis thresholds of ``canny(_:sigma:thresholds:norm:edgeValue:)``.
public enum CannyThresholds: Sendable {
    /// Gradient magnitudes on OpenCV's scale: the unnormalised 3×3 Sobel response of the 0–255
    /// image (a unit step of height 255 gives 1020). Equals scikit-image's thresholds × 255.
    case absolute(low: Double, high: Double)
    /// Quantiles in `0...1` of the gradient magnitude over all pixels (border included), linear
    /// interpolation, as scikit-image's `use_quantiles=True` (`np.percentile`).
    case quantiles(low: Double, high: Double)
}

/// Edges of a gray 8-bit image by Canny's method: Gaussian smoothing (`sigma`; 0 = none), 3×3
/// Sobel gradients of the 0–255 image (unnormalised, OpenCV's scale), non-maximum suppression
/// along the gradient direction, hysteresis with 8-connectivity.
///
/// Two reference pipelines, chosen by `sigma`:
/// - `sigma == 0` is OpenCV's `cv2.Canny(image, low, high, apertureSize=3, L2gradient=norm == .l2)`
///   in integers: Sobel with replicated borders; magnitude `dx² + dy²` compared with
///   `⌊min(t, 32767)²⌋` (L2) or `|dx| + |dy|` with `⌊t⌋` (L1); NMS in four sectors split at
///   tan 22.5° (`|dy|·2¹⁵ < |dx|·13573` horizontal, `> |dx|·(13573 + 2¹⁶)` vertical, otherwise the
///   diagonal given by the signs), keeping `m > before && m >= after` on the axes and
///   `m > both` on diagonals; magnitudes outside the image are 0; candidates need `m > low`,
///   seeds `m > high`.
/// - `sigma > 0` is scikit-image's `feature.canny(image, sigma, low / 255, high / 255)` with its
///   defaults (`mode='constant'`, `cval=0`): the image scaled to 0…1 is smoothed with SciPy's
///   Gaussian kernel (truncate 4) with zero padding, divided by the same filter of an all-ones
///   image (scikit-image's bleed-over correction); `ndimage.sobel` gradients (reflected borders);
///   bilinearly interpolated NMS; the one-pixel image border is never an edge; candidates need
///   `m >= low` (low rounded to float32, as scikit-image's Cython), seeds `m >= high`.
///   Absolute thresholds are divided by 255 (scikit-image's `dtype_max`); quantiles are scale-free.
///   Two deliberate deviations: magnitudes below 1e-10 (rounding noise of the smoothing in flat
///   areas) count as 0, so a constant image has no edges even with quantile thresholds (scikit-image
///   finds edges in that noise); and where two neighbours tie exactly (a symmetric step), both
///   survive NMS, as scikit-image's `<=` rule says, while scikit-image's own rounding usually breaks
///   such ties one way. Neither changes the reference fixtures beyond the 1-px agreement.
///
/// - Parameters:
///   - image: an 8-bit gray image.
///   - sigma: Gaussian standard deviation in pixels, `>= 0`.
///   - thresholds: low and high hysteresis thresholds, `low <= high`.
///   - norm: the gradient magnitude.
///   - edgeValue: the value of edge pixels; all others are 0.
/// - Returns: the edge mask, same size.
/// - Throws: ``CVSegError/invalidArgument(_:)`` for a colour image, a negative or non-finite
///   `sigma`, negative or non-finite absolute thresholds, quantiles outside `0...1`, or
///   `low > high` (OpenCV would swap them; scikit-image refuses).
/// - Complexity: O(pixels · (1 + sigma)); quantiles add an O(pixels · log pixels) sort.
///
/// References: J. Canny, "A Computational Approach to Edge Detection", IEEE TPAMI 8(6):679–698,
/// 1986; OpenCV `imgproc/src/canny.cpp`; scikit-image `feature/_canny.py`, `_canny_cy.pyx`.
public func canny(_ image: Image<UInt8>, sigma: Double, thresholds: CannyThresholds,
                  norm: GradientNorm = .l2, edgeValue: UInt8 = 1) throws -> Image<UInt8> {
    guard image.layout == .gray else {
        throw CVSegError.invalidArgument("canny needs a gray image, got \(image.layout); convert it first")
    }
    guard sigma.isFinite, sigma >= 0 else {
        throw CVSegError.invalidArgument("canny: sigma must be finite and >= 0, got \(sigma)")
    }
    switch thresholds {
    case .absolute(let low, let high):
        guard low.isFinite, high.isFinite, low >= 0, low <= high else {
            throw CVSegError.invalidArgument("canny: thresholds need 0 <= low <= high, got \(low), \(high)")
        }
    case .quantiles(let low, let high):
        guard (0...1).contains(low), (0...1).contains(high), low <= high else {
            throw CVSegError.invalidArgument("canny: quantiles need 0 <= low <= high <= 1, got \(low), \(high)")
        }
    }
    let w = image.width, h = image.height
    if w == 0 || h == 0 { return Image(width: w, height: h, layout: .gray, samples: []) }
    // 0: not an edge, 1: candidate (above low after NMS), 2: seed (above high).
    let map = sigma == 0 ? opencvCandidates(image, thresholds, norm)
                         : try skimageCandidates(image, sigma, thresholds, norm)
    return Image(width: w, height: h, layout: .gray, samples: hysteresis(map, w, h, edgeValue))
}

/// numpy's `percentile(values, 100 q)` with linear interpolation (`_lerp`).
func linearQuantile(_ sorted: [Double], _ q: Double) -> Double {
    let index = q * Double(sorted.count - 1)
    let below = Int(index.rounded(.down)), above = min(below + 1, sorted.count - 1)
    let t = index - Double(below), a = sorted[below], b = sorted[above]
    let d = b - a
    return t >= 0.5 ? b - d * (1 - t) : a + d * t
}

/// OpenCV's integer Sobel, NMS and thresholds (see ``canny(_:sigma:thresholds:norm:edgeValue:)``).
private func opencvCandidates(_ image: Image<UInt8>, _ thresholds: CannyThresholds, _ norm: GradientNorm) -> [UInt8] {
    let w = image.width, h = image.height, n = w * h
    var dx = [Int32](repeating: 0, count: n), dy = [Int32](repeating: 0, count: n)
    var mag = [Int](repeating: 0, count: n)
    image.samples.withUnsafeBufferPointer { p in
        for y in 0..<h {
            let up = max(y - 1, 0) * w, mid = y * w, down = min(y + 1, h - 1) * w
            for x in 0..<w {
                let l = max(x - 1, 0), r = min(x + 1, w - 1)
                let gx = (Int32(p[up + r]) - Int32(p[up + l])) + 2 * (Int32(p[mid + r]) - Int32(p[mid + l]))
                    + (Int32(p[down + r]) - Int32(p[down + l]))
                let gy = (Int32(p[down + l]) + 2 * Int32(p[down + x]) + Int32(p[down + r]))
                    - (Int32(p[up + l]) + 2 * Int32(p[up + x]) + Int32(p[up + r]))
                dx[mid + x] = gx; dy[mid + x] = gy
                mag[mid + x] = norm == .l2 ? Int(gx * gx + gy * gy) : Int(abs(gx) + abs(gy))
            }
        }
    }
    var (lowT, highT): (Double, Double)
    switch thresholds {
    case .absolute(let lo, let hi): (lowT, highT) = (lo, hi)
    case .quantiles(let lo, let hi):
        let sorted = mag.map { norm == .l2 ? Double($0).squareRoot() : Double($0) }.sorted()
        (lowT, highT) = (linearQuantile(sorted, lo), linearQuantile(sorted, hi))
    }
    if norm == .l2 {
        lowT = min(32767, lowT); highT = min(32767, highT)
        if lowT > 0 { lowT *= lowT }
        if highT > 0 { highT *= highT }
    }
    let low = Int(lowT.rounded(.down)), high = Int(highT.rounded(.down))
    let tg22 = 13573
    var map = [UInt8](repeating: 0, count: n)
    mag.withUnsafeBufferPointer { m in
        dx.withUnsafeBufferPointer { dx in
            dy.withUnsafeBufferPointer { dy in
                @inline(__always) func at(_ y: Int, _ x: Int) -> Int {
                    (y < 0 || y >= h || x < 0 || x >= w) ? 0 : m[y * w + x]
                }
                for y in 0..<h {
                    for x in 0..<w {
                        let i = y * w + x, v = m[i]
                        guard v > low else { continue }
                        let xs = Int(dx[i]), ys = Int(dy[i])
                        let ax = abs(xs), ay = abs(ys) << 15
                        let tg22x = ax * tg22
                        let keep: Bool
                        if ay < tg22x {
                            keep = v > at(y, x - 1) && v >= at(y, x + 1)
                        } else if ay > tg22x + (ax << 16) {
                            keep = v > at(y - 1, x) && v >= at(y + 1, x)
                        } else {
                            let s = (xs ^ ys) < 0 ? -1 : 1
                            keep = v > at(y - 1, x - s) && v > at(y + 1, x + s)
                        }
                        if keep { map[i] = v > high ? 2 : 1 }
                    }
                }
            }
        }
    }
    return map
}

/// One zero-padded 1-D correlation pass with a symmetric kernel (SciPy `mode='constant'`, cval 0).
private func correlateConstant(_ src: [Double], _ kernel: [Double], w: Int, h: Int, alongRows: Bool) -> [Double] {
    let r = kernel.count / 2
    var out = [Double](repeating: 0, count: src.count)
    src.withUnsafeBufferPointer { s in
        kernel.withUnsafeBufferPointer { k in
            for y in 0..<h {
                for x in 0..<w {
                    var acc = 0.0
                    for t in -r...r {
                        let yy = alongRows ? y : y + t, xx = alongRows ? x + t : x
                        if yy >= 0, yy < h, xx >= 0, xx < w { acc += k[t + r] * s[yy * w + xx] }
                    }
                    out[y * w + x] = acc
                }
            }
        }
    }
    return out
}

/// scikit-image's smoothing, Sobel, bilinear NMS and thresholds (see ``canny(_:sigma:thresholds:norm:edgeValue:)``).
private func skimageCandidates(_ image: Image<UInt8>, _ sigma: Double, _ thresholds: CannyThresholds,
                               _ norm: GradientNorm) throws -> [UInt8] {
    let w = image.width, h = image.height, n = w * h
    let kernel = try gaussianKernel(sigma: sigma)
    var f = image.samples.map { Double($0) / 255 }
    var ones = [Double](repeating: 1, count: n)
    if kernel.count > 1 {
        f = correlateConstant(correlateConstant(f, kernel, w: w, h: h, alongRows: false), kernel, w: w, h: h, alongRows: true)
        ones = correlateConstant(correlateConstant(ones, kernel, w: w, h: h, alongRows: false), kernel, w: w, h: h, alongRows: true)
        let eps = Double.ulpOfOne
        for i in 0..<n { f[i] /= ones[i] + eps }
    }
    // ndimage.sobel: [-1, 0, 1] along the derivative axis, [1, 2, 1] across; 'reflect' borders,
    // which for a radius of 1 repeat the edge sample.
    var isobel = [Double](repeating: 0, count: n), jsobel = [Double](repeating: 0, count: n)
    var mag = [Double](repeating: 0, count: n)
    f.withUnsafeBufferPointer { p in
        for y in 0..<h {
            let up = max(y - 1, 0) * w, mid = y * w, down = min(y + 1, h - 1) * w
            for x in 0..<w {
                let l = max(x - 1, 0), r = min(x + 1, w - 1)
                let j = (p[up + r] - p[up + l]) + 2 * (p[mid + r] - p[mid + l]) + (p[down + r] - p[down + l])
                let i = (p[down + l] - p[up + l]) + 2 * (p[down + x] - p[up + x]) + (p[down + r] - p[up + r])
                isobel[mid + x] = i; jsobel[mid + x] = j
                let v = norm == .l2 ? (i * i + j * j).squareRoot() : abs(i) + abs(j)
                mag[mid + x] = v < 1e-10 ? 0 : v // rounding noise of flat areas is no gradient
            }
        }
    }
    var (low, high): (Double, Double)
    switch thresholds {
    case .absolute(let lo, let hi): (low, high) = (lo / 255, hi / 255)
    case .quantiles(let lo, let hi):
        let sorted = mag.sorted()
        (low, high) = (linearQuantile(sorted, lo), linearQuantile(sorted, hi))
    }
    let lowF = low == 0 ? 1e-14 : Double(Float(low)) // the Cython parameter is a C float
    var map = [UInt8](repeating: 0, count: n)
    guard w >= 3, h >= 3 else { return map }
    mag.withUnsafeBufferPointer { m in
        isobel.withUnsafeBufferPointer { isb in
            jsobel.withUnsafeBufferPointer { jsb in
                @inline(__always) func interp(_ a: Int, _ b: Int, _ wt: Double) -> Double { m[b] * wt + m[a] * (1.0 - wt) }
                for y in 1..<(h - 1) {
                    for x in 1..<(w - 1) {
                        let c = y * w + x, v = m[c]
                        guard v >= lowF else { continue }
                        let gi = isb[c], gj = jsb[c]
                        let down = gi <= 0, upward = !down, left = gj <= 0, right = !left
                        let ai = abs(gi), aj = abs(gj)
                        var keep = false
                        if (upward && right) || (down && left) {
                            if ai > aj {
                                let wt = aj / ai
                                keep = interp(c + w, c + w + 1, wt) <= v && interp(c - w, c - w - 1, wt) <= v
                            } else {
                                let wt = ai / aj
                                keep = interp(c + 1, c + w + 1, wt) <= v && interp(c - 1, c - w - 1, wt) <= v
                            }
                        } else if (down && right) || (upward && left) {
                            if ai < aj {
                                let wt = ai / aj
                                keep = interp(c + 1, c - w + 1, wt) <= v && interp(c - 1, c + w - 1, wt) <= v
                            } else {
                                let wt = aj / ai
                                keep = interp(c - w, c - w + 1, wt) <= v && interp(c + w, c + w - 1, wt) <= v
                            }
                        }
                        if keep { map[c] = v >= high ? 2 : 1 }
                    }
                }
            }
        }
    }
    return map
}

/// Keeps the candidates 8-connected to a seed; writes `edgeValue` there, 0 elsewhere.
private func hysteresis(_ map: [UInt8], _ w: Int, _ h: Int, _ edgeValue: UInt8) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: w * h)
    var stack = [Int]()
    map.withUnsafeBufferPointer { m in
        out.withUnsafeMutableBufferPointer { o in
            for i in 0..<(w * h) where m[i] == 2 && o[i] == 0 {
                o[i] = 1
                stack.append(i)
                while let p = stack.popLast() {
                    let py = p / w, px = p % w
                    for ny in max(py - 1, 0)...min(py + 1, h - 1) {
                        for nx in max(px - 1, 0)...min(px + 1, w - 1) {
                            let q = ny * w + nx
                            if m[q] != 0 && o[q] == 0 { o[q] = 1; stack.append(q) }
                        }
                    }
                }
            }
            if edgeValue != 1 { for i in 0..<(w * h) where o[i] == 1 { o[i] = edgeValue } }
        }
    }
    return out
}
