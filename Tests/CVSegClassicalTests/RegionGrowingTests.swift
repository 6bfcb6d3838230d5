import Testing
import CVSegTestSupport
import CVSegCore
@testable import CVSegClassical

/// Seeded region growing, flood fill and split-and-merge on hand-built images, against brute-force
/// references and two literal scikit-image results, plus properties.
@Suite struct RegionGrowingTests {
    static func gray(_ rows: [[UInt8]]) -> Image<UInt8> {
        Image(width: rows[0].count, height: rows.count, layout: .gray, samples: rows.flatMap { $0 })
    }

    static func randomImage(_ width: Int, _ height: Int, levels: UInt8, seed: UInt64) -> Image<UInt8> {
        var rng = SplitMix64(state: seed)
        return Image(width: width, height: height, layout: .gray,
                     samples: (0..<(width * height)).map { _ in UInt8.random(in: 0...levels, using: &rng) })
    }

    // MARK: Seeded region growing

    @Test func twoFlatRegionsOneSeedEach() throws {
        // Left 3 columns 20, right 5 columns 200.
        let rows = (0..<5).map { _ in [UInt8](repeating: 20, count: 3) + [UInt8](repeating: 200, count: 5) }
        let map = try seededRegionGrowing(Self.gray(rows), seeds: [Seed(x: 0, y: 0, label: 7), Seed(x: 7, y: 4, label: 3)])
        let expected = (0..<5).flatMap { _ in [Int32](repeating: 7, count: 3) + [Int32](repeating: 3, count: 5) }
        #expect(map.labels == expected)
        let map8 = try seededRegionGrowing(Self.gray(rows), seeds: [Seed(x: 1, y: 2, label: 7), Seed(x: 5, y: 1, label: 3)],
                                           connectivity: .eight)
        #expect(map8.labels == expected)
    }

    @Test func sharedLabelSeedsFormOneRegion() throws {
        let rows: [[UInt8]] = [[10, 10, 90, 10, 10]]
        let map = try seededRegionGrowing(Self.gray(rows), seeds: [
            Seed(x: 0, y: 0, label: 1), Seed(x: 4, y: 0, label: 1), Seed(x: 2, y: 0, label: 2), Seed(x: 4, y: 0, label: 1),
        ])
        #expect(map.labels == [1, 1, 2, 1, 1])
    }

    /// Quadratic ramp v(x) = x², x = 0...9, seeds at x = 0 (label 1) and x = 9 (label 2), by hand
    /// (δ = |v − running mean|, ties by push order):
    /// - start: mean1 = 0, mean2 = 81; push x1 (δ 1), x8 (δ 17).
    /// - pop x1 → 1, mean1 = 0.5, push x2 (δ 3.5); pop x2 → 1, mean1 = 5/3, push x3 (δ 7.33);
    ///   pop x3 → 1, mean1 = 3.5, push x4 (δ 12.5); pop x4 → 1, mean1 = 6, push x5 (δ 19).
    /// - pop x8 (17) → 2, mean2 = 72.5, push x7 (δ 23.5).
    /// - pop x5 (19) → 1 (only neighbour region), mean1 = 55/6 ≈ 9.17, push x6 (δ 26.83).
    /// - pop x7 (23.5) → 2, mean2 = 194/3 ≈ 64.67, push x6 again (δ 28.67).
    /// - pop x6 (26.83): at pop time δ1 = |36 − 9.17| = 26.83 < δ2 = |36 − 64.67| = 28.67 → 1.
    /// So the means meet between x = 6 (36) and x = 7 (49): labels 1 for x ≤ 6, 2 for x ≥ 7.
    @Test func quadraticRampSplitsWhereRunningMeansMeet() throws {
        let row = (0..<10).map { UInt8($0 * $0) }
        let image = Self.gray([[UInt8]](repeating: row, count: 1))
        let map = try seededRegionGrowing(image, seeds: [Seed(x: 0, y: 0, label: 1), Seed(x: 9, y: 0, label: 2)])
        #expect(map.labels == [1, 1, 1, 1, 1, 1, 1, 2, 2, 2])
        // Three identical rows with seeds on every row: the same split on each row.
        let image3 = Self.gray([[UInt8]](repeating: row, count: 3))
        let seeds3 = (0..<3).flatMap { y in [Seed(x: 0, y: y, label: 1), Seed(x: 9, y: y, label: 2)] }
        let map3 = try seededRegionGrowing(image3, seeds: seeds3)
        #expect(map3.labels == [Int32](repeating: 0, count: 3).flatMap { _ in [1, 1, 1, 1, 1, 1, 1, 2, 2, 2] as [Int32] })
    }

