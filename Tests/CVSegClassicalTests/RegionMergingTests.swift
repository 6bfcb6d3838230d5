import Testing
import CVSegTestSupport
import CVSegCore
@testable import CVSegClassical

/// Region merging on a region adjacency graph: hand-computed cases (stripes, grid cells, the
/// documented tie rule, the boundary term), stop rules, argument checks, and a brute-force
/// reference that recomputes the whole graph after every merge.
@Suite struct RegionMergingTests {
    static func gray(_ rows: [[UInt8]]) -> Image<UInt8> {
        Image(width: rows[0].count, height: rows.count, layout: .gray, samples: rows.flatMap { $0 })
    }

    static func random(_ width: Int, _ height: Int, layout: ColorLayout, levels: UInt8, seed: UInt64) -> Image<UInt8> {
        var rng = SplitMix64(state: seed)
        return Image(width: width, height: height, layout: layout,
                     samples: (0..<(width * height * layout.channels)).map { _ in UInt8.random(in: 0...levels, using: &rng) })
    }

    /// 9×4, vertical stripes of width 3 with values 10, 12, 200.
    static let stripes = gray((0..<4).map { _ in [10, 10, 10, 12, 12, 12, 200, 200, 200] })

    // MARK: Hand-computed cases

    @Test func stripesRegionCountTwoMergesTheCloseStripes() throws {
        let map = try mergeRegions(Self.stripes, initial: .pixels, stop: .regionCount(2))
        #expect(map.labels == (0..<4).flatMap { _ in [Int32](arrayLiteral: 1, 1, 1, 1, 1, 1, 2, 2, 2) })
    }

    @Test func stripesThresholds() throws {
        // D within a stripe is 0, between 10 and 12 it is 2, then |11 − 200| = 189.
        let five = try mergeRegions(Self.stripes, initial: .pixels, stop: .threshold(5))
        #expect(five.labels == (0..<4).flatMap { _ in [Int32](arrayLiteral: 1, 1, 1, 1, 1, 1, 2, 2, 2) })
        let one = try mergeRegions(Self.stripes, initial: .pixels, stop: .threshold(1))
        #expect(one.labels == (0..<4).flatMap { _ in [Int32](arrayLiteral: 1, 1, 1, 2, 2, 2, 3, 3, 3) })
        let zero = try mergeRegions(Self.stripes, initial: .pixels, stop: .threshold(0))
        #expect(zero == one)
        let all = try mergeRegions(Self.stripes, initial: .pixels, stop: .threshold(189))
        #expect(all.labels.allSatisfy { $0 == 1 })
    }

    @Test func gridCellsOnTwoNoisyHalves() throws {
        // 16×16: left half 40 + noise 0...6, right half 180 + noise 0...6 (seeded).
        var rng = SplitMix64(state: 42)
        var samples = [UInt8](repeating: 0, count: 256)
        for y in 0..<16 {
            for x in 0..<16 { samples[y * 16 + x] = (x < 8 ? 40 : 180) + UInt8.random(in: 0...6, using: &rng) }
        }
        let image = Image(width: 16, height: 16, layout: .gray, samples: samples)
        let expected = (0..<16).flatMap { _ in [Int32](repeating: 1, count: 8) + [Int32](repeating: 2, count: 8) }
        #expect(try mergeRegions(image, initial: .grid(4), stop: .regionCount(2)).labels == expected)
        #expect(try mergeRegions(image, initial: .grid(4), stop: .threshold(20)).labels == expected)
        #expect(try mergeRegions(image, initial: .pixels, stop: .regionCount(2)).labels == expected)
        // Nothing merges below the smallest cell-mean distance: 16 cells, numbered in raster order.
        let cells = try mergeRegions(image, initial: .grid(4), stop: .regionCount(16))
        let cellOf: [Int32] = (0..<256).map { (p: Int) -> Int32 in
            let cy: Int = p / 64, cx: Int = (p % 16) / 4
            return Int32(cy * 4 + cx + 1)
        }
        #expect(cells.labels == cellOf)
    }

