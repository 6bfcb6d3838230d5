import CVSegCore

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
/// - Parameter body: called once per row with the row index and the row's means and deviations.
/// - Complexity: O(pixels), independent of the window size; memory O(width + window).
func localMeanDeviation<Sample: PixelSample>(_ image: Image<Sample>, window: Int,
                                             body: (_ y: Int, _ mean: UnsafeBufferPointer<Double>,
                                                    _ deviation: UnsafeBufferPointer<Double>) -> Void) {
    let w = image.width, h = image.height, half = window / 2
    let n = Double(window * window)
    // Mirror an index into 0..<count (numpy "reflect", repeated for pads wider than the image).
    func reflect(_ i: Int, _ count: Int) -> Int {
        if count == 1 { return 0 }
        let period = 2 * (count - 1)
        var j = i % period
        if j < 0 { j += period }
        return j < count ? j : period - j
    }
    let columns = (0..<(w + window - 1)).map { reflect($0 - half, w) }
    var colSum = [Int](repeating: 0, count: w + window - 1)
    var colSq = [Int](repeating: 0, count: w + window - 1)
    var mean = [Double](repeating: 0, count: w), deviation = [Double](repeating: 0, count: w)
    image.samples.withUnsafeBufferPointer { px in
        func addRow(_ y: Int, _ sign: Int) {
            let row = reflect(y, h) * w
            for c in 0..<columns.count {
                let v = Int(px[row + columns[c]])
                colSum[c] += sign * v
                colSq[c] += sign * v * v
            }
        }
        for y in -half...half { addRow(y, 1) }
        for y in 0..<h {
            if y > 0 {
                addRow(y - half - 1, -1)
                addRow(y + half, 1)
            }
            var s = 0, q = 0
            for c in 0..<window { s += colSum[c]; q += colSq[c] }
            for x in 0..<w {
                if x > 0 {
                    s += colSum[x + window - 1] - colSum[x - 1]
                    q += colSq[x + window - 1] - colSq[x - 1]
                }
                let m = Double(s) / n
                let g2 = Double(q) / n
                mean[x] = m
                deviation[x] = (max(g2 - m * m, 0)).squareRoot()
            }
            mean.withUnsafeBufferPointer { mb in deviation.withUnsafeBufferPointer { db in body(y, mb, db) } }
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
    let isSauvola: Bool = { if case .sauvola = rule { return true } else { return false } }()
    let above: UInt8 = invert ? 0 : foreground, below: UInt8 = invert ? foreground : 0
    var out = [UInt8](repeating: 0, count: image.pixelCount)
    let w = image.width
    out.withUnsafeMutableBufferPointer { o in
        image.samples.withUnsafeBufferPointer { px in
            localMeanDeviation(image, window: window) { y, mean, deviation in
                for x in 0..<w {
                    let m = mean[x], s = deviation[x]
                    let t = isSauvola ? m * (1 + k * ((s / r) - 1)) : m - k * s
                    o[y * w + x] = Double(px[y * w + x]) > t ? above : below
                }
            }
        }
    }
    return Image(width: image.width, height: image.height, layout: .gray, samples: out)
}
