import CVSegCore

/// Which neighbours of a pixel touch it.
public enum Connectivity: Sendable, Equatable, Hashable {
    /// The 4 edge neighbours (scipy's cross structure, OpenCV `connectivity=4`).
    case four
    /// The 8 edge and corner neighbours (scipy's 3×3 structure, OpenCV `connectivity=8`).
    case eight
}

/// An axis-aligned pixel rectangle: top-left pixel `(x, y)`, size `width` × `height` pixels
/// (OpenCV's `CC_STAT_LEFT/TOP/WIDTH/HEIGHT`: the box holds columns `x ..< x + width`).
public struct ComponentBox: Sendable, Equatable, Hashable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
}

/// A point in pixel coordinates: `x` the column, `y` the row (pixel centres at integers).
public struct ComponentCentroid: Sendable, Equatable, Hashable {
    public var x: Double, y: Double
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

/// Statistics of one connected component.
public struct ComponentStats: Sendable, Equatable {
    /// The component's label in the label map, 1...N.
    public let label: Int32
    /// Number of pixels.
    public let area: Int
    /// The smallest rectangle holding every pixel.
    public let box: ComponentBox
    /// The mean column and mean row of the pixels.
    public let centroid: ComponentCentroid

    public init(label: Int32, area: Int, box: ComponentBox, centroid: ComponentCentroid) {
        self.label = label; self.area = area; self.box = box; self.centroid = centroid
    }
}

/// Pass 1 and the resolution of the two-pass labelling: provisional labels in `labels` (0 on
/// the background) and each provisional label's final label (`final[0]` = 0), components
/// numbered in raster order of their first pixel.
private func provisionalComponents(_ mask: Image<UInt8>, eight: Bool) throws -> (labels: [Int32], final: [Int32], components: Int) {
    let width = mask.width, height = mask.height, count = mask.pixelCount
    var labels = [Int32](repeating: 0, count: count)
    // parent[0] is unused (background); provisional labels are 1, 2, ... in the order created.
    var parent: [Int32] = [0]

    // Pass 1: provisional labels and equivalences.
    /// The root of `a`, halving the path on the way.
    func find(_ a: Int32, _ p: inout [Int32]) -> Int32 {
        var a = Int(a)
        while Int(p[a]) != a {
            p[a] = p[Int(p[a])]
            a = Int(p[a])
        }
        return Int32(a)
    }
    /// `label` joined with the neighbour label `n` (0: none): the smaller root of their sets.
    func merge(_ label: Int32, _ n: Int32, _ p: inout [Int32]) -> Int32 {
        if n == 0 || n == label { return label }
        if label == 0 { return n }
        let ra = find(label, &p), rb = find(n, &p)
        if ra < rb { p[Int(rb)] = ra; return ra }
        p[Int(ra)] = rb
        return rb
    }
    try mask.samples.withUnsafeBufferPointer { src in
        try labels.withUnsafeMutableBufferPointer { lab in
            for y in 0..<height {
                let row = y * width
                for x in 0..<width where src[row + x] != 0 {
                    // Neighbours already visited: left, and (above-left), above, (above-right).
                    var label: Int32 = x > 0 ? lab[row + x - 1] : 0
                    if y > 0 {
                        let up = row - width + x
                        label = merge(label, lab[up], &parent)
                        if eight {
                            if x > 0 { label = merge(label, lab[up - 1], &parent) }
                            if x + 1 < width { label = merge(label, lab[up + 1], &parent) }
                        }
                    }
                    if label == 0 {
                        guard parent.count <= Int(Int32.max) else {
                            throw CVSegError.invalidArgument("too many components for Int32 labels")
                        }
                        label = Int32(parent.count)
                        parent.append(label)
                    }
                    lab[row + x] = label
                }
            }
        }
    }

    // Resolve: each provisional label's final label. A component's smallest provisional label is
    // the one its first pixel (in raster order) created, and unions keep the smaller root, so
    // numbering the roots in increasing order numbers components in raster order of first pixel.
    let provisional = parent.count
    var final = [Int32](repeating: 0, count: provisional)
    var components: Int32 = 0
    parent.withUnsafeMutableBufferPointer { p in
        final.withUnsafeMutableBufferPointer { f in
            for i in 1..<max(provisional, 1) {
                let r = p[i]
                if Int(r) == i {
                    components += 1
                    f[i] = components
                } else {
                    // r < i, and f[r] is already the final label of r's root (its parent chain
                    // only points to smaller labels, all resolved before i).
                    f[i] = f[Int(r)]
                }
            }
        }
    }
    parent = []

    return (labels, final, Int(components))
}

/// The labels of ``connectedComponents(_:connectivity:)`` without the statistics, and their
/// number: the same numbering, less work and no per-component arrays.
/// - Throws: as ``connectedComponents(_:connectivity:)``.
public func connectedComponentLabels(_ mask: Image<UInt8>, connectivity: Connectivity = .eight) throws -> (labels: LabelMap, count: Int) {
    guard mask.layout == .gray else {
        throw CVSegError.invalidArgument("connected components need a one-channel mask, got \(mask.layout)")
    }
    var (labels, final, components) = try provisionalComponents(mask, eight: connectivity == .eight)
    labels.withUnsafeMutableBufferPointer { lab in
        final.withUnsafeBufferPointer { f in
            for i in 0..<lab.count { lab[i] = f[Int(lab[i])] }
        }
    }
    return (LabelMap(width: mask.width, height: mask.height, labels: labels), components)
}

/// Labels the connected components of the foreground (nonzero) pixels of a binary mask.
///
/// Background pixels get 0; the components get 1...N **in raster order of their first pixel**
/// (the first foreground pixel met scanning rows top to bottom, each row left to right). This is
/// `scipy.ndimage.label`'s numbering (with `generate_binary_structure(2, 1)` for `.four`, `(2, 2)`
/// for `.eight`) and OpenCV's `connectedComponents` with `CCL_WU` or `CCL_SAUF`, and with
/// `CCL_DEFAULT` for 4-connectivity. OpenCV's `CCL_DEFAULT` for 8-connectivity (Spaghetti, a
/// 2×2-block algorithm, like `CCL_GRANA`/`CCL_BBDT`/`CCL_BOLELLI`) finds the same components but
/// may number them differently: it orders them by the first 2×2 block, not the first pixel.
/// scripts/reference/regions_reference.py records both checks.
///
/// The statistics match `cv2.connectedComponentsWithStats` (area, box, centroid), in this
/// function's numbering: `stats[i]` describes label `i + 1`.
///
/// - Parameters:
///   - mask: a one-channel 8-bit image; every nonzero sample is foreground.
///   - connectivity: `.eight` (default) or `.four`.
/// - Returns: the label map (same size as `mask`) and one ``ComponentStats`` per component.
/// - Throws: ``CVSegError/invalidArgument(_:)`` for a mask with more than one channel, or with
///   more components than `Int32` can number.
/// - Complexity: O(pixels) time (two-pass labelling with a union-find equivalence table, union by
///   smaller label and path halving, so every find is near-constant, then a relabelling pass
///   that also gathers the statistics). Memory: the `Int32` label map (4 bytes per pixel), the
///   equivalence table (one `Int32` per provisional label: at most one per run of foreground
///   pixels that touches no run above it, so at most half the pixels, and far fewer on real
///   masks), and O(components) for the statistics.
///
/// References: A. Rosenfeld, J. L. Pfaltz, "Sequential operations in digital picture
/// processing", J. ACM 13(4), 1966 (two-pass labelling); K. Wu, E. Otoo, K. Suzuki, "Optimizing
/// two-pass connected-component labeling algorithms", Pattern Anal. Appl. 12, 2009 (the
/// union-find table).
public func connectedComponents(_ mask: Image<UInt8>, connectivity: Connectivity = .eight) throws
    -> (labels: LabelMap, stats: [ComponentStats])
{
    guard mask.layout == .gray else {
        throw CVSegError.invalidArgument("connected components need a one-channel mask, got \(mask.layout)")
    }
    let width = mask.width, height = mask.height
    var (labels, final, n) = try provisionalComponents(mask, eight: connectivity == .eight)

    // Pass 2: final labels and statistics.
    var area = [Int](repeating: 0, count: n), sumX = [Int](repeating: 0, count: n), sumY = [Int](repeating: 0, count: n)
    var minX = [Int](repeating: Int.max, count: n), minY = [Int](repeating: Int.max, count: n)
    var maxX = [Int](repeating: -1, count: n), maxY = [Int](repeating: -1, count: n)
    labels.withUnsafeMutableBufferPointer { lab in
        final.withUnsafeBufferPointer { f in
            for y in 0..<height {
                let row = y * width
                for x in 0..<width where lab[row + x] != 0 {
                    let l = f[Int(lab[row + x])]
                    lab[row + x] = l
                    let k = Int(l) - 1
                    area[k] += 1; sumX[k] += x; sumY[k] += y
                    if x < minX[k] { minX[k] = x }
                    if x > maxX[k] { maxX[k] = x }
                    if y < minY[k] { minY[k] = y }
                    maxY[k] = y
                }
            }
        }
    }
    var stats = [ComponentStats]()
    stats.reserveCapacity(n)
    for k in 0..<n {
        stats.append(ComponentStats(
            label: Int32(k + 1), area: area[k],
            box: ComponentBox(x: minX[k], y: minY[k], width: maxX[k] - minX[k] + 1, height: maxY[k] - minY[k] + 1),
            centroid: ComponentCentroid(x: Double(sumX[k]) / Double(area[k]), y: Double(sumY[k]) / Double(area[k]))))
    }
    return (LabelMap(width: width, height: height, labels: labels), stats)
}

/// Renumbers the nonzero labels of a label map 1...N **in raster order of first appearance**
/// (the first label met scanning rows top to bottom, each row left to right, becomes 1); 0 stays
/// 0. Every other value, negative ones and ``LabelMap/ignoreLabel`` included, is an ordinary label.
///
/// This differs from `skimage.segmentation.relabel_sequential`, which numbers labels in
/// increasing order of their *values*; both give consecutive labels, and they agree whenever the
/// values already increase in raster order (as the output of ``connectedComponents(_:connectivity:)``
/// does, which this function leaves unchanged).
///
/// - Complexity: O(pixels), plus a lookup table of O(max label − min label) `Int32`s when that
///   span is at most `max(pixels, 65536)`, else a hash table of O(distinct labels).
public func relabelSequential(_ labels: LabelMap) -> LabelMap {
    let count = labels.labels.count
    guard count > 0 else { return labels }
    var low = Int32.max, high = Int32.min
    labels.labels.withUnsafeBufferPointer { src in
        for i in 0..<count {
            let v = src[i]
            if v < low { low = v }
            if v > high { high = v }
        }
    }
    let span = Int(high) - Int(low) + 1
    var next: Int32 = 1
    let out: [Int32]
    if span <= max(count, 65536) {
        // table[v - low]: the new label of v, 0 while unseen (new labels start at 1).
        var table = [Int32](repeating: 0, count: span)
        out = [Int32](unsafeUninitializedCapacity: count) { dst, initialized in
            labels.labels.withUnsafeBufferPointer { src in
                table.withUnsafeMutableBufferPointer { t in
                    for i in 0..<count {
                        let v = src[i]
                        if v == 0 { dst[i] = 0; continue }
                        let j = Int(v) - Int(low)
                        if t[j] == 0 { t[j] = next; next += 1 }
                        dst[i] = t[j]
                    }
                }
            }
            initialized = count
        }
    } else {
        var table = [Int32: Int32]()
        out = labels.labels.map { v in
            if v == 0 { return 0 }
            if let l = table[v] { return l }
            table[v] = next
            next += 1
            return next - 1
        }
    }
    return LabelMap(width: labels.width, height: labels.height, labels: out)
}
