import Foundation
import Testing
import CVSegCore
import CVSegNN
import CVSegTensor

/// The detectors' stages on small hand-made inputs: settings, the RPN's anchor order, the loss
/// helpers, R-CNN's warp, post-processing, backbone loading and frozen batch norm.
struct DetectorTests {
    static func tinyConfig(_ a: DetectorArchitecture, classes: Int = 2) throws -> DetectorConfig {
        try DetectorConfig(architecture: a, classes: classes).applying([
            ("widths", "4,4,8,8,8"), ("convs", "1,1,1,1,1"), ("fc_width", "16"), ("min_size", "64"), ("max_size", "96"),
            ("anchor_sizes", "16,32"), ("anchor_ratios", "1,2"),
        ])
    }

    @Test func settingsRoundTripThroughMetadataAndBadKeysAreNamed() throws {
        let c = try Self.tinyConfig(.fasterRCNN)
        #expect(try DetectorConfig(metadata: c.metadata) == c)
        #expect(c.anchorsPerLocation == 4 && c.classifierOutputs == 3)
        #expect(try Self.tinyConfig(.rcnn).classifierOutputs == 2)
        // The paper's defaults.
        let d = DetectorConfig(architecture: .fasterRCNN, classes: 20)
        #expect(d.anchorSizes == [128, 256, 512] && d.anchorRatios == [0.5, 1, 2] && d.rpnBatchSize == 256 && d.rpnPositiveFraction == 0.5)
        #expect(d.rpnForegroundIoU == 0.7 && d.rpnBackgroundIoU == 0.3 && d.roiBatchSize == 64 && d.roiPositiveFraction == 0.25)
        #expect(d.minSize == 600 && d.maxSize == 1000 && d.rpnPostNMSTopNTest == 300)

        #expect { try c.applying([("anchor_size", "8")]) } throws: { "\($0)".contains("no setting 'anchor_size'") && "\($0)".contains("anchor_sizes") }
        #expect { try c.applying([("min_size", "2000"), ("max_size", "100")]) } throws: { "\($0)".contains("max_size") }
        var meta = c.metadata
        meta["rpn_nms_thresh"] = "high"
        #expect { try DetectorConfig(metadata: meta) } throws: { "\($0)".contains("rpn_nms_thresh") }
        meta = c.metadata
        meta.removeValue(forKey: "anchor_ratios")
        #expect { try DetectorConfig(metadata: meta) } throws: { "\($0)".contains("anchor_ratios") && "\($0)".contains("missing") }
    }

