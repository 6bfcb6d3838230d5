import CVSegCore

/// Felzenszwalb–Huttenlocher graph-based segmentation, step for step as scikit-image 0.26's
/// `skimage.segmentation.felzenszwalb(image, scale, sigma, min_size)`, whose labels it
/// reproduces exactly (checked against scikit-image on the fixture images).
///
/// 1. Samples become float64 in [0, 1] as `img_as_float` makes them (`v · (1/255)` for 8-bit,
///    `v · (1/65535)` for 16-bit).
/// 2. Each channel is smoothed with ``gaussianFilter(_:width:height:channels:sigma:truncate:)``
///    (SciPy's `gaussian_filter`: reflect border, truncate 4).
/// 3. The graph is the 8-connected grid; an edge's weight is the Euclidean distance between the
///    smoothed colours of its ends. Edges are visited by increasing weight, ties in the order
///    right, down, down-right, up-right neighbours, each raster ordered (a stable sort of
///    scikit-image's edge list).
/// 4. Two components A, B joined by an edge of weight `w` merge when
///    `w < min(Int(A) + k/|A|, Int(B) + k/|B|)`, with `k = scale / 255`, `Int` the largest
///    weight merged into the component so far, and each threshold rounded to Float (32-bit) as
///    scikit-image's Cython code does.
/// 5. A second pass over the same edges merges any two components of which one has fewer
///    than `minSize` pixels.
/// 6. Labels are `0..<n`, numbered in raster order of each segment's first pixel.
///
/// Deviations from the paper: `k` is called `scale` and divided by 255 (scikit-image's
/// convention, so `scale` means what `k` means for 0–255 images); colour images are segmented
/// once on the colour distance rather than per channel and intersected; the merge test is
/// strict (`<`). Alpha is ignored: an RGBA image is segmented on its RGB, a gray+alpha image on
/// its gray (scikit-image would treat alpha as one more colour channel).
///
/// - Parameters:
///   - image: gray or RGB(A), 8- or 16-bit.
///   - scale: the paper's `k`, > 0 (for 0–255 intensities). Larger means fewer, larger segments.
///   - sigma: the standard deviation of the pre-smoothing in pixels, >= 0 (0: no smoothing).
///   - minSize: segments smaller than this are merged into a neighbour, >= 0.
/// - Returns: the segment labels, `0..<n`; an empty map for an empty image.
/// - Throws: ``CVSegError/invalidArgument(_:)`` for `scale <= 0`, `sigma < 0`, non-finite
///   `scale` or `sigma`, or `minSize < 0`.
/// - Complexity: O(p · r) smoothing (r: kernel radius) and O(p log p) for sorting the 4p edges
///   of p pixels; union–find is near linear. Memory: about 99 bytes a pixel (float64 smoothed
///   image, sorted edges, union–find); above 2^24 pixels a streaming path gives the same labels
///   in about 2 bytes a pixel plus the 4-byte label map, by sweeping the image once for each
///   chunk of edges (slower: about 100 sweeps).
///
/// References: P. F. Felzenszwalb, D. P. Huttenlocher, "Efficient graph-based image
/// segmentation", International Journal of Computer Vision 59(2), 2004.
@_specialize(where Sample == UInt8)
@_specialize(where Sample == UInt16)
public func felzenszwalb<Sample: PixelSample>(_ image: Image<Sample>, scale: Double = 1, sigma: Double = 0.8,
                                              minSize: Int = 20) throws -> LabelMap {
    guard scale.isFinite, scale > 0 else {
        throw CVSegError.invalidArgument("felzenszwalb: scale must be finite and > 0, got \(scale)")
    }
    guard sigma.isFinite, sigma >= 0 else {
        throw CVSegError.invalidArgument("felzenszwalb: sigma must be finite and >= 0, got \(sigma)")
    }
    guard minSize >= 0 else {
        throw CVSegError.invalidArgument("felzenszwalb: minSize must be >= 0, got \(minSize)")
    }
    let width = image.width, height = image.height, n = width * height
    if n == 0 { return LabelMap(width: width, height: height) }
    guard n < 1 << 30 else {
        throw CVSegError.invalidArgument("felzenszwalb: \(width)x\(height) has more than 2^30 pixels")
    }
    if n > felzenszwalbStreamingPixels {
        return try felzenszwalbStreaming(image, scale: scale, sigma: sigma, minSize: minSize)
    }
    let channels = image.layout.isGray ? 1 : 3
    let smooth = try gaussianFilter(unitFloats(image, channels: channels), width: width, height: height,
                                    channels: channels, sigma: sigma)
    var edges = SortedEdges(smooth, width: width, height: height, channels: channels)
    // Union–find: each element's parent, and at roots the set's size and largest merged weight,
    // side by side so that a root's data share its cache line (the loops below are bound by
    // cache misses on large images).
    var nodes = [UnionFindNode](unsafeUninitializedCapacity: n) { b, c in
        for i in 0..<n { b[i] = UnionFindNode(parent: Int32(i), size: 1, inner: 0) }
        c = n
    }
    let k = scale / 255
    nodes.withUnsafeMutableBufferPointer { node in
        @inline(__always) func find(_ i: Int32) -> Int32 {
            var i = Int(i)
            while Int(node[i].parent) != i {
                let grandparent = node[Int(node[i].parent)].parent
                node[i].parent = grandparent
                i = Int(grandparent)
            }
            return Int32(i)
        }
        @inline(__always) func union(_ a: Int32, _ b: Int32) -> Int {
            var (ra, rb) = (Int(a), Int(b))
            if node[ra].size < node[rb].size || (node[ra].size == node[rb].size && rb < ra) { swap(&ra, &rb) }
            node[rb].parent = Int32(ra)
            node[ra].size += node[rb].size
            return ra
        }
        edges.forEach { p, q, w in
            let a = find(p), b = find(q)
            if a == b { return }
            let (na, nb) = (node[Int(a)], node[Int(b)])
            let ta = Double(Float(na.inner + k / Double(na.size)))
            let tb = Double(Float(nb.inner + k / Double(nb.size)))
            if w < min(ta, tb) { node[union(a, b)].inner = w }
        }
        edges.forEach { p, q, _ in
            let a = find(p), b = find(q)
            if a != b, Int(node[Int(a)].size) < minSize || Int(node[Int(b)].size) < minSize { _ = union(a, b) }
        }
    }
    edges = SortedEdges()
    // Labels in raster order of each segment's first pixel; a root's `size` field is reused for
    // its label.
    var labels = [Int32](repeating: 0, count: n)
    var next: Int32 = 0
    nodes.withUnsafeMutableBufferPointer { node in
        for i in 0..<n where Int(node[i].parent) == i { node[i].size = -1 }
        for p in 0..<n {
            var r = p
            while Int(node[r].parent) != r { r = Int(node[r].parent) }
            node[p].parent = Int32(r)
            if node[r].size < 0 { node[r].size = next; next += 1 }
            labels[p] = node[r].size
        }
    }
    return LabelMap(width: width, height: height, labels: labels)
}

