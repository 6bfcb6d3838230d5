import Foundation
import Testing
import CVSegCore
import CVSegNN
import CVSegTensor

/// Each detector against the same network in PyTorch (scripts/reference/detnets_reference.py →
/// Fixtures/detnets/<method>.safetensors: small random weights with cvseg's metadata, an input,
/// and PyTorch's outputs of every stage: features, the RPN's objectness and deltas, its
/// proposals, R-CNN's warped crops, the head's logits and deltas, the detections).
struct DetectorParityTests {
    static func fixture(_ method: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/detnets/\(method).safetensors"
    }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test(arguments: ["faster-rcnn", "fast-rcnn", "rcnn"])
    func everyStageEqualsPyTorch(_ method: String) throws {
        let path = Self.fixture(method)
        let file = try Safetensors.read(path)
        var expected: [String: Tensor] = [:], weights: [(String, Tensor)] = []
        for t in file.tensors {
            let tensor = Tensor(shape: Shape(t.array.shape), values: t.array.values)
            if t.name.hasPrefix("expected/") { expected[String(t.name.dropFirst(9))] = tensor } else { weights.append((t.name, tensor)) }
        }
        let meta = try #require(file.metadata)
        let detector = try Detector(DetectorConfig(metadata: meta))
        try detector.load(stateDict: weights, strict: true, source: path)
        #expect(detector.architecture.rawValue == method)
        let (h, w) = (try #require(meta["image_height"].flatMap(Int.init)), try #require(meta["image_width"].flatMap(Int.init)))
        let x = try #require(expected["input"])
        // The input as the transform stage would have made it (already normalised and padded).
        let planar = PlanarImage(width: w, height: h, values: [Float](repeating: 0, count: 3 * w * h))
        let input = DetectorInput(tensor: x, image: planar, resize: DetectionResize(originalWidth: w, originalHeight: h, width: w, height: h))
        let context = ForwardContext.inference()
        // Network outputs within 1e-4; box coordinates (pixels, up to 96, decoded through expf)
        // within 1e-3 of a pixel.
        let tolerance: Float = 1e-4, pixels: Float = 1e-3

        let proposals: [Box]
        let head: BoxHeadOutput
        if method == "rcnn" {
            let boxes = try #require(expected["proposals"]).values
            proposals = stride(from: 0, to: boxes.count, by: 4).map { Box(x1: boxes[$0], y1: boxes[$0 + 1], x2: boxes[$0 + 2], y2: boxes[$0 + 3]) }
            let crops = try detector.warp(input, boxes: proposals)
            let want = try #require(expected["crops"])
            #expect(crops.shape == want.shape)
            #expect(Self.maxDifference(crops.values, want.values) <= tolerance, "crops")
            head = try detector.rcnnHead(input, boxes: proposals, context)
        } else {
            let features = try detector.features(input, context)
            #expect(features.shape == expected["features"]?.shape)
            #expect(Self.maxDifference(features.values, try #require(expected["features"]).values) <= tolerance, "features")
            if method == "faster-rcnn", let rpn = detector.rpn {
                let (o, d) = try rpn.outputs(features, context)
                #expect(Self.maxDifference(o.values, try #require(expected["rpn_objectness"]).values) <= tolerance, "objectness")
                #expect(Self.maxDifference(d.values, try #require(expected["rpn_deltas"]).values) <= tolerance, "deltas")
                proposals = try detector.rpnProposals(input, anchors: detector.anchors(input, features: features), objectness: o, deltas: d,
                                                      training: false)
                let want = try #require(expected["proposals"]).values
                #expect(proposals.count * 4 == want.count, "proposal count")
                let got = proposals.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] }
                #expect(Self.maxDifference(got, want) <= pixels, "proposals")
            } else {
                let boxes = try #require(expected["proposals"]).values
                proposals = stride(from: 0, to: boxes.count, by: 4).map { Box(x1: boxes[$0], y1: boxes[$0 + 1], x2: boxes[$0 + 2], y2: boxes[$0 + 3]) }
            }
            head = try detector.boxHead(features: features, boxes: proposals, context)
        }
        #expect(head.logits.shape == expected["class_logits"]?.shape && head.deltas.shape == expected["box_deltas"]?.shape)
        #expect(Self.maxDifference(head.logits.values, try #require(expected["class_logits"]).values) <= tolerance, "class logits")
        #expect(Self.maxDifference(head.deltas.values, try #require(expected["box_deltas"]).values) <= tolerance, "box deltas")

        let d = detector.postprocess(head, proposals: proposals, imageHeight: h, imageWidth: w)
        let want = try #require(expected["detections"]).values
        #expect(d.count * 6 == want.count, "detection count \(d.count) vs \(want.count / 6)")
        let got = (0..<d.count).flatMap { k in [d.boxes[k].x1, d.boxes[k].y1, d.boxes[k].x2, d.boxes[k].y2, d.scores[k], Float(d.labels[k])] }
        #expect(Self.maxDifference(got, want) <= pixels, "detections (boxes, scores, labels)")
    }
}
