// Part of the port of Δoxa's PseudoWeights (CC0, public domain), doxapy 0.9.9: the rasters,
// the connected-component labelling (`ConnectedComponents.hpp`), the Chebyshev distance and the
// ring search. See PseudoWeights.swift.

extension PseudoWeights {
    /// A fixed-size raster of plain values with reference semantics, so that the passes below can
    /// read and write it from closures without copy-on-write or exclusivity checks.
    /// Indices are linear, `y * width + x`; bounds are asserted in debug builds only.
    final class Field<T: BitwiseCopyable> {
        let width: Int
        let height: Int
        let count: Int
        let base: UnsafeMutablePointer<T>

        init(_ width: Int, _ height: Int, _ value: T) {
            self.width = width
            self.height = height
            count = width * height
            base = .allocate(capacity: count)
            base.initialize(repeating: value, count: count)
        }

        deinit { base.deallocate() }

        @inline(__always)
        subscript(i: Int) -> T {
            get { assert(i >= 0 && i < count, "raster index out of range"); return base[i] }
            set { assert(i >= 0 && i < count, "raster index out of range"); base[i] = newValue }
        }

        /// Sets every value to `value`.
        func fill(_ value: T) { base.update(repeating: value, count: count) }
    }

    typealias Bytes = Field<UInt8>
    typealias Words = Field<UInt16>

    /// An inclusive bounding box.
    struct Box {
        var x0: Int, y0: Int, x1: Int, y1: Int
    }

    /// One labelling (`Doxa::Components`): the label raster (0 = not labelled, 1…N) and, per
    /// label, the inclusive bounding box, the pixel count and the stroke width (index 0 unused).
    struct Components {
        let width: Int
        let height: Int
        let labels: Field<Int32>
        var bounds: [Box]
        var pixelCount: [Int]
        var strokeWidth: [Int]

        var count: Int { bounds.count - 1 }

        /// Every pixel of every component, component by component (by label), then the rows and
        /// columns of its bounding box, only the pixels carrying that label: the order of
        /// `Components::ForEachPixel`, which the in-place passes depend on.
        @inline(__always)
        func forEachPixel(_ visit: (_ label: Int, _ x: Int, _ y: Int, _ i: Int) -> Void) {
            let lab = labels.base
            let w = width
            var label = 1
            while label < bounds.count {
                let b = bounds[label]
                let l32 = Int32(label)
                var y = b.y0
                while y <= b.y1 {
                    let row = y * w
                    var x = b.x0
                    while x <= b.x1 {
                        let i = row + x
                        if lab[i] == l32 { visit(label, x, y, i) }
                        x += 1
                    }
                    y += 1
                }
                label += 1
            }
        }

        /// Two-pass union-find labelling with 8-connectivity (`ConnectedComponents::Generate`):
        /// provisional labels from the W, N, NW, NE neighbours, unions keep the smaller label,
        /// final labels 1…N in the order of the roots.
        init(width: Int, height: Int, isForeground: (Int) -> Bool) {
            self.width = width
            self.height = height
            let size = width * height
            let labels = Field<Int32>(width, height, 0)
            self.labels = labels
            let lab = labels.base

            // Union-find over the provisional labels (index 0 unused). A provisional label is
            // only made for a pixel with none of its W, N, NW, NE neighbours labelled, so there
            // are fewer than size + 1 of them.
            let parentField = Field<Int32>(size + 1, 1, 0)
            let parent = parentField.base
            var made = 1  // labels 0..<made exist

            @inline(__always) func find(_ start: Int32) -> Int32 {
                var a = Int(start)
                while Int(parent[a]) != a {
                    parent[a] = parent[Int(parent[a])]
                    a = Int(parent[a])
                }
                return Int32(a)
            }
            @inline(__always) func union(_ a0: Int32, _ b0: Int32) {
                let a = find(a0), b = find(b0)
                if a != b { parent[Int(max(a, b))] = min(a, b) }
            }

            for y in 0..<height {
                for x in 0..<width {
                    let idx = y * width + x
                    if !isForeground(idx) { continue }
                    var n0: Int32 = 0, n1: Int32 = 0, n2: Int32 = 0, n3: Int32 = 0
                    var cnt = 0
                    @inline(__always) func push(_ v: Int32) {
                        switch cnt { case 0: n0 = v; case 1: n1 = v; case 2: n2 = v; default: n3 = v }
                        cnt += 1
                    }
                    if x > 0, lab[idx - 1] != 0 { push(lab[idx - 1]) }
                    if y > 0, lab[idx - width] != 0 { push(lab[idx - width]) }
                    if y > 0, x > 0, lab[idx - width - 1] != 0 { push(lab[idx - width - 1]) }
                    if y > 0, x < width - 1, lab[idx - width + 1] != 0 { push(lab[idx - width + 1]) }

                    if cnt == 0 {
                        parent[made] = Int32(made)
                        lab[idx] = Int32(made)
                        made += 1
                        continue
                    }
                    var m = find(n0)
                    if cnt > 1 { m = min(m, find(n1)) }
                    if cnt > 2 { m = min(m, find(n2)) }
                    if cnt > 3 { m = min(m, find(n3)) }
                    lab[idx] = m
                    union(m, n0)
                    if cnt > 1 { union(m, n1) }
                    if cnt > 2 { union(m, n2) }
                    if cnt > 3 { union(m, n3) }
                }
            }

            // Flatten the roots to consecutive ids 1…N.
            var finalId = [Int32](repeating: 0, count: made)
            var count: Int32 = 0
            for p in 1..<made where find(Int32(p)) == Int32(p) {
                count += 1
                finalId[p] = count
            }

            var bounds = [Box](repeating: Box(x0: 0, y0: 0, x1: 0, y1: 0), count: Int(count) + 1)
            var pixelCount = [Int](repeating: 0, count: Int(count) + 1)
            for y in 0..<height {
                for x in 0..<width {
                    let idx = y * width + x
                    if lab[idx] == 0 { continue }
                    let label = Int(finalId[Int(find(lab[idx]))])
                    lab[idx] = Int32(label)
                    if pixelCount[label] == 0 { bounds[label] = Box(x0: x, y0: y, x1: x, y1: y) }
                    pixelCount[label] += 1
                    bounds[label].x0 = min(bounds[label].x0, x)
                    bounds[label].x1 = max(bounds[label].x1, x)
                    bounds[label].y1 = max(bounds[label].y1, y)
                }
            }
            self.bounds = bounds
            self.pixelCount = pixelCount
            strokeWidth = [Int](repeating: 0, count: Int(count) + 1)
        }
    }

