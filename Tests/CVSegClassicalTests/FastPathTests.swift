import Testing
import CVSegCore
@testable import CVSegClassical

/// The fast paths against the plain definitions they replace: quantiles by selection against a
/// full sort, multi-seed flood labels against one flood per seed, the one-pass adaptive mean
/// against a naive window mean.
@Suite struct FastPathTests {
    static func randomGray(_ w: Int, _ h: Int, levels: UInt64, seed: UInt64) -> Image<UInt8> {
        var rng = SplitMix64(seed: seed)
        return Image(width: w, height: h, layout: .gray, samples: (0..<(w * h)).map { _ in UInt8(rng.next() % levels) })
    }

    /// The 8-bit histogram (eight pixels per load, four sub-histograms) against plain counting,
    /// on lengths with every remainder modulo 8 and on runs of one value.
    @Test(arguments: [1, 7, 8, 9, 15, 16, 1001, 65_543])
    func byteHistogramCountsEveryPixel(count: Int) {
        for levels: UInt64 in [1, 3, 256] {
            let image = Self.randomGray(count, 1, levels: levels, seed: UInt64(count))
            var expected = [Int](repeating: 0, count: 256)
            for v in image.samples { expected[Int(v)] += 1 }
            #expect(histogram(image) == expected, "\(count) pixels, \(levels) levels")
        }
    }

    @Test(arguments: [1, 2, 3, 17, 100, 1001])
    func selectedQuantilesEqualSortedOnes(count: Int) {
        var rng = SplitMix64(seed: UInt64(count))
        for distinct in [UInt64(3), 1000] {
            let values = (0..<count).map { _ in Double(rng.next() % distinct) * 0.37 }
            let sorted = values.sorted()
            for q in [0.0, 0.1, 0.5, 0.8, 0.9, 0.999, 1.0] {
                var copy = values
                let got = copy.withUnsafeMutableBufferPointer { selectedQuantiles($0, [q]) { $0 } }
                #expect(got[0] == linearQuantile(sorted, q))
            }
        }
    }

