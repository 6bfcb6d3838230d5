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
///   longest side), O(N + L α(L)) for the merge of L leaves; memory O(N).
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
    let stride = image.channels

    // 1. Split.
    var leaves: [SMBlock] = []
    var leafStats: [SMStats] = []
    image.samples.withUnsafeBufferPointer { s in
        func stats(_ b: SMBlock) -> SMStats {
            var st = SMStats()
            for y in b.y..<(b.y + b.h) {
                let row = y * width
                for x in b.x..<(b.x + b.w) { st.add(UInt64(s[(row + x) * stride])) }
            }
            return st
        }
        var stack = [SMBlock(x: 0, y: 0, w: width, h: height)]
        while let b = stack.popLast() {
            let st = stats(b)
            let splitX = b.w > minBlock, splitY = b.h > minBlock
            if st.passes(predicate, threshold) || (!splitX && !splitY) {
                leaves.append(b); leafStats.append(st)
                continue
            }
            let ws = splitX ? [(b.x, (b.w + 1) / 2), (b.x + (b.w + 1) / 2, b.w / 2)] : [(b.x, b.w)]
            let hs = splitY ? [(b.y, (b.h + 1) / 2), (b.y + (b.h + 1) / 2, b.h / 2)] : [(b.y, b.h)]
            for (y, h) in hs { for (x, w) in ws { stack.append(SMBlock(x: x, y: y, w: w, h: h)) } }
        }
    }

    // 2. Merge, leaves in (y, x, area) order.
    let order = leaves.indices.sorted {
        let a = leaves[$0], b = leaves[$1]
        return (a.y, a.x, a.w * a.h) < (b.y, b.x, b.w * b.h)
    }
    leaves = order.map { leaves[$0] }
    var regionStats = order.map { leafStats[$0] }
    var leafOf = [Int32](repeating: 0, count: n)
    for (i, b) in leaves.enumerated() {
        for y in b.y..<(b.y + b.h) { for x in b.x..<(b.x + b.w) { leafOf[y * width + x] = Int32(i) } }
    }
    // Each leaf's neighbours (sorted, distinct) are gathered when the merge reaches it: they
    // depend on the leaves only, not on the merges so far, and no per-leaf list is stored.
    var sets = DisjointSet(count: leaves.count)
    var neighbours: [Int32] = []
    leafOf.withUnsafeBufferPointer { lf in
        for i in leaves.indices {
            let b = leaves[i]
            neighbours.removeAll(keepingCapacity: true)
            // Right and bottom edges, plus left and top: every neighbour across the border.
            if b.x + b.w < width { for y in b.y..<(b.y + b.h) { neighbours.append(lf[y * width + b.x + b.w]) } }
            if b.x > 0 { for y in b.y..<(b.y + b.h) { neighbours.append(lf[y * width + b.x - 1]) } }
            if b.y + b.h < height { for x in b.x..<(b.x + b.w) { neighbours.append(lf[(b.y + b.h) * width + x]) } }
            if b.y > 0 { for x in b.x..<(b.x + b.w) { neighbours.append(lf[(b.y - 1) * width + x]) } }
            neighbours.sort()
            var previous: Int32 = -1
            for j in neighbours where j != previous {
                previous = j
                let ri = sets.find(i), rj = sets.find(Int(j))
                if ri == rj { continue }
                let merged = regionStats[ri].union(regionStats[rj])
                if merged.passes(predicate, threshold) {
                    let root = sets.union(ri, rj)
                    regionStats[root] = merged
                }
            }
        }
    }

    // 3. Relabel in raster order of first pixel.
    // In place: the leaf map becomes the label map.
    var finalLabel = [Int32](repeating: 0, count: leaves.count)
    var next: Int32 = 0
    leafOf.withUnsafeMutableBufferPointer { lf in
        for p in 0..<n {
            let r = sets.find(Int(lf[p]))
            if finalLabel[r] == 0 { next += 1; finalLabel[r] = next }
            lf[p] = finalLabel[r]
        }
    }
    return LabelMap(width: width, height: height, labels: leafOf)
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

    func union(_ o: SMStats) -> SMStats {
        SMStats(count: count + o.count, sum: sum + o.sum, sumSquares: sumSquares + o.sumSquares,
                minimum: min(minimum, o.minimum), maximum: max(maximum, o.maximum))
    }

    /// Whether the region passes the test. The variance times `count²` is
    /// `count·Σv² − (Σv)²`, computed exactly in 128 bits, then compared with `t²·count²`.
    func passes(_ predicate: Homogeneity, _ t: Double) -> Bool {
        switch predicate {
        case .range:
            return Double(maximum - minimum) <= t
        case .standardDeviation:
            if minimum == maximum { return true }
            let a = count.multipliedFullWidth(by: sumSquares), b = sum.multipliedFullWidth(by: sum)
            // a - b as a 128-bit unsigned difference (a >= b by Cauchy–Schwarz).
            let (low, borrow) = a.low.subtractingReportingOverflow(b.low)
            let high = a.high - b.high - (borrow ? 1 : 0)
            let scaledVariance = Double(high) * 18446744073709551616.0 + Double(low)
            let c = Double(count)
            return scaledVariance <= t * t * c * c
        }
    }
}