    /// "Not yet reached" in the Chebyshev sweeps (`kUnreached`).
    static let unreached: UInt16 = 0xFFFF

    /// The exact Chebyshev (chessboard) distance to the nearest pixel whose `feature` value has
    /// `bit` set: a forward sweep over NW, N, NE, W and a backward sweep over SE, S, SW, E.
    static func chebyshevDistance(_ feature: Bytes, bit: UInt8) -> Words {
        let width = feature.width, height = feature.height
        let distance = Words(width, height, 0)
        let d = distance.base, f = feature.base
        for i in 0..<feature.count { d[i] = (f[i] & bit) != 0 ? 0 : unreached }

        @inline(__always) func relax(_ idx: Int, _ neighbor: Int) {
            let cand = d[neighbor]
            if cand != unreached, Int(cand) + 1 < Int(d[idx]) { d[idx] = cand + 1 }
        }

        for y in 0..<height {
            let row = y * width
            for x in 0..<width {
                let idx = row + x
                if d[idx] == 0 { continue }
                if y > 0 {
                    relax(idx, idx - width)
                    if x > 0 { relax(idx, idx - width - 1) }
                    if x < width - 1 { relax(idx, idx - width + 1) }
                }
                if x > 0 { relax(idx, idx - 1) }
            }
        }
        for y in stride(from: height - 1, through: 0, by: -1) {
            let row = y * width
            for x in stride(from: width - 1, through: 0, by: -1) {
                let idx = row + x
                if d[idx] == 0 { continue }
                if y < height - 1 {
                    relax(idx, idx + width)
                    if x < width - 1 { relax(idx, idx + width + 1) }
                    if x > 0 { relax(idx, idx + width - 1) }
                }
                if x < width - 1 { relax(idx, idx + 1) }
            }
        }
        return distance
    }

    /// One ring of radius `r` about (ax, ay), clamped to `b` (`ScanRingAt`): left edge, right
    /// edge, top edge, bottom edge (each without its corners), then the four corners (lo, lo),
    /// (lo, hi), (hi, lo), (hi, hi). `visit` gets each cell's linear index and says whether it
    /// qualifies. Returns whether any cell qualified and whether the clamped ring is the box.
    @inline(__always)
    static func scanRing(_ b: Box, _ ax: Int, _ ay: Int, _ r: Int, _ width: Int,
                         _ visit: (Int) -> Bool) -> (found: Bool, covered: Bool) {
        let xlo = max(ax - r, b.x0), xhi = min(ax + r, b.x1)
        let ylo = max(ay - r, b.y0), yhi = min(ay + r, b.y1)
        var found = false
        var row = ylo + 1
        while row < yhi { if visit(row * width + xlo) { found = true }; row += 1 }
        row = ylo + 1
        while row < yhi { if visit(row * width + xhi) { found = true }; row += 1 }
        var col = xlo + 1
        while col < xhi { if visit(ylo * width + col) { found = true }; col += 1 }
        col = xlo + 1
        while col < xhi { if visit(yhi * width + col) { found = true }; col += 1 }
        if visit(ylo * width + xlo) { found = true }
        if visit(yhi * width + xlo) { found = true }
        if visit(ylo * width + xhi) { found = true }
        if visit(yhi * width + xhi) { found = true }
        return (found, xlo == b.x0 && xhi == b.x1 && ylo == b.y0 && yhi == b.y1)
    }

    /// The first ring, from `startR` outwards, with a qualifying cell (`FirstNonEmptyRing`): all
    /// of that ring's cells are visited; returns its radius, or nil once a ring covered the box
    /// without a qualifying cell.
    @inline(__always)
    static func firstNonEmptyRing(_ b: Box, _ ax: Int, _ ay: Int, _ width: Int, startR: Int,
                                  _ visit: (Int) -> Bool) -> Int? {
        var r = startR
        while true {
            let ring = scanRing(b, ax, ay, r, width, visit)
            if ring.found { return r }
            if ring.covered { return nil }
            r += 1
        }
    }
}
