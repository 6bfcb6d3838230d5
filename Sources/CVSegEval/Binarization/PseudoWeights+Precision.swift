// Part of the port of Δoxa's PseudoWeights (CC0, public domain), doxapy 0.9.9: the
// pseudo-precision map PW − 1 (`ComputePrecision`). See PseudoWeights.swift.

extension PseudoWeights {
    static func computePrecision(_ recall: RecallArtifacts) -> [Double] {
        let overlay = recall.overlay
        let width = overlay.width, height = overlay.height, size = width * height
        let ov = overlay.base
        let components = recall.components

        // The Gsw_bg region (`BackgroundStrokeRegion`): the non-ink pixels in any component's box
        // grown by 2·Gsw on each side, clamped to the image.
        let region = Bytes(width, height, 0)
        let reg = region.base
        for label in 1..<components.bounds.count {
            let b = components.bounds[label]
            let m = 2 * components.strokeWidth[label]
            let x0 = max(b.x0 - m, 0), x1 = min(b.x1 + m, width - 1)
            let y0 = max(b.y0 - m, 0), y1 = min(b.y1 + m, height - 1)
            if x0 > x1 || y0 > y1 { continue }
            for y in y0...y1 {
                let row = y * width
                for x in x0...x1 where (ov[row + x] & kInk) == 0 { reg[row + x] = 1 }
            }
        }

        // The background components, 8-connected, straight off the overlay.
        let inv = Components(width: width, height: height) { ov[$0] == 0 }

        // The background skeleton: every non-ink pixel off the image frame, thinned, seeded.
        let bg = Bytes(width, height, 0)
        let bgp = bg.base
        if width > 2 && height > 2 {
            for y in 1..<(height - 1) {
                let row = y * width
                for x in 1..<(width - 1) where ov[row + x] == 0 { bgp[row + x] = kSkeleton }
            }
        }
        thin(bg, bit: kSkeleton)
        ensureComponentSeeds(bg, bit: kSkeleton, inv)

        // Dp (`BackgroundDistanceMap`).
        let dpField = Bytes(width, height, 0)
        let dp = dpField.base, cd = recall.contourDistance.base
        inv.forEachPixel { label, x, y, i in
            if reg[i] == 0 { dp[i] = kOutsideRegion; return }
            let d = Int(cd[i])
            dp[i] = boxFillRadius(x, y, inv.bounds[label], width, height) < d ? 0 : UInt8(truncatingIfNeeded: d)
        }
        medialRidgeAdjust(dpField, bg, inv)

        // NP: the background medial normalisation, then back from an area to a radius.
        let (_, npField) = medialNormalization(dpField, bg, inv)
        let np = npField.base
        inv.forEachPixel { _, _, _, i in
            if hasDistance(dp[i]) {
                np[i] = UInt16((Double(np[i]).squareRoot() + 0.5).rounded(.down))
            }
        }

        // `MarkMerges`: one ring search over the GT contour per in-region background pixel.
        let mergeMarker = Bytes(width, height, 0)
        let reachCache = Words(width, height, unreached)
        let mm = mergeMarker.base, rc = reachCache.base
        let inkLabels = components.labels.base
        components.strokeWidth.withUnsafeBufferPointer { strokeWidth in
            inv.forEachPixel { label, x, y, i in
                if !hasDistance(dp[i]) { return }
                var reach = -1
                var firstLabel: Int32 = -1
                var adjacent = false
                let found = firstNonEmptyRing(inv.bounds[label], x, y, width, startR: Int(cd[i])) { j in
                    if (ov[j] & kContour) == 0 { return false }
                    let l = inkLabels[j]
                    let v = strokeWidth[Int(l)] & 0xFF
                    if v > reach { reach = v }
                    if firstLabel < 0 { firstLabel = l } else if l != firstLabel { adjacent = true }
                    return true
                } != nil
                rc[i] = found ? UInt16(truncatingIfNeeded: reach) : unreached
                if !found || Int(dp[i]) > reach { return }
                mm[i] = UInt8(truncatingIfNeeded: adjacent ? np[i] : 0)
            }
        }

        // `NormalizeNP`.
        let npFinal = Bytes(width, height, 0)
        let npf = npFinal.base
        inv.forEachPixel { _, x, y, i in
            if !hasDistance(dp[i]) { return }
            let cached = rc[i]
            if cached == unreached { return }
            let reach = Int(cached)
            let dpi = Int(dp[i])
            if dpi > reach { return }
            let npi = Int(np[i])
            let merging = anyWithin(mm, x, y, reach - dpi, width, height)
            npf[i] = UInt8(truncatingIfNeeded: merging && npi < reach ? npi : reach)
        }

        // PW − 1 = Dp / NP, capped at 2.
        return [Double](unsafeUninitializedCapacity: size) { out, initialized in
            for i in 0..<size {
                if npf[i] == 0 { out[i] = 0; continue }
                let v = Double(dp[i]) / Double(npf[i])
                out[i] = v > 2.0 ? 2.0 : v
            }
            initialized = size
        }
    }

    /// `BoxFillRadius`: the radius at which a square window about (x, y), clamped to the image,
    /// first covers all of `b`, or width + height when it never does.
    @inline(__always)
    static func boxFillRadius(_ x: Int, _ y: Int, _ b: Box, _ width: Int, _ height: Int) -> Int {
        let never = width + height
        var fixed = -1, lower = 0
        var consistent = true
        @inline(__always) func side(_ onBorder: Bool, _ k: Int) {
            if onBorder {
                if k > lower { lower = k }
            } else if fixed < 0 {
                fixed = k
            } else if fixed != k {
                consistent = false
            }
        }
        side(b.x0 == 0, x - b.x0)
        side(b.x1 == width - 1, b.x1 - x)
        side(b.y0 == 0, y - b.y0)
        side(b.y1 == height - 1, b.y1 - y)
        if !consistent { return never }
        let r = fixed >= 0 ? fixed : lower
        return r >= lower ? r : never
    }

    /// `AnyWithin`: whether a nonzero value lies in the image-clamped square of `radius` about
    /// (col, row); radius 0 finds nothing.
    @inline(__always)
    static func anyWithin(_ map: UnsafeMutablePointer<UInt8>, _ col: Int, _ row: Int, _ radius: Int,
                          _ width: Int, _ height: Int) -> Bool {
        if radius == 0 { return false }
        let xlo = max(col - radius, 0), xhi = min(col + radius, width - 1)
        let ylo = max(row - radius, 0), yhi = min(row + radius, height - 1)
        var ry = ylo
        while ry <= yhi {
            let base = ry * width
            var rx = xlo
            while rx <= xhi {
                if map[base + rx] != 0 { return true }
                rx += 1
            }
            ry += 1
        }
        return false
    }
}
