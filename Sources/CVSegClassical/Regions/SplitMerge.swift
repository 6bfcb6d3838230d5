import CVSegCore

/// The test a block or region must pass to count as homogeneous in
/// ``splitAndMerge(_:predicate:minBlock:)``.
public enum Homogeneity: Sendable {
    /// Population standard deviation of the gray values `<= threshold` (sample units).
    case standardDeviation(Double)
    /// `max − min` of the gray values `<= threshold` (sample units).
    case range(Double)
}

/// Split-and-merge segmentation of a gray image: a quadtree split into homogeneous blocks, then
/// merging of adjacent regions whose union is still homogeneous.
///
/// 1. **Split.** Starting from the whole image, a block that fails `predicate` is split; along x
///    when its width is `> minBlock`, along y when its height is `> minBlock` (both: 4 parts; one
///    axis only: 2 parts; neither: the block stays a leaf even though it fails). Odd sizes put the
///    extra column/row in the first half: a side `s` splits into `(s + 1) / 2` and `s / 2`. So a
///    block is only split across a side longer than `minBlock`, which lets `1×N` images split
///    along their long side.
/// 2. **Merge.** Leaves are ordered by `(y, x, area)` of their top-left corner. For each leaf in
///    that order, and for each leaf sharing an edge with it (4-adjacency) in the same order, the
///    two current regions containing them (a ``DisjointSet``) are merged when their union passes
///    `predicate`. Each region keeps count, sum, sum of squares, min and max, so a test is O(1).
/// 3. Regions are numbered `1...N` in raster order of their first pixel.
///
/// Every merged region (two or more leaves) passes `predicate`; a single-leaf region fails it
/// only when the leaf is at most `minBlock` on both sides.
///
/// - Parameters:
///   - image: `.gray` or `.grayAlpha` (alpha ignored). Colour images are rejected: convert to gray
///     first.
///   - predicate: the homogeneity test; its threshold must be finite and `>= 0`.
///   - minBlock: a block side must be `> minBlock` to be split across; `>= 1` (default 2).
/// - Returns: the label map, labels `1...N`, 0 only for an empty image.
/// - Throws: ``CVSegError/invalidArgument(_:)`` for a colour image, a negative or non-finite
///   threshold, or `minBlock < 1`.
/// - Complexity: O(N · D) time for the split (each level rescans its blocks; D ≤ log₂ of the
///   longest side), O(N + L α(L)) for the merge of L leaves. Memory: the 4-byte label map plus
///   16 bytes a leaf for the standard deviation of 8-bit samples (20 for 16-bit, 8 for the
///   range); the leaves' rectangles are read back from the label map rather than stored.
///
/// References: S. L. Horowitz, T. Pavlidis, "Picture segmentation by a tree traversal algorithm",
/// J. ACM 23(2), 1976.
@_specialize(where Sample == UInt8)
@_specialize(where Sample == UInt16)
public func splitAndMerge<Sample: PixelSample>(_ image: Image<Sample>, predicate: Homogeneity,
                                               minBlock: Int = 2) throws -> LabelMap
{
    guard image.layout.isGray else {
        throw CVSegError.invalidArgument("splitAndMerge: needs a gray image, got \(image.layout); convert to gray first")
    }
    let threshold: Double
    switch predicate {
    case .standardDeviation(let t), .range(let t): threshold = t
    }
    guard threshold.isFinite, threshold >= 0 else {
        throw CVSegError.invalidArgument("splitAndMerge: homogeneity threshold must be finite and >= 0, got \(threshold)")
    }
    guard minBlock >= 1 else {
        throw CVSegError.invalidArgument("splitAndMerge: minBlock must be >= 1, got \(minBlock)")
    }
    let width = image.width, height = image.height, n = image.pixelCount
    guard n > 0 else { return LabelMap(width: width, height: height) }
    guard n < Int(Int32.max) else {
        throw CVSegError.invalidArgument("splitAndMerge: \(width)x\(height) has too many pixels for 32-bit labels")
    }
    let stride = image.channels
    let useRange: Bool
    switch predicate {
    case .range: useRange = true
    case .standardDeviation: useRange = false
    }
    // Memory: the label map (4 bytes a pixel) doubles as the leaf map; per leaf only the merge's
    // statistics and union–find parent are kept (24 bytes for the standard deviation, 12 for the
    // range), no block list: a leaf's rectangle is read back from the leaf map when the merge
    // reaches it.
    var labels = [Int32](repeating: 0, count: n)

    // 1. Split: depth first; each leaf's pixels get its number in the order leaves are found.
    var leafCount = 0
    image.samples.withUnsafeBufferPointer { s in
        labels.withUnsafeMutableBufferPointer { l in
            var stack = [SMBlock(x: 0, y: 0, w: width, h: height)]
            while let b = stack.popLast() {
                var st = SMStats()
                for y in b.y..<(b.y + b.h) {
                    let row = y * width
                    for x in b.x..<(b.x + b.w) { st.add(UInt64(s[(row + x) * stride])) }
                }
                let splitX = b.w > minBlock, splitY = b.h > minBlock
                if st.passes(predicate, threshold) || (!splitX && !splitY) {
                    let leaf = Int32(leafCount)
                    for y in b.y..<(b.y + b.h) { for x in b.x..<(b.x + b.w) { l[y * width + x] = leaf } }
                    leafCount += 1
                    continue
                }
                let ws = splitX ? [(b.x, (b.w + 1) / 2), (b.x + (b.w + 1) / 2, b.w / 2)] : [(b.x, b.w)]
                let hs = splitY ? [(b.y, (b.h + 1) / 2), (b.y + (b.h + 1) / 2, b.h / 2)] : [(b.y, b.h)]
                for (y, h) in hs { for (x, w) in ws { stack.append(SMBlock(x: x, y: y, w: w, h: h)) } }
            }
        }
    }
    let leaves = leafCount

    // Leaves renumbered in raster order of their first (top-left) pixel, which is their
    // (y, x) order.
    do {
        var rank = [Int32](repeating: -1, count: leaves)
        var next: Int32 = 0
        labels.withUnsafeMutableBufferPointer { l in
            rank.withUnsafeMutableBufferPointer { r in
                for p in 0..<n {
                    let old = Int(l[p])
                    if r[old] < 0 { r[old] = next; next += 1 }
                    l[p] = r[old]
                }
            }
        }
    }

    // Each leaf's statistics, summed by runs along the rows: Σv and Σv² for the standard
    // deviation, min and max for the range.
    var moments = SMMoments(leaves: useRange ? 0 : leaves, sampleBits: Sample.bitWidth)
    var lows = [UInt16](repeating: .max, count: useRange ? leaves : 0)
    var highs = [UInt16](repeating: 0, count: useRange ? leaves : 0)
    // Union–find over the leaves: a parent's number, or at a root minus its pixel count.
    var parent = [Int32](repeating: 0, count: leaves)
    image.samples.withUnsafeBufferPointer { s in
        labels.withUnsafeBufferPointer { l in
            for y in 0..<height {
                var x = 0
                while x < width {
                    let p = y * width + x, leaf = Int(l[p])
                    var end = x + 1
                    while end < width && l[p + end - x] == leaf { end += 1 }
                    parent[leaf] -= Int32(end - x)
                    if useRange {
                        var lo = lows[leaf], hi = highs[leaf]
                        for q in p..<(p + end - x) { let v = UInt16(s[q * stride]); lo = min(lo, v); hi = max(hi, v) }
                        lows[leaf] = lo; highs[leaf] = hi
                    } else {
                        var sum: UInt64 = 0, square: UInt64 = 0
                        for q in p..<(p + end - x) { let v = UInt64(s[q * stride]); sum += v; square += v * v }
                        let m = moments[leaf]
                        moments[leaf] = (m.sum + sum, m.squares + square)
                    }
                    x = end
                }
            }
        }
    }

    // 2. Merge, leaves in (y, x) order; for each, its distinct 4-adjacent leaves in the same
    // order. A root's statistics are those of its whole region.
    var neighbours: [Int32] = []
    labels.withUnsafeBufferPointer { lf in
        parent.withUnsafeMutableBufferPointer { up in
            @inline(__always) func find(_ i: Int) -> Int {
                var i = i
                while up[i] >= 0 {
                    let p = Int(up[i])
                    if up[p] < 0 { return p }
                    up[i] = up[p]
                    i = Int(up[p])
                }
                return i
            }
            var leaf = 0
            for p in 0..<n where Int(lf[p]) == leaf {
                // p is the leaf's top-left pixel; its rectangle from the leaf map.
                let i = leaf
                leaf += 1
                let bx = p % width, by = p / width
                var bw = 1, bh = 1
                while bx + bw < width && Int(lf[p + bw]) == i { bw += 1 }
                while by + bh < height && Int(lf[p + bh * width]) == i { bh += 1 }
                neighbours.removeAll(keepingCapacity: true)
                // Right and bottom edges, plus left and top: every neighbour across the border.
                if bx + bw < width { for y in by..<(by + bh) { neighbours.append(lf[y * width + bx + bw]) } }
                if bx > 0 { for y in by..<(by + bh) { neighbours.append(lf[y * width + bx - 1]) } }
                if by + bh < height { for x in bx..<(bx + bw) { neighbours.append(lf[(by + bh) * width + x]) } }
                if by > 0 { for x in bx..<(bx + bw) { neighbours.append(lf[(by - 1) * width + x]) } }
                neighbours.sort()
                var previous: Int32 = -1
                for j in neighbours where j != previous {
                    previous = j
                    let ri = find(i), rj = find(Int(j))
                    if ri == rj { continue }
                    let count = UInt64(-Int64(up[ri]) - Int64(up[rj]))
                    var merged = (sum: UInt64(0), squares: UInt64(0))
                    if useRange {
                        guard Double(max(highs[ri], highs[rj]) - min(lows[ri], lows[rj])) <= threshold else { continue }
                    } else {
                        let (a, b) = (moments[ri], moments[rj])
                        merged = (a.sum + b.sum, a.squares + b.squares)
                        guard SMStats.varianceAtMost(threshold, count: count, sum: merged.sum, squares: merged.squares) else { continue }
                    }
                    // Union by pixel count (ties: the smaller leaf number stays root).
                    var (root, child) = (ri, rj)
                    if up[root] > up[child] || (up[root] == up[child] && child < root) { swap(&root, &child) }
                    up[root] += up[child]
                    up[child] = Int32(root)
                    if useRange {
                        lows[root] = min(lows[root], lows[child]); highs[root] = max(highs[root], highs[child])
                    } else {
                        moments[root] = merged
                    }
                }
            }
        }
    }
    moments = SMMoments(leaves: 0, sampleBits: Sample.bitWidth); lows = []; highs = []

    // 3. Regions numbered 1...N in raster order of their first pixel; the parent array becomes
    // the region number of each leaf's root.
    var region = [Int32](repeating: 0, count: leaves)
    var next: Int32 = 0
    labels.withUnsafeMutableBufferPointer { lf in
        parent.withUnsafeMutableBufferPointer { up in
            region.withUnsafeMutableBufferPointer { rg in
                for p in 0..<n {
                    var r = Int(lf[p])
                    while up[r] >= 0 { r = Int(up[r]) }
                    if rg[r] == 0 { next += 1; rg[r] = next }
                    lf[p] = rg[r]
                }
            }
        }
    }
    return LabelMap(width: width, height: height, labels: labels)
}

