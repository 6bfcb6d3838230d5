import CVSegCore

/// Mirror an index into 0..<count (numpy "reflect", repeated for pads wider than the image).
@inline(__always) private func reflectIndex(_ i: Int, _ count: Int) -> Int {
    if count == 1 { return 0 }
    let period = 2 * (count - 1)
    var j = i % period
    if j < 0 { j += period }
    return j < count ? j : period - j
}

/// Local mean and standard deviation over a `window` × `window` square around every pixel, with
/// the image mirrored at its borders (numpy's "reflect": `d c b | a b c d | c b a`), exactly as
/// scikit-image's `_mean_std` computes them.
///
/// scikit-image builds float64 integral images of the padded image and of its squares; every
/// partial sum there is an integer below 2^53, so it is exact. Here the same window sums come
/// from running integer column sums (8 bytes per column instead of 16 per pixel), and the float
/// steps after them are scikit-image's: `m = Σ / n`, `g2 = Σ² / n`, `s = √max(g2 − m², 0)`. The
/// results are bit-identical.
///
/// The column sums are kept for the image's own columns only: a mirrored pad column has the sum
/// of the column it mirrors, so the pads are copied in after each row update (O(window) a row),
/// and the row updates are plain contiguous loops the compiler vectorises.
///
/// - Parameter body: called once per row with the row index and the row's means and deviations.
/// - Complexity: O(pixels), independent of the window size; memory O(width + window).
@inline(__always)
func localMeanDeviation<Sample: PixelSample>(_ image: Image<Sample>, window: Int,
                                             body: (_ y: Int, _ mean: UnsafeBufferPointer<Double>,
                                                    _ deviation: UnsafeBufferPointer<Double>) -> Void) {
    let w = image.width, h = image.height, half = window / 2
    let n = Double(window * window)
    let padded = w + window - 1
    let colSum = UnsafeMutablePointer<Int>.allocate(capacity: padded)
    let colSq = UnsafeMutablePointer<Int>.allocate(capacity: padded)
    let mean = UnsafeMutablePointer<Double>.allocate(capacity: w)
    let deviation = UnsafeMutablePointer<Double>.allocate(capacity: w)
    defer { colSum.deallocate(); colSq.deallocate(); mean.deallocate(); deviation.deallocate() }
    colSum.initialize(repeating: 0, count: padded)
    colSq.initialize(repeating: 0, count: padded)
    // Mirror sources of the pad columns, as indices into colSum/colSq.
    let pads = (0..<half).map { half + reflectIndex($0 - half, w) } + (0..<half).map { half + reflectIndex(w + $0, w) }
    pads.withUnsafeBufferPointer { pads in
        image.samples.withUnsafeBufferPointer { px in
            let base = px.baseAddress!
            let sum = colSum + half, sq = colSq + half
            for y in -half...half {
                let row = base + reflectIndex(y, h) * w
                for x in 0..<w {
                    let v = Int(row[x])
                    sum[x] &+= v
                    sq[x] &+= v &* v
                }
            }
            for y in 0..<h {
                if y > 0 {
                    let add = base + reflectIndex(y + half, h) * w
                    let sub = base + reflectIndex(y - half - 1, h) * w
                    for x in 0..<w {
                        let a = Int(add[x]), b = Int(sub[x])
                        sum[x] &+= a &- b
                        sq[x] &+= a &* a &- b &* b
                    }
                }
                for c in 0..<half {
                    colSum[c] = colSum[pads[c]]; colSq[c] = colSq[pads[c]]
                    colSum[half + w + c] = colSum[pads[half + c]]; colSq[half + w + c] = colSq[pads[half + c]]
                }
                // The running window sums first (a chain of integer additions), kept as doubles
                // (exact: below 2^53) in the output rows; then the divisions and square roots,
                // which no longer wait on each other, over the whole row.
                var s = 0, q = 0
                for c in 0..<window { s &+= colSum[c]; q &+= colSq[c] }
                mean[0] = Double(s); deviation[0] = Double(q)
                if w > 1 {
                    for x in 1..<w {
                        s &+= colSum[x + window - 1] &- colSum[x - 1]
                        q &+= colSq[x + window - 1] &- colSq[x - 1]
                        mean[x] = Double(s); deviation[x] = Double(q)
                    }
                }
                for x in 0..<w {
                    let m = mean[x] / n
                    let g2 = deviation[x] / n
                    mean[x] = m
                    deviation[x] = (max(g2 - m * m, 0)).squareRoot()
                }
                body(y, UnsafeBufferPointer(start: mean, count: w), UnsafeBufferPointer(start: deviation, count: w))
            }
        }
    }
}

