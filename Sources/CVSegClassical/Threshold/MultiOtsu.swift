import CVSegCore

/// Multi-level Otsu thresholds of a histogram, step for step as scikit-image's
/// `threshold_multiotsu` (its look-up-table path): probabilities and moments in Float32,
/// an exhaustive search over threshold combinations in lexicographic order, the first of equal
/// maxima kept. The numbers are scikit-image's exactly (scripts/reference/THRESHOLDS.md).
///
/// - Parameters:
///   - counts: `counts[v]` = pixels of value `v`; only the span from the lowest to the highest
///     occupied value is searched, as scikit-image does for integer images.
///   - classes: number of classes K ≥ 2 (K − 1 thresholds).
/// - Returns: K − 1 increasing thresholds. A pixel belongs to class `#{t : value > t}`.
/// - Throws: ``CVSegError/invalidArgument(_:)`` when the image has fewer distinct values than
///   classes, or the span is too wide for the exhaustive search (over 4096 values: a 16-bit
///   image with a wide range; the search grows as span^(K−1)).
/// - Complexity: O(span²) memory and O(span^(K−1)) time.
///
/// References: P.-S. Liao, T.-S. Chen, P.-C. Chung, "A Fast Algorithm for Multilevel
/// Thresholding", J. Inf. Sci. Eng. 17(5), 2001.
public func multiOtsuThresholds(histogram full: [Int], classes: Int) throws -> [Int] {
    guard classes >= 2 else { throw CVSegError.invalidArgument("multi-level Otsu needs at least 2 classes, not \(classes)") }
    guard let low = full.firstIndex(where: { $0 > 0 }), let high = full.lastIndex(where: { $0 > 0 }) else {
        throw CVSegError.invalidArgument("multi-level Otsu of an empty image")
    }
    let counts = Array(full[low...high])
    let nbins = counts.count
    guard nbins <= 4096 else {
        throw CVSegError.invalidArgument("the image spans \(nbins) gray values; multi-level Otsu searches at most 4096 (rescale it to 8 bits)")
    }
    let total = Double(counts.reduce(0, +))
    let prob = counts.map { Float(Double($0) / total) }
    let occupied = prob.indices.filter { prob[$0] != 0 }
    guard occupied.count >= classes else {
        throw CVSegError.invalidArgument("the image has \(occupied.count) gray values, fewer than the \(classes) classes asked for")
    }
    let m = classes - 1
    if occupied.count == classes { return occupied.dropLast().map { low + $0 } }
    // Cumulative zeroth and first moments (scikit-image starts the first moment at prob[0]).
    var p = [Float](repeating: 0, count: nbins), s = [Float](repeating: 0, count: nbins)
    p[0] = prob[0]; s[0] = prob[0]
    for i in 1..<nbins {
        p[i] = p[i - 1] + prob[i]
        s[i] = s[i - 1] + Float(i) * prob[i]
    }
    // H(i, j): the between-class term of the class spanning bins i...j, row-major upper triangle.
    var lut = [Float](repeating: 0, count: nbins * nbins)
    for j in 1..<nbins where p[j] > 0 { lut[j] = (s[j] * s[j]) / p[j] }
    for i in 1..<nbins {
        for j in i..<nbins {
            let pij = p[j] - p[i - 1]
            if pij > 0 {
                let sij = s[j] - s[i - 1]
                lut[i * nbins + j] = (sij * sij) / pij
            }
        }
    }
    // Enumerate t0 < t1 < … in lexicographic order (an odometer), summing in scikit-image's order.
    var current = Array(0..<m), best = current
    var bestSigma: Float = 0
    lut.withUnsafeBufferPointer { h in
        current.withUnsafeMutableBufferPointer { t in
            while true {
                var sigma = h[t[0]] + h[(t[m - 1] + 1) * nbins + nbins - 1]
                var c = 0
                while c < m - 1 {
                    sigma = sigma + h[(t[c] + 1) * nbins + t[c + 1]]
                    c += 1
                }
                if sigma > bestSigma {
                    bestSigma = sigma
                    for i in 0..<m { best[i] = t[i] }
                }
                // Next combination: bump the last index that can still move, reset those after it.
                var k = m - 1
                while k >= 0 && t[k] == nbins - m + k - 1 { k -= 1 }
                if k < 0 { break }
                t[k] += 1
                for j in (k + 1)..<max(m, k + 1) { t[j] = t[j - 1] + 1 }
            }
        }
    }
    return best.map { low + $0 }
}

/// Labels each pixel of a one-channel image by multi-level thresholds: label = number of
/// thresholds the value is above (`value > t`), 0...K−1. (scikit-image's example uses
/// `np.digitize`, which puts a pixel equal to a threshold in the upper class; cvseg keeps the
/// single-threshold rule `value > t` for every level.)
@_specialize(where Sample == UInt8)
@_specialize(where Sample == UInt16)
public func multiThresholdLabels<Sample: PixelSample>(_ image: Image<Sample>, thresholds: [Int]) -> Image<UInt8> {
    precondition(image.layout == .gray, "labels need a one-channel image")
    precondition(thresholds.count < 256, "at most 255 thresholds")
    // A lookup table over the sample range (256 entries for 8-bit, 65536 for 16-bit: cheaper
    // than a binary search per pixel on any image of more than a few hundred pixels).
    let size = Int(Sample.max) + 1
    var table = [UInt8](repeating: 0, count: size)
    for t in thresholds where t + 1 < size {
        for v in max(t + 1, 0)..<size { table[v] &+= 1 }
    }
    let count = image.pixelCount
    let out = [UInt8](unsafeUninitializedCapacity: count) { o, initialized in
        table.withUnsafeBufferPointer { lut in
            image.samples.withUnsafeBufferPointer { px in
                for i in 0..<count { o[i] = lut[Int(px[i])] }
            }
        }
        initialized = count
    }
    return Image(width: image.width, height: image.height, layout: .gray, samples: out)
}