    @Test func takeGathersAndScattersItsGradient() throws {
        let tape = Tape()
        let x = tape.parameter(Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), name: "x")
        let y = try take(x, [5, 0, 5])
        #expect(y.values == [6, 1, 6])
        let loss = try sum(mul(y, Tensor(shape: [3], values: [1, 10, 100])))
        let g = try tape.gradients(of: loss, for: [x])[0]
        #expect(g.values == [10, 0, 0, 0, 0, 101])
        #expect { try take(x, [6]) } throws: { "\($0)".contains("index 6") }
    }

    /// Anchor i of the flat order (location-major, then the cell's anchors) reads objectness
    /// channel i % A and delta channels 4(i % A) + j at location i / A, as torchvision's
    /// permute_and_flatten.
    @Test func rpnOutputsInAnchorOrder() throws {
        let (a, h, w) = (3, 2, 4)
        let obj = Tensor(shape: [1, a, h, w], values: (0..<(a * h * w)).map(Float.init))
        let del = Tensor(shape: [1, 4 * a, h, w], values: (0..<(4 * a * h * w)).map { Float($0) + 1000 })
        let (o, d) = Detector.anchorOrder(objectness: obj, deltas: del)
        for i in 0..<(a * h * w) {
            let (p, k) = (i / a, i % a)
            #expect(o.values[i] == obj.values[k * h * w + p])
            for j in 0..<4 { #expect(d.values[4 * i + j] == del.values[(4 * k + j) * h * w + p]) }
        }
    }

    /// Post-processing: softmax, class-specific decoding, the score threshold, per-class NMS.
    @Test func postprocessKeepsConfidentBoxesPerClass() throws {
        let detector = try Detector(Self.tinyConfig(.fastRCNN))
        let proposals = [Box(x1: 10, y1: 10, x2: 30, y2: 50), Box(x1: 11, y1: 10, x2: 31, y2: 50), Box(x1: 40, y1: 5, x2: 60, y2: 20)]
        // Rows: class 1 strongly, class 1 a little less (suppressed by NMS), class 2; zero deltas
        // except row 2 class 2 moved right by 0.1 of its width (dx · 10 weight = 1).
        let logits: [Float] = [0, 5, 0, 0, 4, 0, 0, 0, 6]
        var deltas = [Float](repeating: 0, count: 3 * 12)
        deltas[2 * 12 + 2 * 4] = 1
        let d = detector.postprocess(BoxHeadOutput(logits: Tensor(shape: [3, 3], values: logits), deltas: Tensor(shape: [3, 12], values: deltas)),
                                     proposals: proposals, imageHeight: 64, imageWidth: 64)
        #expect(d.labels == [2, 1])
        #expect(abs(d.boxes[0].x1 - 42) < 1e-4 && abs(d.boxes[0].x2 - 62) < 1e-4)
        #expect(d.boxes[1] == proposals[0])
        let e5 = expf(5), e6 = expf(6)
        #expect(abs(d.scores[1] - e5 / (e5 + 2)) < 1e-6 && abs(d.scores[0] - e6 / (e6 + 2)) < 1e-6)
        // Low scores are dropped: uniform logits give 1/3 per class, below a 0.5 threshold.
        var c = try Self.tinyConfig(.fastRCNN)
        c.boxScoreThreshold = 0.5
        let strict = try Detector(c).postprocess(BoxHeadOutput(logits: Tensor.zeros([1, 3]), deltas: Tensor.zeros([1, 12])),
                                                 proposals: [proposals[0]], imageHeight: 64, imageWidth: 64)
        #expect(strict.count == 0)
    }

    /// R-CNN's warp: a box's interior lands in the central (S − 2p)² of the crop, context
    /// around it; outside the image is zero.
    @Test func rcnnWarpKeepsContextAroundTheBox() throws {
        var c = try Self.tinyConfig(.rcnn)
        c.poolSize = 2  // 32-pixel crops
        c.warpContext = 8
        let detector = try Detector(c)
        // A 48×48 image: 0–255 ramps normalised by the detector.
        let (w, h) = (48, 48)
        var values = [Float](repeating: 0, count: 3 * w * h)
        for y in 0..<h { for x in 0..<w { for ch in 0..<3 { values[(ch * h + y) * w + x] = Float(x * 5) } } }
        let image = PlanarImage(width: w, height: h, values: values)
        let input = try detector.prepare(resized: image, resize: DetectionResize(originalWidth: w, originalHeight: h, width: w, height: h))
        // The box 16..32: 16 source pixels onto the central 16 of 32, so one source pixel per
        // warped pixel: warped column j samples x = 16 − 8 + j.
        let crops = try detector.warp(input, boxes: [Box(x1: 16, y1: 16, x2: 32, y2: 32)])
        #expect(crops.shape == [1, 3, 32, 32])
        for j in [0, 8, 20, 31] {
            let expected = input.tensor.values[16 * input.tensor.shape[3] + 8 + j]  // row 16, column 8 + j
            #expect(abs(crops.values[16 * 32 + j] - expected) < 1e-5, "column \(j)")
        }
        // A box at the corner: context outside the image is 0.
        let corner = try detector.warp(input, boxes: [Box(x1: 0, y1: 0, x2: 16, y2: 16)])
        #expect(corner.values[0] == 0 && corner.values[3 * 32 + 3] == 0)
    }

    /// The backbone loads from a segmentation FCN with the same widths (names `stageN.*`), and
    /// its batch norm keeps its statistics in training.
    @Test func backboneFromAnFCNAndFrozenBatchNorm() throws {
        let dir = NSTemporaryDirectory() + "cvseg-detector-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var fcn = FCN.Config(variant: .fcn8s, classes: 2, widths: [4, 4, 8, 8, 8], convs: [1, 1, 1, 1, 1], fcWidth: 16)
        fcn.batchNorm = true
        var g = SplitMix64(seed: 9)
        let source = try FCN(fcn, generator: &g)
        for (_, b) in source.namedBuffers() where b.value.shape.rank == 1 {
            b.value = Tensor.randomUniform(b.value.shape, low: 0.5, high: 1.5, generator: &g)
        }
        try source.saveWeights(to: dir + "/fcn.safetensors", metadata: source.metadata)
        let detector = try Detector(Self.tinyConfig(.fasterRCNN), seed: 3)
        try detector.loadBackbone(from: dir + "/fcn.safetensors")
        let theirs = Dictionary(uniqueKeysWithValues: source.stateDict().map { ($0.0, $0.1.values) })
        for (name, value) in detector.backbone.stateDict() { #expect(theirs[name] == value.values, "\(name)") }

        let x = Tensor.randomUniform([1, 3, 32, 32], low: -1, high: 1, generator: &g)
        let before = detector.backbone.stateDict().map(\.1.values)
        let inference = try detector.backbone(x, .inference())
        let training = try detector.backbone(x, .training())
        #expect(inference.values == training.values)
        #expect(detector.backbone.stateDict().map(\.1.values) == before)

        // A file without the backbone's stages is refused, naming it.
        try Safetensors.write([(name: "other", array: FloatArray(shape: [1], values: [0]))], metadata: nil, to: dir + "/x.safetensors")
        #expect { try detector.loadBackbone(from: dir + "/x.safetensors") } throws: { "\($0)".contains("x.safetensors") && "\($0)".contains("missing") }
    }

    /// A few steps of each method on one synthetic image lower its loss, the parts that apply
    /// are non-zero and the others zero.
    @Test(arguments: DetectorArchitecture.allCases)
    func trainingLowersTheLoss(_ architecture: DetectorArchitecture) throws {
        var c = try Self.tinyConfig(architecture, classes: 1)
        c.roiBatchSize = 16
        c.rpnBatchSize = 32
        c.dropout = 0
        let detector = try Detector(c, seed: 1)
        let (w, h) = (64, 64)
        var values = [Float](repeating: 40, count: 3 * w * h)
        for y in 16..<48 { for x in 24..<40 { values[y * w + x] = 230 } }
        let sample = DetectionSample(image: PlanarImage(width: w, height: h, values: values), boxes: [Box(x1: 24, y1: 16, x2: 40, y2: 48)],
                                     labels: [1])
        let proposals = [Box(x1: 20, y1: 12, x2: 44, y2: 50), Box(x1: 0, y1: 0, x2: 30, y2: 30), Box(x1: 30, y1: 30, x2: 64, y2: 64),
                         Box(x1: 22, y1: 20, x2: 40, y2: 44)]
        let optimizer = try Adam(detector.parameters, learningRate: 1e-2)
        var losses: [Float] = []
        var parts: [DetectionLossParts] = []
        for step in 0..<6 {
            losses.append(try trainingStep(optimizer: optimizer, step: step) { context in
                var g = SplitMix64(seed: UInt64(step))
                let (l, p) = try detector.trainingLoss(sample, proposals: proposals, context, generator: &g)
                parts.append(p)
                return l
            })
        }
        #expect(losses.last! < losses.first!, "\(losses)")
        let first = parts[0]
        #expect((first.rpnObjectness > 0) == (architecture == .fasterRCNN) && (first.rpnBox > 0) == (architecture == .fasterRCNN))
        #expect(first.classifier > 0 && first.box > 0)
        // Inference runs every stage and returns boxes inside the image.
        let input = try detector.prepare(sample.image)
        let trace = try detector.trace(input, proposals: architecture == .fasterRCNN ? nil : proposals)
        #expect(trace.head.logits.shape == [trace.proposals.count, c.classifierOutputs])
        #expect(trace.detections.boxes.allSatisfy { $0.x1 >= 0 && $0.y1 >= 0 && $0.x2 <= 64 && $0.y2 <= 64 })
    }
}
