import CVSegCore

/// When ``mergeRegions(_:initial:stop:boundaryWeight:)`` stops merging.
public enum MergeStop: Sendable {
    /// Merge while the smallest dissimilarity between adjacent regions is `<= t` (finite, `>= 0`).
    case threshold(Double)
    /// Merge until this many regions remain (`>= 1`); never fewer than one region results.
    case regionCount(Int)
}

/// The regions ``mergeRegions(_:initial:stop:boundaryWeight:)`` starts from.
public enum InitialRegions: Sendable {
    /// Every pixel is a region.
    case pixels
    /// Square cells of this side (`>= 1`), aligned at the top-left corner; the last column and row
    /// of cells are cut by the image border.
    case grid(Int)
    /// The regions of a label map the size of the image (e.g. ``felzenszwalb(_:scale:sigma:minSize:)``'s
    /// result). Each distinct label value is one region **as given**: a label whose pixels are not
    /// connected is still one region (with one mean), adjacent to everything any of its parts
    /// touches. Label values need not be positive or contiguous.
    case labels(LabelMap)
}

/// Region merging on a region adjacency graph (RAG): starting from `initial`, the most similar
/// pair of adjacent regions is merged until `stop`.
///
/// **Regions and ids.** The initial regions get ids `0, 1, 2, …` in raster order of their first
/// pixel (for `.pixels` the id is the pixel index; for `.grid` it is the cell index in raster
/// order; for `.labels` the order in which label values are first met in raster order). Two
/// regions are adjacent when some pixel of one is a 4-neighbour (left, right, up, down) of a pixel
/// of the other.
///
/// **Dissimilarity.** For adjacent regions A and B,
///
///     D(A, B) = ‖μ_A − μ_B‖ · (1 + boundaryWeight · ḡ_AB / 255)
///
/// where μ is a region's mean colour (the gray value for `.gray`/`.grayAlpha`, the RGB vector for
/// `.rgb`/`.rgba`; alpha is ignored), ‖·‖ the Euclidean norm, in sample units, and ḡ_AB the mean,
/// over every 4-adjacent pixel pair (p ∈ A, q ∈ B) of their shared boundary, of the colour step
/// ‖I(p) − I(q)‖ (the gradient magnitude across the boundary, as a forward difference). The 255 is
/// fixed, also for 16-bit images. With `boundaryWeight = 0` (default) D is the plain mean-colour
/// distance. Note that D is 0 whenever the means are equal, whatever the boundary: the edge term
/// scales the colour distance, it does not replace it.
///
/// **Order (deterministic).** Candidate pairs sit in a binary min-heap keyed by
/// `(D, min id, max id)`, compared lexicographically: equal D is broken by the smaller pair of
/// region ids. The pair popped first is merged; the merged region keeps the **smaller** id (so
/// later ties see that id), its mean is the pixel-weighted mean of the two, and its boundary with
/// each neighbour C is the union of A's and B's boundaries with C (sums and pair counts add).
/// Fresh entries are pushed for the merged region and each neighbour; entries of a merged-away or
/// changed region are left in the heap and skipped when popped (lazy deletion: each entry carries
/// the version counters its two regions had when it was pushed, and a region's counter increases
/// at every merge it survives).
///
/// **Stop.** `.threshold(t)`: merging stops when the smallest D exceeds `t` (pairs with `D <= t`
/// merge, in the order above, with D recomputed after each merge). `.regionCount(k)`: merging
/// stops when `k` regions remain; if `k` is at least the initial count nothing is merged. Since
/// the pixel grid is 4-connected, merging can always continue down to one region.
///
/// - Parameters:
///   - image: any layout (alpha ignored), 8- or 16-bit.
///   - initial: the starting regions; `.grid(s)` needs `s >= 1`, `.labels(m)` a map of the
///     image's size.
///   - stop: `.threshold(t)` with `t` finite and `>= 0`, or `.regionCount(k)` with `k >= 1`.
///   - boundaryWeight: finite, `>= 0` (default 0: no boundary term).
/// - Returns: the label map, labels `1...N` numbered in raster order of each final region's first
///   pixel; an empty map for an empty image.
/// - Throws: ``CVSegError/invalidArgument(_:)`` for a grid side `< 1`, a label map whose size
///   differs from the image's, a negative or non-finite threshold, a region count `< 1`, or a
///   negative or non-finite `boundaryWeight`.
/// - Complexity: for N pixels, R initial regions and E initial adjacent pairs: O(N) to build the
///   graph, then O((E + M) log(E + M)) heap work, where M is the number of entries pushed after
///   merges (the merged region's degree, summed over merges); hash-map adjacency. Memory
///   O(N + R + E + M).
///
/// References: T. Pavlidis, "Structural Pattern Recognition", Springer 1977 (region merging);
/// K. Haris, S. N. Efstratiadis, N. Maglaveras, A. K. Katsaggelos, "Hybrid image segmentation
/// using watersheds and fast region merging", IEEE TIP 7(12), 1998 (RAG merging with a priority
/// queue); scikit-image `skimage.graph.merge_hierarchical` (mean-colour RAG merging).
public func mergeRegions<Sample: PixelSample>(_ image: Image<Sample>, initial: InitialRegions, stop: MergeStop,
                                              boundaryWeight: Double = 0) throws -> LabelMap
{
    let width = image.width, height = image.height, n = image.pixelCount
    // Validate everything before any work.
    switch initial {
    case .pixels: break
    case .grid(let side):
        guard side >= 1 else {
            throw CVSegError.invalidArgument("mergeRegions: grid cell side must be >= 1, got \(side)")
        }
    case .labels(let map):
        guard map.width == width, map.height == height else {
            throw CVSegError.invalidArgument(
                "mergeRegions: label map is \(map.width)x\(map.height), image is \(width)x\(height); they must be the same size")
        }
    }
    switch stop {
    case .threshold(let t):
        guard t.isFinite, t >= 0 else {
            throw CVSegError.invalidArgument("mergeRegions: threshold must be finite and >= 0, got \(t)")
        }
    case .regionCount(let k):
        guard k >= 1 else {
            throw CVSegError.invalidArgument("mergeRegions: region count must be >= 1, got \(k)")
        }
    }
    guard boundaryWeight.isFinite, boundaryWeight >= 0 else {
        throw CVSegError.invalidArgument("mergeRegions: boundaryWeight must be finite and >= 0, got \(boundaryWeight)")
    }
    guard n > 0 else { return LabelMap(width: width, height: height) }

    // 1. Initial region ids, raster order of first pixel.
    var id = [Int32](repeating: 0, count: n)
    var regionCount = 0
    switch initial {
    case .pixels:
        for p in 0..<n { id[p] = Int32(p) }
        regionCount = n
    case .grid(let side):
        let cols = (width + side - 1) / side
        for y in 0..<height {
            for x in 0..<width { id[y * width + x] = Int32((y / side) * cols + x / side) }
        }
        regionCount = cols * ((height + side - 1) / side)
    case .labels(let map):
        var idOfLabel: [Int32: Int32] = [:]
        for p in 0..<n {
            let l = map.labels[p]
            if let r = idOfLabel[l] {
                id[p] = r
            } else {
                let r = Int32(regionCount)
                idOfLabel[l] = r
                id[p] = r
                regionCount += 1
            }
        }
    }

    // 2. Region statistics and the adjacency graph with boundary sums.
    let channels = image.layout.isGray ? 1 : 3, stride = image.channels
    var sums = [Double](repeating: 0, count: regionCount * channels)
    var counts = [Int](repeating: 0, count: regionCount)
    var adjacency = [[Int32: RMBoundary]](repeating: [:], count: regionCount)
    image.samples.withUnsafeBufferPointer { s in
        func step(_ p: Int, _ q: Int) -> Double {
            if channels == 1 { return abs(Double(s[p * stride]) - Double(s[q * stride])) }
            var d2 = 0.0
            for c in 0..<channels {
                let d = Double(s[p * stride + c]) - Double(s[q * stride + c])
                d2 += d * d
            }
            return d2.squareRoot()
        }
        func link(_ p: Int, _ q: Int) {
            let a = id[p], b = id[q]
            if a == b { return }
            let g = step(p, q)
            adjacency[Int(a)][b, default: RMBoundary()].add(g, 1)
            adjacency[Int(b)][a, default: RMBoundary()].add(g, 1)
        }
        for y in 0..<height {
            for x in 0..<width {
                let p = y * width + x
                let r = Int(id[p])
                counts[r] += 1
                for c in 0..<channels { sums[r * channels + c] += Double(s[p * stride + c]) }
                if x + 1 < width { link(p, p + 1) }
                if y + 1 < height { link(p, p + width) }
            }
        }
    }

    // 3. Merge.
    var version = [UInt32](repeating: 0, count: regionCount)
    var alive = [Bool](repeating: true, count: regionCount)
    var mergedInto = [Int32](repeating: -1, count: regionCount)
    func dissimilarity(_ a: Int, _ b: Int, _ boundary: RMBoundary) -> Double {
        let ia = 1 / Double(counts[a]), ib = 1 / Double(counts[b])
        var d2 = 0.0
        for c in 0..<channels {
            let d = sums[a * channels + c] * ia - sums[b * channels + c] * ib
            d2 += d * d
        }
        let d = d2.squareRoot()
        if boundaryWeight == 0 { return d }
        return d * (1 + boundaryWeight * (boundary.sum / Double(boundary.count)) / 255)
    }
    var heap = RMHeap()
    func push(_ a: Int, _ b: Int, _ boundary: RMBoundary) {
        let lo = min(a, b), hi = max(a, b)
        heap.push(RMEntry(d: dissimilarity(a, b, boundary), a: Int32(lo), b: Int32(hi),
                          va: version[lo], vb: version[hi]))
    }
    for a in 0..<regionCount {
        for (b, boundary) in adjacency[a] where Int(b) > a { push(a, Int(b), boundary) }
    }
    var remaining = regionCount
    while true {
        if case .regionCount(let k) = stop, remaining <= k { break }
        guard let e = heap.pop() else { break }
        let a = Int(e.a), b = Int(e.b)
        guard alive[a], alive[b], version[a] == e.va, version[b] == e.vb else { continue }
        if case .threshold(let t) = stop, e.d > t { break }
        // Merge b into a (a < b keeps its id).
        for c in 0..<channels { sums[a * channels + c] += sums[b * channels + c] }
        counts[a] += counts[b]
        alive[b] = false
        mergedInto[b] = Int32(a)
        version[a] &+= 1
        remaining -= 1
        var adjA = adjacency[a], adjB = adjacency[b]
        adjacency[a] = [:]; adjacency[b] = [:]
        adjA[Int32(b)] = nil
        adjB[Int32(a)] = nil
        for (c, boundary) in adjB {
            adjA[c, default: RMBoundary()].add(boundary.sum, boundary.count)
            adjacency[Int(c)][Int32(b)] = nil
        }
        for (c, boundary) in adjA {
            adjacency[Int(c)][Int32(a)] = boundary
            push(a, Int(c), boundary)
        }
        adjacency[a] = adjA
    }

    // 4. Relabel 1...N in raster order of first pixel.
    // A region only merges into a smaller id, so ascending order resolves every chain in O(R).
    var finalOf = [Int32](repeating: -1, count: regionCount)
    for r in 0..<regionCount { finalOf[r] = alive[r] ? Int32(r) : finalOf[Int(mergedInto[r])] }
    var number = [Int32](repeating: 0, count: regionCount)
    var next: Int32 = 0
    var labels = [Int32](repeating: 0, count: n)
    for p in 0..<n {
        let r = Int(finalOf[Int(id[p])])
        if number[r] == 0 { next += 1; number[r] = next }
        labels[p] = number[r]
    }
    return LabelMap(width: width, height: height, labels: labels)
}

// MARK: - Helpers

/// The shared boundary of two regions: the sum of the colour steps across it and the number of
/// 4-adjacent pixel pairs on it.
private struct RMBoundary {
    var sum = 0.0
    var count = 0
    mutating func add(_ s: Double, _ c: Int) { sum += s; count += c }
}

/// A candidate merge: regions `a < b` with dissimilarity `d`, valid while both versions match.
private struct RMEntry {
    var d: Double
    var a: Int32, b: Int32
    var va: UInt32, vb: UInt32
}

/// Merge candidates, smallest `(d, a, b)` first.
private typealias RMHeap = MinHeap<RMEntry>

extension RMEntry: Comparable {
    static func < (x: RMEntry, y: RMEntry) -> Bool {
        if x.d != y.d { return x.d < y.d }
        if x.a != y.a { return x.a < y.a }
        return x.b < y.b
    }
    static func == (x: RMEntry, y: RMEntry) -> Bool { x.d == y.d && x.a == y.a && x.b == y.b }
}
