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
/// - Complexity: O(pixels · (1 + sigma)); with `sigma > 0`, quantiles take two more passes over
///   the rows (a bucket histogram of the magnitudes, then the values of the buckets that hold
///   the wanted ranks, and a selection among them).
///   Memory: the result; everything else is a few rows (for `sigma > 0` the smoothed rows are
///   made on demand), except the magnitudes themselves for quantiles with `sigma == 0`, and the
///   smoothed image (8 bytes a pixel) for quantiles with `sigma > 0` up to 8 Mpixels.
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
    // 0: not an edge, 1: candidate (above low after NMS), 2: seed (above high); in a map with a
    // one-pixel border of zeros ((w + 2) × (h + 2)), which hysteresis uses and then compacts.
    var map = sigma == 0 ? opencvCandidates(image, thresholds, norm)
                         : try skimageCandidates(image, sigma, thresholds, norm)
    hysteresis(&map, w, h, edgeValue)
    return Image(width: w, height: h, layout: .gray, samples: map)
}

/// numpy's `percentile(values, 100 q)` with linear interpolation (`_lerp`) of `count` values,
/// given the values' order statistics (`orderStatistic(i)`: the i-th smallest, from 0).
func linearQuantile(count: Int, _ q: Double, _ orderStatistic: (Int) -> Double) -> Double {
    let index = q * Double(count - 1)
    let below = Int(index.rounded(.down)), above = min(below + 1, count - 1)
    let t = index - Double(below), a = orderStatistic(below), b = above == below ? a : orderStatistic(above)
    let d = b - a
    return t >= 0.5 ? b - d * (1 - t) : a + d * t
}

/// numpy's `percentile(values, 100 q)` with linear interpolation (`_lerp`).
func linearQuantile(_ sorted: [Double], _ q: Double) -> Double {
    linearQuantile(count: sorted.count, q) { sorted[$0] }
}

/// Rearranges `a` so that `a[k]` is the value a full sort would put there, everything before it
/// `<=` and everything after it `>=` (C++ `nth_element`). Quickselect with median-of-three pivots
/// and Hoare partitioning (runs of equal values split evenly); a range that shrinks too slowly
/// is finished by sorting it, so the worst case stays O(n log n).
func selectNth<T: Comparable>(_ a: UnsafeMutableBufferPointer<T>, _ k: Int) {
    var lo = 0, hi = a.count - 1
    var budget = 2 * (Int.bitWidth - a.count.leadingZeroBitCount) + 8
    while hi > lo {
        if hi - lo < 16 || budget == 0 {
            var part = UnsafeMutableBufferPointer(rebasing: a[lo...hi])
            part.sort()
            return
        }
        budget -= 1
        let mid = lo + (hi - lo) / 2
        if a[mid] < a[lo] { a.swapAt(mid, lo) }
        if a[hi] < a[lo] { a.swapAt(hi, lo) }
        if a[hi] < a[mid] { a.swapAt(hi, mid) }
        let pivot = a[mid]
        var i = lo - 1, j = hi + 1
        while true {
            repeat { i += 1 } while a[i] < pivot
            repeat { j -= 1 } while pivot < a[j]
            if i >= j { break }
            a.swapAt(i, j)
        }
        // a[lo...j] <= pivot <= a[j+1...hi]
        if k <= j { hi = j } else { lo = j + 1 }
    }
}

/// The quantiles `qs` (linear interpolation, as numpy) of the values in `a`, by selection
/// instead of a sort: the same numbers as ``linearQuantile(_:_:)`` on the sorted values. `a` is
/// reordered. `transform` maps a value to the sorted scale (monotone non-decreasing).
func selectedQuantiles<T: Comparable>(_ a: UnsafeMutableBufferPointer<T>, _ qs: [Double],
                                      _ transform: (T) -> Double) -> [Double] {
    let n = a.count
    return qs.map { q in
        linearQuantile(count: n, q) { i in
            selectNth(a, i)
            return transform(a[i])
        }
    }
}

