import CVSegCore

/// Counts of each sample value of a one-channel image: `counts[v]` is the number of pixels of
/// value `v`, for `v` in `0...Sample.max` (256 bins for 8-bit, 65536 for 16-bit).
/// - Precondition: `image.layout == .gray`.
/// - Complexity: O(pixels + 2^bits).
@inlinable
public func histogram<Sample: PixelSample>(_ image: Image<Sample>) -> [Int] {
    precondition(image.layout == .gray, "histogram needs a one-channel image, got \(image.layout)")
    if Sample.self == UInt8.self {
        return image.samples.withUnsafeBufferPointer { pixels in
            pixels.withMemoryRebound(to: UInt8.self) { byteHistogram($0) }
        }
    }
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

/// The 256-bin histogram of bytes: eight pixels per 64-bit load, spread over four 32-bit
/// sub-histograms (runs of equal pixels then update different counters, so the increments do
/// not wait on each other), summed at the end. Chunks of at most 2^31 pixels keep the 32-bit
/// counters from overflowing.
@usableFromInline
func byteHistogram(_ pixels: UnsafeBufferPointer<UInt8>) -> [Int] {
    var counts = [Int](repeating: 0, count: 256)
    guard let base = pixels.baseAddress else { return counts }
    let raw = UnsafeRawPointer(base)
    var sub = [UInt32](repeating: 0, count: 4 * 256)
    sub.withUnsafeMutableBufferPointer { bins in
        let b = bins.baseAddress!
        var start = 0
        while start < pixels.count {
            let end = min(pixels.count, start + (1 << 31))
            var i = start
            while i + 8 <= end {
                let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                b[Int(truncatingIfNeeded: w & 0xFF)] &+= 1
                b[256 + Int(truncatingIfNeeded: (w >> 8) & 0xFF)] &+= 1
                b[512 + Int(truncatingIfNeeded: (w >> 16) & 0xFF)] &+= 1
                b[768 + Int(truncatingIfNeeded: (w >> 24) & 0xFF)] &+= 1
                b[Int(truncatingIfNeeded: (w >> 32) & 0xFF)] &+= 1
                b[256 + Int(truncatingIfNeeded: (w >> 40) & 0xFF)] &+= 1
                b[512 + Int(truncatingIfNeeded: (w >> 48) & 0xFF)] &+= 1
                b[768 + Int(truncatingIfNeeded: w >> 56)] &+= 1
                i += 8
            }
            while i < end {
                b[Int(base[i])] &+= 1
                i += 1
            }
            for v in 0..<256 {
                counts[v] += Int(b[v]) + Int(b[256 + v]) + Int(b[512 + v]) + Int(b[768 + v])
                b[v] = 0; b[256 + v] = 0; b[512 + v] = 0; b[768 + v] = 0
            }
            start = end
        }
    }
    return counts
}
