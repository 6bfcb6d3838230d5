// The DIBCO pseudo-recall and pseudo-precision weight maps.
//
// A port of Δoxa's PseudoWeights (CC0 / public domain: "Freely you have received; freely
// give."), `Doxa/PseudoWeights.hpp` and `Doxa/ConnectedComponents.hpp` as shipped in doxapy
// 0.9.9, which implements K. Ntirogiannis, B. Gatos, I. Pratikakis, "Performance Evaluation
// Methodology for Historical Document Image Binarization", IEEE Transactions on Image Processing
// 22(2), 2013. The port follows the C++ step by step, including its visiting orders, integer
// widths and truncations, since all of them shape the result; it is bit-exact with doxapy
// 0.9.9 `generate_pseudo_weights`. See scripts/reference/DIBCO_METRICS.md.
//
// Files: this one (the recall map GW and the shared medial normalisation),
// PseudoWeights+Precision.swift (the precision map PW − 1), PseudoWeights+Components.swift
// (rasters, labelling, Chebyshev distance, ring search), PseudoWeights+Thinning.swift (skeleton).

import CVSegCore

/// The pseudo-recall and pseudo-precision weight maps of a ground-truth image (0 = ink, anything
/// else background), row-major, one Double per pixel: `recall` (GW, nonzero only on ink) and
/// `precision` (PW − 1, 0...2, nonzero only on background), bit-exact with doxapy 0.9.9.
public struct PseudoWeights: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let recall: [Double]
    public let precision: [Double]

    /// Computes both maps from `groundTruth`.
    /// - Precondition: `groundTruth.layout == .gray`.
    /// - Complexity: a few raster passes plus ring searches whose radius is the local stroke
    ///   (or background gap) half-width.
    public init(groundTruth: Image<UInt8>) {
        precondition(groundTruth.layout == .gray, "pseudo weights need a one-channel ground truth, not \(groundTruth.layout)")
        width = groundTruth.width
        height = groundTruth.height
        let artifacts = groundTruth.samples.withUnsafeBufferPointer { gt in
            Self.computeRecall(gt, width: groundTruth.width, height: groundTruth.height)
        }
        recall = artifacts.gw
        precision = Self.computePrecision(artifacts)
    }
}

extension PseudoWeights {
    // The overlay flags (`kInk`, `kContour`, `kSkeleton`).
    static let kInk: UInt8 = 0x01
    static let kContour: UInt8 = 0x02
    static let kSkeleton: UInt8 = 0x04
    /// A background pixel outside the stroke region (`kOutsideRegion`).
    static let kOutsideRegion: UInt8 = 0xFA

    /// D in 1…249 (`HasDistance`).
    @inline(__always)
    static func hasDistance(_ d: UInt8) -> Bool { d != 0 && d < kOutsideRegion }

    /// What the precision side reuses from the recall side.
    struct RecallArtifacts {
        var gw: [Double]
        let overlay: Bytes
        let components: Components
        let contourDistance: Words
    }

    // MARK: - Recall (GW = D / NR)

    static func computeRecall(_ gt: UnsafeBufferPointer<UInt8>, width: Int, height: Int) -> RecallArtifacts {
        let size = width * height
        var components = Components(width: width, height: height) { gt[$0] == 0 }

        let overlay = Bytes(width, height, 0)
        let ov = overlay.base
        @inline(__always) func ink(_ x: Int, _ y: Int) -> Bool {
            x >= 0 && x < width && y >= 0 && y < height && gt[y * width + x] == 0
        }
        for y in 0..<height {
            for x in 0..<width {
                let i = y * width + x
                if gt[i] != 0 { continue }
                ov[i] = kInk | kSkeleton
                if !ink(x, y - 1) || !ink(x, y + 1) || !ink(x - 1, y) || !ink(x + 1, y) { ov[i] |= kContour }
            }
        }

        thin(overlay, bit: kSkeleton)
        ensureComponentSeeds(overlay, bit: kSkeleton, components)

        let contourDistance = chebyshevDistance(overlay, bit: kContour)

        // D on the ink (`ForegroundDistanceMap`).
        let dField = Bytes(width, height, 0)
        let d = dField.base, cd = contourDistance.base
        for i in 0..<size where (ov[i] & kInk) != 0 {
            d[i] = (ov[i] & kContour) != 0 && (ov[i] & kSkeleton) != 0 ? 1 : UInt8(truncatingIfNeeded: cd[i])
        }
        medialRidgeAdjust(dField, overlay, components)

        let (factor, nr) = medialNormalization(dField, overlay, components)

        // Gsw_fg per component (`AssignStrokeWidths`).
        var sum = [Int](repeating: 0, count: components.bounds.count)
        var count = [Int](repeating: 0, count: components.bounds.count)
        let f = factor.base
        components.forEachPixel { label, _, _, i in
            if (ov[i] & kSkeleton) != 0 { sum[label] += Int(f[i]); count[label] += 1 }
        }
        for label in 1..<components.bounds.count {
            components.strokeWidth[label] = count[label] != 0 ? (sum[label] / count[label]) * 2 : 0
        }

        let n = nr.base
        let gw = [Double](unsafeUninitializedCapacity: size) { out, initialized in
            for i in 0..<size {
                out[i] = d[i] != 0 && n[i] != 0 ? Double(d[i]) / Double(n[i]) : 0
            }
            initialized = size
        }
        return RecallArtifacts(gw: gw, overlay: overlay, components: components, contourDistance: contourDistance)
    }