/// OpenCV's integer Sobel, NMS and thresholds (see ``canny(_:sigma:thresholds:norm:edgeValue:)``).
///
/// Rows are processed as a band: the Sobel responses and magnitudes of three rows live in small
/// ring buffers (as OpenCV's own implementation), so the only full-size buffer is the result.
private func opencvCandidates(_ image: Image<UInt8>, _ thresholds: CannyThresholds, _ norm: GradientNorm) -> [UInt8] {
    let w = image.width, h = image.height, n = w * h
    let l2 = norm == .l2
    // One row's Sobel: dx, dy and the magnitude (L2: dx² + dy², L1: |dx| + |dy|).
    @inline(__always)
    func sobelRow(_ p: UnsafePointer<UInt8>, _ y: Int, _ dxRow: UnsafeMutablePointer<Int32>,
                  _ dyRow: UnsafeMutablePointer<Int32>, _ magRow: UnsafeMutablePointer<Int32>) {
        let up = p + max(y - 1, 0) * w, mid = p + y * w, down = p + min(y + 1, h - 1) * w
        @inline(__always) func at(_ x: Int) {
            let l = max(x - 1, 0), r = min(x + 1, w - 1)
            let gx = (Int32(up[r]) - Int32(up[l])) + 2 * (Int32(mid[r]) - Int32(mid[l])) + (Int32(down[r]) - Int32(down[l]))
            let gy = (Int32(down[l]) + 2 * Int32(down[x]) + Int32(down[r])) - (Int32(up[l]) + 2 * Int32(up[x]) + Int32(up[r]))
            dxRow[x] = gx; dyRow[x] = gy
            magRow[x] = l2 ? gx &* gx &+ gy &* gy : abs(gx) &+ abs(gy)
        }
        at(0)
        if w > 2 {
            if l2 {
                for x in 1..<(w - 1) {
                    let gx = (Int32(up[x + 1]) &- Int32(up[x - 1])) &+ 2 &* (Int32(mid[x + 1]) &- Int32(mid[x - 1]))
                        &+ (Int32(down[x + 1]) &- Int32(down[x - 1]))
                    let gy = (Int32(down[x - 1]) &+ 2 &* Int32(down[x]) &+ Int32(down[x + 1]))
                        &- (Int32(up[x - 1]) &+ 2 &* Int32(up[x]) &+ Int32(up[x + 1]))
                    dxRow[x] = gx; dyRow[x] = gy
                    magRow[x] = gx &* gx &+ gy &* gy
                }
            } else {
                for x in 1..<(w - 1) {
                    let gx = (Int32(up[x + 1]) &- Int32(up[x - 1])) &+ 2 &* (Int32(mid[x + 1]) &- Int32(mid[x - 1]))
                        &+ (Int32(down[x + 1]) &- Int32(down[x - 1]))
                    let gy = (Int32(down[x - 1]) &+ 2 &* Int32(down[x]) &+ Int32(down[x + 1]))
                        &- (Int32(up[x - 1]) &+ 2 &* Int32(up[x]) &+ Int32(up[x + 1]))
                    dxRow[x] = gx; dyRow[x] = gy
                    magRow[x] = abs(gx) &+ abs(gy)
                }
            }
        }
        if w > 1 { at(w - 1) }
    }
    // Ring buffers: three rows of dx, dy, and magnitudes padded by one 0 on each side.
    let stride = w + 2
    let dxRing = UnsafeMutablePointer<Int32>.allocate(capacity: 3 * w)
    let dyRing = UnsafeMutablePointer<Int32>.allocate(capacity: 3 * w)
    let magRing = UnsafeMutablePointer<Int32>.allocate(capacity: 4 * stride) // the 4th row: zeros outside the image
    defer { dxRing.deallocate(); dyRing.deallocate(); magRing.deallocate() }
    magRing.initialize(repeating: 0, count: 4 * stride)

    var (lowT, highT): (Double, Double)
    switch thresholds {
    case .absolute(let lo, let hi): (lowT, highT) = (lo, hi)
    case .quantiles(let lo, let hi):
        // Order statistics of the integer magnitudes (√ is monotone, so they give those of √m).
        var all = [Int32](repeating: 0, count: n)
        let q = all.withUnsafeMutableBufferPointer { a in
            image.samples.withUnsafeBufferPointer { p in
                for y in 0..<h { sobelRow(p.baseAddress!, y, dxRing, dyRing, a.baseAddress! + y * w) }
            }
            return selectedQuantiles(a, [lo, hi]) { l2 ? Double($0).squareRoot() : Double($0) }
        }
        (lowT, highT) = (q[0], q[1])
    }
    if l2 {
        lowT = min(32767, lowT); highT = min(32767, highT)
        if lowT > 0 { lowT *= lowT }
        if highT > 0 { highT *= highT }
    }
    let low = Int(lowT.rounded(.down)), high = Int(highT.rounded(.down))
    // Magnitudes stay below 2^22, so thresholds clamp into Int32 without changing any comparison.
    let low32 = Int32(clamping: low), high32 = Int32(clamping: high)
    let tg22: Int32 = 13573
    let mapStride = w + 2
    var bordered = [UInt8](repeating: 0, count: mapStride * (h + 2))
    bordered.withUnsafeMutableBufferPointer { map in
        image.samples.withUnsafeBufferPointer { pb in
            let p = pb.baseAddress!
            let zeroRow = magRing + 3 * stride + 1
            @inline(__always) func magRow(_ y: Int) -> UnsafeMutablePointer<Int32> {
                (y < 0 || y >= h) ? zeroRow : magRing + (y % 3) * stride + 1
            }
            sobelRow(p, 0, dxRing, dyRing, magRow(0))
            for y in 0..<h {
                if y + 1 < h { sobelRow(p, y + 1, dxRing + ((y + 1) % 3) * w, dyRing + ((y + 1) % 3) * w, magRow(y + 1)) }
                let above = magRow(y - 1), row = magRow(y), below = magRow(y + 1)
                let dx = dxRing + (y % 3) * w, dy = dyRing + (y % 3) * w
                let out = map.baseAddress! + (y + 1) * mapStride + 1
                let lowVector = SIMD8<Int32>(repeating: low32)
                var x = 0
                while x < w {
                    // Eight pixels at a time where none passes the low threshold (most of them).
                    if x + 8 <= w {
                        let block = UnsafeRawPointer(row + x).loadUnaligned(as: SIMD8<Int32>.self)
                        if !any(block .> lowVector) {
                            UnsafeMutableRawPointer(out + x).storeBytes(of: UInt64(0), as: UInt64.self)
                            x += 8
                            continue
                        }
                        let marks = nmsMarks(block, x: x, row: row, above: above, below: below, dx: dx, dy: dy,
                                             low: lowVector, high: SIMD8(repeating: high32))
                        UnsafeMutableRawPointer(out + x).storeBytes(of: marks, as: SIMD8<UInt8>.self)
                        x += 8
                        continue
                    }
                    while x < w { defer { x += 1 }
                    let v = row[x]
                    var mark: UInt8 = 0
                    if v > low32 {
                        // The sector picks the two neighbours without branches (they mispredict
                        // on textured images): horizontal keeps m > left && m >= right, vertical
                        // m > above && m >= below, diagonal m > both (so `bump` is 0 there).
                        let xs = dx[x], ys = dy[x]
                        let ax = Int(abs(xs)), ay = Int(abs(ys)) << 15
                        let tg22x = ax * Int(tg22)
                        let horizontal = ay < tg22x, vertical = !horizontal && ay > tg22x + (ax << 16)
                        let s = (xs ^ ys) < 0 ? -1 : 1
                        let first = horizontal ? row + (x - 1) : (vertical ? above + x : above + (x - s))
                        let second = horizontal ? row + (x + 1) : (vertical ? below + x : below + (x + s))
                        let bump: Int32 = horizontal || vertical ? 1 : 0
                        let keep = (v > first.pointee ? 1 : 0) & (v &+ bump > second.pointee ? 1 : 0)
                        mark = UInt8(truncatingIfNeeded: keep &* (v > high32 ? 2 : 1))
                    }
                    out[x] = mark
                    }
                }
            }
        }
    }
    return bordered
}

