import CVSegClassical
import CVSegCore
import CVSegTensor
#if canImport(Glibc)
import Glibc
#endif

// The R-CNN family as one module with named stages and typed hand-offs:
//
//   transform (DetectorInput) → backbone (features) → proposals ([Box]: selective search or the
//   RPN) → RoI heads (BoxHeadOutput: per-RoI class logits and box deltas) → post-processing
//   (Detections, mapped back to the original image).
//
// Each stage is a method of its own, used by inference (`detect`), by training
// (DetectorLosses.swift) and by the benchmark's parity dump.

/// The backbone: five VGG stages (the segmentation FCN's `stage1`…`stage5`, without the last
/// pooling), output stride 16.
public final class DetectorBackbone: Layer {
    public let stages: [Sequential]

    init(_ config: DetectorConfig, generator: inout SplitMix64) {
        var stages: [Sequential] = []
        for i in 0..<5 {
            let stage = vggStage(i == 0 ? config.inChannels : config.widths[i - 1], config.widths[i], convs: config.convs[i],
                                 pool: i < 4, batchNorm: config.batchNorm, generator: &generator)
            for case let bn as BatchNorm2d in stage.layers { bn.frozen = true }
            stages.append(stage)
        }
        self.stages = stages
        super.init()
        for (i, s) in stages.enumerated() { register(layer: s, as: "stage\(i + 1)") }
    }

    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        var h = x
        for stage in stages { h = try stage(h, context) }
        return h
    }
}

/// Faster R-CNN's Region Proposal Network head: a 3×3 convolution with ReLU, then per anchor
/// an objectness logit (`cls_logits`, `[N, A, h, w]`) and four box deltas (`bbox_pred`,
/// `[N, 4A, h, w]`), as torchvision's `RPNHead` (weights normal with σ 0.01, biases 0).
public final class RPNHead: Layer {
    public let conv: Conv2d, clsLogits: Conv2d, bboxPred: Conv2d

    init(channels c: Int, anchors a: Int, generator: inout SplitMix64) {
        conv = Conv2d(c, c, kernel: 3, padding: 1, generator: &generator)
        clsLogits = Conv2d(c, a, kernel: 1, generator: &generator)
        bboxPred = Conv2d(c, 4 * a, kernel: 1, generator: &generator)
        super.init()
        for layer in [conv, clsLogits, bboxPred] {
            layer.weight.value = Tensor.randomNormal(layer.weight.value.shape, std: 0.01, generator: &generator)
            layer.bias?.value = Tensor.zeros(layer.bias!.value.shape)
        }
        register(layer: conv, as: "conv")
        register(layer: clsLogits, as: "cls_logits")
        register(layer: bboxPred, as: "bbox_pred")
    }

    public func outputs(_ features: Tensor, _ context: ForwardContext) throws -> (objectness: Tensor, deltas: Tensor) {
        try context.scope(scopeName) {
            let t = try conv.reluForward(features, context)
            return (try clsLogits(t, context), try bboxPred(t, context))
        }
    }
}

/// The box head on pooled or warped RoI features `[R, C, P, P]`: `fc6`, `fc7` (ReLU, dropout),
/// then `cls_score` and class-specific `bbox_pred` (Fast R-CNN's initialisation: normal with
/// σ 0.01 and 0.001, biases 0).
public final class BoxHead: Layer {
    public let fc6: Linear, fc7: Linear, clsScore: Linear, bboxPred: Linear
    public let dropout: Float

    init(_ config: DetectorConfig, generator: inout SplitMix64) {
        let inputs = config.widths[4] * config.poolSize * config.poolSize, f = config.fcWidth
        fc6 = Linear(inputs: inputs, outputs: f, generator: &generator)
        fc7 = Linear(inputs: f, outputs: f, generator: &generator)
        let k = config.classifierOutputs
        clsScore = Linear(inputs: f, outputs: k, generator: &generator)
        bboxPred = Linear(inputs: f, outputs: 4 * k, generator: &generator)
        dropout = config.dropout
        super.init()
        clsScore.weight.value = Tensor.randomNormal(clsScore.weight.value.shape, std: 0.01, generator: &generator)
        bboxPred.weight.value = Tensor.randomNormal(bboxPred.weight.value.shape, std: 0.001, generator: &generator)
        for layer in [clsScore, bboxPred] { layer.bias?.value = Tensor.zeros(layer.bias!.value.shape) }
        register(layer: fc6, as: "fc6")
        register(layer: fc7, as: "fc7")
        register(layer: clsScore, as: "cls_score")
        register(layer: bboxPred, as: "bbox_pred")
    }

