import Foundation
import Testing
import CVSegCore
import CVSegIO
import CVSegTestSupport
@testable import CVSegEval

/// Partition measures (VI, segmentation covering, Rand index, oracle foreground IoU): cases
/// worked by hand, properties, and parity with scikit-image / numpy
/// (scripts/reference/partition_reference.py → Fixtures/partition/expected.json), to 1e-12.
@Suite struct PartitionMetricsTests {
    static let dir = evalFixtures + "/partition"

    static func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-12) -> Bool { abs(a - b) <= tolerance }

    static func map(_ width: Int, _ height: Int, _ labels: [Int32]) -> LabelMap {
        LabelMap(width: width, height: height, labels: labels)
    }

    /// A label map from a fixture description: "file" (fixture PNG), "data" (a PNG of the dev data,
    /// read in place, optionally cropped) or "grid" (label = row · 1000 + column of cells).
    static func load(_ source: JSON) throws -> LabelMap {
        if let grid = source["grid"]?.arrayValue?.compactMap(\.intValue), grid.count == 2,
           let size = source["size"]?.arrayValue?.compactMap(\.intValue), size.count == 2 {
            var labels: [Int32] = []
            for y in 0..<size[1] { for x in 0..<size[0] { labels.append(Int32((y / grid[1]) * 1000 + x / grid[0])) } }
            return map(size[0], size[1], labels)
        }
        let path: String
        if let file = source["file"]?.stringValue {
            path = dir + "/" + file
        } else {
            let data = try #require(source["data"]?.stringValue)
            path = evalDataRoot + "/" + data
            try #require(FileManager.default.fileExists(atPath: path), "dev data not found at \(path)")
        }
        let decoded = try ImageFile.read(path, options: DecodeOptions(palette: .indices))
        var values: [Int32]
        switch decoded {
        case .image(.uint8(let i)) where i.layout == .gray: values = i.samples.map { Int32($0) }
        case .image(.uint16(let i)) where i.layout == .gray: values = i.samples.map { Int32($0) }
        default: throw CVSegError.invalidArgument("\(path): not a one-channel label map")
        }
        var (width, height) = (decoded.width, decoded.height)
        if let crop = source["crop"]?.arrayValue?.compactMap(\.intValue), crop.count == 4 {
            var cropped: [Int32] = []
            for y in crop[1]..<(crop[1] + crop[3]) { cropped += values[(y * width + crop[0])..<(y * width + crop[0] + crop[2])] }
            (values, width, height) = (cropped, crop[2], crop[3])
        }
        return map(width, height, values)
    }

    // MARK: - By hand

    /// S = [[1 1 2] [1 3 3]], G = [[5 5 5] [6 6 6]]; n = {(1,5): 2, (1,6): 1, (2,5): 1, (3,6): 2}.
    @Test func twoByThreeWorkedByHand() throws {
        let s = Self.map(3, 2, [1, 1, 2, 1, 3, 3]), g = Self.map(3, 2, [5, 5, 5, 6, 6, 6])
        let table = try ContingencyTable(predicted: s, truth: g)
        #expect(table.predictedLabels == [1, 2, 3])
        #expect(table.truthLabels == [5, 6])
        #expect(table.predictedSizes == [3, 1, 2])
        #expect(table.truthSizes == [3, 3])
        #expect(table.rowStart == [0, 2, 3, 4])
        #expect(table.columns == [0, 1, 0, 1])
        #expect(table.counts == [2, 1, 1, 2])
        let m = PartitionScores(table)
        // H(S|G) = −[4/6 log2(2/3) + 2/6 log2(1/3)] = log2 3 − 2/3;
        // H(G|S) = −[2/6 log2(2/3) + 1/6 log2(1/3)] = log2(3)/2 − 1/3.
        let log2of3 = log2(3.0)
        #expect(Self.close(m.overSegmentation, log2of3 - 2.0 / 3))
        #expect(Self.close(m.underSegmentation, log2of3 / 2 - 1.0 / 3))
        #expect(Self.close(m.variationOfInformation, 1.5 * log2of3 - 1))
        #expect(Self.close(m.variationOfInformationNats, (1.5 * log2of3 - 1) * log(2.0)))
        // G5 best matched by S1 (2/4), G6 by S3 (2/3): (3·1/2 + 3·2/3) / 6.
        #expect(Self.close(m.covering, 3.5 / 6))
        // S1 by G5 (2/4), S2 by G5 (1/3), S3 by G6 (2/3): (3·1/2 + 1·1/3 + 2·2/3) / 6.
        let reverse: Double = (1.5 + 1.0 / 3 + 4.0 / 3) / 6
        #expect(Self.close(m.reverseCovering, reverse))
        // Disagreeing pairs Σa²/2 + Σb²/2 − Σn² = 7 + 9 − 10 = 6 of 15.
        #expect(Self.close(m.randIndex, 9.0 / 15))
        #expect(m.pixels == 6 && m.predictedRegions == 3 && m.truthRegions == 2)
    }

    @Test func identicalPartitionsUnderOtherLabels() throws {
        var a: [Int32] = [], b: [Int32] = []
        for i in 0..<200 {
            let region = Int32((i / 7) % 9)
            a.append(region)
            b.append(region * -1_000_003 + 17) // other values, negative ones, a wide span
        }
        let m = try PartitionScores(predicted: Self.map(20, 10, b), truth: Self.map(20, 10, a))
        #expect(m.variationOfInformation == 0 && m.overSegmentation == 0 && m.underSegmentation == 0)
        #expect(m.covering == 1 && m.reverseCovering == 1 && m.randIndex == 1)
        #expect(m.predictedRegions == 9 && m.truthRegions == 9)
    }

    /// One region against N single-pixel regions: VI = log2 N, covering 1/N both ways, RI 0.
    @Test func oneRegionAgainstAllDifferent() throws {
        let n = 48
        let one = Self.map(8, 6, [Int32](repeating: 3, count: n)), all = Self.map(8, 6, (0..<Int32(n)).map { $0 * 5 })
        let m = try PartitionScores(predicted: one, truth: all)
        #expect(Self.close(m.overSegmentation, 0) && Self.close(m.underSegmentation, log2(Double(n))))
        #expect(Self.close(m.covering, 1 / Double(n)) && Self.close(m.reverseCovering, 1 / Double(n)))
        #expect(m.randIndex == 0)
        let r = try PartitionScores(predicted: all, truth: one)
        #expect(Self.close(r.overSegmentation, log2(Double(n))) && Self.close(r.underSegmentation, 0))
    }

    /// VI is symmetric and the two coverings swap when S and G swap; relabelling with values
    /// that force the hash-map path changes nothing.
    @Test func symmetryAndRelabelling() throws {
        var rng = SplitMix64(seed: 7)
        let (w, h) = (481, 321)
        var fine: [Int32] = [], coarse: [Int32] = []
        for y in 0..<h {
            for x in 0..<w {
                fine.append(Int32((y / 5) * 100 + x / 5) + (rng.next() % 50 == 0 ? 40_000 : 0))
                coarse.append(Int32((y / 40) * 20 + (x + y / 3) / 37))
            }
        }
        let s = Self.map(w, h, fine), g = Self.map(w, h, coarse)
        let a = try PartitionScores(predicted: s, truth: g), b = try PartitionScores(predicted: g, truth: s)
        #expect(a.predictedRegions > 6000)
        #expect(Self.close(a.variationOfInformation, b.variationOfInformation))
        #expect(Self.close(a.overSegmentation, b.underSegmentation) && Self.close(a.underSegmentation, b.overSegmentation))
        #expect(Self.close(a.covering, b.reverseCovering) && Self.close(a.reverseCovering, b.covering))
        #expect(Self.close(a.randIndex, b.randIndex))
        let scattered = Self.map(w, h, fine.map { $0 &* 104_729 &- 2_000_000_000 })
        let c = try PartitionScores(predicted: scattered, truth: g)
        #expect(c.predictedRegions == a.predictedRegions && c.pixels == a.pixels)
        // Rows come in another order, so sums may differ in the last bits.
        #expect(Self.close(c.variationOfInformation, a.variationOfInformation) && Self.close(c.covering, a.covering))
        #expect(Self.close(c.reverseCovering, a.reverseCovering) && Self.close(c.randIndex, a.randIndex))
    }

    @Test func ignoredGroundTruthLeavesTheTable() throws {
        // The ignored pixels (G = 9) take predicted region 4 with them.
        let s = Self.map(4, 1, [1, 1, 4, 2]), g = Self.map(4, 1, [0, 0, 9, 1])
        let t = try ContingencyTable(predicted: s, truth: g, ignoreLabel: 9)
        #expect(t.pixels == 3 && t.predictedLabels == [1, 2] && t.truthLabels == [0, 1])
        let m = PartitionScores(t)
        #expect(m.variationOfInformation == 0 && m.covering == 1)
        let none = try PartitionScores(predicted: s, truth: Self.map(4, 1, [9, 9, 9, 9]), ignoreLabel: 9)
        #expect(none.pixels == 0 && none.variationOfInformation.isNaN && none.covering.isNaN && none.randIndex.isNaN)
        #expect(throws: CVSegError.self) { try ContingencyTable(predicted: s, truth: Self.map(2, 2, [0, 0, 0, 0])) }
    }

    /// Region 1 holds one foreground and one background pixel (a tie: background), region 2 two
    /// foreground pixels, region 3 one background pixel.
    @Test func oracleForegroundByMajority() throws {
        let s = Self.map(5, 1, [1, 1, 2, 2, 3]), g = Self.map(5, 1, [0, 255, 1, 1, 0])
        let t = try ContingencyTable(predicted: s, truth: g)
        #expect(OracleForeground.foregroundRegions(t) == [false, true, false])
        var oracle = OracleForeground()
        oracle.add(t)
        let m = oracle.metrics
        #expect(m.truePositives == 2 && m.falsePositives == 0 && m.falseNegatives == 1 && m.trueNegatives == 2)
        #expect(Self.close(oracle.iou, 2.0 / 3))
        oracle.add(t)
        #expect(oracle.metrics.truePositives == 4 && Self.close(oracle.iou, 2.0 / 3))
        #expect(OracleForeground().iou.isNaN)
    }

    @Test func annotatorMeansAndBest() throws {
        let s = Self.map(3, 2, [1, 1, 2, 1, 3, 3])
        let a = try PartitionScores(predicted: s, truth: s)
        let b = try PartitionScores(predicted: s, truth: Self.map(3, 2, [5, 5, 5, 6, 6, 6]))
        let image = PartitionImageScores(annotators: [a, b])
        #expect(Self.close(image.mean.variationOfInformation, b.variationOfInformation / 2))
        #expect(Self.close(image.mean.covering, (1 + b.covering) / 2))
        #expect(image.best.variationOfInformation == 0 && image.best.covering == 1 && image.best.randIndex == 1)
        var dataset = PartitionDatasetScores()
        dataset.add(image)
        dataset.add(PartitionImageScores(annotators: [b]))
        #expect(Self.close(dataset.mean.covering, ((1 + b.covering) / 2 + b.covering) / 2))
        #expect(Self.close(dataset.best.covering, (1 + b.covering) / 2))
        // BSDS pooling: Σ covered pixels / Σ pixels over all three comparisons.
        #expect(Self.close(dataset.pooledCovering, (6 + 2 * 3.5) / 18))
    }

    // MARK: - Parity with scikit-image and numpy

    @Test func fixturesArePresent() throws {
        let e = try readJSON(Self.dir + "/expected.json")
        #expect(e["cases"]?.arrayValue?.count == 12)
        #expect(e["groups"]?.arrayValue?.count == 1)
    }

    static func cases() throws -> [JSON] { try readJSON(dir + "/expected.json")["cases"]?.arrayValue ?? [] }

    @Test(arguments: try PartitionMetricsTests.cases().compactMap { $0["name"]?.stringValue })
    func matchesReference(_ name: String) throws {
        let c = try #require(try Self.cases().first { $0["name"]?.stringValue == name })
        let binary = c["binary"]?.boolValue ?? false
        let p = try Self.load(try #require(c["pred"]))
        var g = try Self.load(try #require(c["truth"]))
        if binary { g.labels = g.labels.map { $0 != 0 ? 1 : 0 } }
        let table = try ContingencyTable(predicted: p, truth: g, ignoreLabel: c["ignore_label"]?.intValue.map(Int32.init))
        let m = PartitionScores(table)
        let e = try #require(c["expected"])
        let vi: [Double] = e["vi_skimage"]?.arrayValue?.compactMap(\.doubleValue) ?? []
        try #require(vi.count == 2)
        #expect(m.pixels == e["pixels"]?.intValue, "\(name)")
        #expect(m.predictedRegions == e["predicted_regions"]?.intValue, "\(name)")
        #expect(m.truthRegions == e["truth_regions"]?.intValue, "\(name)")
        #expect(Self.close(m.overSegmentation, vi[0]), "\(name): H(S|G) \(m.overSegmentation) vs \(vi[0])")
        #expect(Self.close(m.underSegmentation, vi[1]), "\(name): H(G|S) \(m.underSegmentation) vs \(vi[1])")
        let nats = try #require(e["vi_nats"]?.doubleValue), covering = try #require(e["covering"]?.doubleValue)
        let reverse = try #require(e["covering_reverse"]?.doubleValue), rand = try #require(e["rand_index"]?.doubleValue)
        #expect(Self.close(m.variationOfInformationNats, nats), "\(name)")
        #expect(Self.close(m.covering, covering), "\(name): covering \(m.covering) vs \(covering)")
        #expect(Self.close(m.reverseCovering, reverse), "\(name): reverse covering \(m.reverseCovering) vs \(reverse)")
        #expect(Self.close(m.randIndex, rand), "\(name): Rand index \(m.randIndex) vs \(rand)")
        if binary {
            let o = try #require(e["oracle"])
            var oracle = OracleForeground()
            oracle.add(table)
            let b = oracle.metrics
            #expect(b.truePositives == o["tp"]?.intValue && b.falsePositives == o["fp"]?.intValue, "\(name)")
            #expect(b.falseNegatives == o["fn"]?.intValue && b.trueNegatives == o["tn"]?.intValue, "\(name)")
        }
    }

    @Test func annotatorGroupMatchesReference() throws {
        let e = try readJSON(Self.dir + "/expected.json")
        let group = try #require(e["groups"]?.arrayValue?.first)
        let p = try Self.load(try #require(group["pred"]))
        let annotators = try (group["truths"]?.arrayValue ?? []).map { try PartitionScores(predicted: p, truth: Self.load($0)) }
        #expect(annotators.count == 7)
        let image = PartitionImageScores(annotators: annotators)
        for (label, values, want) in [("mean", image.mean, group["mean"]), ("best", image.best, group["best"])] {
            let want = try #require(want)
            let vi = try #require(want["vi_bits"]?.doubleValue), covering = try #require(want["covering"]?.doubleValue)
            let reverse = try #require(want["covering_reverse"]?.doubleValue), rand = try #require(want["rand_index"]?.doubleValue)
            #expect(Self.close(values.variationOfInformation, vi), "\(label) VI")
            #expect(Self.close(values.covering, covering), "\(label) covering")
            #expect(Self.close(values.reverseCovering, reverse), "\(label) reverse")
            #expect(Self.close(values.randIndex, rand), "\(label) PRI")
        }
    }
}
