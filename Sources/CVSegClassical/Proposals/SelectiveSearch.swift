import CVSegCore
import Dispatch
import Synchronization

/// Selective search region proposals (Uijlings, van de Sande, Gevers, Smeulders, "Selective
/// Search for Object Recognition", IJCV 104(2), 2013).
///
/// For each *strategy* (a colour space, a Felzenszwalb–Huttenlocher `k`, a similarity set):
/// 1. the image is converted to the colour space (``SelectiveSearch/ColorSpace``) and
///    over-segmented by ``felzenszwalb(_:scale:sigma:minSize:)`` with `sigma` 0.8 and
///    `minSize = k` (the paper's code);
/// 2. hierarchical grouping: starting from those regions, the two most similar neighbouring
///    regions are merged until one region is left. Similarity is the sum of the chosen measures,
///    each in [0, 1]: colour (histogram intersection of 25-bin-per-channel, L1-normalised
///    histograms), texture (histogram intersection of 10-bin histograms of Gaussian derivatives,
///    σ = 1, in 8 orientations per channel, L1-normalised), size `1 − (|a| + |b|) / |image|` and
///    fill `1 − (|BB(a ∪ b)| − |a| − |b|) / |image|`. A merged region's histograms are the
///    size-weighted means of its parts' (propagated, not recomputed).
/// 3. every region of the hierarchy (initial and merged) is a proposal; its box is its bounding
///    box.
///
/// Ranking (the paper's): within one hierarchy the region created last (the whole image) has
/// position 1, the one before it 2, …; each region's key is its position times a uniform random
/// number in [0, 1) drawn from a ``SplitMix64`` seeded with `seed` and the strategy's index. All
/// strategies' regions are sorted by key (ties by strategy, then position), duplicate boxes are
/// dropped (the best-ranked copy stays), then boxes narrower or lower than `minSide` are dropped
/// and the list is cut at `maxBoxes`. The same seed gives the same boxes.
///
/// Departures from the paper, all documented in Docs/Proposals.md: colour spaces are quantised
/// to 8 bits per channel before the graph segmentation and the histograms (0–255 for every
/// channel, hue included); texture responses are rectified and scaled per image (the paper
/// does not say how it bins them); regions are neighbours when they share an edge (4-connectivity), as in the paper's code.
public enum SelectiveSearch {
    /// The colour spaces of the paper's diversification.
    public enum ColorSpace: String, CaseIterable, Sendable {
        /// R, G, B.
        case rgb
        /// Hue, saturation, value (scikit-image's definitions, each scaled to 0–255).
        case hsv
        /// CIE L*a*b* (D65): L·255/100, a + 128, b + 128.
        case lab
        /// Normalised r = R/(R+G+B), g = G/(R+G+B) (each ·255) and intensity I = (R+G+B)/3.
        case rgI = "rgi"
        /// Intensity (R+G+B)/3, one channel.
        case intensity = "i"
        /// Hue alone, one channel.
        case hue = "h"

        /// The paper's name (`rgI`, `I`, `H`, `HSV`, `Lab`, `RGB`).
        public var paperName: String {
            switch self {
            case .rgb: "RGB"
            case .hsv: "HSV"
            case .lab: "Lab"
            case .rgI: "rgI"
            case .intensity: "I"
            case .hue: "H"
            }
        }

        /// Parses the paper's or the lower-case name.
        public init?(name: String) {
            let lower = name.lowercased()
            guard let space = ColorSpace(rawValue: lower) else { return nil }
            self = space
        }
    }

    /// A similarity set: which measures are summed.
    public struct Similarity: OptionSet, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        public static let color = Similarity(rawValue: 1)
        public static let texture = Similarity(rawValue: 2)
        public static let size = Similarity(rawValue: 4)
        public static let fill = Similarity(rawValue: 8)

        /// Parses the paper's notation: `C+T+S+F`, `T+S+F`, `F`, `S`, … (letters C, T, S, F
        /// joined by `+`, any order, case-insensitive).
        public init?(paperNotation text: String) {
            var set: Similarity = []
            for part in text.split(separator: "+", omittingEmptySubsequences: false) {
                switch part.uppercased() {
                case "C": set.insert(.color)
                case "T": set.insert(.texture)
                case "S": set.insert(.size)
                case "F": set.insert(.fill)
                default: return nil
                }
            }
            guard !set.isEmpty else { return nil }
            self = set
        }