    public func outputs(_ pooled: Tensor, _ context: ForwardContext) throws -> BoxHeadOutput {
        try context.scope(scopeName) {
            var h = try flatten(pooled)
            h = try dropoutLayer(relu(fc6(h, context)), context)
            h = try dropoutLayer(relu(fc7(h, context)), context)
            return BoxHeadOutput(logits: try clsScore(h, context), deltas: try bboxPred(h, context))
        }
    }

    private func dropoutLayer(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        try CVSegTensor.dropout(x, probability: dropout, training: context.isTraining, generator: &context.generator)
    }
}

/// The network's input: the image resized (``DetectorConfig/minSize``, ``DetectorConfig/maxSize``),
/// normalised and padded with zeros at the bottom and right to multiples of 16.
public struct DetectorInput {
    /// `[1, 3, H', W']`, H' and W' multiples of 16.
    public let tensor: Tensor
    /// The resized image (0–255 values, before normalisation and padding): what selective search
    /// and R-CNN's warping read.
    public let image: PlanarImage
    /// From the original image to the network's scale (``DetectionResize/toOriginal(_:)`` back).
    public let resize: DetectionResize
    public var height: Int { image.height }
    public var width: Int { image.width }
    public init(tensor: Tensor, image: PlanarImage, resize: DetectionResize) {
        self.tensor = tensor; self.image = image; self.resize = resize
    }
}

/// The box head's raw outputs for R RoIs: logits `[R, K+1]` (R-CNN: `[R, K]`) and class-specific
/// deltas `[R, 4(K+1)]` (R-CNN: `[R, 4K]`).
public struct BoxHeadOutput {
    public let logits: Tensor
    public let deltas: Tensor
    public init(logits: Tensor, deltas: Tensor) { self.logits = logits; self.deltas = deltas }
}

/// Detections of one image: boxes (xyxy pixels), scores and labels `1…K`, best score first.
public struct Detections: Sendable, Equatable {
    public var boxes: [Box]
    public var scores: [Float]
    public var labels: [Int]
    public init(boxes: [Box] = [], scores: [Float] = [], labels: [Int] = []) {
        self.boxes = boxes; self.scores = scores; self.labels = labels
    }
    public var count: Int { boxes.count }
}

/// R-CNN, Fast R-CNN or Faster R-CNN (``DetectorConfig/architecture``).
///
/// State_dict names: `backbone.stage1.0.weight` … (as the segmentation FCN's stages, so an FCN's
/// backbone initialises it), `rpn.conv`, `rpn.cls_logits`, `rpn.bbox_pred` (Faster R-CNN),
/// `roi_heads.fc6`, `roi_heads.fc7`, `roi_heads.cls_score`, `roi_heads.bbox_pred`; the PyTorch
/// model of scripts/bench/detnets_peers.py loads the same file.
public final class Detector: Layer {
    public let config: DetectorConfig
    public let backbone: DetectorBackbone
    public let rpn: RPNHead?
    public let roiHeads: BoxHead
    let anchorGenerator: AnchorGenerator?

    public init(_ config: DetectorConfig, seed: UInt64 = 0) throws {
        try config.validate()
        self.config = config
        var generator = SplitMix64(seed: seed)
        backbone = DetectorBackbone(config, generator: &generator)
        if config.architecture == .fasterRCNN {
            rpn = RPNHead(channels: config.widths[4], anchors: config.anchorsPerLocation, generator: &generator)
            anchorGenerator = try AnchorGenerator(sizes: config.anchorSizes, aspectRatios: config.anchorRatios)
        } else {
            rpn = nil
            anchorGenerator = nil
        }
        roiHeads = BoxHead(config, generator: &generator)
        super.init()
        register(layer: backbone, as: "backbone")
        if let rpn { register(layer: rpn, as: "rpn") }
        register(layer: roiHeads, as: "roi_heads")
    }