/// The local-threshold rules that follow mean and deviation.
public enum LocalThreshold: Sendable, Equatable {
    /// Niblack: `t = m − k·s` (scikit-image's sign convention: positive k lowers the threshold).
    case niblack(k: Double)
    /// Sauvola: `t = m·(1 + k·(s/r − 1))`; `r` defaults to half the sample type's range (127.5
    /// for 8-bit), as scikit-image.
    case sauvola(k: Double, r: Double?)
}

/// A binary mask by a local threshold: 1 (or `foreground`) where `value > t(x, y)`.
///
/// Equal to `image > threshold_niblack(image, window_size, k)` and
/// `image > threshold_sauvola(image, window_size, k, r)` in scikit-image.
///
/// - Parameters:
///   - window: odd side of the square window, at least 3.
/// - Throws: ``CVSegError/invalidArgument(_:)`` for an even or too small window, a colour image,
///   or a non-finite k or r ≤ 0.
/// - Complexity: O(pixels), independent of the window.
///
/// References: W. Niblack, "An Introduction to Digital Image Processing", 1986; J. Sauvola,
/// M. Pietikäinen, "Adaptive document image binarization", Pattern Recognition 33(2), 2000.
@_specialize(where Sample == UInt8)
@_specialize(where Sample == UInt16)
public func localThreshold<Sample: PixelSample>(_ image: Image<Sample>, window: Int, rule: LocalThreshold,
                                                invert: Bool = false, foreground: UInt8 = 1) throws -> Image<UInt8> {
    guard image.layout == .gray else {
        throw CVSegError.invalidArgument("a local threshold needs a gray image, got \(image.layout); convert it first")
    }
    guard window >= 3, window % 2 == 1 else {
        throw CVSegError.invalidArgument("the window must be odd and at least 3, not \(window)")
    }
    let (k, r): (Double, Double)
    switch rule {
    case .niblack(let kk): (k, r) = (kk, 1)
    case .sauvola(let kk, let rr): (k, r) = (kk, rr ?? 0.5 * Double(Sample.max))
    }
    guard k.isFinite, r.isFinite, r > 0 else { throw CVSegError.invalidArgument("k must be finite and r positive") }
    if image.pixelCount == 0 { return Image(width: image.width, height: image.height, layout: .gray, samples: []) }
    let isSauvola: Bool = { if case .sauvola = rule { return true } else { return false } }()
    let above: UInt8 = invert ? 0 : foreground, below: UInt8 = invert ? foreground : 0
    let w = image.width
    let out = [UInt8](unsafeUninitializedCapacity: image.pixelCount) { o, initialized in
        let ob = o.baseAddress!
        image.samples.withUnsafeBufferPointer { px in
            let pb = px.baseAddress!
            localMeanDeviation(image, window: window) { y, mean, deviation in
                let row = pb + y * w, orow = ob + y * w
                let mb = mean.baseAddress!, db = deviation.baseAddress!
                if isSauvola {
                    for x in 0..<w {
                        let m = mb[x], s = db[x]
                        orow[x] = Double(row[x]) > m * (1 + k * ((s / r) - 1)) ? above : below
                    }
                } else {
                    for x in 0..<w { orow[x] = Double(row[x]) > mb[x] - k * db[x] ? above : below }
                }
            }
        }
        initialized = image.pixelCount
    }
    return Image(width: image.width, height: image.height, layout: .gray, samples: out)
}