    /// Order statistics from a bucket histogram and two passes (canny's quantiles without
    /// storing the magnitudes) against a full sort: zeros, ties, values in one bucket, a wide range.
    @Test(arguments: [1, 2, 17, 1001, 20000])
    func orderStatisticsEqualSortedValues(count: Int) {
        var rng = SplitMix64(seed: UInt64(count) &+ 99)
        let kinds: [(UInt64) -> Double] = [
            { Double($0 % 3) * 0.37 },                                   // zeros and ties
            { 1 + Double($0 % 1000) / 4096 },                            // all in a few buckets
            { $0 % 5 == 0 ? 0 : Double($0 % 100_000) * 1e-7 * Double(1 << ($0 % 20)) }, // wide
        ]
        for kind in kinds {
            let values = (0..<count).map { _ in kind(rng.next()) }
            let sorted = values.sorted()
            let ranks = [0, count / 3, count / 2, count - 1, min(count / 2 + 1, count - 1)]
            var passes = 0
            let got = orderStatistics(count: count, ranks: ranks) { body in
                passes += 1
                var start = 0
                while start < count {                                    // rows of up to 7 values
                    let end = min(start + 7, count)
                    values[start..<end].withUnsafeBufferPointer { body($0) }
                    start = end
                }
            }
            #expect(passes <= 2)
            for k in ranks { #expect(got[k] == sorted[k], "rank \(k) of \(count)") }
        }
    }

    /// Labels without statistics against the labelling with statistics; the fused edge regions
    /// against dilation + complement + labelling; small square dilations (row and column ORs)
    /// against a direct window maximum.
    @Test func labelsAndEdgeRegionsEqualTheComposedSteps() throws {
        for (w, h, seed) in [(1, 1, UInt64(1)), (1, 9, 2), (9, 1, 3), (37, 23, 4), (64, 64, 5)] {
            for levels in [UInt64(2), 5] {
                let mask = Self.randomGray(w, h, levels: levels, seed: seed &* 31 &+ levels).mapSamples { $0 == 0 ? UInt8(0) : 255 }
                for connectivity in [Connectivity.four, .eight] {
                    let full = try connectedComponents(mask, connectivity: connectivity)
                    let lean = try connectedComponentLabels(mask, connectivity: connectivity)
                    #expect(lean.labels == full.labels && lean.count == full.stats.count)
                }
                let closed = try binaryDilation(mask, element: .square(3))
                let composed = try connectedComponents(closed.mapSamples { $0 == 0 ? UInt8(1) : 0 }, connectivity: .four)
                let fused = try edgeRegions(mask)
                #expect(fused.labels == composed.labels && fused.regions == composed.stats.count, "\(w)x\(h)")
                for size in [3, 5, 7] {
                    let small = try binaryDilation(mask, element: .square(size))
                    // Against a direct window maximum.
                    let r = size / 2
                    var expected = [UInt8](repeating: 0, count: w * h)
                    for y in 0..<h { for x in 0..<w {
                        var on = false
                        for yy in max(0, y - r)...min(h - 1, y + r) { for xx in max(0, x - r)...min(w - 1, x + r) where mask.samples[yy * w + xx] != 0 { on = true } }
                        expected[y * w + x] = on ? 1 : 0
                    } }
                    #expect(small.samples.map { $0 != 0 ? UInt8(1) : 0 } == expected, "square \(size), \(w)x\(h)")
                }
            }
        }
    }

    @Test(arguments: [Connectivity.four, .eight])
    func floodLabelsEqualOneFloodPerSeed(connectivity: Connectivity) throws {
        for (layout, channels) in [(ColorLayout.gray, 1), (.rgb, 3)] {
            var rng = SplitMix64(seed: 7)
            let w = 23, h = 17
            let image = Image<UInt8>(width: w, height: h, layout: layout,
                                     samples: (0..<(w * h * channels)).map { _ in UInt8(rng.next() % 6) })
            // 300 seeds: the visited marks wrap around.
            let seeds = (0..<300).map { i in Seed(x: Int(rng.next() % UInt64(w)), y: Int(rng.next() % UInt64(h)), label: Int32(i % 7 + 1)) }
            for tolerance in [0.0, 1.5, 3] {
                var expected = [Int32](repeating: 0, count: w * h)
                for s in seeds {
                    let flood = try floodFill(image, seed: (s.x, s.y), tolerance: tolerance, connectivity: connectivity)
                    for i in expected.indices where flood.samples[i] != 0 && expected[i] == 0 { expected[i] = s.label }
                }
                let got = try floodFillLabels(image, seeds: seeds, tolerance: tolerance, connectivity: connectivity)
                #expect(got.labels == expected)
            }
        }
        // 16-bit gray and gray + alpha: the paths without the 8-bit acceptance table.
        var rng = SplitMix64(seed: 11)
        let w = 19, h = 13
        let wide = Image<UInt16>(width: w, height: h, layout: .gray,
                                 samples: (0..<(w * h)).map { _ in UInt16(rng.next() % 5) * 300 })
        let withAlpha = Image<UInt8>(width: w, height: h, layout: .grayAlpha,
                                     samples: (0..<(w * h * 2)).map { i in i % 2 == 1 ? 255 : UInt8(rng.next() % 4) })
        let seeds = (0..<40).map { i in Seed(x: Int(rng.next() % UInt64(w)), y: Int(rng.next() % UInt64(h)), label: Int32(i + 1)) }
        for tolerance in [0.0, 300, 650] {
            var expectedWide = [Int32](repeating: 0, count: w * h), expectedAlpha = expectedWide
            for s in seeds {
                let a = try floodFill(wide, seed: (s.x, s.y), tolerance: tolerance, connectivity: connectivity)
                let b = try floodFill(withAlpha, seed: (s.x, s.y), tolerance: tolerance / 300, connectivity: connectivity)
                for i in 0..<(w * h) {
                    if a.samples[i] != 0 && expectedWide[i] == 0 { expectedWide[i] = s.label }
                    if b.samples[i] != 0 && expectedAlpha[i] == 0 { expectedAlpha[i] = s.label }
                }
            }
            #expect(try floodFillLabels(wide, seeds: seeds, tolerance: tolerance, connectivity: connectivity).labels == expectedWide)
            #expect(try floodFillLabels(withAlpha, seeds: seeds, tolerance: tolerance / 300,
                                        connectivity: connectivity).labels == expectedAlpha)
        }
        #expect(throws: CVSegError.self) {
            _ = try floodFillLabels(Self.randomGray(4, 4, levels: 3, seed: 1), seeds: [Seed(x: 4, y: 0, label: 1)], tolerance: 1)
        }
    }

    @Test(arguments: [(1, 1), (1, 9), (9, 1), (5, 3), (31, 20)])
    func adaptiveMeanEqualsNaiveWindowMean(width: Int, height: Int) throws {
        let image = Self.randomGray(width, height, levels: 256, seed: UInt64(width * 100 + height))
        for b in [3, 5, 11] {
            for c in [-300.0, -3, 0, 2, 2.5, 300] {
                let r = b / 2, delta = Int(min(max(c, -256), 256).rounded(.up))
                var expected = [UInt8](repeating: 0, count: width * height)
                for y in 0..<height {
                    for x in 0..<width {
                        var s = 0
                        for dy in -r...r {
                            for dx in -r...r {
                                s += Int(image.samples[min(max(y + dy, 0), height - 1) * width + min(max(x + dx, 0), width - 1)])
                            }
                        }
                        let mean = (2 * s + b * b) / (2 * b * b)
                        expected[y * width + x] = Int(image.samples[y * width + x]) - mean > -delta ? 255 : 0
                    }
                }
                let got = try adaptiveThreshold(image, method: .mean, blockSize: b, offset: c, foreground: 255)
                #expect(got.samples == expected)
            }
        }
    }
}
