// Part of the port of Δoxa's PseudoWeights (CC0, public domain), doxapy 0.9.9: the skeleton
// (Zhang–Suen thinning, then Lee–Chen Table 1, then per-component seeds). See PseudoWeights.swift.

extension PseudoWeights {
    /// The Zhang–Suen deletion rule (`skel::Rule`): 0x00 deletes, 0xFF keeps. Bits of `a`: 0 = P2
    /// (north), then clockwise to 7 = P9 (north-west).
    static func zhangSuenRule(_ a: Int, subIteration: Int) -> UInt8 {
        let p2 = a & 1, p3 = (a >> 1) & 1, p4 = (a >> 2) & 1, p5 = (a >> 3) & 1
        let p6 = (a >> 4) & 1, p7 = (a >> 5) & 1, p8 = (a >> 6) & 1, p9 = (a >> 7) & 1
        let b = p2 + p3 + p4 + p5 + p6 + p7 + p8 + p9
        if b < 2 || b > 6 { return 0xFF }
        var t = 0
        if p2 == 0 && p3 != 0 { t += 1 }
        if p3 == 0 && p4 != 0 { t += 1 }
        if p4 == 0 && p5 != 0 { t += 1 }
        if p5 == 0 && p6 != 0 { t += 1 }
        if p6 == 0 && p7 != 0 { t += 1 }
        if p7 == 0 && p8 != 0 { t += 1 }
        if p8 == 0 && p9 != 0 { t += 1 }
        if p9 == 0 && p2 != 0 { t += 1 }
        if t != 1 { return 0xFF }
        if subIteration == 1 {
            if p2 != 0 && p4 != 0 && p6 != 0 { return 0xFF }
            if p4 != 0 && p6 != 0 && p8 != 0 { return 0xFF }
        } else {
            if p2 != 0 && p4 != 0 && p8 != 0 { return 0xFF }
            if p2 != 0 && p6 != 0 && p8 != 0 { return 0xFF }
        }
        return 0x00
    }

    static let zhangSuen1: [UInt8] = (0..<256).map { zhangSuenRule($0, subIteration: 1) }
    static let zhangSuen2: [UInt8] = (0..<256).map { zhangSuenRule($0, subIteration: 2) }