    public var architecture: DetectorArchitecture { config.architecture }
    public var metadata: [String: String] { config.metadata }

    /// The detector a weights file describes (its metadata), with its weights (strict).
    /// - Throws: `invalidContent` naming the file: no metadata, not a detector, a bad key,
    ///   missing or mis-shaped weights.
    public static func load(from path: String) throws -> Detector {
        let file = try Safetensors.read(path)
        guard let meta = file.metadata, meta[DetectorConfig.kindKey] == DetectorConfig.kind else {
            throw CVSegError.invalidContent(file: path, reason: "not a cvseg detector (metadata '\(DetectorConfig.kindKey)' is not '\(DetectorConfig.kind)')")
        }
        let detector: Detector
        do {
            detector = try Detector(DetectorConfig(metadata: meta))
        } catch CVSegError.invalidArgument(let message) {
            throw CVSegError.invalidContent(file: path, reason: message)
        }
        let state = file.tensors.map { ($0.name, Tensor(shape: Shape($0.array.shape), values: $0.array.values)) }
        try detector.load(stateDict: state, strict: true, source: path)
        return detector
    }

    /// Loads the backbone from a segmentation FCN's (or a detector's) weights file: every
    /// `stageN.*` (or `backbone.stageN.*`) tensor; the rest of the file is not used.
    /// - Throws: `invalidContent` when a backbone weight is missing or mis-shaped.
    public func loadBackbone(from path: String) throws {
        let file = try Safetensors.read(path)
        var state: [(String, Tensor)] = []
        for t in file.tensors {
            let name = t.name.hasPrefix("backbone.") ? String(t.name.dropFirst(9)) : t.name
            guard name.hasPrefix("stage") else { continue }
            state.append((name, Tensor(shape: Shape(t.array.shape), values: t.array.values)))
        }
        let wanted = Set(backbone.stateDict().map(\.0))
        try backbone.load(stateDict: state.filter { wanted.contains($0.0) }, strict: true, source: path)
    }

    // MARK: stage 1: transform

    /// The image at the network's scale (shorter side ``DetectorConfig/minSize``, longer side at
    /// most ``DetectorConfig/maxSize``), normalised and padded.
    public func prepare(_ image: PlanarImage) throws -> DetectorInput {
        let r = DetectionResize(width: image.width, height: image.height, shorterSide: config.minSize, maxSize: config.maxSize)
        return try prepare(resized: image.resizedForNetwork(width: r.width, height: r.height), resize: r)
    }

    /// An image already at the network's scale (training samples are resized by augmentation).
    public func prepare(resized image: PlanarImage, resize: DetectionResize) throws -> DetectorInput {
        let s = DetectorConfig.stride
        let x = try config.normalization.tensor([image])
        let (h, w) = ((image.height + s - 1) / s * s, (image.width + s - 1) / s * s)
        let padded = (h, w) == (image.height, image.width) ? x : try padBottomRight(x, height: h, width: w)
        return DetectorInput(tensor: padded, image: image, resize: resize)
    }

    // MARK: stage 2: backbone

    public func features(_ input: DetectorInput, _ context: ForwardContext) throws -> Tensor {
        try backbone(input.tensor, context)
    }

    // MARK: stage 3: proposals

    /// Selective search boxes (the detector's mode, at most ``DetectorConfig/maxProposals``,
    /// sides of at least ``DetectorConfig/proposalMinSide``) of an image at the network's scale.
    public func selectiveSearch(_ image: PlanarImage) throws -> [Box] {
        let mode = SelectiveSearch.Mode(rawValue: config.proposalMode) ?? .fast
        let options = SelectiveSearch.Options(seed: 0, maxBoxes: config.maxProposals, minSide: config.proposalMinSide)
        return try SelectiveSearch.propose(.uint8(image.rgb8()), strategies: mode.strategies, options: options).map(\.box)
    }

    /// The RPN's anchors for an input (levels: one, stride 16).
    public func anchors(_ input: DetectorInput, features: Tensor) throws -> [Box] {
        guard let anchorGenerator else { throw CVSegError.invalidArgument("\(architecture.rawValue) has no RPN") }
        return try anchorGenerator.anchors(imageHeight: input.tensor.shape[2], imageWidth: input.tensor.shape[3],
                                           featureSizes: [(features.shape[2], features.shape[3])])
    }