    @Test func gridCellsCutByTheBorder() throws {
        // 5×3 with side 2: cells 3 wide × 2 high, the last column/row cut to 1 pixel.
        let image = Image<UInt8>(width: 5, height: 3, layout: .gray, repeating: 9)
        let map = try mergeRegions(image, initial: .grid(2), stop: .regionCount(100))
        #expect(map.labels == [1, 1, 2, 2, 3,
                               1, 1, 2, 2, 3,
                               4, 4, 5, 5, 6])
    }

    /// Ties by hand. Row [0, 10, 20, 30]: D = 10 for every pair, (0,1) wins the tie and becomes
    /// region 0 with mean 5; then D(0,2) = 15 > D(2,3) = 10, so (2,3) merges next.
    @Test func tieRuleOnARamp() throws {
        let ramp = Self.gray([[0, 10, 20, 30]])
        #expect(try mergeRegions(ramp, initial: .pixels, stop: .regionCount(3)).labels == [1, 1, 2, 3])
        #expect(try mergeRegions(ramp, initial: .pixels, stop: .regionCount(2)).labels == [1, 1, 2, 2])
        // Mirrored, the same ids tie first: the rule is on ids, not values.
        let mirrored = Self.gray([[30, 20, 10, 0]])
        #expect(try mergeRegions(mirrored, initial: .pixels, stop: .regionCount(2)).labels == [1, 1, 2, 2])
    }

    /// A 2×2 checkerboard [0 10; 10 0]: all four adjacent pairs have D = 10; (0,1) merges first
    /// (mean 5, which is 5 from both remaining pixels); then (0,2) beats (0,3) on the id rule, so
    /// pixel 3 (bottom right) stays alone (mean of the rest 20/3, D ≈ 6.67).
    @Test func tieRuleOnASymmetricCheckerboard() throws {
        let image = Self.gray([[0, 10], [10, 0]])
        #expect(try mergeRegions(image, initial: .pixels, stop: .regionCount(3)).labels == [1, 1, 2, 3])
        #expect(try mergeRegions(image, initial: .pixels, stop: .regionCount(2)).labels == [1, 1, 1, 2])
        // The first merge needs D = 10; after it every D stays <= 10 (5, then 20/3).
        #expect(try mergeRegions(image, initial: .pixels, stop: .threshold(9.9)).labels == [1, 2, 3, 4])
        #expect(try mergeRegions(image, initial: .pixels, stop: .threshold(10)).labels == [1, 1, 1, 1])
    }

    @Test func deterministicAcrossRuns() throws {
        let image = Self.random(23, 17, layout: .rgb, levels: 3, seed: 7)
        let a = try mergeRegions(image, initial: .pixels, stop: .regionCount(12), boundaryWeight: 0.5)
        let b = try mergeRegions(image, initial: .pixels, stop: .regionCount(12), boundaryWeight: 0.5)
        #expect(a == b)
        #expect(Set(a.labels) == Set(1...12))
    }

    // MARK: Stop rules

    @Test func countNeverBelowOneAndLargeCountsChangeNothing() throws {
        let image = Self.random(6, 5, layout: .gray, levels: 255, seed: 3)
        #expect(try mergeRegions(image, initial: .pixels, stop: .regionCount(1)).labels.allSatisfy { $0 == 1 })
        let identity = (1...30).map { Int32($0) }
        #expect(try mergeRegions(image, initial: .pixels, stop: .regionCount(30)).labels == identity)
        #expect(try mergeRegions(image, initial: .pixels, stop: .regionCount(1000)).labels == identity)
        // Given labels come back relabelled in raster order; label 5 is non-contiguous and stays one region.
        let given = LabelMap(width: 6, height: 5, labels: [5, 5, 0, 0, 9, 9,
                                                           5, 5, 0, 0, 9, 9,
                                                           -2, -2, 0, 0, 5, 5,
                                                           -2, -2, 0, 0, 5, 5,
                                                           -2, -2, 0, 0, 5, 5])
        let kept = try mergeRegions(image, initial: .labels(given), stop: .regionCount(4))
        let relabelled: [Int32: Int32] = [5: 1, 0: 2, 9: 3, -2: 4]
        #expect(kept.labels == given.labels.map { relabelled[$0]! })
        let one = try mergeRegions(image, initial: .labels(given), stop: .regionCount(1))
        #expect(one.labels.allSatisfy { $0 == 1 })
        #expect(try mergeRegions(image, initial: .labels(given), stop: .regionCount(2)).maxLabel == 2)
    }

    @Test func felzenszwalbSegmentsAsInitialRegions() throws {
        let image = Self.random(20, 20, layout: .rgb, levels: 255, seed: 11)
        let initial = try felzenszwalb(image, scale: 100, sigma: 0.5, minSize: 5)
        let count = Set(initial.labels).count
        let merged = try mergeRegions(image, initial: .labels(initial), stop: .regionCount(3))
        #expect(Set(merged.labels) == Set(1...Int32(min(3, count))))
        // Every final region is a union of initial segments.
        var finalOf: [Int32: Int32] = [:]
        for (l, m) in zip(initial.labels, merged.labels) {
            #expect(finalOf[l, default: m] == m)
            finalOf[l] = m
        }
    }

    @Test func emptyImage() throws {
        let image = Image<UInt8>(width: 0, height: 4, layout: .gray)
        let map = try mergeRegions(image, initial: .pixels, stop: .regionCount(1))
        #expect(map.width == 0 && map.height == 4 && map.labels.isEmpty)
    }

    // MARK: Arguments

    @Test func invalidArgumentsThrow() {
        let image = Self.stripes
        func rejects(_ initial: InitialRegions, _ stop: MergeStop, _ weight: Double = 0) -> Bool {
            do {
                _ = try mergeRegions(image, initial: initial, stop: stop, boundaryWeight: weight)
                return false
            } catch CVSegError.invalidArgument {
                return true
            } catch {
                return false
            }
        }
        #expect(rejects(.grid(0), .regionCount(1)))
        #expect(rejects(.grid(-3), .regionCount(1)))
        #expect(rejects(.pixels, .threshold(-1)))
        #expect(rejects(.pixels, .threshold(.nan)))
        #expect(rejects(.pixels, .threshold(.infinity)))
        #expect(rejects(.pixels, .regionCount(0)))
        #expect(rejects(.pixels, .regionCount(-2)))
        #expect(rejects(.labels(LabelMap(width: 4, height: 9)), .regionCount(1)))
        #expect(rejects(.labels(LabelMap(width: 9, height: 3)), .regionCount(1)))
        #expect(rejects(.pixels, .regionCount(1), -0.5))
        #expect(rejects(.pixels, .regionCount(1), .nan))
        #expect(!rejects(.grid(1), .threshold(0)))
    }

    // MARK: Boundary term

    /// Left region 100 (label 1), right region columns [250, 10, 46, 98] (label 2, mean 101): the
    /// means differ by 1, but the boundary pairs step 100 → 250 (ḡ = 150). With weight 5,
    /// D = 1 · (1 + 5 · 150 / 255) ≈ 3.94 > 2, so threshold 2 keeps them apart; without the
    /// weight D = 1 merges them. The same columns in reverse order ([98, 46, 10, 250], same mean,
    /// ḡ = 2, D ≈ 1.04) still merge with the weight.
    @Test func boundaryWeightKeepsAStrongEdgeApart() throws {
        let labels = LabelMap(width: 8, height: 3, labels: (0..<3).flatMap { _ in [Int32](arrayLiteral: 1, 1, 1, 1, 2, 2, 2, 2) })
        let apartExpected = labels.labels
        let edge = Self.gray((0..<3).map { _ in [100, 100, 100, 100, 250, 10, 46, 98] })
        let smooth = Self.gray((0..<3).map { _ in [100, 100, 100, 100, 98, 46, 10, 250] })
        #expect(try mergeRegions(edge, initial: .labels(labels), stop: .threshold(2)).labels.allSatisfy { $0 == 1 })
        #expect(try mergeRegions(edge, initial: .labels(labels), stop: .threshold(2), boundaryWeight: 5).labels == apartExpected)
        #expect(try mergeRegions(edge, initial: .labels(labels), stop: .threshold(3.9), boundaryWeight: 5).labels == apartExpected)
        #expect(try mergeRegions(edge, initial: .labels(labels), stop: .threshold(4), boundaryWeight: 5).labels.allSatisfy { $0 == 1 })
        #expect(try mergeRegions(smooth, initial: .labels(labels), stop: .threshold(2), boundaryWeight: 5).labels.allSatisfy { $0 == 1 })
        // Exactly equal means give D = 0 whatever the edge (the documented product form).
        let equal = Self.gray((0..<3).map { _ in [100, 100, 100, 100, 250, 10, 42, 98] })
        #expect(try mergeRegions(equal, initial: .labels(labels), stop: .threshold(0), boundaryWeight: 100).labels.allSatisfy { $0 == 1 })
    }

    /// Three regions A | B | C: A = 100, B mean 102 with a 150 step at the A|B boundary, C = 110
    /// with a 12 step at B|C. Weight 0: D(A,B) = 2 < D(B,C) = 8, so A and B merge at count 2.
    /// Weight 20: D(A,B) = 2 · (1 + 20 · 150/255) ≈ 25.5 > D(B,C) = 8 · (1 + 20 · 12/255) ≈ 15.5.
    @Test func boundaryWeightChangesTheMergeOrder() throws {
        let row: [UInt8] = [100, 100, 100, 100, 250, 10, 50, 98, 110, 110, 110, 110]
        let image = Self.gray([row, row])
        let labels = LabelMap(width: 12, height: 2, labels: (0..<2).flatMap { _ in (0..<12).map { Int32($0 / 4) } })
        let plain = try mergeRegions(image, initial: .labels(labels), stop: .regionCount(2))
        #expect(plain.labels == (0..<2).flatMap { _ in (0..<12).map { Int32($0 < 8 ? 1 : 2) } })
        let weighted = try mergeRegions(image, initial: .labels(labels), stop: .regionCount(2), boundaryWeight: 20)
        #expect(weighted.labels == (0..<2).flatMap { _ in (0..<12).map { Int32($0 < 4 ? 1 : 2) } })
    }

    // MARK: Brute-force reference

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6])
    func matchesBruteForce(seed: UInt64) throws {
        let image = Self.random(9, 7, layout: .gray, levels: seed % 2 == 0 ? 3 : 40, seed: seed)
        for weight in [0.0, 0.7] {
            for stop in [MergeStop.regionCount(1), .regionCount(5), .regionCount(17), .threshold(0), .threshold(2.5), .threshold(12)] {
                for initial in [InitialRegions.pixels, .grid(2), .grid(3)] {
                    let fast = try mergeRegions(image, initial: initial, stop: stop, boundaryWeight: weight)
                    let slow = bruteForce(image, initial: initial, stop: stop, weight: weight)
                    #expect(fast.labels == slow, "seed \(seed) weight \(weight) stop \(stop) initial \(initial)")
                }
            }
        }
    }
}

