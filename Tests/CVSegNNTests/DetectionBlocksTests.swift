import Foundation
import Testing
import CVSegCore
import CVSegTensor
@testable import CVSegNN

/// The R-CNN building blocks in `CVSegNN/Detection` against torchvision 0.29
/// (scripts/reference/detection_reference.py → Fixtures/detection.json): box coder and proposal
/// boxes and scores within 1e-4 (relative above magnitude 1), anchors, IoU-matcher results,
/// NMS survivors and sampler counts exactly.
@Suite struct DetectionBlocksTests {
    static let fixture: JSON? = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/detection.json"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSON.parse([UInt8](data), file: path)
    }()

    static func section(_ key: String) throws -> [JSON] {
        let fixture = try #require(Self.fixture, "Fixtures/detection.json missing (scripts/reference/detection_reference.py)")
        return try #require(fixture[key]?.arrayValue, "no \(key) section")
    }

    /// A fixture number: `null` is NaN, "inf" / "-inf" the infinities.
    static func float(_ j: JSON) -> Float {
        switch j.stringValue {
        case "inf": return .infinity
        case "-inf": return -.infinity
        default: return j.doubleValue.map(Float.init) ?? .nan
        }
    }
    static func floats(_ j: JSON?) -> [Float] { (j?.arrayValue ?? []).map(float) }
    static func ints(_ j: JSON?) -> [Int] { j?.arrayValue?.compactMap(\.intValue) ?? [] }
    static func boxes(_ j: JSON?) -> [Box] {
        (j?.arrayValue ?? []).map { row in
            let v = floats(row)
            return Box(x1: v[0], y1: v[1], x2: v[2], y2: v[3])
        }
    }
    static func flat(_ boxes: [Box]) -> [Float] { boxes.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] } }

    /// The largest `|a − b| / max(1, |b|)` over the finite pairs, and the first element that is
    /// off by more than `tol · max(1, |b|)` or differs in being NaN or infinite.
    static func compare(_ a: [Float], _ b: [Float], tol: Float = 1e-4) -> (maxDiff: Float, failure: String?) {
        guard a.count == b.count else { return (.infinity, "\(a.count) values, expected \(b.count)") }
        var worst: Float = 0, failure: String?
        for i in 0..<a.count {
            if !b[i].isFinite {
                let same = b[i].isNaN ? a[i].isNaN : a[i] == b[i]
                if !same, failure == nil { failure = "element \(i): \(a[i]) vs \(b[i])" }
                continue
            }
            let d = abs(a[i] - b[i]) / max(1, abs(b[i]))
            worst = max(worst, d.isNaN ? .infinity : d)
            if failure == nil, !(d <= tol) { failure = "element \(i): \(a[i]) vs \(b[i])" }
        }
        return (worst, failure)
    }

    // MARK: - BoxCoder

    @Test func boxCoderMatchesTorchvision() throws {
        let cases = try Self.section("box_coder")
        #expect(cases.count == 4)
        var worst: Float = 0, nonFinite = 0
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let w = Self.floats(c["weights"])
            let coder = BoxCoder(weights: (w[0], w[1], w[2], w[3]))
            let bases = Self.boxes(c["bases"]), targets = Self.boxes(c["targets"])
            let encoded = try coder.encode(targets, relativeTo: bases)
            #expect(encoded.shape == [bases.count, 4])
            let expectedEncoding = (c["encoded"]?.arrayValue ?? []).flatMap { Self.floats($0) }
            nonFinite += expectedEncoding.filter { !$0.isFinite }.count
            let e = Self.compare(encoded.values, expectedEncoding)
            #expect(e.failure == nil, "\(name) encode: \(e.failure ?? "")")

            let deltas = Tensor(shape: Shape(Self.ints(c["deltas"]?["shape"])), values: Self.floats(c["deltas"]?["values"]))
            let decoded = try coder.decode(deltas, relativeTo: bases)
            #expect(decoded.count == bases.count * deltas.shape[1] / 4)
            let d = Self.compare(Self.flat(decoded), Self.flat(Self.boxes(c["decoded"])))
            #expect(d.failure == nil, "\(name) decode: \(d.failure ?? "")")
            worst = max(worst, e.maxDiff, d.maxDiff)
        }
        #expect(nonFinite > 10, "the degenerate cases should give infinite and NaN encodings")
        print("DetectionBlocksTests: box coder, \(cases.count) cases, largest relative difference \(worst)")
    }

    @Test func boxCoderPresetsAndErrors() throws {
        #expect(BoxCoder.rpn.wx == 1 && BoxCoder.rpn.wh == 1)
        #expect(BoxCoder.roiHeads.wx == 10 && BoxCoder.roiHeads.ww == 5)
        #expect(BoxCoder.defaultScaleClip == Float(log(1000.0 / 16)))
        let base = Box(x1: 10, y1: 20, x2: 50, y2: 40)
        // Zero deltas give the base back; a target equal to the base encodes to zero.
        #expect(BoxCoder.roiHeads.decode([0, 0, 0, 0], relativeTo: [base]) == [base])
        #expect(try BoxCoder.roiHeads.encode([base], relativeTo: [base]).values == [0, 0, 0, 0])
        #expect(throws: CVSegError.self) { try BoxCoder.rpn.encode([base], relativeTo: []) }
        #expect(throws: CVSegError.self) { try BoxCoder.rpn.decode(Tensor.zeros([2, 4]), relativeTo: [base]) }
        #expect(throws: CVSegError.self) { try BoxCoder.rpn.decode(Tensor.zeros([1, 6]), relativeTo: [base]) }
    }

    // MARK: - Anchors

    @Test func anchorsMatchTorchvision() throws {
        let cases = try Self.section("anchors")
        #expect(cases.count == 4)
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let sizes = (c["sizes"]?.arrayValue ?? []).map { Self.floats($0) }
            let ratios = (c["aspect_ratios"]?.arrayValue ?? []).map { Self.floats($0) }
            let generator = try AnchorGenerator(sizes: sizes, aspectRatios: ratios)
            let cells = (c["cell_anchors"]?.arrayValue ?? []).map { Self.boxes($0) }
            #expect(generator.cellAnchors == cells, "\(name): cell anchors")
            let image = Self.ints(c["image_size"])
            let features = (c["feature_sizes"]?.arrayValue ?? []).map { Self.ints($0) }.map { (height: $0[0], width: $0[1]) }
            let anchors = try generator.anchors(imageHeight: image[0], imageWidth: image[1], featureSizes: features)
            let expected = Self.boxes(c["anchors"])
            #expect(anchors.count == expected.count, "\(name): \(anchors.count) anchors, expected \(expected.count)")
            #expect(anchors == expected, "\(name): first difference at \(anchors.indices.first { $0 < expected.count && anchors[$0] != expected[$0] } ?? -1)")
        }
    }

    @Test func anchorLayoutAndErrors() throws {
        let g = try AnchorGenerator(sizes: [32, 64], aspectRatios: [0.5, 1, 2])
        #expect(g.anchorsPerLocation == [6])
        // Location-major, then anchor: anchor a of cell (y, x) at (y · W + x) · A + a.
        let grid = g.gridAnchors(level: 0, height: 2, width: 3, strideY: 16, strideX: 8)
        #expect(grid.count == 36)
        let a = g.cellAnchors[0][4], cell = grid[(1 * 3 + 2) * 6 + 4]
        #expect(cell == Box(x1: a.x1 + 16, y1: a.y1 + 16, x2: a.x2 + 16, y2: a.y2 + 16))
        // One ratio list serves every level.
        #expect(try AnchorGenerator(sizes: [[32], [64]], aspectRatios: [[1, 2]]).anchorsPerLocation == [2, 2])
        #expect(throws: CVSegError.self) { try AnchorGenerator(sizes: [[32], [64]], aspectRatios: [[1], [1], [1]]) }
        #expect(throws: CVSegError.self) { try AnchorGenerator(sizes: [[32]], aspectRatios: [[0]]) }
        #expect(throws: CVSegError.self) { try AnchorGenerator(sizes: [[]], aspectRatios: [[1]]) }
        #expect(throws: CVSegError.self) { try g.anchors(imageHeight: 64, imageWidth: 64, featureSizes: [(4, 4), (2, 2)]) }
        #expect(throws: CVSegError.self) { try g.anchors(imageHeight: 64, imageWidth: 64, featureSizes: [(0, 4)]) }
    }

    // MARK: - Matcher

    @Test func matcherMatchesTorchvision() throws {
        let cases = try Self.section("matcher")
        #expect(cases.count == 4)
        var runs = 0
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let gt = Self.boxes(c["ground_truth"]), predictions = Self.boxes(c["predictions"])
            // box_iou, bit for bit (NaN where torchvision has NaN).
            let iou = boxIoUMatrix(gt, predictions), expectedIoU = Self.floats(c["iou"])
            #expect(iou.count == expectedIoU.count)
            for (k, (a, b)) in zip(iou, expectedIoU).enumerated() where !(a == b || (a.isNaN && b.isNaN)) {
                Issue.record("\(name): IoU \(k / predictions.count), \(k % predictions.count): \(a) vs \(b)")
            }
            for run in c["runs"]?.arrayValue ?? [] {
                let matcher = try Matcher(highThreshold: Float(run["high"]?.doubleValue ?? .nan),
                                          lowThreshold: Float(run["low"]?.doubleValue ?? .nan),
                                          allowLowQualityMatches: run["allow_low_quality_matches"]?.boolValue ?? false)
                let expected = Self.ints(run["matches"])
                let fromBoxes = try matcher.match(groundTruth: gt, predictions: predictions)
                #expect(fromBoxes.map(\.code) == expected, "\(name) \(matcher)")
                // On torchvision's own IoU matrix too.
                let fromMatrix = try matcher.match(quality: expectedIoU, groundTruthCount: gt.count,
                                                   predictionCount: predictions.count)
                #expect(fromMatrix == fromBoxes, "\(name) \(matcher): matrix")
                runs += 1
            }
        }
        #expect(runs == 16)
    }

    @Test func matchCodesAndEdgeCases() throws {
        for code in [-2, -1, 0, 7] { #expect(Match(code: code)?.code == code) }
        #expect(Match(code: -3) == nil)
        #expect(Match.matched(3).groundTruth == 3 && Match.betweenThresholds.groundTruth == nil)
        #expect(Matcher.rpn.allowLowQualityMatches && Matcher.rpn.highThreshold == 0.7)
        #expect(Matcher.roiHeads.lowThreshold == 0.5 && !Matcher.roiHeads.allowLowQualityMatches)
        #expect(throws: CVSegError.self) { try Matcher(highThreshold: 0.3, lowThreshold: 0.7) }
        #expect(throws: CVSegError.self) { try Matcher(highThreshold: .nan, lowThreshold: 0.3) }
        #expect(throws: CVSegError.self) { try Matcher.rpn.match(quality: [0.5], groundTruthCount: 2, predictionCount: 1) }
        // No ground truth: everything is background; no predictions: nothing.
        let p = [Box(x1: 0, y1: 0, x2: 4, y2: 4), Box(x1: 1, y1: 1, x2: 9, y2: 9)]
        #expect(try Matcher.rpn.match(groundTruth: [], predictions: p) == [.belowLowThreshold, .belowLowThreshold])
        #expect(try Matcher.rpn.match(groundTruth: p, predictions: []) == [])
    }

    // MARK: - Sampler

    @Test func samplerCountsAndSets() throws {
        let cases = try Self.section("sampler")
        #expect(cases.count == 6)
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let labels = Self.ints(c["labels"])
            let sampler = try BalancedPositiveNegativeSampler(batchSizePerImage: c["batch_size_per_image"]?.intValue ?? -1,
                                                              positiveFraction: c["positive_fraction"]?.doubleValue ?? -1)
            var generator = SplitMix64(seed: 42)
            let (pos, neg) = sampler.sample(labels: labels, generator: &generator)
            // torchvision's counts (its randperm picks other members of the same sets).
            #expect(pos.count == c["num_positive"]?.intValue, "\(name): positives")
            #expect(neg.count == c["num_negative"]?.intValue, "\(name): negatives")
            #expect(pos.allSatisfy { labels[$0] >= 1 } && neg.allSatisfy { labels[$0] == 0 }, "\(name): sets")
            #expect(pos == pos.sorted() && Set(pos).count == pos.count && neg == neg.sorted() && Set(neg).count == neg.count,
                    "\(name): distinct, ascending")
            // Deterministic for a seed.
            var again = SplitMix64(seed: 42)
            let (pos2, neg2) = sampler.sample(labels: labels, generator: &again)
            #expect(pos2 == pos && neg2 == neg, "\(name): same seed, same picks")
            // Matches: matched ↔ label ≥ 1, below ↔ 0, between ↔ −1: the same picks.
            let matches: [Match] = labels.map { $0 >= 1 ? .matched($0) : ($0 == 0 ? .belowLowThreshold : .betweenThresholds) }
            var third = SplitMix64(seed: 42)
            let byMatch = sampler.sample(matches: matches, generator: &third)
            #expect(byMatch.positive == pos && byMatch.negative == neg, "\(name): by matches")
        }
    }

    @Test func samplerIsUniformAndSeeded() throws {
        let labels = Array(repeating: 1, count: 10) + Array(repeating: 0, count: 30)
        let sampler = try BalancedPositiveNegativeSampler(batchSizePerImage: 8, positiveFraction: 0.25)
        var a = SplitMix64(seed: 1), b = SplitMix64(seed: 2)
        #expect(sampler.sample(labels: labels, generator: &a) != sampler.sample(labels: labels, generator: &b))
        // Every positive equally likely: 2 of 10 per draw, 20000 draws → 4000 each (σ ≈ 57).
        var hits = [Int](repeating: 0, count: 10), g = SplitMix64(seed: 7)
        for _ in 0..<20_000 { for i in sampler.sample(labels: labels, generator: &g).positive { hits[i] += 1 } }
        #expect(hits.allSatisfy { abs($0 - 4000) < 300 }, "\(hits)")
        #expect(sampler.counts(positives: 10, negatives: 30) == (2, 6))
        #expect(sampler.counts(positives: 1, negatives: 3) == (1, 3))
        #expect(BalancedPositiveNegativeSampler.rpn.counts(positives: 1000, negatives: 1000) == (128, 128))
        #expect(BalancedPositiveNegativeSampler.roiHeads.counts(positives: 1000, negatives: 1000) == (128, 384))
        #expect(throws: CVSegError.self) { try BalancedPositiveNegativeSampler(batchSizePerImage: 8, positiveFraction: 1.5) }
    }

    // MARK: - Proposals

    @Test func proposalsMatchTorchvision() throws {
        let cases = try Self.section("proposals")
        #expect(cases.count == 5)
        var worstBox: Float = 0, worstScore: Float = 0, kept = 0
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let sizes = (c["sizes"]?.arrayValue ?? []).map { Self.floats($0) }
            let ratios = (c["aspect_ratios"]?.arrayValue ?? []).map { Self.floats($0) }
            let image = Self.ints(c["image_size"])
            let features = (c["feature_sizes"]?.arrayValue ?? []).map { Self.ints($0) }.map { (height: $0[0], width: $0[1]) }
            let anchors = try AnchorGenerator(sizes: sizes, aspectRatios: ratios)
                .anchors(imageHeight: image[0], imageWidth: image[1], featureSizes: features)
            let logits = Self.floats(c["objectness"])
            let filter = ProposalFilter(preNMSTopN: c["pre_nms_top_n"]?.intValue ?? 0,
                                        postNMSTopN: c["post_nms_top_n"]?.intValue ?? 0,
                                        nmsThreshold: c["nms_thresh"]?.doubleValue ?? .nan,
                                        minSize: Float(c["min_size"]?.doubleValue ?? .nan),
                                        scoreThreshold: Float(c["score_thresh"]?.doubleValue ?? .nan))
            let proposals = try filter(anchors: anchors, objectness: Tensor(shape: [logits.count, 1], values: logits),
                                       deltas: Tensor(shape: [anchors.count, 4], values: Self.floats(c["deltas"])),
                                       imageHeight: image[0], imageWidth: image[1],
                                       anchorsPerLevel: Self.ints(c["anchors_per_level"]))
            #expect(proposals.anchorIndices == Self.ints(c["anchor_indices"]), "\(name): anchors kept")
            let b = Self.compare(Self.flat(proposals.boxes), Self.flat(Self.boxes(c["boxes"])))
            #expect(b.failure == nil, "\(name) boxes: \(b.failure ?? "")")
            let s = Self.compare(proposals.scores, Self.floats(c["scores"]))
            #expect(s.failure == nil, "\(name) scores: \(s.failure ?? "")")
            // Levels follow the anchors.
            let perLevel = Self.ints(c["anchors_per_level"])
            let starts = perLevel.indices.map { perLevel[..<$0].reduce(0, +) }
            #expect(zip(proposals.anchorIndices, proposals.levels).allSatisfy { i, l in
                (starts[l]..<(starts[l] + perLevel[l])).contains(i) }, "\(name): levels")
            worstBox = max(worstBox, b.maxDiff)
            worstScore = max(worstScore, s.maxDiff)
            kept += proposals.count
        }
        print("DetectionBlocksTests: \(cases.count) proposal cases, \(kept) proposals, largest relative difference "
              + "boxes \(worstBox), scores \(worstScore)")
    }

    @Test func proposalFilterEdgeCases() throws {
        let anchors = [Box(x1: -40, y1: -40, x2: -20, y2: -20), Box(x1: 0, y1: 0, x2: 10, y2: 10),
                       Box(x1: 1, y1: 1, x2: 11, y2: 11), Box(x1: 50, y1: 0, x2: 60, y2: 10)]
        let deltas = Tensor.zeros([4, 4])
        let filter = ProposalFilter(preNMSTopN: 10, postNMSTopN: 10)
        // The first anchor lies outside the 32 × 32 image: clipped to a point and removed; the
        // third overlaps the second (IoU 0.68 < 0.7, kept); the fourth is clipped to 0 width.
        let p = try filter(anchors: anchors, objectness: Tensor(shape: [4], values: [5, 1, 2, 3]), deltas: deltas,
                           imageHeight: 32, imageWidth: 32)
        #expect(p.anchorIndices == [2, 1])
        #expect(p.boxes == [anchors[2], anchors[1]] && p.levels == [0, 0])
        // Tighter NMS, fewer before NMS, a score threshold.
        #expect(try ProposalFilter(preNMSTopN: 10, postNMSTopN: 10, nmsThreshold: 0.5)(
            anchors: anchors, objectness: Tensor(shape: [4], values: [5, 1, 2, 3]), deltas: deltas,
            imageHeight: 32, imageWidth: 32).anchorIndices == [2])
        #expect(try ProposalFilter(preNMSTopN: 2, postNMSTopN: 10)(
            anchors: anchors, objectness: Tensor(shape: [4], values: [5, 1, 2, 3]), deltas: deltas,
            imageHeight: 32, imageWidth: 32).anchorIndices == [])
        #expect(try ProposalFilter(preNMSTopN: 10, postNMSTopN: 10, scoreThreshold: 0.8)(
            anchors: anchors, objectness: Tensor(shape: [4], values: [5, 1, 2, 3]), deltas: deltas,
            imageHeight: 32, imageWidth: 32).anchorIndices == [2])
        #expect(throws: CVSegError.self) {
            try filter(anchors: anchors, objectness: Tensor.zeros([3]), deltas: deltas, imageHeight: 32, imageWidth: 32)
        }
        #expect(throws: CVSegError.self) {
            try filter(anchors: anchors, objectness: Tensor.zeros([4]), deltas: deltas, imageHeight: 32, imageWidth: 32,
                       anchorsPerLevel: [3, 2])
        }
        #expect(clipBoxes([Box(x1: -3, y1: 5, x2: 40, y2: 50)], imageHeight: 20, imageWidth: 30)
                == [Box(x1: 0, y1: 5, x2: 30, y2: 20)])
        #expect(indicesOfBoxes([Box(x1: 0, y1: 0, x2: 2, y2: 0.5), Box(x1: 0, y1: 0, x2: 0.5, y2: 2), Box(x1: 0, y1: 0, x2: 1, y2: 1)],
                               withSidesAtLeast: 1) == [2])
    }
}
