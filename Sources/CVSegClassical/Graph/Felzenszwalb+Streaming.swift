import CVSegCore
#if canImport(Glibc)
import Glibc
#endif

/// ``felzenszwalb(_:scale:sigma:minSize:)`` for large images: the same labels, bit for bit, in
/// about 7 bytes a pixel with the 8-bit image and the label map (gray), where the whole-image
/// path keeps a float64 smoothed image and four sorted edges a pixel (about 99 bytes).
///
/// What is kept: the union–find parent of every pixel (`Int32`, which finally becomes the label
/// map), and for the components of two or more pixels their size and merge threshold
/// `Float(Int(C) + k/|C|)` (all the merge test needs of `Int(C)`; updated at each merge), in a
/// side table of 8 bytes a live component — on photos at most about one for every eight pixels.
/// What is recomputed instead of stored: the smoothed rows (``GaussianRows``) and the edge
/// weights, by sweeps over the image. The edges are visited in the whole-image path's order —
/// weight, then direction, then position — a range of weights at a time: a sweep counts the edges
/// in 2^20 weight buckets, consecutive buckets are grouped into chunks that fit the memory left
/// (`budget` below, at most `chunkEdges` edges), and each chunk is collected by one more sweep,
/// sorted and merged; a bucket with more edges is counted again at a finer resolution, and a
/// single weight value with more edges is visited by four sweeps, one per direction, in position
/// order, without storing it. The second pass (`minSize`) visits only the edges between
/// different components, the same way.
///
/// - Complexity: O(p · (r + S)) for S sweeps, about 32 · 4p / (2p − side table) + 1 per pass.
func felzenszwalbStreaming<Sample: PixelSample>(_ image: Image<Sample>, scale: Double, sigma: Double, minSize: Int,
                                                chunkEdges: Int = .max) throws -> LabelMap {
    let width = image.width, height = image.height, n = width * height
    precondition(n > 0 && n < 1 << 30 && chunkEdges > 0)
    let channels = image.layout.isGray ? 1 : 3
    var labels = [Int32](repeating: -1, count: n)
    let rows = try GaussianRows(image, channels: channels, sigma: sigma)
    let k = scale / 255
    // A one-pixel component's threshold: Float(0 + k/1).
    let single = Double(Float(k))
    labels.withUnsafeMutableBufferPointer { up in
        guard let up = up.baseAddress else { return }
        let forest = ComponentForest(parents: up, count: n)
        // Before each chunk the side table is compacted if half its slots are free; the chunk
        // then gets what is left of `budget` bytes once the table's resident slots are counted:
        // 32 bytes an edge (12 for the edge, 12 for the sort's copy, 8 for the slot its merge
        // may take), never less than 2^16 edges.
        let budget = 2 * n
        var sweeps = EdgeSweeps(rows) {
            forest.compactIfSparse()
            return min(chunkEdges, max(1 << 16, (budget - forest.residentBytes) / 32))
        }
        sweeps.visitSorted(keep: { _, _ in true }) { p, q, w in
            let a = forest.find(p), b = forest.find(q)
            if a == b { return }
            let ta = forest.threshold(a, single: single), tb = forest.threshold(b, single: single)
            if w < min(ta, tb) {
                let root = forest.union(a, b)
                forest.setThreshold(root, Float(w + k / Double(forest.size(root))))
            }
        }
        if minSize > 1 {
            forest.flatten()
            forest.compact()
            sweeps.visitSorted(keep: { p, q in forest.find(p) != forest.find(q) }) { p, q, _ in
                let a = forest.find(p), b = forest.find(q)
                if a != b, forest.size(a) < minSize || forest.size(b) < minSize { _ = forest.union(a, b) }
            }
        }
        forest.relabel()
    }
    return LabelMap(width: width, height: height, labels: labels)
}

/// Union–find over pixels for ``felzenszwalbStreaming(_:scale:sigma:minSize:chunkEdges:)``.
/// `parents[i] >= 0`: i's parent; `-1`: a one-pixel component; `-2 - s`: a root whose size and
/// threshold are in slot `s` of the side table. Freed slots are chained through their size
/// field. The side table is allocated for the worst case (n / 2 components of two or more
/// pixels) but only the slots in use are touched, so only they become resident; when half of
/// them are free the live ones move to a fresh table and the old one is released.
private final class ComponentForest {
    struct Slot { var size: Int32; var threshold: Float }
    let parents: UnsafeMutablePointer<Int32>
    let count: Int
    private var table: PagedBuffer<Slot>
    private var slots: UnsafeMutablePointer<Slot> { table.base }
    private var used = 0, freeCount = 0, free: Int32 = -1