    /// Lee–Chen Table 1 as doxapy 0.9.9 has it (`kLeeChenTable1`, four entries differ from the
    /// published table on purpose): 0x00 deletes, 0xFF or 0x01 keeps.
    static let leeChenTable1: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0x01, 0xFF, 0x00, 0x01, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x00, 0x01,
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x01, 0x01,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0x01, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x01, 0x01,
        0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0x00,
        0x00, 0xFF, 0xFF, 0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0x00, 0xFF, 0x00, 0x00, 0xFF, 0x00, 0xFF,
        0x01, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0x00,
        0x01, 0x00, 0xFF, 0x00, 0x00, 0xFF, 0x00, 0xFF, 0x01, 0x00, 0xFF, 0x00, 0x01, 0xFF, 0x01, 0xFF,
        0xFF, 0x01, 0xFF, 0x01, 0xFF, 0x00, 0xFF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0x01,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0x01,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0x00,
        0x01, 0x01, 0xFF, 0x01, 0xFF, 0x00, 0xFF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0x01,
        0x00, 0x00, 0xFF, 0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0x00, 0xFF, 0x00, 0x00, 0xFF, 0x00, 0xFF,
        0x00, 0x01, 0xFF, 0x01, 0xFF, 0x00, 0xFF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0x00,
        0x01, 0x01, 0xFF, 0x01, 0x00, 0xFF, 0x00, 0xFF, 0x01, 0x01, 0xFF, 0x00, 0x01, 0xFF, 0x00, 0xFF,
    ]

    /// The 8 neighbours of (x, y) on the `bit` layer as one byte (`Neighbors`): bit 0 = P2
    /// (north), 1 = NE, 2 = E, 3 = SE, 4 = S, 5 = SW, 6 = W, 7 = NW; off the raster is background.
    @inline(__always)
    static func neighbors(_ m: UnsafeMutablePointer<UInt8>, _ w: Int, _ h: Int,
                          _ x: Int, _ y: Int, _ bit: UInt8) -> Int {
        if x > 0 && x < w - 1 && y > 0 && y < h - 1 {
            let d = m + (y * w + x)
            @inline(__always) func at(_ o: Int) -> Int { (d[o] & bit) != 0 ? 1 : 0 }
            return at(-w) | at(-w + 1) << 1 | at(1) << 2 | at(w + 1) << 3
                | at(w) << 4 | at(w - 1) << 5 | at(-1) << 6 | at(-w - 1) << 7
        }
        @inline(__always) func on(_ xx: Int, _ yy: Int) -> Int {
            xx >= 0 && xx < w && yy >= 0 && yy < h && (m[yy * w + xx] & bit) != 0 ? 1 : 0
        }
        return on(x, y - 1) | on(x + 1, y - 1) << 1 | on(x + 1, y) << 2 | on(x + 1, y + 1) << 3
            | on(x, y + 1) << 4 | on(x - 1, y + 1) << 5 | on(x - 1, y) << 6 | on(x - 1, y - 1) << 7
    }

    /// Thins the `bit` layer of `raster` in place (`Thin`): parallel Zhang–Suen sub-iterations
    /// 1 and 2 until neither deletes (run over a frontier of boundary pixels, which gives the
    /// result of full-raster sweeps), then sequential raster passes of Lee–Chen Table 1 until a
    /// pass deletes nothing.
    static func thin(_ raster: Bytes, bit: UInt8) {
        let w = raster.width, h = raster.height
        let r = raster.base
        let clear = ~bit

        @inline(__always) func off(_ x: Int, _ y: Int) -> Bool {
            x < 0 || x >= w || y < 0 || y >= h || (r[y * w + x] & bit) == 0
        }

        // The frontier: every boundary pixel of the layer (an interior pixel, B = 8, is never
        // deleted, and a deletion exposes only its own neighbours).
        var frontier: [Cell] = []
        var dead: [Cell] = []
        var next: [Cell] = []
        let queued = Bytes(w, h, 0)
        let q = queued.base
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                if (r[i] & bit) != 0 && (off(x, y - 1) || off(x + 1, y - 1) || off(x + 1, y) || off(x + 1, y + 1)
                    || off(x, y + 1) || off(x - 1, y + 1) || off(x - 1, y) || off(x - 1, y - 1)) {
                    frontier.append(Cell(i: i, x: Int32(x), y: Int32(y)))
                    q[i] = 1
                }
            }
        }

        zhangSuen1.withUnsafeBufferPointer { t1 in
            zhangSuen2.withUnsafeBufferPointer { t2 in
                var changed = true
                while changed {
                    changed = false
                    if zhangSuenSubpass(r, q, w, h, bit, t1, &frontier, &dead, &next) { changed = true }
                    if zhangSuenSubpass(r, q, w, h, bit, t2, &frontier, &dead, &next) { changed = true }
                }
            }
        }

        leeChenTable1.withUnsafeBufferPointer { table in
            var removed = true
            while removed {
                removed = false
                for y in 0..<h {
                    for x in 0..<w {
                        let i = y * w + x
                        if (r[i] & bit) != 0 && table[neighbors(r, w, h, x, y, bit)] == 0 {
                            r[i] &= clear
                            removed = true
                        }
                    }
                }
            }
        }
    }

    /// A frontier pixel: its linear index and coordinates.
    struct Cell {
        var i: Int
        var x: Int32
        var y: Int32
    }

    /// One parallel Zhang–Suen sub-iteration over the frontier: every cell is tested on the raster
    /// as it was before the sub-iteration, the deletions are applied together, and the frontier
    /// becomes its survivors plus the set neighbours of the deleted pixels not yet queued.
    static func zhangSuenSubpass(_ r: UnsafeMutablePointer<UInt8>, _ q: UnsafeMutablePointer<UInt8>,
                                 _ w: Int, _ h: Int, _ bit: UInt8, _ table: UnsafeBufferPointer<UInt8>,
                                 _ frontier: inout [Cell], _ dead: inout [Cell], _ next: inout [Cell]) -> Bool {
        dead.removeAll(keepingCapacity: true)
        frontier.withUnsafeBufferPointer { cells in
            for c in cells where (r[c.i] & bit) != 0 && table[neighbors(r, w, h, Int(c.x), Int(c.y), bit)] == 0 {
                dead.append(c)
            }
        }
        if dead.isEmpty { return false }
        let clear = ~bit
        for c in dead { r[c.i] &= clear; q[c.i] = 0 }

        next.removeAll(keepingCapacity: true)
        frontier.withUnsafeBufferPointer { cells in
            for c in cells where (r[c.i] & bit) != 0 { next.append(c) }
        }
        dead.withUnsafeBufferPointer { cells in
            for c in cells {
                let cx = Int(c.x), cy = Int(c.y)
                for dy in -1...1 {
                    let ny = cy + dy
                    if ny < 0 || ny >= h { continue }
                    for dx in -1...1 {
                        let nx = cx + dx
                        if (dx != 0 || dy != 0) && nx >= 0 && nx < w {
                            let ni = ny * w + nx
                            if (r[ni] & bit) != 0 && q[ni] == 0 {
                                q[ni] = 1
                                next.append(Cell(i: ni, x: Int32(nx), y: Int32(ny)))
                            }
                        }
                    }
                }
            }
        }
        swap(&frontier, &next)
        return true
    }

    /// Gives every component of `components` left without a `bit` pixel one
    /// (`EnsureComponentSeeds`): the seedless components are listed first, then each is seeded
    /// at (⌊mean x⌋ + 1, ⌊mean y⌋ + 1) when that pixel is in the image and carries any label,
    /// else at (⌊mean x⌋, ⌊mean y⌋).
    static func ensureComponentSeeds(_ skeleton: Bytes, bit: UInt8, _ components: Components) {
        let width = skeleton.width, height = skeleton.height
        let s = skeleton.base, lab = components.labels.base
        var needSeed: [Int] = []
        for label in 1..<components.bounds.count {
            let b = components.bounds[label]
            let l32 = Int32(label)
            var has = false
            rows: for y in b.y0...b.y1 {
                for x in b.x0...b.x1 {
                    let i = y * width + x
                    if lab[i] == l32 && (s[i] & bit) != 0 { has = true; break rows }
                }
            }
            if !has { needSeed.append(label) }
        }

        for label in needSeed {
            let b = components.bounds[label]
            let l32 = Int32(label)
            var sumX = 0, sumY = 0, count = 0
            for y in b.y0...b.y1 {
                for x in b.x0...b.x1 where lab[y * width + x] == l32 {
                    sumX += x; sumY += y; count += 1
                }
            }
            let mx = sumX / count, my = sumY / count
            let cx = mx + 1, cy = my + 1
            if cx < width && cy < height && lab[cy * width + cx] != 0 {
                s[cy * width + cx] |= bit
            } else {
                s[my * width + mx] |= bit
            }
        }
    }
}
