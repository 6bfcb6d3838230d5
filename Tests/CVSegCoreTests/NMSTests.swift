import Foundation
import Testing
@testable import CVSegCore

/// Suppression against torchvision 0.29 (`nms`, `batched_nms`) and the Soft-NMS authors' code,
/// from scripts/reference/nms_reference.py.
@Suite struct NMSFixtureTests {
    struct Case {
        var name: String
        var boxes: [Box]
        var scores: [Float]
        var classes: [Int]
        var runs: [JSON]
    }

    static func cases(_ file: String) throws -> [Case] {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/nms/\(file).json"
        let data = try #require(FileManager.default.contents(atPath: path), "missing \(path)")
        let root = try JSON.parse([UInt8](data), file: path)
        return try #require(root["cases"]?.arrayValue).map { c in
            let name = c["name"]?.stringValue ?? "?"
            let boxes = try #require(c["boxes"]?.arrayValue, "\(name): no boxes").map { b in
                let v = b.arrayValue?.compactMap(\.doubleValue).map(Float.init) ?? []
                try #require(v.count == 4, "\(name): a box without four numbers")
                return Box(x1: v[0], y1: v[1], x2: v[2], y2: v[3])
            }
            let scores = try #require(c["scores"]?.arrayValue, "\(name): no scores").map { Self.float($0) }
            let classes = c["classes"]?.arrayValue?.compactMap(\.intValue) ?? []
            return Case(name: name, boxes: boxes, scores: scores, classes: classes,
                        runs: c["runs"]?.arrayValue ?? [])
        }
    }

    /// A fixture number as `Float`; `null` is NaN.
    static func float(_ j: JSON?) -> Float { j?.doubleValue.map(Float.init) ?? .nan }

    @Test func nmsKeepsTorchvisionsIndices() throws {
        let cases = try Self.cases("nms")
        #expect(cases.count >= 10)
        var runs = 0
        for c in cases {
            for run in c.runs {
                let t = run["iou_threshold"]?.doubleValue ?? .nan
                let expected = run["keep"]?.arrayValue?.compactMap(\.intValue)
                let got = nonMaximumSuppression(boxes: c.boxes, scores: c.scores, iouThreshold: t)
                #expect(got == expected, "\(c.name) at \(t)")
                runs += 1
            }
        }
        #expect(runs >= 50)
    }

    @Test func batchedNMSKeepsTorchvisionsIndices() throws {
        var paths: Set<String> = []
        for c in try Self.cases("batched_nms") {
            for run in c.runs {
                let t = try #require(run["iou_threshold"]?.doubleValue)
                let keep = run["keep"]?.arrayValue?.compactMap(\.intValue) ?? []
                let path = run["path"]?.stringValue ?? ""
                paths.insert(path)
                #expect((c.boxes.count > batchedNMSLoopAbove) == (path == "per_class"), "\(c.name)")
                let got = batchedNMS(boxes: c.boxes, scores: c.scores, classes: c.classes, iouThreshold: t)
                // torchvision's per-class path orders equal scores by an unstable sort; cvseg by index.
                let expected = run["keep_ties_by_index"]?.arrayValue?.compactMap(\.intValue) ?? keep
                #expect(got == expected, "\(c.name) at \(t) (\(path))")
                #expect(got.sorted() == keep.sorted(), "\(c.name) at \(t): kept set")
                #expect(got.map { c.scores[$0].bitPattern } == keep.map { c.scores[$0].bitPattern },
                        "\(c.name) at \(t): score order")
                if run["ties_in_keep"]?.boolValue == false || path == "coordinate_trick" {
                    #expect(got == keep, "\(c.name) at \(t): torchvision's exact order")
                }
            }
        }
        #expect(paths == ["coordinate_trick", "per_class"])
    }

    @Test func softNMSMatchesTheAuthorsCode() throws {
        var runs = 0
        for c in try Self.cases("soft_nms") {
            for run in c.runs {
                let method: SoftNMSMethod = run["method"]?.stringValue == "linear"
                    ? .linear(iouThreshold: Self.float(run["nt"])) : .gaussian(sigma: Self.float(run["sigma"]))
                let pixels: PixelConvention = run["pixels"]?.stringValue == "inclusive" ? .inclusive : .continuous
                let threshold = Self.float(run["score_threshold"])
                let got = softNMS(boxes: c.boxes, scores: c.scores, method: method, scoreThreshold: threshold,
                                  pixels: pixels)
                let what = "\(c.name) \(method) \(pixels) score ≥ \(threshold)"
                #expect(got.indices == run["keep"]?.arrayValue?.compactMap(\.intValue), "\(what): indices")
                let expected = run["scores"]?.arrayValue?.map { Self.float($0) } ?? []
                // Bit for bit: the fixture checks that float32(np.exp) == float32(glibc exp) throughout.
                #expect(got.scores.map(\.bitPattern) == expected.map(\.bitPattern), "\(what): scores")
                runs += 1
            }
        }
        #expect(runs >= 90)
    }
}