    /// The side table's slots ever touched, in bytes: what it keeps resident.
    var residentBytes: Int { used * MemoryLayout<Slot>.stride }

    init(parents: UnsafeMutablePointer<Int32>, count: Int) {
        self.parents = parents
        self.count = count
        table = PagedBuffer(count: count / 2 + 1)
    }

    @inline(__always) func find(_ i: Int) -> Int {
        var i = i
        while parents[i] >= 0 {
            let p = Int(parents[i]), g = parents[p]
            if g < 0 { return p }
            parents[i] = g
            i = Int(g)
        }
        return i
    }

    @inline(__always) func size(_ root: Int) -> Int {
        let code = parents[root]
        return code == -1 ? 1 : Int(slots[Int(-2 - code)].size)
    }

    /// The root's merge threshold; `single` for a one-pixel component.
    @inline(__always) func threshold(_ root: Int, single: Double) -> Double {
        let code = parents[root]
        return code == -1 ? single : Double(slots[Int(-2 - code)].threshold)
    }

    /// Sets the threshold of a root of two or more pixels.
    @inline(__always) func setThreshold(_ root: Int, _ t: Float) { slots[Int(-2 - parents[root])].threshold = t }

    /// Joins two roots.
    /// - Returns: the root of the union.
    func union(_ a: Int, _ b: Int) -> Int {
        let ca = parents[a], cb = parents[b]
        if ca == -1 && cb == -1 {
            let slot: Int
            if free >= 0 { slot = Int(free); free = slots[slot].size; freeCount -= 1 } else { slot = used; used += 1 }
            slots[slot] = Slot(size: 2, threshold: 0)
            parents[a] = Int32(-2 - slot)
            parents[b] = Int32(a)
            return a
        }
        // The root with a slot (the larger one when both have) stays root.
        var (root, child) = (a, b)
        if ca == -1 || (cb != -1 && slots[Int(-2 - cb)].size > slots[Int(-2 - ca)].size) { swap(&root, &child) }
        let slot = Int(-2 - parents[root])
        if parents[child] == -1 {
            slots[slot].size += 1
        } else {
            let other = Int(-2 - parents[child])
            slots[slot].size += slots[other].size
            slots[other].size = free
            free = Int32(other)
            freeCount += 1
        }
        parents[child] = Int32(root)
        return root
    }

    /// Points every element straight at its root.
    func flatten() {
        for i in 0..<count where parents[i] >= 0 { parents[i] = Int32(find(i)) }
    }

    /// ``compact()`` when at least half of the touched slots are free and they are worth a pass
    /// over the parents (more than count / 64 bytes).
    func compactIfSparse() {
        if freeCount * 2 >= used && freeCount * MemoryLayout<Slot>.stride > count / 64 { compact() }
    }

    /// Moves the live slots to a fresh side table and releases the old one.
    func compact() {
        let fresh = PagedBuffer<Slot>(count: count / 2 + 1)
        var next = 0
        for i in 0..<count where parents[i] <= -2 {
            fresh.base[next] = slots[Int(-2 - parents[i])]
            parents[i] = Int32(-2 - next)
            next += 1
        }
        table = fresh
        used = next; free = -1; freeCount = 0
    }

    /// Replaces the forest by the labels `0..<m`, numbered in raster order of each component's
    /// first pixel.
    func relabel() {
        flatten()
        // Roots become "unlabelled", then get `-1 - label` in order of their first pixel; other
        // elements then take their root's label, and roots last.
        for i in 0..<count where parents[i] < 0 { parents[i] = Int32.min }
        var next: Int32 = 0
        for i in 0..<count {
            let r = parents[i] >= 0 ? Int(parents[i]) : i
            if parents[r] == Int32.min { parents[r] = -1 - next; next += 1 }
        }
        for i in 0..<count where parents[i] >= 0 { parents[i] = -1 - parents[Int(parents[i])] }
        for i in 0..<count where parents[i] < 0 { parents[i] = -1 - parents[i] }
    }
}

