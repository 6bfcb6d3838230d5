import Testing
import CVSegCore
@testable import CVSegEval

@Suite struct ConfusionMatrixTests {
    @Test func binaryCountsAndMetricsByHand() throws {
        let truth = LabelMap(width: 4, height: 2, labels: [1, 1, 1, 0, 0, 0, 0, 1])
        let pred = LabelMap(width: 4, height: 2, labels: [1, 1, 0, 1, 0, 0, 0, 1])
        var m = ConfusionMatrix(classes: 2)
        try m.add(predicted: pred, truth: truth, ignoreLabel: nil)
        // TP = 3 (0,1,7), FN = 1 (2), FP = 1 (3), TN = 3.
        let b = BinaryMetrics(m)
        #expect(b.truePositives == 3 && b.falseNegatives == 1 && b.falsePositives == 1 && b.trueNegatives == 3)
        #expect(abs(b.iou - 3.0 / 5.0) < 1e-12)
        #expect(abs(b.f1 - 6.0 / 8.0) < 1e-12)
        #expect(abs(b.precision - 0.75) < 1e-12 && abs(b.recall - 0.75) < 1e-12)
        #expect(abs(b.accuracy - 6.0 / 8.0) < 1e-12)
    }

    @Test func ignoredPixelsAndRangeChecks() throws {
        var m = ConfusionMatrix(classes: 3)
        try m.add(predicted: LabelMap(width: 3, height: 1, labels: [2, 0, 1]),
                  truth: LabelMap(width: 3, height: 1, labels: [2, 255, 1]))
        #expect(m.total == 2)
        #expect(m[2, 2] == 1 && m[1, 1] == 1)
        #expect(throws: CVSegError.self) {
            try m.add(predicted: LabelMap(width: 1, height: 1, labels: [3]), truth: LabelMap(width: 1, height: 1, labels: [0]))
        }
        #expect(throws: CVSegError.self) {
            try m.add(predicted: LabelMap(width: 2, height: 1), truth: LabelMap(width: 1, height: 2))
        }
    }

    @Test func emptyDenominatorsAreNaN() throws {
        var m = ConfusionMatrix(classes: 2)
        try m.add(predicted: LabelMap(width: 2, height: 1), truth: LabelMap(width: 2, height: 1))
        let b = BinaryMetrics(m)
        #expect(b.iou.isNaN && b.precision.isNaN)
        #expect(b.accuracy == 1)
    }

    @Test func labelImagesAddLikeLabelMaps() throws {
        let p = Image<UInt8>(width: 3, height: 2, layout: .gray, samples: [0, 1, 2, 2, 1, 0])
        let t = Image<UInt8>(width: 3, height: 2, layout: .gray, samples: [0, 1, 255, 2, 0, 0])
        var fast = ConfusionMatrix(classes: 3), slow = ConfusionMatrix(classes: 3)
        try fast.add(predicted: p, truth: t)
        try slow.add(predicted: LabelMap(p), truth: LabelMap(t))
        #expect(fast == slow && fast.total == 5)
        var wide = ConfusionMatrix(classes: 3)
        try wide.add(predicted: p.mapSamples { UInt16($0) }, truth: t.mapSamples { UInt16($0) })
        #expect(wide == fast)
        // A label past the classes: an error, and nothing of that image is counted.
        let bad = Image<UInt8>(width: 3, height: 2, layout: .gray, samples: [0, 1, 2, 2, 1, 9])
        #expect(throws: CVSegError.self) { try fast.add(predicted: bad, truth: t) }
        #expect(fast == slow)
    }
    /// The image path counts runs of equal pairs a word at a time: runs of every length, across
    /// word boundaries, with ignore pixels inside runs, must count as the per-pixel label-map path.
    @Test func runsCountLikePixels() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % n
        }
        for (width, height) in [(1, 1), (7, 3), (37, 11), (64, 5), (129, 4)] {
            var t = [UInt8](), p = [UInt8]()
            while t.count < width * height {
                let run = 1 + next(3) * next(20)           // many runs of 1, some up to 39
                let g: UInt8 = next(10) == 0 ? 255 : UInt8(next(5)), q = UInt8(next(5))
                for _ in 0..<run where t.count < width * height { t.append(g); p.append(q) }
            }
            let ti = Image<UInt8>(width: width, height: height, layout: .gray, samples: t)
            let pi = Image<UInt8>(width: width, height: height, layout: .gray, samples: p)
            var fast = ConfusionMatrix(classes: 5), slow = ConfusionMatrix(classes: 5), wide = ConfusionMatrix(classes: 5)
            try fast.add(predicted: pi, truth: ti)
            try slow.add(predicted: LabelMap(pi), truth: LabelMap(ti))
            try wide.add(predicted: pi.mapSamples { UInt16($0) }, truth: ti.mapSamples { UInt16($0) })
            #expect(fast == slow, "\(width)x\(height)")
            #expect(wide == slow, "\(width)x\(height)")
            #expect(fast.total == t.filter { $0 != 255 }.count)
            // A bad label at the very end, after a long run: an error, nothing added.
            var bad = p
            bad[bad.count - 1] = 7
            t[t.count - 1] = 1
            let before = fast
            #expect(throws: CVSegError.self) {
                try fast.add(predicted: Image<UInt8>(width: width, height: height, layout: .gray, samples: bad),
                             truth: Image<UInt8>(width: width, height: height, layout: .gray, samples: t))
            }
            #expect(fast == before)
        }
    }
}
