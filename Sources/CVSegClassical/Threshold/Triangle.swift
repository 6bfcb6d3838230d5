import CVSegCore

/// The triangle threshold of a histogram, step for step as scikit-image's `threshold_triangle`
/// on integer images: the line from the histogram's peak to the far end of its longer tail, and
/// the level whose bin lies furthest below that line (the first one on ties). Foreground is
/// `value > threshold`.
///
/// - Parameter counts: `counts[v]` = pixels of value `v`.
/// - Returns: the threshold; nil for an empty histogram; the single occupied value for a
///   constant image.
/// - Complexity: O(counts.count).
///
/// References: G. W. Zack, W. E. Rogers, S. A. Latt, "Automatic measurement of sister chromatid
/// exchange frequency", J. Histochem. Cytochem. 25(7), 1977.
public func triangleThreshold(histogram full: [Int]) -> Int? {
    guard let low = full.firstIndex(where: { $0 > 0 }), let high = full.lastIndex(where: { $0 > 0 }) else { return nil }
    if low == high { return low }
    // scikit-image's histogram of an integer image spans its lowest to highest value.
    var hist = Array(full[low...high])
    let nbins = hist.count
    var argPeak = hist.indices.max { hist[$0] < hist[$1] }! // the first of equal peaks, as np.argmax
    let peakHeight = hist[argPeak]
    var argLow = 0
    let argHigh = nbins - 1
    let flip = argPeak - argLow < argHigh - argPeak
    if flip {
        hist.reverse()
        argLow = nbins - argHigh - 1
        argPeak = nbins - argPeak - 1
    }
    let width = argPeak - argLow
    let norm = Double(peakHeight * peakHeight + width * width).squareRoot()
    let p = Double(peakHeight) / norm, wn = Double(width) / norm
    var best = -Double.infinity, argLevel = argLow
    for x in 0..<width {
        let length = p * Double(x) - wn * Double(hist[x + argLow])
        if length > best { best = length; argLevel = x + argLow }
    }
    if flip { argLevel = nbins - argLevel - 1 }
    return low + argLevel
}

/// ``triangleThreshold(histogram:)`` of a one-channel image.
/// - Throws: ``CVSegError/invalidArgument(_:)`` for a colour or empty image.
public func triangleThreshold<Sample: PixelSample>(_ image: Image<Sample>) throws -> Sample {
    guard image.layout == .gray else {
        throw CVSegError.invalidArgument("the triangle threshold needs a gray image, got \(image.layout); convert it first")
    }
    guard let t = triangleThreshold(histogram: histogram(image)) else {
        throw CVSegError.invalidArgument("the triangle threshold of an empty image")
    }
    return Sample(t)
}