/// Above this many pixels (4096², where the whole-image path's ~99 bytes a pixel reach 1.6 GB)
/// ``felzenszwalb(_:scale:sigma:minSize:)`` runs
/// ``felzenszwalbStreaming(_:scale:sigma:minSize:chunkEdges:)``: the same labels in about 2
/// bytes a pixel besides the label map, by sweeping the image again for each chunk of edges
/// (about 100 sweeps; 2–3× the time of the whole-image path on 4096² and 8192² photos).
let felzenszwalbStreamingPixels = 1 << 24

/// A union–find element of ``felzenszwalb(_:scale:sigma:minSize:)``: its parent and, at roots,
/// the set's size and largest merged weight.
struct UnionFindNode { var parent: Int32; var size: Int32; var inner: Double }

/// The first `channels` channels of every pixel as `Double(v) * (1 / max)`, interleaved.
@_specialize(where Sample == UInt8)
@_specialize(where Sample == UInt16)
private func unitFloats<Sample: PixelSample>(_ image: Image<Sample>, channels: Int) -> [Double] {
    let unit = 1.0 / Double(Sample.max)
    let n = image.pixelCount, stride = image.channels
    return [Double](unsafeUninitializedCapacity: n * channels) { out, initialized in
        image.samples.withUnsafeBufferPointer { s in
            for p in 0..<n {
                for c in 0..<channels { out[p * channels + c] = Double(s[p * stride + c]) * unit }
            }
        }
        initialized = n * channels
    }
}