    /// The RPN's outputs in anchor order (location-major, then the cell's anchors): objectness
    /// `[A·h·w]` and deltas `[A·h·w, 4]`, detached.
    public static func anchorOrder(objectness: Tensor, deltas: Tensor) -> (objectness: Tensor, deltas: Tensor) {
        let (a, h, w) = (objectness.shape[1], objectness.shape[2], objectness.shape[3])
        let (o, d) = (objectness.values, deltas.values)
        let plane = h * w
        var obj = [Float](repeating: 0, count: a * plane), del = [Float](repeating: 0, count: 4 * a * plane)
        for p in 0..<plane {
            for k in 0..<a {
                let i = p * a + k
                obj[i] = o[k * plane + p]
                for j in 0..<4 { del[4 * i + j] = d[(4 * k + j) * plane + p] }
            }
        }
        return (Tensor(shape: [a * plane], values: obj), Tensor(shape: [a * plane, 4], values: del))
    }

    /// The flat index in `[1, A, h, w]` of anchor `i` (anchor order), and of its delta `j` in
    /// `[1, 4A, h, w]`.
    static func objectnessIndex(_ i: Int, anchors a: Int, plane: Int) -> Int { (i % a) * plane + i / a }
    static func deltaIndex(_ i: Int, _ j: Int, anchors a: Int, plane: Int) -> Int { (4 * (i % a) + j) * plane + i / a }

    /// RPN proposals of one image (the training or test top-N; NMS at
    /// ``DetectorConfig/rpnNMSThreshold``), clipped to the unpadded image.
    public func rpnProposals(_ input: DetectorInput, anchors: [Box], objectness: Tensor, deltas: Tensor, training: Bool) throws -> [Box] {
        let (o, d) = Self.anchorOrder(objectness: objectness.detached, deltas: deltas.detached)
        let filter = ProposalFilter(preNMSTopN: training ? config.rpnPreNMSTopNTrain : config.rpnPreNMSTopNTest,
                                    postNMSTopN: training ? config.rpnPostNMSTopNTrain : config.rpnPostNMSTopNTest,
                                    nmsThreshold: Double(config.rpnNMSThreshold))
        return try filter(anchors: anchors, objectness: o, deltas: d, imageHeight: input.height, imageWidth: input.width).boxes
    }

    // MARK: stage 4: RoI heads

    /// Fast and Faster R-CNN: RoI max pooling of `boxes` (network pixels) on the features, then
    /// the box head.
    public func boxHead(features: Tensor, boxes: [Box], _ context: ForwardContext) throws -> BoxHeadOutput {
        let rows = boxes.flatMap { b -> [Float] in [0, b.x1, b.y1, b.x2, b.y2] }
        let pooled = try context.scope("roi_pool") {
            try roiPool(features, boxes: Tensor(shape: [boxes.count, 5], values: rows), outputHeight: config.poolSize,
                        outputWidth: config.poolSize, spatialScale: 1 / Float(DetectorConfig.stride))
        }
        return try roiHeads.outputs(pooled, context)
    }

    /// R-CNN: each box warped (with context, ``warp(_:boxes:)``) and run through the backbone
    /// on its own, `chunk` crops at a time; the box head on the `[R, C, P, P]` features.
    public func rcnnHead(_ input: DetectorInput, boxes: [Box], _ context: ForwardContext, chunk: Int = 64) throws -> BoxHeadOutput {
        var logits: [Tensor] = [], deltas: [Tensor] = []
        var start = 0
        while start < boxes.count {
            let part = Array(boxes[start..<min(boxes.count, start + chunk)])
            let crops = try warp(input, boxes: part)
            let out = try roiHeads.outputs(backbone(crops, context), context)
            logits.append(out.logits)
            deltas.append(out.deltas)
            start += chunk
        }
        guard logits.count > 1 else {
            return logits.first.map { BoxHeadOutput(logits: $0, deltas: deltas[0]) }
                ?? BoxHeadOutput(logits: Tensor.zeros([0, config.classifierOutputs]), deltas: Tensor.zeros([0, 4 * config.classifierOutputs]))
        }
        // Inference only (training runs one chunk): join the parts.
        return BoxHeadOutput(logits: Tensor(shape: [boxes.count, config.classifierOutputs], values: logits.flatMap(\.values)),
                             deltas: Tensor(shape: [boxes.count, 4 * config.classifierOutputs], values: deltas.flatMap(\.values)))
    }