        public var description: String {
            [(Similarity.color, "C"), (.texture, "T"), (.size, "S"), (.fill, "F")]
                .filter { contains($0.0) }.map(\.1).joined(separator: "+")
        }
    }

    /// One hierarchical grouping: colour space, Felzenszwalb `k`, similarity set.
    public struct Strategy: Hashable, Sendable, CustomStringConvertible {
        public var colorSpace: ColorSpace
        public var k: Double
        public var similarity: Similarity

        public init(colorSpace: ColorSpace, k: Double, similarity: Similarity) {
            self.colorSpace = colorSpace
            self.k = k
            self.similarity = similarity
        }

        public var description: String { "\(colorSpace.paperName) k=\(fixed(k, 0)) \(similarity)" }
    }

    /// The paper's settings (Section 5.2 and Table 5).
    public enum Mode: String, CaseIterable, Sendable {
        /// "Selective Search Single": HSV, k = 100, C+T+S+F.
        case single
        /// "Selective Search Fast": HSV and Lab; k 50 and 100; C+T+S+F and T+S+F (8 strategies).
        case fast
        /// "Selective Search Quality": HSV, Lab, rgI, H, I; k 50, 100, 150, 300; C+T+S+F,
        /// T+S+F, F and S (80 strategies).
        case quality

        public var colorSpaces: [ColorSpace] {
            switch self {
            case .single: [.hsv]
            case .fast: [.hsv, .lab]
            case .quality: [.hsv, .lab, .rgI, .hue, .intensity]
            }
        }

        public var ks: [Double] {
            switch self {
            case .single: [100]
            case .fast: [50, 100]
            case .quality: [50, 100, 150, 300]
            }
        }

        public var similarities: [Similarity] {
            let all: Similarity = [.color, .texture, .size, .fill]
            return switch self {
            case .single: [all]
            case .fast: [all, [.texture, .size, .fill]]
            case .quality: [all, [.texture, .size, .fill], .fill, .size]
            }
        }

        public var strategies: [Strategy] {
            SelectiveSearch.strategies(colorSpaces: colorSpaces, ks: ks, similarities: similarities)
        }
    }

    /// Every combination, colour space outermost, then k, then similarity set.
    public static func strategies(colorSpaces: [ColorSpace], ks: [Double], similarities: [Similarity]) -> [Strategy] {
        colorSpaces.flatMap { space in ks.flatMap { k in similarities.map { Strategy(colorSpace: space, k: k, similarity: $0) } } }
    }

    /// Options of ``propose(_:strategies:options:)``.
    public struct Options: Sendable {
        /// Gaussian smoothing before the graph segmentation (the paper's 0.8).
        public var sigma: Double = 0.8
        /// Seed of the ranking's random numbers.
        public var seed: UInt64 = 0
        /// Keep at most this many boxes (nil: all).
        public var maxBoxes: Int?
        /// Drop boxes whose width or height is below this many pixels (0: keep all).
        public var minSide: Int = 0
        /// Threads for the strategies (1: sequential). Results do not depend on it.
        public var jobs: Int = 1

        public init(sigma: Double = 0.8, seed: UInt64 = 0, maxBoxes: Int? = nil, minSide: Int = 0, jobs: Int = 1) {
            self.sigma = sigma
            self.seed = seed
            self.maxBoxes = maxBoxes
            self.minSide = minSide
            self.jobs = jobs
        }
    }

    /// A region's box in integer pixel coordinates, inclusive: columns `x0...x1`, rows `y0...y1`.
    public struct PixelBox: Hashable, Sendable {
        public var x0: Int32, y0: Int32, x1: Int32, y1: Int32
        public var width: Int { Int(x1) - Int(x0) + 1 }
        public var height: Int { Int(y1) - Int(y0) + 1 }
        /// The box as `[x, y, w, h]` (COCO's convention; a one-pixel region is 1×1).
        public var xywh: [Int] { [Int(x0), Int(y0), width, height] }
        /// As an xyxy ``Box`` covering the pixels (`x2 = x1 + 1`).
        public var box: Box { Box(x1: Float(x0), y1: Float(y0), x2: Float(x1) + 1, y2: Float(y1) + 1) }
    }

    /// Ranked proposals for `image` (gray or colour, 8- or 16-bit; alpha ignored).
    /// - Throws: ``CVSegError/invalidArgument(_:)`` for an empty strategy list, a non-positive
    ///   `k`, a negative `sigma`, `maxBoxes < 0` or `minSide < 0`.
    /// - Complexity: per strategy O(p log p) for the graph segmentation of p pixels, O(p) for
    ///   the features, O(n log n · (d + b)) for the grouping of n regions with d neighbours on
    ///   average and b histogram bins.
    public static func propose(_ image: AnyImage, strategies: [Strategy], options: Options = Options()) throws -> [PixelBox] {
        guard !strategies.isEmpty else { throw CVSegError.invalidArgument("selective search: no strategy given") }
        for s in strategies where !(s.k > 0) || !s.k.isFinite {
            throw CVSegError.invalidArgument("selective search: k must be a positive number, not \(s.k)")
        }
        guard options.sigma >= 0, options.sigma.isFinite else {
            throw CVSegError.invalidArgument("selective search: sigma must be 0 or more, not \(options.sigma)")
        }
        if let m = options.maxBoxes, m < 0 { throw CVSegError.invalidArgument("selective search: maxBoxes must be >= 0") }
        guard options.minSide >= 0 else { throw CVSegError.invalidArgument("selective search: minSide must be >= 0") }
        let rgb = image.to8Bit()
        if rgb.pixelCount == 0 { return [] }

        // Work items: one per strategy; features are shared by strategies of the same colour
        // space and k (the segmentation) or colour space (the texture responses).
        let hierarchies = try runHierarchies(rgb, strategies: strategies, sigma: options.sigma, jobs: options.jobs)

        struct Ranked { var key: Double; var strategy: Int; var position: Int; var box: PixelBox }
        var ranked: [Ranked] = []
        ranked.reserveCapacity(hierarchies.reduce(0) { $0 + $1.count })
        for (s, boxes) in hierarchies.enumerated() {
            var rng = SplitMix64(seed: options.seed &+ UInt64(s) &* 0x9E37_79B9_7F4A_7C15)
            let count = boxes.count
            for (index, box) in boxes.enumerated() {
                let position = count - index // the last created (whole image) is 1
                let u = Double(rng.next() >> 11) * 0x1p-53
                ranked.append(Ranked(key: Double(position) * u, strategy: s, position: position, box: box))
            }
        }
        ranked.sort { ($0.key, $0.strategy, $0.position) < ($1.key, $1.strategy, $1.position) }
        var seen = Set<PixelBox>()
        var out: [PixelBox] = []
        for r in ranked {
            if let m = options.maxBoxes, out.count >= m { break }
            guard seen.insert(r.box).inserted else { continue }
            if r.box.width < options.minSide || r.box.height < options.minSide { continue }
            out.append(r.box)
        }
        return out
    }

    /// The hierarchy of every strategy: each a list of region boxes in creation order.
    static func runHierarchies(_ rgb: Image<UInt8>, strategies: [Strategy], sigma: Double, jobs: Int) throws -> [[PixelBox]] {
        // Group strategies by (colour space, k): one segmentation each.
        var grouping: [(space: ColorSpace, k: Double, members: [Int])] = []
        for (i, s) in strategies.enumerated() {
            if let g = grouping.firstIndex(where: { $0.space == s.colorSpace && $0.k == s.k }) {
                grouping[g].members.append(i)
            } else {
                grouping.append((s.colorSpace, s.k, [i]))
            }
        }
        let groups = grouping
        let results = Mutex<[[PixelBox]?]>(Array(repeating: nil, count: strategies.count))
        let failure = Mutex<(any Error)?>(nil)
        let next = Atomic<Int>(0)
        let cache = FeatureCache(rgb)
        let work: @Sendable () -> Void = {
            while true {
                let g = next.add(1, ordering: .relaxed).oldValue
                guard g < groups.count else { return }
                do {
                    let group = groups[g]
                    let space = try cache.space(group.space)
                    let labels = try felzenszwalb(space.image, scale: group.k, sigma: sigma, minSize: Int(group.k.rounded()))
                    let regions = RegionFeatures(labels: labels, space: space)
                    for member in group.members {
                        let boxes = regions.group(similarity: strategies[member].similarity)
                        results.withLock { $0[member] = boxes }
                    }
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                    return
                }
            }
        }
        let workers = max(1, min(jobs, groups.count))
        if workers == 1 {
            work()
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { _ in work() }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return results.withLock { $0.map { $0 ?? [] } }
    }
}