/// Hand-made cases whose answers follow from the definition.
@Suite struct NMSTests {
    let a = Box(x1: 0, y1: 0, x2: 10, y2: 10)
    let b = Box(x1: 6, y1: 0, x2: 16, y2: 10)  // IoU(a, b) = 40 / 160 = 0.25
    let c = Box(x1: 12, y1: 0, x2: 22, y2: 10) // IoU(b, c) = 0.25, IoU(a, c) = 0

    func nms(_ boxes: [Box], _ scores: [Float], _ t: Double) -> [Int] {
        nonMaximumSuppression(boxes: boxes, scores: scores, iouThreshold: t)
    }

    @Test func emptyInput() {
        #expect(nms([], [], 0.5) == [])
        #expect(batchedNMS(boxes: [], scores: [], classes: [], iouThreshold: 0.5) == [])
        let soft = softNMS(boxes: [], scores: [], method: .linear())
        #expect(soft.indices.isEmpty && soft.scores.isEmpty)
    }

    @Test func identicalBoxesKeepTheBestAndTheFirstOfEqualScores() {
        #expect(nms([a, a, a], [0.5, 0.9, 0.7], 0.5) == [1])
        #expect(nms([a, a, a], [0.7, 0.7, 0.7], 0.5) == [0])
        #expect(nms([a, a, a], [0.1, 0.7, 0.7], 0.99) == [1])
        #expect(nms([a, a], [0.7, 0.7], 1) == [0, 1]) // IoU 1 is not greater than 1
    }

    @Test func chainSuppressesOnlyThroughKeptBoxes() {
        // a suppresses b; c overlaps only b, which is gone, so c stays.
        #expect(nms([a, b, c], [0.9, 0.8, 0.7], 0.2) == [0, 2])
        // b first: it suppresses both neighbours.
        #expect(nms([a, b, c], [0.8, 0.9, 0.7], 0.2) == [1])
        // c before b: c is kept, then b is suppressed by a (and would be by c).
        #expect(nms([a, b, c], [0.9, 0.7, 0.8], 0.2) == [0, 2])
        // At 0.25 nothing is suppressed: the IoUs equal the threshold.
        #expect(nms([a, b, c], [0.9, 0.8, 0.7], 0.25) == [0, 1, 2])
    }

    @Test func iouEqualToTheThresholdIsNotSuppressed() {
        let wide = Box(x1: 0, y1: 0, x2: 2, y2: 1), half = Box(x1: 0, y1: 0, x2: 1, y2: 1) // IoU exactly 0.5
        #expect(nms([wide, half], [0.9, 0.8], 0.5) == [0, 1])
        #expect(nms([wide, half], [0.9, 0.8], 0.4999) == [0])
        // IoU 3/10 and 7/10 in Float: Float(0.3) > 0.3 suppresses at 0.3, Float(0.7) < 0.7 does not at 0.7.
        let ten = Box(x1: 0, y1: 0, x2: 10, y2: 1)
        #expect(nms([ten, Box(x1: 0, y1: 0, x2: 3, y2: 1)], [0.9, 0.8], 0.3) == [0])
        #expect(nms([ten, Box(x1: 0, y1: 0, x2: 7, y2: 1)], [0.9, 0.8], 0.7) == [0, 1])
    }

    @Test func nanScoresComeFirstAndOddThresholds() {
        let far = Box(x1: 100, y1: 100, x2: 110, y2: 110)
        #expect(nms([a, far, b], [0.9, .nan, 0.8], 0.5) == [1, 0, 2])
        #expect(nms([a, a], [0.9, .nan], 0.5) == [1])
        // Negative: everything with a defined IoU goes, even disjoint boxes.
        #expect(nms([a, far, b], [0.9, 0.5, 0.8], -0.1) == [0])
        // NaN threshold: nothing is greater, everything stays.
        #expect(nms([a, a, b], [0.9, 0.8, 0.7], .nan) == [0, 1, 2])
    }

    @Test func degenerateBoxes() {
        let line = Box(x1: 5, y1: 0, x2: 5, y2: 10), dot = Box(x1: 3, y1: 3, x2: 3, y2: 3)
        // Zero-area pairs have IoU 0/0 = NaN: identical lines never suppress each other.
        #expect(nms([line, line, dot], [0.9, 0.8, 0.7], 0) == [0, 1, 2])
        #expect(nms([line, line, dot], [0.9, 0.8, 0.7], -1) == [0, 1, 2])
        // A line against a box: IoU 0, suppressed only by a negative threshold.
        #expect(nms([a, line], [0.9, 0.8], 0) == [0, 1])
        #expect(nms([a, line], [0.9, 0.8], -1) == [0])
        let inverted = Box(x1: 10, y1: 0, x2: 0, y2: 10)
        #expect(nms([inverted, inverted], [0.9, 0.8], 0.5) == [0, 1])
    }