    /// R-CNN's warp (Girshick et al. 2014, appendix A, "warp" with context padding p): each box
    /// is enlarged about its centre so that, once scaled anisotropically to S×S
    /// (S = ``DetectorConfig/warpSize``), the original box fills the central (S − 2p)² and p
    /// pixels of context surround it; pixels are sampled bilinearly from the normalised image,
    /// zero (the mean) outside it. Returns `[R, 3, S, S]`.
    public func warp(_ input: DetectorInput, boxes: [Box]) throws -> Tensor {
        let s = config.warpSize, p = min(config.warpContext, (s - 2) / 2)
        let (h, w) = (input.height, input.width)
        let paddedWidth = input.tensor.shape[3], paddedPlane = input.tensor.shape[2] * paddedWidth
        let src = input.tensor.values
        var out = [Float](repeating: 0, count: boxes.count * 3 * s * s)
        let inner = Float(s - 2 * p)
        // Per box: each warped row's and column's two source taps (index, weight), a weight of 0
        // or an index outside the image marking a tap that is skipped.
        var rowTaps = [(Int, Float, Int, Float)](repeating: (0, 0, 0, 0), count: s)
        var colTaps = [(Int, Float, Int, Float)](repeating: (0, 0, 0, 0), count: s)
        func taps(_ start: Float, _ step: Float, _ limit: Int, into t: inout [(Int, Float, Int, Float)]) {
            for i in 0..<s {
                let v = start + (Float(i) + 0.5) * step - 0.5
                let f = floorf(v), frac = v - f, k = Int(f)
                let w0: Float = k >= 0 && k < limit ? 1 - frac : 0, w1: Float = k + 1 >= 0 && k + 1 < limit ? frac : 0
                t[i] = (k, w0, k + 1, w1)
            }
        }
        for (r, b) in boxes.enumerated() {
            let bw = max(b.x2 - b.x1, 1), bh = max(b.y2 - b.y1, 1)
            let (sx, sy) = (bw / inner, bh / inner)  // source pixels per warped pixel
            taps(b.y1 - Float(p) * sy, sy, h, into: &rowTaps)
            taps(b.x1 - Float(p) * sx, sx, w, into: &colTaps)
            for c in 0..<3 {
                let plane = c * paddedPlane, base = (r * 3 + c) * s * s
                for i in 0..<s {
                    let (y0, wy0, y1, wy1) = rowTaps[i]
                    for j in 0..<s {
                        let (x0, wx0, x1, wx1) = colTaps[j]
                        var v: Float = 0
                        if wy0 > 0 {
                            if wx0 > 0 { v += wy0 * wx0 * src[plane + y0 * paddedWidth + x0] }
                            if wx1 > 0 { v += wy0 * wx1 * src[plane + y0 * paddedWidth + x1] }
                        }
                        if wy1 > 0 {
                            if wx0 > 0 { v += wy1 * wx0 * src[plane + y1 * paddedWidth + x0] }
                            if wx1 > 0 { v += wy1 * wx1 * src[plane + y1 * paddedWidth + x1] }
                        }
                        out[base + i * s + j] = v
                    }
                }
            }
        }
        return Tensor(shape: [boxes.count, 3, s, s], values: out)
    }

    // MARK: stage 5: post-processing