/// Σv and Σv² of each leaf, packed as the one integer `Σv² + Σv · 2^q` with `q = 31 + 2·bits`
/// (the sums of fewer than 2^31 samples of `bits` bits stay below `2^(31 + bits)` and
/// `2^(31 + 2·bits)`): 86 bits in three 32-bit words for 8-bit samples, 110 bits in four for
/// 16-bit ones, where two separate UInt64 would take 16 bytes.
private struct SMMoments {
    private let words: Int, shift: Int
    private var storage: [UInt32]

    init(leaves: Int, sampleBits: Int) {
        shift = 31 + 2 * sampleBits
        words = (shift + 31 + sampleBits + 31) / 32
        storage = [UInt32](repeating: 0, count: leaves * words)
    }

    subscript(i: Int) -> (sum: UInt64, squares: UInt64) {
        get {
            var packed: UInt128 = 0
            for w in (0..<words).reversed() { packed = packed << 32 | UInt128(storage[i * words + w]) }
            return (UInt64(packed >> shift), UInt64(packed & (UInt128(1) << shift - 1)))
        }
        set {
            var packed = UInt128(newValue.squares) | UInt128(newValue.sum) << shift
            for w in 0..<words {
                storage[i * words + w] = UInt32(truncatingIfNeeded: packed)
                packed >>= 32
            }
        }
    }
}

