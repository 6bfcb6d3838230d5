import Testing
import CVSegCore
@testable import CVSegEval

@Suite struct ProposalTests {
    /// Two images, three objects of two classes; proposals chosen so every number is by hand.
    @Test func handComputedRecallAndOverlap() {
        let truth = DetectionGroundTruth(
            images: [EvalImage(id: 1, fileName: "a"), EvalImage(id: 2, fileName: "b")],
            categories: [(1, "p"), (2, "q")],
            objects: [
                GroundTruthObject(id: 1, imageId: 1, categoryId: 1, box: EvalBox(x: 0, y: 0, width: 10, height: 10)),
                GroundTruthObject(id: 2, imageId: 1, categoryId: 2, box: EvalBox(x: 20, y: 0, width: 10, height: 10)),
                GroundTruthObject(id: 3, imageId: 2, categoryId: 1, box: EvalBox(x: 0, y: 0, width: 10, height: 10)),
                GroundTruthObject(id: 4, imageId: 2, categoryId: 1, box: EvalBox(x: 50, y: 50, width: 5, height: 5), isCrowd: true),
            ])
        let proposals: [Int: [EvalBox]] = [
            // Image 1: first a box half over object 1 (IoU 50/150 = 1/3), then object 2 exactly,
            // then object 1 shifted by 1 pixel (IoU 90/110).
            1: [EvalBox(x: 5, y: 0, width: 10, height: 10), EvalBox(x: 20, y: 0, width: 10, height: 10),
                EvalBox(x: 1, y: 0, width: 10, height: 10)],
            // Image 2: object 3 with IoU 0.64 (8x8 inside 10x10... 64/100).
            2: [EvalBox(x: 1, y: 1, width: 8, height: 8)],
        ]
        let rows = ProposalEvaluator(counts: [1, 2, 3]).evaluate(proposals, truth: truth)
        // N = 1: best overlaps 1/3 (obj 1), 0 (obj 2), 0.64 (obj 3).
        #expect(rows[0].recall50 == 1.0 / 3 && rows[0].recall70 == 0)
        #expect(abs(rows[0].abo - (1.0 / 3 + 0 + 0.64) / 3) < 1e-12)
        // Per class: p = (1/3 + 0.64) / 2, q = 0.
        #expect(abs(rows[0].mabo - ((1.0 / 3 + 0.64) / 2 + 0) / 2) < 1e-12)
        // N = 2: object 2 found exactly.
        #expect(rows[1].recall50 == 2.0 / 3 && rows[1].recall70 == 1.0 / 3)
        // N = 3: object 1 at 90/110 = 0.818…: recall@0.7 = 2/3, recall@0.5 = 1.
        #expect(rows[2].recall50 == 1 && rows[2].recall70 == 2.0 / 3)
        // AR@3: thresholds 0.5…0.95: obj 2 (IoU 1) counts at all 10, obj 1 (0.818) at 0.5…0.8
        // (7 thresholds), obj 3 (0.64) at 0.5…0.6 (3): (10 + 7 + 3) / 3 / 10.
        #expect(abs(rows[2].averageRecall - 20.0 / 30.0) < 1e-12)
        #expect(rows[2].meanProposals == 2) // 3 and 1 available
    }

    @Test func imageWithoutProposalsMissesItsObjects() {
        let truth = DetectionGroundTruth(images: [EvalImage(id: 1)], categories: [(1, "p")],
                                         objects: [GroundTruthObject(id: 1, imageId: 1, categoryId: 1,
                                                                     box: EvalBox(x: 0, y: 0, width: 4, height: 4))])
        let rows = ProposalEvaluator(counts: [10]).evaluate([:], truth: truth)
        #expect(rows[0].recall50 == 0 && rows[0].abo == 0)
    }

    @Test func proposalsFileErrors() {
        #expect(throws: CVSegError.self) { _ = try ProposalsFormat.parse(Array(#"[{"boxes": []}]"#.utf8), file: "p.json") }
        #expect {
            _ = try ProposalsFormat.parse(Array(#"[{"file": "a.png", "boxes": [[1, 2, 3]]}]"#.utf8), file: "p.json")
        } throws: { "\($0)".hasPrefix("p.json: [0] (a.png) box 0") }
    }
}