/// Non-maximum suppression and the two thresholds for eight pixels at once: the scalar loop's
/// sector test and neighbour choice, lane by lane, with every candidate neighbour loaded and the
/// right one selected by mask. `row`, `above` and `below` are magnitude rows padded by one 0 on
/// each side; `dx`, `dy` the gradients of `row`. Returns 0, 1 (candidate) or 2 (strong) a pixel.
@inline(__always)
private func nmsMarks(_ v: SIMD8<Int32>, x: Int, row: UnsafeMutablePointer<Int32>, above: UnsafeMutablePointer<Int32>,
                      below: UnsafeMutablePointer<Int32>, dx: UnsafeMutablePointer<Int32>, dy: UnsafeMutablePointer<Int32>,
                      low: SIMD8<Int32>, high: SIMD8<Int32>) -> SIMD8<UInt8> {
    @inline(__always) func load(_ p: UnsafeMutablePointer<Int32>) -> SIMD8<Int32> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Int32>.self)
    }
    let xs = load(dx + x), ys = load(dy + x)
    let ax = (xs ^ (xs &>> 31)) &- (xs &>> 31), ay = ((ys ^ (ys &>> 31)) &- (ys &>> 31)) &<< 15
    let tg22x = ax &* 13573
    let horizontal = ay .< tg22x
    let vertical = .!horizontal .& (ay .> tg22x &+ (ax &<< 16))
    let negative = (xs ^ ys) .< 0 // s = -1: above-right and below-left; else above-left and below-right
    var first = load(above + x - 1).replacing(with: load(above + x + 1), where: negative)
    var second = load(below + x + 1).replacing(with: load(below + x - 1), where: negative)
    first.replace(with: load(above + x), where: vertical)
    second.replace(with: load(below + x), where: vertical)
    first.replace(with: load(row + x - 1), where: horizontal)
    second.replace(with: load(row + x + 1), where: horizontal)
    let bump = SIMD8<Int32>(repeating: 0).replacing(with: 1, where: horizontal .| vertical)
    let keep = (v .> low) .& (v .> first) .& (v &+ bump .> second)
    let mark = SIMD8<Int32>(repeating: 0).replacing(with: SIMD8<Int32>(repeating: 1).replacing(with: 2, where: v .> high),
                                                    where: keep)
    return SIMD8<UInt8>(truncatingIfNeeded: mark)
}

