import Testing
import CVSegCore
import CVSegTestSupport
@testable import CVSegClassical

/// Selective search: the paper's presets, the grouping's invariants against a brute-force
/// recomputation, determinism, and odd images.
@Suite struct SelectiveSearchTests {
    /// A seeded picture: a few rectangles and a disc of different colours on a noisy background.
    static func picture(width: Int = 48, height: Int = 40, seed: UInt64 = 1) -> AnyImage {
        var rng = SplitMix64(seed: seed)
        var samples = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                var c: (Int, Int, Int) = (40, 60, 50)
                if x > 5 && x < 20 && y > 4 && y < 18 { c = (200, 40, 40) }
                if x > 25 && x < 44 && y > 10 && y < 30 { c = (30, 30, 190) }
                if (x - 14) * (x - 14) + (y - 30) * (y - 30) < 36 { c = (230, 230, 60) }
                let noise = Int(rng.next() % 21) - 10
                let i = 3 * (y * width + x)
                samples[i] = UInt8(clamping: c.0 + noise)
                samples[i + 1] = UInt8(clamping: c.1 + noise)
                samples[i + 2] = UInt8(clamping: c.2 + noise)
            }
        }
        return .uint8(Image(width: width, height: height, layout: .rgb, samples: samples))
    }

    @Test func presetsAreThePapers() {
        #expect(SelectiveSearch.Mode.single.strategies.map(\.description) == ["HSV k=100 C+T+S+F"])
        let fast = SelectiveSearch.Mode.fast.strategies
        #expect(fast.count == 8)
        #expect(Set(fast.map(\.colorSpace)) == [.hsv, .lab] && Set(fast.map(\.k)) == [50, 100])
        #expect(Set(fast.map(\.similarity.description)) == ["C+T+S+F", "T+S+F"])
        let quality = SelectiveSearch.Mode.quality.strategies
        #expect(quality.count == 80)
        #expect(Set(quality.map(\.colorSpace)) == [.hsv, .lab, .rgI, .hue, .intensity])
        #expect(Set(quality.map(\.k)) == [50, 100, 150, 300])
        #expect(Set(quality.map(\.similarity.description)) == ["C+T+S+F", "T+S+F", "F", "S"])
        #expect(SelectiveSearch.Similarity(paperNotation: "f+s+t") == [.fill, .size, .texture])
        #expect(SelectiveSearch.Similarity(paperNotation: "C+X") == nil)
        #expect(SelectiveSearch.Similarity(paperNotation: "") == nil)
        #expect(SelectiveSearch.ColorSpace(name: "rgI") == .rgI && SelectiveSearch.ColorSpace(name: "H") == .hue)
    }

    /// The hierarchy has 2n − 1 regions for n initial ones, ends with the whole image, every
    /// merged box is the union of two earlier boxes, and the propagated histograms equal the
    /// histograms recomputed from the pixels.
    @Test func groupingInvariants() throws {
        let rgb = Self.picture().to8Bit()
        for space in SelectiveSearch.ColorSpace.allCases {
            let spaceImage = SelectiveSearch.SpaceImage(image: SelectiveSearch.convert(rgb, to: space),
                                                        texture: SelectiveSearch.textureBins(SelectiveSearch.convert(rgb, to: space)))
            let labels = try felzenszwalb(spaceImage.image, scale: 50, sigma: 0.8, minSize: 10)
            let regions = SelectiveSearch.RegionFeatures(labels: labels, space: spaceImage)
            #expect(regions.count > 3, "\(space): \(regions.count) regions")
            for similarity in SelectiveSearch.Mode.quality.similarities {
                let boxes = regions.group(similarity: similarity)
                #expect(boxes.count == 2 * regions.count - 1)
                #expect(boxes.last == SelectiveSearch.PixelBox(x0: 0, y0: 0, x1: Int32(rgb.width - 1), y1: Int32(rgb.height - 1)))
            }
            // Propagation: the size-weighted mean of two regions' histograms is the histogram of
            // their union, computed from the pixels.
            let merged = labels.labels.map { $0 == 1 ? 0 : $0 }
            let union = SelectiveSearch.RegionFeatures(labels: LabelMap(width: labels.width, height: labels.height, labels: merged),
                                                       space: spaceImage)
            let (s0, s1) = (Float(regions.sizes[0]), Float(regions.sizes[1]))
            for b in 0..<regions.colorBins {
                let mean = (s0 * regions.color[b] + s1 * regions.color[regions.colorBins + b]) / (s0 + s1)
                #expect(abs(mean - union.color[b]) < 1e-6)
            }
            for b in 0..<regions.textureBins {
                let mean = (s0 * regions.texture[b] + s1 * regions.texture[regions.textureBins + b]) / (s0 + s1)
                #expect(abs(mean - union.texture[b]) < 1e-6)
            }
        }
    }

    /// A brute-force grouping that recomputes every region's histograms from its pixels and
    /// every similarity from scratch before each merge picks the same merges.
    @Test func groupingMatchesBruteForce() throws {
        let rgb = Self.picture(width: 24, height: 20, seed: 3).to8Bit()
        let image = SelectiveSearch.convert(rgb, to: .hsv)
        let space = SelectiveSearch.SpaceImage(image: image, texture: SelectiveSearch.textureBins(image))
        let labels = try felzenszwalb(image, scale: 30, sigma: 0.8, minSize: 5)
        let regions = SelectiveSearch.RegionFeatures(labels: labels, space: space)
        let all: SelectiveSearch.Similarity = [.color, .texture, .size, .fill]
        let fast = regions.group(similarity: all)
        // Brute force on pixel sets.
        var current = labels.labels
        var members: [Int32: Int32] = [:] // brute-force label -> hierarchy id
        for r in 0..<regions.count { members[Int32(r)] = Int32(r) }
        var nextID = Int32(regions.count)
        var brute = Array(fast.prefix(regions.count))
        while Set(current).count > 1 {
            let map = LabelMap(width: labels.width, height: labels.height, labels: current)
            let f = SelectiveSearch.RegionFeatures(labels: map, space: space)
            var best: (Double, Int32, Int32)?
            for (a, b) in f.pairs {
                let (ia, ib) = (Int(a), Int(b))
                var s = 0.0
                s += Double((0..<f.colorBins).reduce(Float(0)) { $0 + min(f.color[ia * f.colorBins + $1], f.color[ib * f.colorBins + $1]) })
                s += Double((0..<f.textureBins).reduce(Float(0)) { $0 + min(f.texture[ia * f.textureBins + $1], f.texture[ib * f.textureBins + $1]) })
                s += 1 - Double(f.sizes[ia] + f.sizes[ib]) / Double(f.imageSize)
                let (p, q) = (f.boxes[ia], f.boxes[ib])
                let area = Double((Int(max(p.x1, q.x1)) - Int(min(p.x0, q.x0)) + 1) * (Int(max(p.y1, q.y1)) - Int(min(p.y0, q.y0)) + 1))
                s += 1 - (area - Double(f.sizes[ia] + f.sizes[ib])) / Double(f.imageSize)
                // Ties: smaller hierarchy ids first, as the heap.
                let (ha, hb) = (min(members[a]!, members[b]!), max(members[a]!, members[b]!))
                if let (bs, ba, bb) = best {
                    if s > bs + 1e-9 || (abs(s - bs) <= 1e-9 && (ha, hb) < (min(members[ba]!, members[bb]!), max(members[ba]!, members[bb]!))) {
                        best = (s, a, b)
                    }
                } else {
                    best = (s, a, b)
                }
            }
            let (_, a, b) = try #require(best)
            let box = SelectiveSearch.PixelBox(x0: min(f.boxes[Int(a)].x0, f.boxes[Int(b)].x0), y0: min(f.boxes[Int(a)].y0, f.boxes[Int(b)].y0),
                                               x1: max(f.boxes[Int(a)].x1, f.boxes[Int(b)].x1), y1: max(f.boxes[Int(a)].y1, f.boxes[Int(b)].y1))
            brute.append(box)
            // Merge b into a, relabel densely (RegionFeatures wants 0..<n), carry the ids.
            let merged = current.map { $0 == b ? a : $0 }
            var dense: [Int32: Int32] = [:]
            var newMembers: [Int32: Int32] = [:]
            current = merged.map { l in
                if let d = dense[l] { return d }
                let d = Int32(dense.count)
                dense[l] = d
                newMembers[d] = l == a ? nextID : members[l]!
                return d
            }
            members = newMembers
            nextID += 1
        }
        #expect(brute == fast)
    }

    @Test func deterministicAndIndependentOfJobs() throws {
        let image = Self.picture()
        let one = try SelectiveSearch.propose(image, strategies: SelectiveSearch.Mode.fast.strategies,
                                              options: .init(seed: 7, jobs: 1))
        let two = try SelectiveSearch.propose(image, strategies: SelectiveSearch.Mode.fast.strategies,
                                              options: .init(seed: 7, jobs: 3))
        #expect(one == two)
        #expect(Set(one).count == one.count, "duplicates left")
        let other = try SelectiveSearch.propose(image, strategies: SelectiveSearch.Mode.fast.strategies,
                                                options: .init(seed: 8, jobs: 1))
        #expect(Set(other) == Set(one) && other != one, "another seed ranks the same boxes differently")
        let capped = try SelectiveSearch.propose(image, strategies: SelectiveSearch.Mode.fast.strategies,
                                                 options: .init(seed: 7, maxBoxes: 10, minSide: 4))
        #expect(capped.count == 10 && capped.allSatisfy { $0.width >= 4 && $0.height >= 4 })
        #expect(capped == Array(one.filter { $0.width >= 4 && $0.height >= 4 }.prefix(10)))
        // The three objects are found: some box within 2 px of each.
        for target in [SelectiveSearch.PixelBox(x0: 6, y0: 5, x1: 19, y1: 17), .init(x0: 26, y0: 11, x1: 43, y1: 29)] {
            #expect(one.contains { abs(Int($0.x0) - Int(target.x0)) <= 2 && abs(Int($0.y0) - Int(target.y0)) <= 2
                && abs(Int($0.x1) - Int(target.x1)) <= 2 && abs(Int($0.y1) - Int(target.y1)) <= 2 }, "\(target)")
        }
    }

    @Test func oddImagesNeverCrash() throws {
        var rng = SplitMix64(seed: 5)
        func random(_ w: Int, _ h: Int, _ layout: ColorLayout) -> AnyImage {
            .uint8(Image(width: w, height: h, layout: layout, samples: (0..<w * h * layout.channels).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
        }
        let cases: [(String, AnyImage)] = [
            ("1x2000", random(1, 2000, .rgb)), ("2000x1", random(2000, 1, .rgb)), ("3x1000", random(3, 1000, .rgb)),
            ("1000x3", random(1000, 3, .gray)), ("1x1", random(1, 1, .rgb)), ("2x2", random(2, 2, .gray)),
            ("constant", .uint8(Image(width: 30, height: 20, layout: .rgb, repeating: 128))),
            ("black", .uint8(Image(width: 30, height: 20, layout: .rgb, repeating: 0))),
            ("gray", random(40, 30, .gray)), ("rgba", random(20, 20, .rgba)),
            ("16-bit", .uint16(Image(width: 20, height: 10, layout: .rgb, samples: (0..<600).map { _ in UInt16(truncatingIfNeeded: rng.next()) }))),
            ("empty", .uint8(Image(width: 0, height: 0, layout: .rgb, samples: []))),
        ]
        for (name, image) in cases {
            let boxes = try SelectiveSearch.propose(image, strategies: SelectiveSearch.Mode.quality.strategies, options: .init(jobs: 2))
            #expect(boxes.allSatisfy { $0.x0 >= 0 && $0.y0 >= 0 && Int($0.x1) < image.width && Int($0.y1) < image.height && $0.x0 <= $0.x1 && $0.y0 <= $0.y1 }, "\(name)")
            if image.width * image.height > 0 {
                #expect(boxes.contains(SelectiveSearch.PixelBox(x0: 0, y0: 0, x1: Int32(image.width - 1), y1: Int32(image.height - 1))), "\(name): no whole-image box")
            } else {
                #expect(boxes.isEmpty)
            }
        }
        // A constant image is one region: one box.
        let flat = try SelectiveSearch.propose(cases[6].1, strategies: SelectiveSearch.Mode.fast.strategies)
        #expect(flat == [SelectiveSearch.PixelBox(x0: 0, y0: 0, x1: 29, y1: 19)])
    }

    @Test func badOptions() {
        let image = Self.picture(width: 8, height: 8)
        #expect(throws: CVSegError.self) { try SelectiveSearch.propose(image, strategies: []) }
        #expect(throws: CVSegError.self) {
            try SelectiveSearch.propose(image, strategies: [.init(colorSpace: .hsv, k: 0, similarity: .size)])
        }
        #expect(throws: CVSegError.self) {
            try SelectiveSearch.propose(image, strategies: SelectiveSearch.Mode.single.strategies, options: .init(sigma: -1))
        }
        #expect(throws: CVSegError.self) {
            try SelectiveSearch.propose(image, strategies: SelectiveSearch.Mode.single.strategies, options: .init(maxBoxes: -1))
        }
    }
}