    /// torchvision's `postprocess_detections`: per class, scores (softmax; R-CNN: each class's
    /// sigmoid) and class-specific boxes decoded from the proposals (weights 10, 10, 5, 5) and
    /// clipped to the image; scores above ``DetectorConfig/boxScoreThreshold``, sides of at
    /// least 0.01, per-class NMS, the best ``DetectorConfig/detectionsPerImage``. Network pixels.
    public func postprocess(_ head: BoxHeadOutput, proposals: [Box], imageHeight: Int, imageWidth: Int) -> Detections {
        let k = config.classifierOutputs, r = proposals.count
        let logits = head.logits.values, deltas = head.deltas.values
        let rcnn = architecture == .rcnn
        var boxes: [Box] = [], scores: [Float] = [], labels: [Int] = []
        for i in 0..<r {
            let row = Array(logits[(i * k)..<(i * k + k)])
            let probabilities: [Float]
            if rcnn {
                probabilities = row.map { 1 / (1 + expf(-$0)) }
            } else {
                let m = row.max() ?? 0
                let e = row.map { expf($0 - m) }
                let total = e.reduce(0, +)
                probabilities = e.map { $0 / total }
            }
            for c in (rcnn ? 0 : 1)..<k where probabilities[c] > config.boxScoreThreshold {
                let d = Array(deltas[(4 * (i * k + c))..<(4 * (i * k + c) + 4)])
                let box = clipBoxes(BoxCoder.roiHeads.decode(d, relativeTo: [proposals[i]]), imageHeight: imageHeight, imageWidth: imageWidth)[0]
                guard box.x2 - box.x1 >= 1e-2, box.y2 - box.y1 >= 1e-2 else { continue }
                boxes.append(box)
                scores.append(probabilities[c])
                labels.append(rcnn ? c + 1 : c)
            }
        }
        let keep = batchedNMS(boxes: boxes, scores: scores, classes: labels, iouThreshold: Double(config.boxNMSThreshold))
            .prefix(config.detectionsPerImage)
        return Detections(boxes: keep.map { boxes[$0] }, scores: keep.map { scores[$0] }, labels: keep.map { labels[$0] })
    }

    // MARK: the whole pipeline

    /// What one inference pass produced at each stage (for the benchmark's parity dump).
    public struct Trace {
        public let input: DetectorInput
        public let features: Tensor?
        public let rpn: (objectness: Tensor, deltas: Tensor)?
        public let proposals: [Box]
        public let head: BoxHeadOutput
        /// In network pixels.
        public let detections: Detections
    }

    /// Runs every stage on an image at the network's scale. `proposals` (network pixels)
    /// replace selective search when given (R-CNN, Fast R-CNN: computed once, reused).
    public func trace(_ input: DetectorInput, proposals given: [Box]? = nil) throws -> Trace {
        let context = ForwardContext.inference()
        switch architecture {
        case .rcnn:
            let proposals = try given ?? selectiveSearch(input.image)
            let head = try rcnnHead(input, boxes: proposals, context)
            return Trace(input: input, features: nil, rpn: nil, proposals: proposals, head: head,
                         detections: postprocess(head, proposals: proposals, imageHeight: input.height, imageWidth: input.width))
        case .fastRCNN:
            let proposals = try given ?? selectiveSearch(input.image)
            let f = try features(input, context)
            let head = try boxHead(features: f, boxes: proposals, context)
            return Trace(input: input, features: f, rpn: nil, proposals: proposals, head: head,
                         detections: postprocess(head, proposals: proposals, imageHeight: input.height, imageWidth: input.width))
        case .fasterRCNN:
            let f = try features(input, context)
            guard let rpn else { throw CVSegError.invalidArgument("faster-rcnn without an RPN") }
            let (o, d) = try rpn.outputs(f, context)
            let proposals = try rpnProposals(input, anchors: anchors(input, features: f), objectness: o, deltas: d, training: false)
            let head = try boxHead(features: f, boxes: proposals, context)
            return Trace(input: input, features: f, rpn: (o, d), proposals: proposals, head: head,
                         detections: postprocess(head, proposals: proposals, imageHeight: input.height, imageWidth: input.width))
        }
    }

    /// Detections of an image (any size) in its own pixel coordinates.
    public func detect(_ image: PlanarImage) throws -> Detections {
        let input = try prepare(image)
        var d = try trace(input).detections
        d.boxes = clipBoxes(input.resize.toOriginal(d.boxes), imageHeight: image.height, imageWidth: image.width)
        return d
    }
}

extension PlanarImage {
    /// The image as 8-bit interleaved RGB (values rounded and clamped to 0…255).
    public func rgb8() -> Image<UInt8> {
        let plane = width * height
        var out = [UInt8](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            for c in 0..<3 { out[3 * i + c] = UInt8(max(0, min(255, values[c * plane + i].rounded()))) }
        }
        return Image(width: width, height: height, layout: .rgb, samples: out)
    }
}