/// The 8-connected grid graph's edges sorted by weight (ties in edge order), each stored as its
/// weight's bit pattern and `p << 2 | direction`, the other end following from the direction.
///
/// Edge order is scikit-image's: all right neighbours (raster order), then all down, down-right
/// and up-right ones; the weight is the Euclidean distance of the smoothed colours, summed over
/// the channels left to right as numpy does.
struct SortedEdges {
    private(set) var keys: [UInt64] = []
    private(set) var ends: [UInt32] = []
    private var offsets: (Int32, Int32, Int32, Int32) = (0, 0, 0, 0)

    init() {}

    init(_ v: [Double], width: Int, height: Int, channels: Int) {
        let w = width, h = height
        let m = h * (w - 1) + (h - 1) * w + 2 * (h - 1) * (w - 1)
        // Direction d: the edge joins p and p + offset[d]: right (p = q + 1, so −1), down (−w),
        // down-right (−w − 1), up-right (p = q − w + 1 seen from the lower-left pixel q: +w − 1).
        offsets = (-1, Int32(-w), Int32(-w - 1), Int32(w - 1))
        var keys = [UInt64](repeating: 0, count: m), ends = [UInt32](repeating: 0, count: m)
        v.withUnsafeBufferPointer { v in
            keys.withUnsafeMutableBufferPointer { keys in
                ends.withUnsafeMutableBufferPointer { ends in
                    var e = 0
                    @inline(__always) func add(_ p: Int, _ q: Int, _ d: UInt32) {
                        var s = 0.0
                        for c in 0..<channels {
                            let diff = v[p * channels + c] - v[q * channels + c]
                            s += diff * diff
                        }
                        keys[e] = s.squareRoot().bitPattern
                        ends[e] = UInt32(p) << 2 | d
                        e += 1
                    }
                    if w > 1 { for y in 0..<h { for x in 0..<(w - 1) { add(y * w + x + 1, y * w + x, 0) } } }
                    for y in 0..<max(0, h - 1) { for x in 0..<w { add((y + 1) * w + x, y * w + x, 1) } }
                    if w > 1 {
                        for y in 0..<max(0, h - 1) { for x in 0..<(w - 1) { add((y + 1) * w + x + 1, y * w + x, 2) } }
                        for y in 0..<max(0, h - 1) { for x in 0..<(w - 1) { add(y * w + x + 1, (y + 1) * w + x, 3) } }
                    }
                }
            }
        }
        Self.stableSort(&keys, &ends)
        self.keys = keys
        self.ends = ends
    }

    /// Calls `body(p, q, weight)` for every edge in sorted order.
    @inline(__always)
    func forEach(_ body: (Int32, Int32, Double) -> Void) {
        let o = [offsets.0, offsets.1, offsets.2, offsets.3]
        keys.withUnsafeBufferPointer { keys in
            ends.withUnsafeBufferPointer { ends in
                o.withUnsafeBufferPointer { o in
                    for i in 0..<keys.count {
                        let p = Int32(ends[i] >> 2)
                        body(p, p + o[Int(ends[i] & 3)], Double(bitPattern: keys[i]))
                    }
                }
            }
        }
    }