/// scikit-image's smoothing (SciPy `mode='constant'`, cval 0, then divided by the same filter of
/// an all-ones image), one float64 row at a time, on demand: rows are asked for in increasing
/// order (a row and the two after it may be asked for again), and the last four are kept. The
/// column pass reads the source rows it needs converted to `v / 255` (a table of 256 values),
/// kept in a ring of 2r + 1 rows; both passes run over whole rows, tap by tap, so they
/// vectorise, and each pixel's sum still adds the taps in SciPy's order from 0.0 (a tap outside
/// the image adds an exact 0). The all-ones image is never stored: its filtered value depends
/// only on the row's and the column's distances to the border, so one row of it is computed per
/// distinct column-pass value and reused.
private final class SkimageSmoothedRows {
    let w: Int, h: Int, r: Int
    private let kernel: UnsafeMutablePointer<Double>
    private let source: UnsafePointer<UInt8>
    private let table = UnsafeMutablePointer<Double>.allocate(capacity: 256)
    private let converted: UnsafeMutablePointer<Double>     // (2r + 1) rows of w
    private var convertedTag: [Int]
    private let padded: UnsafeMutablePointer<Double>        // the column pass, r zeros each side
    private let onesRow: UnsafeMutablePointer<Double>
    private var onesColumnValue = Double.nan
    private let keepAll: Bool                               // every row computed once, kept
    private let rows: UnsafeMutablePointer<Double>          // 4 rows of w, or all of them
    private let taps: UnsafeMutablePointer<UnsafePointer<Double>>
    private let tapWeights: UnsafeMutablePointer<Double>
    private var rowTag: [Int]

    /// `keepAll`: keep every row once computed (an image-sized buffer of doubles; repeated
    /// passes then smooth once).
    init(source: UnsafePointer<UInt8>, width: Int, height: Int, kernel k: [Double], keepAll: Bool) {
        w = width; h = height; r = k.count / 2
        self.keepAll = keepAll
        rowTag = [Int](repeating: -1, count: keepAll ? height : 4)
        self.source = source
        kernel = .allocate(capacity: k.count)
        kernel.initialize(from: k, count: k.count)
        for v in 0..<256 { table[v] = Double(v) / 255 }
        converted = .allocate(capacity: (2 * r + 1) * w)
        convertedTag = [Int](repeating: -1, count: 2 * r + 1)
        padded = .allocate(capacity: w + 2 * r)
        padded.initialize(repeating: 0, count: w + 2 * r)
        onesRow = .allocate(capacity: w)
        rows = .allocate(capacity: (keepAll ? h : 4) * w)
        taps = .allocate(capacity: 2 * r + 1)
        tapWeights = .allocate(capacity: 2 * r + 1)
    }

    deinit {
        kernel.deallocate(); table.deallocate(); converted.deallocate(); padded.deallocate()
        onesRow.deallocate(); rows.deallocate(); taps.deallocate(); tapWeights.deallocate()
    }

    /// A new pass from row 0: forgets the last rows (unless all are kept).
    func restart() {
        if keepAll { return }
        for i in rowTag.indices { rowTag[i] = -1 }
        for i in convertedTag.indices { convertedTag[i] = -1 }
    }

    /// Row `y` (clamped into the image: SciPy's 'reflect' of radius 1 for the Sobel filter).
    func row(_ y: Int) -> UnsafePointer<Double> {
        let y = min(max(y, 0), h - 1)
        let slot = keepAll ? y : y % 4
        let out = rows + slot * w
        if rowTag[slot] != y {
            compute(y, out)
            rowTag[slot] = y
        }
        return UnsafePointer(out)
    }