/// A pixel rectangle of the split quadtree.
private struct SMBlock { var x: Int, y: Int, w: Int, h: Int }

/// Count, sum, sum of squares, min and max of a region's gray values (exact integers).
private struct SMStats {
    var count: UInt64 = 0, sum: UInt64 = 0, sumSquares: UInt64 = 0
    var minimum: UInt64 = .max, maximum: UInt64 = 0

    mutating func add(_ v: UInt64) {
        count += 1; sum += v; sumSquares += v * v
        minimum = min(minimum, v); maximum = max(maximum, v)
    }

    /// Whether the region passes the test. The variance times `count²` is
    /// `count·Σv² − (Σv)²`, computed exactly in 128 bits, then compared with `t²·count²`.
    func passes(_ predicate: Homogeneity, _ t: Double) -> Bool {
        switch predicate {
        case .range:
            return Double(maximum - minimum) <= t
        case .standardDeviation:
            if minimum == maximum { return true }
            return Self.varianceAtMost(t, count: count, sum: sum, squares: sumSquares)
        }
    }

    /// Whether `count` values with sum `sum` and sum of squares `squares` have a population
    /// standard deviation `<= t`, exactly as ``passes(_:_:)`` decides it.
    static func varianceAtMost(_ t: Double, count: UInt64, sum: UInt64, squares sumSquares: UInt64) -> Bool {
        let a = count.multipliedFullWidth(by: sumSquares), b = sum.multipliedFullWidth(by: sum)
        // a - b as a 128-bit unsigned difference (a >= b by Cauchy–Schwarz).
        let (low, borrow) = a.low.subtractingReportingOverflow(b.low)
        let high = a.high - b.high - (borrow ? 1 : 0)
        let scaledVariance = Double(high) * 18446744073709551616.0 + Double(low)
        let c = Double(count)
        return scaledVariance <= t * t * c * c
    }
}