    @Test func batchedKeepsClassesApart() {
        #expect(batchedNMS(boxes: [a, a, a], scores: [0.9, 0.8, 0.7], classes: [0, 1, 0], iouThreshold: 0.5) == [0, 1])
        #expect(batchedNMS(boxes: [a, b, c], scores: [0.9, 0.8, 0.7], classes: [3, 3, 3], iouThreshold: 0.2) == [0, 2])
        // The per-class path (more than 1000 boxes) agrees with plain NMS run class by class.
        var rng = SplitMix64(seed: 7)
        let n = 1200
        let boxes = (0..<n).map { _ in
            let x = Float(Int.random(in: 0..<300, using: &rng)), y = Float(Int.random(in: 0..<300, using: &rng))
            return Box(x1: x, y1: y, x2: x + Float(Int.random(in: 5..<60, using: &rng)),
                       y2: y + Float(Int.random(in: 5..<60, using: &rng)))
        }
        let scores = (0..<n).map { _ in Float(Int.random(in: 0..<50, using: &rng)) / 50 }
        let classes = (0..<n).map { _ in Int.random(in: 0..<4, using: &rng) }
        var expected: [Int] = []
        for k in 0..<4 {
            let members = (0..<n).filter { classes[$0] == k }
            expected += nms(members.map { boxes[$0] }, members.map { scores[$0] }, 0.5).map { members[$0] }
        }
        expected = scoreOrder(expected, scores)
        #expect(batchedNMS(boxes: boxes, scores: scores, classes: classes, iouThreshold: 0.5) == expected)
    }

    @Test func softNMSDecaysByHand() {
        let wide = Box(x1: 0, y1: 0, x2: 2, y2: 1), half = Box(x1: 0, y1: 0, x2: 1, y2: 1) // IoU 0.5
        let linear = softNMS(boxes: [half, wide], scores: [0.6, 0.8], method: .linear())
        #expect(linear.indices == [1, 0])
        #expect(linear.scores == [0.8, 0.6 * (1 - 0.5)])
        let below = softNMS(boxes: [half, wide], scores: [0.6, 0.8], method: .linear(iouThreshold: 0.5))
        #expect(below.scores == [0.8, 0.6]) // IoU 0.5 is not above Nt 0.5
        let gauss = softNMS(boxes: [half, wide], scores: [0.6, 0.8], method: .gaussian())
        #expect(gauss.scores[1] == Float(exp(-0.25 / 0.5)) * 0.6)
        // Decayed below the threshold: dropped.
        let dropped = softNMS(boxes: [wide, wide], scores: [0.8, 0.6], method: .linear(), scoreThreshold: 0.001)
        #expect(dropped.indices == [0] && dropped.scores == [0.8])
        // The first selected box stays even below the threshold (as in the reference).
        let low = softNMS(boxes: [a, c], scores: [0.0001, 0.00005], method: .gaussian())
        #expect(low.indices == [0])
    }

    @Test func floatThresholdIsTheDoubleComparison() {
        var rng = SplitMix64(seed: 11)
        var wrong: [String] = []
        for _ in 0..<20_000 {
            let t = Double.random(in: -0.2...1.2, using: &rng)
            let tf = floatThreshold(t)
            for x in [Float(t), Float(t).nextUp, Float(t).nextDown, Float.random(in: -0.2...1.2, using: &rng)]
            where (x > tf) != (Double(x) > t) {
                wrong.append("x \(x) t \(t)")
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) wrong, first \(wrong.first ?? "")")
        #expect(floatThreshold(.nan).isNaN)
        #expect(floatThreshold(1e300) == .greatestFiniteMagnitude)
    }
}

/// The shared kernel against the formulas it replaced, transcribed from their references, bit
/// for bit on random pairs (many of them touching, nested, degenerate or inverted).
@Suite struct BoxOverlapTests {
    /// Coordinates on a coarse grid (to hit equal edges) or anywhere.
    static func pairs(_ count: Int) -> [(EvalBoxLike, EvalBoxLike)] {
        var rng = SplitMix64(seed: 2026)
        func coordinate() -> Double {
            Bool.random(using: &rng) ? Double(Int.random(in: 0...8, using: &rng)) : Double.random(in: 0...8, using: &rng)
        }
        func box() -> EvalBoxLike {
            EvalBoxLike(x: coordinate(), y: coordinate(), w: coordinate() - 1, h: coordinate() - 1)
        }
        return (0..<count).map { _ in (box(), box()) }
    }