    private func sourceRow(_ y: Int) -> UnsafePointer<Double> {
        let slot = y % (2 * r + 1), out = converted + slot * w
        if convertedTag[slot] != y {
            let src = source + y * w
            for x in 0..<w { out[x] = table[Int(src[x])] }
            convertedTag[slot] = y
        }
        return UnsafePointer(out)
    }

    private func compute(_ y: Int, _ out: UnsafeMutablePointer<Double>) {
        if r == 0 {
            out.update(from: sourceRow(y), count: w)   // a one-tap kernel: no filtering, no division
            return
        }
        // Column pass (axis 0) into the middle of `padded`.
        let column = padded + r
        let first = max(-r, -y), last = min(r, h - 1 - y)
        for t in first...last { taps[t - first] = sourceRow(y + t); tapWeights[t - first] = kernel[t + r] }
        let count = last - first + 1
        // Four columns at a time with the sums in registers; each sum adds the taps in order.
        var x = 0
        while x + 4 <= w {
            var acc = SIMD4<Double>(repeating: 0)
            for t in 0..<count {
                acc += tapWeights[t] * UnsafeRawPointer(taps[t] + x).loadUnaligned(as: SIMD4<Double>.self)
            }
            UnsafeMutableRawPointer(column + x).storeBytes(of: acc, as: SIMD4<Double>.self)
            x += 4
        }
        while x < w {
            var acc = 0.0
            for t in 0..<count { acc += tapWeights[t] * taps[t][x] }
            column[x] = acc
            x += 1
        }
        // The all-ones image's value for this row's border distance.
        var cy = 0.0
        for t in -r...r where y + t >= 0 && y + t < h { cy += kernel[t + r] * 1.0 }
        if !(cy == onesColumnValue) {
            onesColumnValue = cy
            for x in 0..<w {
                var acc = 0.0
                for t in -r...r where x + t >= 0 && x + t < w { acc += kernel[t + r] * cy }
                onesRow[x] = acc + Double.ulpOfOne
            }
        }
        // Row pass (axis 1), then the division.
        let span = 2 * r + 1
        x = 0
        while x + 4 <= w {
            var acc = SIMD4<Double>(repeating: 0)
            for t in 0..<span {
                acc += kernel[t] * UnsafeRawPointer(padded + x + t).loadUnaligned(as: SIMD4<Double>.self)
            }
            let ones = UnsafeRawPointer(onesRow + x).loadUnaligned(as: SIMD4<Double>.self)
            UnsafeMutableRawPointer(out + x).storeBytes(of: acc / ones, as: SIMD4<Double>.self)
            x += 4
        }
        while x < w {
            var acc = 0.0
            for t in 0..<span { acc += kernel[t] * padded[x + t] }
            out[x] = acc / onesRow[x]
            x += 1
        }
    }
}

/// `ndimage.sobel` of three smoothed rows ([-1, 0, 1] along the derivative axis, [1, 2, 1]
/// across; 'reflect' borders, which for a radius of 1 repeat the edge sample): (i, j) at x.
@inline(__always)
private func skimageSobel(_ up: UnsafePointer<Double>, _ mid: UnsafePointer<Double>, _ down: UnsafePointer<Double>,
                          _ x: Int, _ w: Int) -> (i: Double, j: Double) {
    let l = max(x - 1, 0), r = min(x + 1, w - 1)
    let j = (up[r] - up[l]) + 2 * (mid[r] - mid[l]) + (down[r] - down[l])
    let i = (down[l] - up[l]) + 2 * (down[x] - up[x]) + (down[r] - up[r])
    return (i, j)
}

