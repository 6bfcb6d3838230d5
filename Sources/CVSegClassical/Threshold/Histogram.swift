import CVSegCore

/// Counts of each sample value of a one-channel image: `counts[v]` is the number of pixels of
/// value `v`, for `v` in `0...Sample.max` (256 bins for 8-bit, 65536 for 16-bit).
/// - Precondition: `image.layout == .gray`.
/// - Complexity: O(pixels + 2^bits).
@inlinable
public func histogram<Sample: PixelSample>(_ image: Image<Sample>) -> [Int] {
    precondition(image.layout == .gray, "histogram needs a one-channel image, got \(image.layout)")
    let binCount = Int(Sample.max) + 1
    // Four interleaved sub-histograms: runs of equal pixels then update different counters, so
    // the increments do not wait on each other (about 2x faster on flat document scans).
    var counts = [Int](repeating: 0, count: 4 * binCount)
    counts.withUnsafeMutableBufferPointer { bins in
        image.samples.withUnsafeBufferPointer { pixels in
            let n = pixels.count
            var i = 0
            while i + 4 <= n {
                bins[Int(pixels[i])] &+= 1
                bins[binCount + Int(pixels[i + 1])] &+= 1
                bins[2 * binCount + Int(pixels[i + 2])] &+= 1
                bins[3 * binCount + Int(pixels[i + 3])] &+= 1
                i += 4
            }
            while i < n {
                bins[Int(pixels[i])] &+= 1
                i += 1
            }
            for v in 0..<binCount {
                bins[v] = bins[v] &+ bins[binCount + v] &+ bins[2 * binCount + v] &+ bins[3 * binCount + v]
            }
        }
    }
    counts.removeSubrange(binCount...)
    return counts
}