/// Recomputes every region's mean and every adjacent pair's boundary from the pixels after each
/// merge, and merges the minimum `(D, min id, max id)`; gray images with integer sums, so the
/// arithmetic matches the fast version exactly.
private func bruteForce(_ image: Image<UInt8>, initial: InitialRegions, stop: MergeStop, weight: Double) -> [Int32] {
    let w = image.width, h = image.height, n = w * h
    var region = [Int](repeating: 0, count: n)
    for p in 0..<n {
        switch initial {
        case .pixels: region[p] = p
        case .grid(let s): region[p] = (p / w / s) * ((w + s - 1) / s) + (p % w) / s
        case .labels: fatalError("not used")
        }
    }
    let v = image.samples.map { Int($0) }
    while true {
        var sum: [Int: Int] = [:], count: [Int: Int] = [:]
        for p in 0..<n { sum[region[p], default: 0] += v[p]; count[region[p], default: 0] += 1 }
        if case .regionCount(let k) = stop, count.count <= k { break }
        var boundary: [[Int]: (Int, Int)] = [:]
        for p in 0..<n {
            for q in [p % w + 1 < w ? p + 1 : -1, p + w < n ? p + w : -1] where q >= 0 && region[p] != region[q] {
                let key = [min(region[p], region[q]), max(region[p], region[q])]
                let old = boundary[key] ?? (0, 0)
                boundary[key] = (old.0 + abs(v[p] - v[q]), old.1 + 1)
            }
        }
        var best: (Double, Int, Int)? = nil
        for (key, b) in boundary {
            let ma = Double(sum[key[0]]!) * (1 / Double(count[key[0]]!))
            let mb = Double(sum[key[1]]!) * (1 / Double(count[key[1]]!))
            var d = ((ma - mb) * (ma - mb)).squareRoot()
            if weight != 0 { d = d * (1 + weight * (Double(b.0) / Double(b.1)) / 255) }
            if best == nil || (d, key[0], key[1]) < best! { best = (d, key[0], key[1]) }
        }
        guard let (d, a, b) = best else { break }
        if case .threshold(let t) = stop, d > t { break }
        for p in 0..<n where region[p] == b { region[p] = a }
    }
    var number: [Int: Int32] = [:]
    return region.map { r in
        if let l = number[r] { return l }
        let l = Int32(number.count + 1)
        number[r] = l
        return l
    }
}