/// The 8-connected grid's edges of ``GaussianRows``' smoothed image, visited in sorted order by
/// sweeps (see ``felzenszwalbStreaming(_:scale:sigma:minSize:chunkEdges:)``). An edge is
/// `(key, tag)`: its weight's bit pattern (non-negative doubles order like their bits) and
/// `direction << 30 | p`, the direction as in ``SortedEdges`` (right, down, down-right, up-right)
/// and p the end whose partner is `p + offsets[direction]`.
private struct EdgeSweeps<Sample: PixelSample> {
    var rows: GaussianRows<Sample>
    let offsets: [Int]
    /// How many edges a chunk may hold now (the memory left to chunks changes as components
    /// form); called once before each chunk is planned, and free to tidy memory first.
    let capacity: () -> Int

    init(_ rows: GaussianRows<Sample>, capacity: @escaping () -> Int) {
        self.rows = rows
        self.capacity = capacity
        let w = rows.width
        offsets = [-1, -w, -w - 1, w - 1]
    }

    /// Calls `body(key, direction, p)` for every edge: row by row, in each row the right edges,
    /// then those down, down-right and up-right to the next row.
    @inline(__always)
    mutating func sweep(_ body: (UInt64, Int, Int) -> Void) {
        let w = rows.width, h = rows.height, c = rows.channels
        var upper = UnsafeMutablePointer<Double>.allocate(capacity: w * c)
        var lower = UnsafeMutablePointer<Double>.allocate(capacity: w * c)
        let keys = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, w))
        defer { upper.deallocate(); lower.deallocate(); keys.deallocate() }
        // Weights of one direction into `keys`: the distance from u[x + du] to v[x + dv]
        // (numpy's order: squares summed over the channels left to right, then the root).
        @inline(__always) func weights(_ u: UnsafeMutablePointer<Double>, _ du: Int,
                                       _ v: UnsafeMutablePointer<Double>, _ dv: Int, count: Int) {
            if c == 1 {
                // √(d·d) is |d| exactly unless d·d is subnormal (|d| < 2^-511): |d|, vectorised,
                // and the root where some |d| is that small.
                var tiny = false
                for x in 0..<count {
                    let d = (u[x + du] - v[x + dv]).magnitude
                    keys[x] = d.bitPattern
                    tiny = tiny || (d < 0x1p-500 && d != 0)
                }
                if tiny {
                    for x in 0..<count { let d = u[x + du] - v[x + dv]; keys[x] = (d * d).squareRoot().bitPattern }
                }
            } else {
                for x in 0..<count {
                    var s = 0.0
                    for ch in 0..<c { let d = u[(x + du) * c + ch] - v[(x + dv) * c + ch]; s += d * d }
                    keys[x] = s.squareRoot().bitPattern
                }
            }
        }
        rows.row(0, into: upper)
        for y in 0..<h {
            let row = y * w
            weights(upper, 1, upper, 0, count: w - 1)
            for x in 0..<max(0, w - 1) { body(keys[x], 0, row + x + 1) }
            if y + 1 < h {
                rows.row(y + 1, into: lower)
                weights(lower, 0, upper, 0, count: w)
                for x in 0..<w { body(keys[x], 1, row + w + x) }
                weights(lower, 1, upper, 0, count: w - 1)
                for x in 0..<max(0, w - 1) { body(keys[x], 2, row + w + x + 1) }
                weights(upper, 1, lower, 0, count: w - 1)
                for x in 0..<max(0, w - 1) { body(keys[x], 3, row + x + 1) }
            }
            swap(&upper, &lower)
        }
    }

    /// Calls `visit(p, q, weight)` for every edge that `keep(p, q)` accepts when counted, by
    /// increasing weight, ties by direction then p.
    mutating func visitSorted(keep: (Int, Int) -> Bool, visit: (Int, Int, Double) -> Void) {
        visitRange(from: 0, to: 1 << 63, shift: 43, keep: keep, visit: visit)
    }

    /// The edges with keys in `from..<to`, counted in buckets of `1 << shift` keys (at most
    /// 2^20 of them); runs of buckets that fit `capacity()` are visited as chunks, a bucket that
    /// does not is counted again at a finer resolution, down to single keys.
    private mutating func visitRange(from lo: UInt64, to hi: UInt64, shift: UInt64,
                                     keep: (Int, Int) -> Bool, visit: (Int, Int, Double) -> Void) {
        let buckets = Int((hi - lo - 1) >> shift) + 1
        var counts = [UInt32](repeating: 0, count: buckets)
        let offsets = offsets
        counts.withUnsafeMutableBufferPointer { counts in
            sweep { key, d, p in
                if key >= lo && key < hi && keep(p, p + offsets[d]) { counts[Int((key - lo) >> shift)] += 1 }
            }
        }
        var b = 0
        while b < buckets {
            let here = Int(counts[b])
            if here == 0 { b += 1; continue }
            let room = capacity()
            let from = lo + UInt64(b) << shift
            if here > room {
                if shift > 0 {
                    visitRange(from: from, to: from + 1 << shift, shift: shift >= 20 ? shift - 20 : 0, keep: keep, visit: visit)
                } else {
                    // One weight: in direction then position order, straight from four sweeps.
                    let weight = Double(bitPattern: from)
                    for direction in 0..<4 {
                        sweep { k, d, p in
                            if k == from && d == direction && keep(p, p + offsets[d]) { visit(p, p + offsets[d], weight) }
                        }
                    }
                }
                b += 1
                continue
            }
            var end = b, total = 0
            while end < buckets && total + Int(counts[end]) <= room { total += Int(counts[end]); end += 1 }
            visitChunk(from: from, to: lo + UInt64(end) << shift, atMost: total, keep: keep, visit: visit)
            b = end
        }
    }

    /// The edges with keys in `from..<to` (at most `atMost` of them), collected, put in
    /// direction-then-position order, sorted stably by key and visited. Two buffers of
    /// `atMost` edges: the collection, then the partition by direction, the first serving as the
    /// sort's scratch.
    private mutating func visitChunk(from lo: UInt64, to hi: UInt64, atMost total: Int,
                                     keep: (Int, Int) -> Bool, visit: (Int, Int, Double) -> Void) {
        let keys = PagedBuffer<UInt64>(count: total), tags = PagedBuffer<UInt32>(count: total)
        let sortedKeys = PagedBuffer<UInt64>(count: total), sortedTags = PagedBuffer<UInt32>(count: total)
        var filled = 0
        let offsets = offsets
        let (k, t) = (keys.base, tags.base)
        sweep { key, d, p in
            if key >= lo && key < hi && filled < total && keep(p, p + offsets[d]) {
                k[filled] = key
                t[filled] = UInt32(d << 30 | p)
                filled += 1
            }
        }
        // Stable partition by direction (each direction is already in position order).
        var next = [0, 0, 0, 0]
        for i in 0..<filled { next[Int(t[i] >> 30)] += 1 }
        next = [0, next[0], next[0] + next[1], next[0] + next[1] + next[2]]
        let (sk, st) = (sortedKeys.base, sortedTags.base)
        for i in 0..<filled {
            let d = Int(t[i] >> 30), at = next[d]
            sk[at] = k[i]; st[at] = t[i]
            next[d] = at + 1
        }
        SortedEdges.stableSort(sk, st, count: filled, scratchKeys: k, scratchValues: t)
        for i in 0..<filled {
            let p = Int(st[i] & (1 << 30 - 1)), d = Int(st[i] >> 30)
            visit(p, p + offsets[d], Double(bitPattern: sk[i]))
        }
    }
}

/// `count` values in anonymous pages of their own (mmap), unmapped when the buffer goes. The
/// CLI asks malloc to keep freed blocks in its heap for reuse between images
/// (``BatchMemory/keepBuffersInHeap()``), which would leave every chunk's and every old side
/// table's pages resident; these are returned to the kernel at once. Pages never written are
/// never resident. Contents start as zeros.
final class PagedBuffer<Element> {
    let base: UnsafeMutablePointer<Element>
    private let bytes: Int

    init(count: Int) {
        bytes = max(1, count * MemoryLayout<Element>.stride)
        let pointer = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let pointer, pointer != MAP_FAILED else {
            fatalError("out of memory: could not map \(bytes) bytes")
        }
        base = pointer.bindMemory(to: Element.self, capacity: max(1, count))
    }

    deinit { munmap(base, bytes) }
}
