import CVSegCore

/// Counts of each sample value of a one-channel image: `counts[v]` is the number of pixels of
/// value `v`, for `v` in `0...Sample.max` (256 bins for 8-bit, 65536 for 16-bit).
/// - Precondition: `image.layout == .gray`.
/// - Complexity: O(pixels + 2^bits).
public func histogram<Sample: PixelSample>(_ image: Image<Sample>) -> [Int] {
    precondition(image.layout == .gray, "histogram needs a one-channel image, got \(image.layout)")
    var counts = [Int](repeating: 0, count: Int(Sample.max) + 1)
    counts.withUnsafeMutableBufferPointer { bins in
        image.samples.withUnsafeBufferPointer { pixels in
            for v in pixels { bins[Int(v)] &+= 1 }
        }
    }
    return counts
}