    /// Linear ramp 0...9, seeds at both ends: the candidates x4 and x5 tie at δ 2.5; x4 was pushed
    /// first so it pops first (→ 1, mean1 = 2), and x5 then prefers region 2 (|5 − 7.5| < |5 − 2|).
    @Test func linearRampTieIsBrokenByPushOrder() throws {
        let image = Self.gray([(0..<10).map { UInt8($0) }])
        let map = try seededRegionGrowing(image, seeds: [Seed(x: 0, y: 0, label: 1), Seed(x: 9, y: 0, label: 2)])
        #expect(map.labels == [1, 1, 1, 1, 1, 2, 2, 2, 2, 2])
    }

    @Test func tiesAreDeterministic() throws {
        // A flat image: every δ is 0, so the order is pure insertion order.
        let flat = Image<UInt8>(width: 9, height: 7, layout: .gray, repeating: 50)
        let seeds = [Seed(x: 0, y: 0, label: 1), Seed(x: 8, y: 6, label: 2), Seed(x: 4, y: 3, label: 3)]
        for connectivity in [Connectivity.four, .eight] {
            let a = try seededRegionGrowing(flat, seeds: seeds, connectivity: connectivity)
            let b = try seededRegionGrowing(flat, seeds: seeds, connectivity: connectivity)
            #expect(a == b)
            #expect(!a.labels.contains(0))
            #expect(Set(a.labels) == [1, 2, 3])
        }
        let noisy = Self.randomImage(20, 15, levels: 3, seed: 11)
        let auto = try autoSeeds(noisy, count: 6)
        #expect(try seededRegionGrowing(noisy, seeds: auto, connectivity: .eight)
                == seededRegionGrowing(noisy, seeds: auto, connectivity: .eight))
    }

    @Test func everyPixelLabelledAndRegionsConnected() throws {
        for s in 0..<5 as Range<UInt64> {
            let image = Self.randomImage(17, 13, levels: 255, seed: 100 + s)
            let seeds = try autoSeeds(image, count: 5)
            for connectivity in [Connectivity.four, .eight] {
                let map = try seededRegionGrowing(image, seeds: seeds, connectivity: connectivity)
                #expect(!map.labels.contains(0))
                // Each label is one connected component containing its seed.
                for label in Int32(1)...5 {
                    let mask = Image(width: 17, height: 13, layout: .gray,
                                     samples: map.labels.map { $0 == label ? UInt8(1) : 0 })
                    let (_, stats) = try connectedComponents(mask, connectivity: connectivity)
                    #expect(stats.count == 1)
                }
            }
        }
    }

    @Test func colourUsesEuclideanDistance() throws {
        // Middle (60, 60, 60): to the left seed (0, 0, 0) Euclidean √10800 ≈ 103.9 (max-channel 60);
        // to the right seed (130, 60, 60) Euclidean 70 (max-channel 70). Euclidean → label 2;
        // a per-channel-max distance would have given label 1.
        let samples: [UInt8] = [0, 0, 0,  60, 60, 60,  130, 60, 60]
        let image = Image(width: 3, height: 1, layout: .rgb, samples: samples)
        let map = try seededRegionGrowing(image, seeds: [Seed(x: 0, y: 0, label: 1), Seed(x: 2, y: 0, label: 2)])
        #expect(map.labels == [1, 2, 2])
    }

    @Test func badSeedsThrow() throws {
        let image = Image<UInt8>(width: 4, height: 3, layout: .gray, repeating: 1)
        #expect(throws: CVSegError.self) { try seededRegionGrowing(image, seeds: []) }
        #expect(throws: CVSegError.self) { try seededRegionGrowing(image, seeds: [Seed(x: 4, y: 0, label: 1)]) }
        #expect(throws: CVSegError.self) { try seededRegionGrowing(image, seeds: [Seed(x: 0, y: -1, label: 1)]) }
        #expect(throws: CVSegError.self) { try seededRegionGrowing(image, seeds: [Seed(x: 0, y: 0, label: 0)]) }
        #expect(throws: CVSegError.self) { try seededRegionGrowing(image, seeds: [Seed(x: 0, y: 0, label: -3)]) }
        #expect(throws: CVSegError.self) {
            try seededRegionGrowing(image, seeds: [Seed(x: 1, y: 1, label: 1), Seed(x: 1, y: 1, label: 2)])
        }
        do {
            _ = try seededRegionGrowing(image, seeds: [Seed(x: 0, y: 0, label: 1), Seed(x: 9, y: 9, label: 2)])
            Issue.record("expected an error")
        } catch let CVSegError.invalidArgument(message) {
            #expect(message.contains("seed 1") && message.contains("(9, 9)"))
        }
    }

    @Test func autoSeedsRule() throws {
        let image = Image<UInt8>(width: 10, height: 10, layout: .gray, repeating: 0)
        // count 4: 2×2 grid of 5×5 cells; flat image → window's first pixel in raster order,
        // centre (2, 2), window clipped to the cell → (0, 0) etc.
        let seeds = try autoSeeds(image, count: 4)
        #expect(seeds == [Seed(x: 0, y: 0, label: 1), Seed(x: 5, y: 0, label: 2),
                          Seed(x: 0, y: 5, label: 3), Seed(x: 5, y: 5, label: 4)])
        let five = try autoSeeds(Self.randomImage(9, 9, levels: 255, seed: 3), count: 5)
        #expect(five.map(\.label) == [1, 2, 3, 4, 5])
        #expect(Set(five.map { $0.y * 9 + $0.x }).count == 5)
        #expect(throws: CVSegError.self) { try autoSeeds(image, count: 0) }
        #expect(throws: CVSegError.self) { try autoSeeds(Image<UInt8>(width: 2, height: 2, layout: .gray), count: 9) }
    }

    // MARK: Flood fill

    /// Brute force: repeatedly add any accepted pixel next to the region until nothing changes.
    static func bruteFlood(_ image: Image<UInt8>, _ seed: (x: Int, y: Int), _ t: Double, _ eight: Bool) -> [UInt8] {
        let w = image.width, h = image.height
        var m = [UInt8](repeating: 0, count: w * h)
        m[seed.y * w + seed.x] = 1
        let s = Double(image[seed.x, seed.y])
        var changed = true
        while changed {
            changed = false
            for y in 0..<h {
                for x in 0..<w where m[y * w + x] == 0 && abs(Double(image[x, y]) - s) <= t {
                    var touches = false
                    for dy in -1...1 {
                        for dx in -1...1 where (dx != 0 || dy != 0) && (eight || dx == 0 || dy == 0) {
                            let nx = x + dx, ny = y + dy
                            if nx >= 0, nx < w, ny >= 0, ny < h, m[ny * w + nx] == 1 { touches = true }
                        }
                    }
                    if touches { m[y * w + x] = 1; changed = true }
                }
            }
        }
        return m
    }

    @Test func floodFillMatchesBruteForce() throws {
        for s in 0..<20 as Range<UInt64> {
            let w = 5 + Int(s % 7), h = 4 + Int(s % 5)
            let image = Self.randomImage(w, h, levels: 20, seed: 1000 + s)
            let seed = (x: Int(s) % w, y: Int(s * 3) % h)
            for t in [0.0, 3, 7.5, 12] {
                for connectivity in [Connectivity.four, .eight] {
                    let mask = try floodFill(image, seed: seed, tolerance: t, connectivity: connectivity)
                    #expect(mask.samples == Self.bruteFlood(image, seed, t, connectivity == .eight))
                }
            }
        }
    }

    /// Produced with scikit-image 0.26.0 (scripts/python-env venv):
    /// `a = np.random.default_rng(7).integers(0, 40, size=(6, 8)).astype(np.uint8)`, then
    /// `flood(a, (2, 3), tolerance=12, connectivity=1 / 2)` and `flood(a, (3, 5), tolerance=5,
    /// connectivity=1 / 2)`, `.astype(np.uint8).tolist()`. skimage seed points are (row, col).
    @Test func floodFillMatchesSkimage() throws {
        let a = Self.gray([
            [37, 25, 27, 35, 23, 31, 33, 9], [2, 12, 11, 34, 36, 0, 19, 32], [5, 31, 4, 18, 32, 12, 13, 11],
            [28, 10, 39, 17, 19, 20, 23, 22], [20, 39, 32, 31, 28, 24, 13, 39], [18, 8, 33, 6, 34, 24, 4, 1],
        ])
        let four12: [[UInt8]] = [
            [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 1, 0, 1, 1, 1],
            [0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 0, 0, 1, 0, 0],
        ]
        let eight12: [[UInt8]] = [
            [0, 1, 1, 0, 0, 0, 0, 1], [0, 1, 1, 0, 0, 0, 1, 0], [0, 0, 0, 1, 0, 1, 1, 1],
            [0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 0, 1, 0, 0],
        ]
        let five: [[UInt8]] = [  // tolerance 5 from (row 3, col 5): the same for connectivity 1 and 2
            [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0, 0],
            [0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 1, 0, 0],
        ]
        #expect(try floodFill(a, seed: (x: 3, y: 2), tolerance: 12).samples == four12.flatMap { $0 })
        #expect(try floodFill(a, seed: (x: 3, y: 2), tolerance: 12, connectivity: .eight).samples == eight12.flatMap { $0 })
        #expect(try floodFill(a, seed: (x: 5, y: 3), tolerance: 5).samples == five.flatMap { $0 })
        #expect(try floodFill(a, seed: (x: 5, y: 3), tolerance: 5, connectivity: .eight).samples == five.flatMap { $0 })
    }

    @Test func floodFillBadArgumentsThrow() throws {
        let image = Image<UInt8>(width: 3, height: 3, layout: .gray)
        #expect(throws: CVSegError.self) { try floodFill(image, seed: (x: 3, y: 0), tolerance: 1) }
        #expect(throws: CVSegError.self) { try floodFill(image, seed: (x: 0, y: 0), tolerance: -1) }
        #expect(throws: CVSegError.self) { try floodFill(image, seed: (x: 0, y: 0), tolerance: .nan) }
    }

    // MARK: Split and merge

    @Test func fourFlatQuadrants() throws {
        let values: [UInt8] = [10, 60, 120, 240]
        let image = Image(width: 16, height: 16, layout: .gray, samples: (0..<256).map { p in
            values[(p / 16 >= 8 ? 2 : 0) + (p % 16 >= 8 ? 1 : 0)]
        })
        for predicate in [Homogeneity.range(0), .standardDeviation(0), .range(5)] {
            let map = try splitAndMerge(image, predicate: predicate)
            let expected: [Int32] = (0..<256).map { (p: Int) -> Int32 in Int32((p / 16 >= 8 ? 2 : 0) + (p % 16 >= 8 ? 1 : 0) + 1) }
            #expect(map.labels == expected)
        }
        // A loose predicate merges neighbours: range 50 joins 10 and 60 (first pair in leaf order),
        // then nothing else fits (60/120, 10/120 exceed 50; 120/240 exceeds 50).
        let loose = try splitAndMerge(image, predicate: .range(50))
        #expect(Set(loose.labels) == [1, 2, 3])
        #expect(loose[0, 0] == loose[15, 0])
    }

    @Test func flatImageIsOneRegion() throws {
        let map = try splitAndMerge(Image<UInt8>(width: 13, height: 7, layout: .gray, repeating: 9), predicate: .range(0))
        #expect(map.labels == [Int32](repeating: 1, count: 91))
    }

    @Test func checkerboards() throws {
        // 1-pixel checkerboard, 16×16, range 0. minBlock 2: splitting stops at 2×2 blocks (sides
        // not > 2), which all fail; no union of two can pass → 8·8 = 64 regions. minBlock 1: 256
        // single pixels; 4-adjacent pixels always differ → 256 regions.
        let pixelSamples: [UInt8] = (0..<256).map { (p: Int) -> UInt8 in ((p / 16) + (p % 16)) % 2 == 0 ? 0 : 255 }
        let pixel = Image(width: 16, height: 16, layout: .gray, samples: pixelSamples)
        #expect(Set(try splitAndMerge(pixel, predicate: .range(0)).labels).count == 64)
        #expect(Set(try splitAndMerge(pixel, predicate: .range(0), minBlock: 1).labels).count == 256)
        // 4×4-cell checkerboard: 16 flat cells; equal cells only touch at corners → 16 regions,
        // numbered in raster order of the cells.
        let cellSamples: [UInt8] = (0..<256).map { (p: Int) -> UInt8 in ((p / 64) + (p % 16) / 4) % 2 == 0 ? 0 : 255 }
        let cells = Image(width: 16, height: 16, layout: .gray, samples: cellSamples)
        let map = try splitAndMerge(cells, predicate: .range(0))
        let expectedCells: [Int32] = (0..<256).map { (p: Int) -> Int32 in Int32((p / 64) * 4 + (p % 16) / 4 + 1) }
        #expect(map.labels == expectedCells)
    }

    @Test func thinAndTinyImages() throws {
        #expect(try splitAndMerge(Image<UInt8>(width: 1, height: 1, layout: .gray, repeating: 4),
                                  predicate: .range(0)).labels == [1])
        // 1×9 column: splits along its long side only, down to runs of ≤ 2 pixels.
        let column = Image(width: 1, height: 9, layout: .gray, samples: [0, 0, 0, 0, 0, 9, 9, 9, 9] as [UInt8])
        let map = try splitAndMerge(column, predicate: .range(0), minBlock: 1)
        #expect(map.labels == [1, 1, 1, 1, 1, 2, 2, 2, 2])
        let row = Image(width: 9, height: 1, layout: .gray, samples: [0, 0, 0, 0, 0, 9, 9, 9, 9] as [UInt8])
        #expect(try splitAndMerge(row, predicate: .standardDeviation(0), minBlock: 1).labels == [1, 1, 1, 1, 1, 2, 2, 2, 2])
        #expect(try splitAndMerge(Image<UInt8>(width: 0, height: 0, layout: .gray), predicate: .range(0)).labels.isEmpty)
    }

    @Test func badSplitMergeArgumentsThrow() throws {
        let image = Image<UInt8>(width: 4, height: 4, layout: .gray)
        #expect(throws: CVSegError.self) { try splitAndMerge(image, predicate: .range(-1)) }
        #expect(throws: CVSegError.self) { try splitAndMerge(image, predicate: .standardDeviation(-0.5)) }
        #expect(throws: CVSegError.self) { try splitAndMerge(image, predicate: .range(.infinity)) }
        #expect(throws: CVSegError.self) { try splitAndMerge(image, predicate: .range(1), minBlock: 0) }
        #expect(throws: CVSegError.self) {
            try splitAndMerge(Image<UInt8>(width: 4, height: 4, layout: .rgb), predicate: .range(1))
        }
    }

    /// 16-bit samples (Σv² up to 2^63 in the packed per-leaf sums): an 8-bit image scaled by 257
    /// (0...255 → 0...65535) splits and merges exactly as the 8-bit one with thresholds × 257,
    /// on a 256×256 image whose largest regions hold tens of thousands of near-65535 pixels
    /// (Σv past 2^32, Σv² past 2^47).
    @Test func sixteenBitSamplesMatchScaledEightBit() throws {
        var rng = SplitMix64(state: 77)
        let w = 256, h = 256
        var samples = [UInt8](repeating: 250, count: w * h)
        for _ in 0..<10 {
            let x0 = Int.random(in: 0..<w, using: &rng), y0 = Int.random(in: 0..<h, using: &rng)
            let x1 = Int.random(in: x0..<min(w, x0 + 40), using: &rng), y1 = Int.random(in: y0..<min(h, y0 + 40), using: &rng)
            let v = UInt8.random(in: 120...250, using: &rng)
            for y in y0...y1 { for x in x0...x1 { samples[y * w + x] = v &+ UInt8.random(in: 0...5, using: &rng) } }
        }
        let eight = Image(width: w, height: h, layout: .gray, samples: samples)
        let sixteen = Image(width: w, height: h, layout: .gray, samples: samples.map { UInt16($0) * 257 })
        for (predicate, scaled) in [(Homogeneity.standardDeviation(1.7), Homogeneity.standardDeviation(1.7 * 257)),
                                    (.standardDeviation(4.5), .standardDeviation(4.5 * 257)),
                                    (.range(4), .range(4 * 257))] {
            for minBlock in [1, 2, 5] {
                let a = try splitAndMerge(eight, predicate: predicate, minBlock: minBlock)
                let b = try splitAndMerge(sixteen, predicate: scaled, minBlock: minBlock)
                #expect(a.labels == b.labels)
                #expect(Set(a.labels).count > 1)
            }
        }
    }

    /// Property: with minBlock 1 every region passes the predicate (checked with a two-pass
    /// variance and a direct range) and is 4-connected, on seeded random piecewise-flat images.
    @Test func mergedRegionsSatisfyPredicate() throws {
        for s in 0..<12 as Range<UInt64> {
            var rng = SplitMix64(state: 500 + s)
            let w = Int.random(in: 1...24, using: &rng), h = Int.random(in: 1...20, using: &rng)
            // Piecewise flat: random rectangles painted over a base, plus small noise on some.
            var samples = [UInt8](repeating: UInt8.random(in: 0...255, using: &rng), count: w * h)
            for _ in 0..<6 {
                let x0 = Int.random(in: 0..<w, using: &rng), y0 = Int.random(in: 0..<h, using: &rng)
                let x1 = Int.random(in: x0..<w, using: &rng), y1 = Int.random(in: y0..<h, using: &rng)
                let v = UInt8.random(in: 0...250, using: &rng), noisy = Bool.random(using: &rng)
                for y in y0...y1 { for x in x0...x1 { samples[y * w + x] = v &+ (noisy ? UInt8.random(in: 0...5, using: &rng) : 0) } }
            }
            let image = Image(width: w, height: h, layout: .gray, samples: samples)
            for predicate in [Homogeneity.range(3), .standardDeviation(2), .range(0), .standardDeviation(10)] {
                let map = try splitAndMerge(image, predicate: predicate, minBlock: 1)
                let count = Int(map.labels.max() ?? 0)
                for label in Int32(1)...Int32(count) {
                    let vs = (0..<(w * h)).filter { map.labels[$0] == label }.map { Double(samples[$0]) }
                    #expect(!vs.isEmpty)
                    let mean = vs.reduce(0, +) / Double(vs.count)
                    let sd = (vs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(vs.count)).squareRoot()
                    switch predicate {
                    case .range(let t): #expect(vs.max()! - vs.min()! <= t)
                    case .standardDeviation(let t): #expect(sd <= t + 1e-9)
                    }
                    let mask = Image(width: w, height: h, layout: .gray, samples: map.labels.map { $0 == label ? UInt8(1) : 0 })
                    #expect(try connectedComponents(mask, connectivity: .four).stats.count == 1)
                }
                // Numbered in raster order of first pixel.
                var seen: Int32 = 0
                for l in map.labels where l > seen { #expect(l == seen + 1); seen = l }
            }
        }
    }
}