    /// Sorts `keys` (bit patterns of non-negative doubles, which order like the values) and
    /// carries `values` along, stably. An LSD radix sort on the keys rounded to Float (two 16-bit
    /// passes, each skipped when its digit is the same for every key); rounding is monotone, so
    /// only keys that round to the same Float can still be out of order, and an insertion sort
    /// of each such run by the full key finishes the job. O(n) in practice, where a comparison
    /// sort was 40% of the segmentation's time and a 4-pass radix sort on the doubles 20%.
    static func stableSort(_ keys: inout [UInt64], _ values: inout [UInt32]) {
        let n = keys.count
        var keys2 = [UInt64](repeating: 0, count: n), values2 = [UInt32](repeating: 0, count: n)
        keys.withUnsafeMutableBufferPointer { k in
            values.withUnsafeMutableBufferPointer { v in
                keys2.withUnsafeMutableBufferPointer { k2 in
                    values2.withUnsafeMutableBufferPointer { v2 in
                        guard let k = k.baseAddress, let v = v.baseAddress, let k2 = k2.baseAddress, let v2 = v2.baseAddress else { return }
                        stableSort(k, v, count: n, scratchKeys: k2, scratchValues: v2)
                    }
                }
            }
        }
    }

    /// ``stableSort(_:_:)`` on `count` keys and values in place, with scratch room for as many
    /// (its contents are lost).
    static func stableSort(_ keysIn: UnsafeMutablePointer<UInt64>, _ valuesIn: UnsafeMutablePointer<UInt32>, count n: Int,
                           scratchKeys: UnsafeMutablePointer<UInt64>, scratchValues: UnsafeMutablePointer<UInt32>) {
        @inline(__always) func coarse(_ key: UInt64) -> UInt32 { Float(Double(bitPattern: key)).bitPattern }
        var (k, v, k2, v2) = (keysIn, valuesIn, scratchKeys, scratchValues)
        var counts = [Int](repeating: 0, count: 1 << 16)
        for pass in 0..<2 where n > 0 {
            let shift = UInt32(16 * pass)
            let first = coarse(k[0]) >> shift & 0xFFFF
            var same = true
            for i in 0..<n where coarse(k[i]) >> shift & 0xFFFF != first { same = false; break }
            if same { continue }
            counts.withUnsafeMutableBufferPointer { c in
                for i in 0..<c.count { c[i] = 0 }
                for i in 0..<n { c[Int(coarse(k[i]) >> shift & 0xFFFF)] += 1 }
                var total = 0
                for i in 0..<c.count { let v = c[i]; c[i] = total; total += v }
                for i in 0..<n {
                    let digit = Int(coarse(k[i]) >> shift & 0xFFFF)
                    let at = c[digit]
                    c[digit] = at + 1
                    k2[at] = k[i]
                    v2[at] = v[i]
                }
            }
            swap(&k, &k2)
            swap(&v, &v2)
        }
        if k != keysIn {
            keysIn.update(from: k, count: n)
            valuesIn.update(from: v, count: n)
            k = keysIn; v = valuesIn
        }
        // Runs of equal coarse keys: sorted by the full key, stably (insertion sort for short
        // runs; smooth images can make long runs, which get an O(L log L) sort by (key, position)).
        var start = 0
        while start < n {
            let c = coarse(k[start])
            var end = start + 1
            while end < n && coarse(k[end]) == c { end += 1 }
            var sorted = true
            for i in (start + 1)..<max(start + 1, end) where k[i] < k[i - 1] { sorted = false; break }
            if sorted {
                // Already in order (every key equal, typically): nothing to do.
            } else if end - start <= 32 {
                for i in (start + 1)..<max(start + 1, end) where k[i] < k[i - 1] {
                    let (key, value) = (k[i], v[i])
                    var j = i
                    while j > start && k[j - 1] > key {
                        k[j] = k[j - 1]; v[j] = v[j - 1]
                        j -= 1
                    }
                    k[j] = key; v[j] = value
                }
            } else {
                var run = (start..<end).map { (k[$0], $0, v[$0]) }
                run.sort { ($0.0, $0.1) < ($1.0, $1.1) }
                for (offset, item) in run.enumerated() { k[start + offset] = item.0; v[start + offset] = item.2 }
            }
            start = end
        }
    }
}