/// One row of gradient magnitudes; the interior runs without clamps, so it vectorises.
/// Magnitudes below 1e-10 (rounding noise of the smoothing in flat areas) are 0. `squared`
/// gives i² + j² instead, before the square root and the rule for noise (both monotone, so the
/// order statistics of the magnitudes are those of these values, mapped by ``skimageMagnitude(squared:)``).
private func skimageMagnitudes(_ up: UnsafePointer<Double>, _ mid: UnsafePointer<Double>, _ down: UnsafePointer<Double>,
                               _ w: Int, l2: Bool, squared: Bool = false, into out: UnsafeMutablePointer<Double>) {
    @inline(__always) func magnitude(_ i: Double, _ j: Double) -> Double {
        if squared { return i * i + j * j }
        let v = l2 ? (i * i + j * j).squareRoot() : abs(i) + abs(j)
        return v < 1e-10 ? 0 : v
    }
    for x in [0, w - 1] where x >= 0 {
        let (i, j) = skimageSobel(up, mid, down, x, w)
        out[x] = magnitude(i, j)
    }
    guard w > 2 else { return }
    if squared {
        for x in 1..<(w - 1) {
            let j = (up[x + 1] - up[x - 1]) + 2 * (mid[x + 1] - mid[x - 1]) + (down[x + 1] - down[x - 1])
            let i = (down[x - 1] - up[x - 1]) + 2 * (down[x] - up[x]) + (down[x + 1] - up[x + 1])
            out[x] = i * i + j * j
        }
    } else if l2 {
        for x in 1..<(w - 1) {
            let j = (up[x + 1] - up[x - 1]) + 2 * (mid[x + 1] - mid[x - 1]) + (down[x + 1] - down[x - 1])
            let i = (down[x - 1] - up[x - 1]) + 2 * (down[x] - up[x]) + (down[x + 1] - up[x + 1])
            let v = (i * i + j * j).squareRoot()
            out[x] = v < 1e-10 ? 0 : v
        }
    } else {
        for x in 1..<(w - 1) {
            let j = (up[x + 1] - up[x - 1]) + 2 * (mid[x + 1] - mid[x - 1]) + (down[x + 1] - down[x - 1])
            let i = (down[x - 1] - up[x - 1]) + 2 * (down[x] - up[x]) + (down[x + 1] - up[x + 1])
            let v = abs(i) + abs(j)
            out[x] = v < 1e-10 ? 0 : v
        }
    }
}

/// The L2 magnitude of a squared one, with the rule for noise.
@inline(__always) private func skimageMagnitude(squared s: Double) -> Double {
    let v = s.squareRoot()
    return v < 1e-10 ? 0 : v
}

/// The order statistics `ranks` (0-based) of non-negative doubles delivered row by row by `pass`
/// (called twice, with the same rows each time), without keeping them all: the first pass
/// counts the values by the top 16 bits of their bit pattern (monotone for non-negative
/// doubles), the second keeps only the values of the buckets that hold a wanted rank, and a
/// selection within each such bucket finishes. A bucket of exact zeros needs no second look.
func orderStatistics(count n: Int, ranks: [Int],
                     _ pass: ((UnsafeBufferPointer<Double>) -> Void) -> Void) -> [Int: Double] {
    var histogram = [Int](repeating: 0, count: 1 << 16)
    histogram.withUnsafeMutableBufferPointer { hb in
        pass { row in for v in row { hb[Int(truncatingIfNeeded: v.bitPattern >> 48)] &+= 1 } }
    }
    // Each rank's bucket and its rank inside the bucket.
    var starts = [Int](repeating: 0, count: 1 << 16)
    var total = 0
    for b in 0..<(1 << 16) { starts[b] = total; total += histogram[b] }
    precondition(total == n, "orderStatistics: \(total) values for a count of \(n)")
    var place: [Int: (bucket: Int, within: Int)] = [:]
    for k in Set(ranks) {
        precondition(k >= 0 && k < n, "orderStatistics: rank \(k) outside 0..<\(n)")
        var lo = 0, hi = (1 << 16) - 1             // the last bucket whose start is <= k
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= k { lo = mid } else { hi = mid - 1 }
        }
        while histogram[lo] == 0 { lo -= 1 }        // empty buckets share their start
        place[k] = (lo, k - starts[lo])
    }
    // Buckets to look into again, by slot (bucket 0 holds only exact zeros: nothing to collect).
    let wanted = Array(Set(place.values.map(\.bucket)).subtracting([0])).sorted()
    var slotOf = [UInt8](repeating: 0, count: 1 << 16)          // 0: not wanted, else slot + 1
    for (i, b) in wanted.enumerated() { slotOf[b] = UInt8(i + 1) }
    var values = wanted.map { b -> [Double] in
        var a = [Double](); a.reserveCapacity(histogram[b]); return a
    }
    if !wanted.isEmpty {
        slotOf.withUnsafeBufferPointer { slots in
            pass { row in
                for v in row {
                    let slot = Int(slots[Int(truncatingIfNeeded: v.bitPattern >> 48)])
                    if slot != 0 { values[slot - 1].append(v) }
                }
            }
        }
    }
    var result: [Int: Double] = [:]
    for (k, at) in place.sorted(by: { $0.key < $1.key }) {
        if at.bucket == 0 { result[k] = 0; continue } // only +0.0 has its top 16 bits zero here
        let slot = Int(slotOf[at.bucket]) - 1
        values[slot].withUnsafeMutableBufferPointer { selectNth($0, at.within) }
        result[k] = values[slot][at.within]
    }
    return result
}

