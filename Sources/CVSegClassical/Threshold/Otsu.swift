import CVSegCore

/// Otsu's threshold of a histogram of integer values.
///
/// Returns the value `t` that maximises the between-class variance of the two classes
/// `value <= t` and `value > t`; foreground is `value > t`. Only the span from the lowest to the
/// highest occupied bin is searched, and the arithmetic is scikit-image's `threshold_otsu` step
/// for step (cumulative sums in integers, means and variance in Double, the first maximum wins),
/// so the threshold is identical to scikit-image's on integer images, and to OpenCV's
/// `THRESH_OTSU` on 8-bit images (both take the lowest of tied thresholds).
///
/// - Parameter counts: `counts[v]` = number of pixels of value `v`.
/// - Returns: the threshold, or nil for an empty histogram. A histogram with one occupied value
///   `v` gives `v` (so nothing is foreground), as scikit-image does.
/// - Complexity: O(counts.count).
///
/// References: N. Otsu, "A threshold selection method from gray-level histograms",
/// IEEE Trans. Systems, Man, and Cybernetics 9(1), 1979.
public func otsuThreshold(histogram counts: [Int]) -> Int? {
    guard let low = counts.firstIndex(where: { $0 > 0 }),
          let high = counts.lastIndex(where: { $0 > 0 }) else { return nil }
    if low == high { return low }
    let n = high - low + 1
    // weight1[i], sum1[i]: pixels and value sum of bins low...low+i; weight2, sum2: of bins low+i...high.
    var weight1 = [Int](repeating: 0, count: n), sum1 = [Int](repeating: 0, count: n)
    var weight2 = [Int](repeating: 0, count: n), sum2 = [Int](repeating: 0, count: n)
    var w = 0, s = 0
    for i in 0..<n {
        w += counts[low + i]; s += counts[low + i] * (low + i)
        weight1[i] = w; sum1[i] = s
    }
    w = 0; s = 0
    for i in stride(from: n - 1, through: 0, by: -1) {
        w += counts[low + i]; s += counts[low + i] * (low + i)
        weight2[i] = w; sum2[i] = s
    }
    var best = -Double.infinity
    var bestIndex = 0
    for i in 0..<(n - 1) {
        let mean1 = Double(sum1[i]) / Double(weight1[i])
        let mean2 = Double(sum2[i + 1]) / Double(weight2[i + 1])
        let d = mean1 - mean2
        let variance = Double(weight1[i] * weight2[i + 1]) * (d * d)
        if variance > best {
            best = variance
            bestIndex = i
        }
    }
    return low + bestIndex
}

/// Otsu's threshold of a one-channel 8- or 16-bit image (16-bit images use all 65536 bins, as
/// scikit-image does for integer images). Foreground is `value > threshold`.
///
/// - Throws: ``CVSegError/invalidArgument(_:)`` for a colour or empty image: convert colour
///   explicitly first (``Image/grayscale(weights:)``).
/// - Complexity: O(pixels + 2^bits).
@inlinable
public func otsuThreshold<Sample: PixelSample>(_ image: Image<Sample>) throws -> Sample {
    guard image.layout == .gray else {
        throw CVSegError.invalidArgument("Otsu's threshold needs a gray image, got \(image.layout); convert it first")
    }
    guard let t = otsuThreshold(histogram: histogram(image)) else {
        throw CVSegError.invalidArgument("Otsu's threshold of an empty image")
    }
    return Sample(t)
}

/// The binary mask of a one-channel image: `foreground` where `value > threshold`, else 0
/// (swapped when `invert` is true).
///
/// - Parameter foreground: the value of foreground pixels: 1 for a label mask, 255 for a
///   viewable 0/255 mask.
/// - Returns: a `.gray` `Image<UInt8>`, one byte per pixel (a ``LabelMap`` would take four;
///   `LabelMap(mask)` converts when labels are needed).
/// - Complexity: O(pixels).
@inlinable
public func binarize<Sample: PixelSample>(_ image: Image<Sample>, threshold: Sample, invert: Bool = false,
                                          foreground: UInt8 = 1) -> Image<UInt8> {
    precondition(image.layout == .gray, "binarize needs a one-channel image, got \(image.layout)")
    let above: UInt8 = invert ? 0 : foreground
    let below: UInt8 = invert ? foreground : 0
    let count = image.pixelCount
    let mask = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
        image.samples.withUnsafeBufferPointer { pixels in
            for i in 0..<count { out[i] = pixels[i] > threshold ? above : below }
        }
        initialized = count
    }
    return Image(width: image.width, height: image.height, layout: .gray, samples: mask)
}