    struct EvalBoxLike { var x, y, w, h: Double }

    static func same<T: BinaryFloatingPoint>(_ a: T, _ b: T) -> Bool { a.isNaN ? b.isNaN : a == b && a.sign == b.sign }

    @Test func matchesPycocotoolsVOCAndTorchvisionBitForBit() {
        var wrong: [String] = []
        func expectSame<T: BinaryFloatingPoint>(_ old: T, _ new: T, _ what: @autoclosure () -> String) {
            if !Self.same(old, new) { wrong.append("\(what()): \(old) vs \(new)") }
        }
        for (p, q) in Self.pairs(200_000) {
            // pycocotools bbIou (maskApi.c), Double, crowd and not.
            for crowd in [false, true] {
                var old = 0.0
                let w = min(p.x + p.w, q.x + q.w) - max(p.x, q.x), h = min(p.y + p.h, q.y + q.h) - max(p.y, q.y)
                if w > 0 && h > 0 { old = w * h / (crowd ? p.w * p.h : p.w * p.h + q.w * q.h - w * h) }
                let new = boxOverlap((p.x, p.y, p.x + p.w, p.y + p.h), area: p.w * p.h,
                                     (q.x, q.y, q.x + q.w, q.y + q.h), area: q.w * q.h,
                                     denominator: crowd ? .firstArea : .union) ?? 0
                expectSame(old, new, "coco \(p) \(q)")
            }
            // VOC devkit / voc_eval.py, "+1" pixels.
            let (bx1, by1, bx2, by2) = (p.x, p.y, p.x + p.w, p.y + p.h)
            let (gx1, gy1, gx2, gy2) = (q.x, q.y, q.x + q.w, q.y + q.h)
            let iw = max(min(gx2, bx2) - max(gx1, bx1) + 1, 0), ih = max(min(gy2, by2) - max(gy1, by1) + 1, 0)
            let voc = iw * ih / ((bx2 - bx1 + 1) * (by2 - by1 + 1) + (gx2 - gx1 + 1) * (gy2 - gy1 + 1) - iw * ih)
            let ab = (x1: bx1, y1: by1, x2: bx2, y2: by2), ag = (x1: gx1, y1: gy1, x2: gx2, y2: gy2)
            let (areaB, areaG) = (boxArea(ab, .inclusive), boxArea(ag, .inclusive))
            let vocNew = boxOverlap(ab, area: areaB, ag, area: areaG, pixels: .inclusive) ?? 0 / (areaB + areaG)
            expectSame(voc, vocNew, "voc \(p) \(q)")
            // torchvision's CPU nms kernel, Float.
            let (f, g) = ((x1: Float(bx1), y1: Float(by1), x2: Float(bx2), y2: Float(by2)),
                          (x1: Float(gx1), y1: Float(gy1), x2: Float(gx2), y2: Float(gy2)))
            let (fa, ga) = ((f.x2 - f.x1) * (f.y2 - f.y1), (g.x2 - g.x1) * (g.y2 - g.y1))
            let xx1 = f.x1 < g.x1 ? g.x1 : f.x1, yy1 = f.y1 < g.y1 ? g.y1 : f.y1
            let xx2 = g.x2 < f.x2 ? g.x2 : f.x2, yy2 = g.y2 < f.y2 ? g.y2 : f.y2
            let tw: Float = 0 < xx2 - xx1 ? xx2 - xx1 : 0, th: Float = 0 < yy2 - yy1 ? yy2 - yy1 : 0
            let tv = tw * th / (fa + ga - tw * th)
            let tvNew = boxOverlap(f, area: boxArea(f), g, area: boxArea(g)) ?? 0 / (fa + ga)
            expectSame(tv, tvNew, "torchvision \(p) \(q)")
            // Box.iou as it was.
            let (p1, q1) = (Box(x1: f.x1, y1: f.y1, x2: f.x2, y2: f.y2), Box(x1: g.x1, y1: g.y1, x2: g.x2, y2: g.y2))
            let bw = min(p1.x2, q1.x2) - max(p1.x1, q1.x1), bh = min(p1.y2, q1.y2) - max(p1.y1, q1.y1)
            var boxOld: Float = 0
            if bw > 0, bh > 0, p1.area + q1.area - bw * bh > 0 { boxOld = bw * bh / (p1.area + q1.area - bw * bh) }
            expectSame(boxOld, p1.iou(q1), "Box.iou \(p) \(q)")
        }
        #expect(wrong.isEmpty, "\(wrong.count) differences, first: \(wrong.first ?? "")")
    }
}