/// The ranks that ``linearQuantile(count:_:_:)`` asks for.
func linearQuantileRanks(count: Int, _ q: Double) -> [Int] {
    let index = q * Double(count - 1)
    let below = Int(index.rounded(.down)), above = min(below + 1, count - 1)
    return above == below ? [below] : [below, above]
}

/// scikit-image's smoothing, Sobel, bilinear NMS and thresholds (see ``canny(_:sigma:thresholds:norm:edgeValue:)``).
///
/// Nothing image-sized but the result: smoothed rows come on demand (four kept), magnitudes
/// live in a ring of three rows, and the Sobel components are recomputed where NMS needs them.
/// Quantile thresholds take two more passes over the rows (``orderStatistics(count:ranks:_:)``).
private func skimageCandidates(_ image: Image<UInt8>, _ sigma: Double, _ thresholds: CannyThresholds,
                               _ norm: GradientNorm) throws -> [UInt8] {
    let w = image.width, h = image.height, n = w * h
    let kernel = try gaussianKernel(sigma: sigma)
    let l2 = norm == .l2
    let mapStride = w + 2
    var map = [UInt8](repeating: 0, count: mapStride * (h + 2))   // with a border of zeros
    // The one-pixel border is never an edge, so an image under 3×3 has none, whatever the thresholds.
    guard w >= 3, h >= 3 else { return map }
    return image.samples.withUnsafeBufferPointer { sb in
        // Quantiles pass over the rows three times: up to 8 Mpixels (64 MiB of doubles) the
        // smoothed image is kept rather than made three times; above, memory comes first.
        let keepAll: Bool
        if case .quantiles = thresholds { keepAll = n <= 1 << 23 } else { keepAll = false }
        let smoothed = SkimageSmoothedRows(source: sb.baseAddress!, width: w, height: h, kernel: kernel, keepAll: keepAll)
        let ring = UnsafeMutablePointer<Double>.allocate(capacity: 3 * w)
        defer { ring.deallocate() }
        @inline(__always) func magnitudeRow(_ y: Int, _ out: UnsafeMutablePointer<Double>, squared: Bool = false) {
            skimageMagnitudes(smoothed.row(y - 1), smoothed.row(y), smoothed.row(y + 1), w, l2: l2, squared: squared, into: out)
        }
        var (low, high): (Double, Double)
        switch thresholds {
        case .absolute(let lo, let hi): (low, high) = (lo / 255, hi / 255)
        case .quantiles(let lo, let hi):
            let ranks = linearQuantileRanks(count: n, lo) + linearQuantileRanks(count: n, hi)
            // L2: the order statistics of i² + j² (no square roots in these passes), mapped after.
            let statistics = orderStatistics(count: n, ranks: ranks) { body in
                smoothed.restart()
                for y in 0..<h {
                    magnitudeRow(y, ring, squared: l2)
                    body(UnsafeBufferPointer(start: ring, count: w))
                }
            }
            smoothed.restart()
            let q = [lo, hi].map { q in
                linearQuantile(count: n, q) { k in
                    let value = statistics[k] ?? .nan
                    return l2 ? skimageMagnitude(squared: value) : value
                }
            }
            (low, high) = (q[0], q[1])
        }
        let lowF = low == 0 ? 1e-14 : Double(Float(low)) // the Cython parameter is a C float
        magnitudeRow(0, ring)
        magnitudeRow(1, ring + w)
        map.withUnsafeMutableBufferPointer { mb in
            for y in 1..<(h - 1) {
                magnitudeRow(y + 1, ring + ((y + 1) % 3) * w)
                let above = ring + ((y - 1) % 3) * w, row = ring + (y % 3) * w, below = ring + ((y + 1) % 3) * w
                let fUp = smoothed.row(y - 1), fMid = smoothed.row(y), fDown = smoothed.row(y + 1)
                // m[c ± w ± 1] through the ring: row offsets -1, 0, +1 and column offsets.
                @inline(__always) func m(_ dy: Int, _ x: Int) -> Double {
                    dy < 0 ? above[x] : (dy > 0 ? below[x] : row[x])
                }
                @inline(__always) func interp(_ ay: Int, _ ax: Int, _ by: Int, _ bx: Int, _ wt: Double) -> Double {
                    m(by, bx) * wt + m(ay, ax) * (1.0 - wt)
                }
                let out = mb.baseAddress! + (y + 1) * mapStride + 1
                for x in 1..<(w - 1) {
                    let v = row[x]
                    guard v >= lowF else { continue }
                    let (gi, gj) = skimageSobel(fUp, fMid, fDown, x, w)
                    let down = gi <= 0, upward = !down, left = gj <= 0, right = !left
                    let ai = abs(gi), aj = abs(gj)
                    var keep = false
                    if (upward && right) || (down && left) {
                        if ai > aj {
                            let wt = aj / ai
                            keep = interp(1, x, 1, x + 1, wt) <= v && interp(-1, x, -1, x - 1, wt) <= v
                        } else {
                            let wt = ai / aj
                            keep = interp(0, x + 1, 1, x + 1, wt) <= v && interp(0, x - 1, -1, x - 1, wt) <= v
                        }
                    } else if (down && right) || (upward && left) {
                        if ai < aj {
                            let wt = ai / aj
                            keep = interp(0, x + 1, -1, x + 1, wt) <= v && interp(0, x - 1, 1, x - 1, wt) <= v
                        } else {
                            let wt = aj / ai
                            keep = interp(-1, x, -1, x + 1, wt) <= v && interp(1, x, 1, x - 1, wt) <= v
                        }
                    }
                    if keep { out[x] = v >= high ? 2 : 1 }
                }
            }
        }
        return map
    }
}