    /// `MedialRidgeAdjust`: in component order, in place, a `kSkeleton` pixel with D in 1…249
    /// equal to its four border-clamped 4-neighbours gets D + 1.
    static func medialRidgeAdjust(_ dField: Bytes, _ overlay: Bytes, _ components: Components) {
        let width = dField.width, height = dField.height
        let d = dField.base, ov = overlay.base
        components.forEachPixel { _, x, y, i in
            let c = d[i]
            if !hasDistance(c) { return }
            let up = y > 0 ? i - width : i
            let dn = y < height - 1 ? i + width : i
            let lf = x > 0 ? i - 1 : i
            let rt = x < width - 1 ? i + 1 : i
            if d[up] == c && d[dn] == c && d[lf] == c && d[rt] == c && (ov[i] & kSkeleton) != 0 { d[i] = c + 1 }
        }
    }

    /// `MedialNormalization`: the skeleton distance, the medial factor along the skeleton, and the
    /// normalisation NR. Returns (factor, NR).
    static func medialNormalization(_ dField: Bytes, _ overlay: Bytes, _ components: Components) -> (Bytes, Words) {
        let width = dField.width, height = dField.height, size = dField.count
        let d = dField.base, ov = overlay.base

        // `SkeletonDistance`.
        let distance = chebyshevDistance(overlay, bit: kSkeleton)
        let skeletonDistance = Bytes(width, height, 0)
        let sd = skeletonDistance.base, dist = distance.base
        for i in 0..<size where hasDistance(d[i]) {
            sd[i] = (ov[i] & kSkeleton) != 0 && (ov[i] & kContour) == 0 ? 1 : UInt8(truncatingIfNeeded: dist[i])
        }

        // `MedialFactor`: the cross-section scatter (later writers win), recording each ring.
        let factor = Bytes(width, height, 0)
        let f = factor.base
        for i in 0..<size { f[i] = (ov[i] & kSkeleton) != 0 ? 1 : 0 }
        let ringRadius = Words(width, height, unreached)
        let rr = ringRadius.base
        components.forEachPixel { label, x, y, i in
            if !hasDistance(d[i]) { return }
            let reach = sd[i]
            let startR = (ov[i] & kSkeleton) != 0 ? 0 : Int(reach)
            let found = firstNonEmptyRing(components.bounds[label], x, y, width, startR: startR) { j in
                if (ov[j] & kSkeleton) == 0 { return false }
                let dq = d[j]
                f[j] = reach >= dq ? dq &+ 1 : dq
                return true
            }
            rr[i] = found.map { UInt16(truncatingIfNeeded: $0) } ?? unreached
        }
        // Termination points inherit their lone skeleton neighbour's factor + 1.
        components.forEachPixel { _, x, y, i in
            if (ov[i] & kSkeleton) == 0 { return }
            let v = terminationPointFactor(f, ov, x, y, width, height)
            if v > 0 { f[i] = UInt8(truncatingIfNeeded: v + 1) }
        }

        // `Normalization`: the largest D·factor on the same ring, then the propagation.
        let nr = Words(width, height, 0)
        let n = nr.base
        components.forEachPixel { label, x, y, i in
            if !hasDistance(d[i]) { return }
            let r = rr[i]
            if r == unreached { n[i] = 0; return }
            var best = -1
            _ = scanRing(components.bounds[label], x, y, Int(r), width) { j in
                if (ov[j] & kSkeleton) == 0 { return false }
                let v = Int(d[j]) * Int(f[j])
                if v > best { best = v }
                return true
            }
            n[i] = UInt16(truncatingIfNeeded: best)
        }
        components.forEachPixel { _, x, y, i in
            if !hasDistance(d[i]) { return }
            // `PropagateAlongStroke`.
            let up = Int(n[(y > 0 ? y - 1 : y) * width + x])
            let dn = Int(n[(y < height - 1 ? y + 1 : y) * width + x])
            let lf = Int(n[y * width + (x > 0 ? x - 1 : x)])
            let rt = Int(n[y * width + (x < width - 1 ? x + 1 : x)])
            if up == 0 || dn == 0 || lf == 0 || rt == 0 { return }
            let center = Int(n[i])
            if !(center == up || center == dn || center == lf || center == rt) { n[i] = n[i - 1] }
        }
        return (factor, nr)
    }

    /// `TerminationPointFactor`: with border-clamped offsets, the factor of the lone skeleton
    /// neighbour, or −1 when the pixel does not have exactly one. The bottom-right neighbour's
    /// factor is read at column (0 or 1) of the row below, a quirk kept for parity.
    @inline(__always)
    static func terminationPointFactor(_ f: UnsafeMutablePointer<UInt8>, _ ov: UnsafeMutablePointer<UInt8>,
                                       _ col: Int, _ row: Int, _ width: Int, _ height: Int) -> Int {
        let a = col - 1 >= 0 ? -1 : 0
        let b = col + 1 <= width - 1 ? 1 : 0
        let c = row - 1 >= 0 ? -1 : 0
        let dd = row + 1 <= height - 1 ? 1 : 0
        let up = (row + c) * width, mid = row * width, down = (row + dd) * width
        var count = 0
        var last = -1
        @inline(__always) func hit(_ skelIdx: Int, _ factorIdx: Int) {
            if (ov[skelIdx] & kSkeleton) != 0 { count += 1; last = Int(f[factorIdx]) }
        }
        hit(up + col, up + col)
        hit(down + col, down + col)
        hit(mid + col + a, mid + col + a)
        hit(mid + col + b, mid + col + b)
        hit(up + col + a, up + col + a)
        hit(down + col + b, down + b)
        hit(down + col + a, down + col + a)
        hit(up + col + b, up + col + b)
        return count == 1 ? last : -1
    }
}