/// Keeps the candidates 8-connected to a seed: `edgeValue` there, 0 elsewhere. `map` comes with
/// a one-pixel border of zeros ((w + 2) × (h + 2)), so a pixel's eight neighbours are fixed
/// offsets with no bounds checks (as OpenCV's own hysteresis); at the end its rows are moved
/// down to a plain w × h map in the same buffer (each row lands before its source, so nothing
/// unread is overwritten) and the array is cut to w · h.
private func hysteresis(_ map: inout [UInt8], _ w: Int, _ h: Int, _ edgeValue: UInt8) {
    let stride = w + 2
    precondition(map.count == stride * (h + 2), "canny: the candidate map must have a border")
    precondition(map.count <= Int(Int32.max), "canny: images over 2^31 pixels are not supported")
    var stack = [Int32]()
    map.withUnsafeMutableBufferPointer { bb in
        guard let b = bb.baseAddress else { return }
        // 3 marks a pixel kept (a seed, or a candidate reached from one).
        // (The stack is passed in, not captured: a captured var costs a dynamic exclusivity check
        // per access.)
        @inline(__always) func reach(_ q: Int, _ stack: inout [Int32]) {
            // 1 or 2: a candidate not kept yet (1 &- 1 = 0, 2 &- 1 = 1; 0 and 3 wrap past 1).
            if b[q] &- 1 <= 1 { b[q] = 3; stack.append(Int32(truncatingIfNeeded: q)) }
        }
        let raw = UnsafeRawPointer(b)
        for y in 0..<h {
            let row = (y + 1) * stride + 1
            var x = 0
            while x < w {
                // Eight pixels at a time while none is a strong candidate (2: bit 1 set, bit 0
                // clear; the map holds only 0...3).
                if x + 8 <= w {
                    let word = raw.loadUnaligned(fromByteOffset: row + x, as: UInt64.self)
                    if word & 0x0202_0202_0202_0202 & ~(word << 1) == 0 { x += 8; continue }
                }
                let start = x
                let end = min(x + 8, w)
                x = end
                for i in start..<end where b[row + i] == 2 {
                    b[row + i] = 3
                    stack.append(Int32(truncatingIfNeeded: row + i))
                    while let top = stack.popLast() {
                        let p = Int(top)
                        reach(p - stride - 1, &stack); reach(p - stride, &stack); reach(p - stride + 1, &stack)
                        reach(p - 1, &stack); reach(p + 1, &stack)
                        reach(p + stride - 1, &stack); reach(p + stride, &stack); reach(p + stride + 1, &stack)
                    }
                }
            }
        }
        // Compacted in place, rows moving down the buffer: dst is w + 2y + 3 bytes before src,
        // so eight bytes at a time never overwrite unread ones when w >= 8. A byte is 3 where
        // both its low bits are set (values are 0...3); times edgeValue, no carry crosses bytes.
        let wide = w >= 8
        for y in 0..<h {
            let src = b + (y + 1) * stride + 1, dst = b + y * w
            var x = 0
            if wide {
                while x + 8 <= w {
                    let v = UnsafeRawPointer(src + x).loadUnaligned(as: UInt64.self)
                    let kept = v & (v >> 1) & 0x0101_0101_0101_0101
                    UnsafeMutableRawPointer(dst + x).storeBytes(of: kept &* UInt64(edgeValue), as: UInt64.self)
                    x += 8
                }
            }
            while x < w { dst[x] = src[x] == 3 ? edgeValue : 0; x += 1 }
        }
    }
    map.removeLast(map.count - w * h)
}
