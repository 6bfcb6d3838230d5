import CVSegCore
import CVSegTensor

/// The loss terms of one training step, for the log.
public struct DetectionLossParts: Sendable, Equatable {
    /// RPN objectness (binary cross-entropy over the sampled anchors; Faster R-CNN only).
    public var rpnObjectness: Float = 0
    /// RPN box regression (smooth L1, β 1/9, summed over positives / sampled anchors).
    public var rpnBox: Float = 0
    /// RoI classification: softmax cross-entropy (R-CNN: one logistic loss per class).
    public var classifier: Float = 0
    /// RoI class-specific box regression (smooth L1, β 1/9, summed over foreground / sampled RoIs).
    public var box: Float = 0

    public init() {}
    public var total: Float { rpnObjectness + rpnBox + classifier + box }

    static func + (a: Self, b: Self) -> Self {
        var s = Self()
        s.rpnObjectness = a.rpnObjectness + b.rpnObjectness; s.rpnBox = a.rpnBox + b.rpnBox
        s.classifier = a.classifier + b.classifier; s.box = a.box + b.box
        return s
    }
}

/// The elements of `x` at flat `indices`, as `[indices.count]`; the gradient is scattered back
/// (added where an index repeats).
public func take(_ x: Tensor, _ indices: [Int]) throws -> Tensor {
    let xv = x.values
    for i in indices where !(0..<xv.count).contains(i) {
        throw CVSegError.invalidArgument("take: index \(i) outside a tensor of \(xv.count) elements")
    }
    let shape = x.shape
    return try customOperation("take", shape: [indices.count], values: indices.map { xv[$0] }, inputs: [x]) { g in
        var dx = [Float](repeating: 0, count: shape.count)
        let gv = g.values
        for (k, i) in indices.enumerated() { dx[i] += gv[k] }
        return [Tensor(shape: shape, values: dx)]
    }
}

extension Detector {
    /// Smooth L1 (β = 1/9, torchvision's detection setting) summed over the elements and divided
    /// by `normalizer`.
    static func boxLoss(_ predicted: Tensor, _ targets: Tensor, normalizer: Int) throws -> Tensor {
        let mean = try Loss.smoothL1(predicted, targets, beta: 1.0 / 9)
        return try scale(mean, by: Float(predicted.count) / Float(max(normalizer, 1)))
    }

    /// Ground truth used for training: crowd regions left out (neither matched nor penalised).
    static func trainingTruth(_ sample: DetectionSample) -> (boxes: [Box], labels: [Int]) {
        let keep = sample.boxes.indices.filter { !sample.isCrowd[$0] }
        return (keep.map { sample.boxes[$0] }, keep.map { Int(sample.labels[$0]) })
    }

    /// Fast R-CNN's RoI labels: the class of the best-overlapping ground-truth box when its IoU
    /// is at least ``DetectorConfig/roiForegroundIoU``, background (0) when the best IoU is in
    /// `[roiBackgroundLowIoU, roiForegroundIoU)`, ignored (−1) below; with the matched box.
    func labelRoIs(_ rois: [Box], truth: [Box], labels: [Int]) -> (labels: [Int], matched: [Int]) {
        guard !truth.isEmpty else {
            return (rois.map { _ in 0 }, rois.map { _ in -1 })  // no objects: every RoI is background
        }
        let iou = boxIoUMatrix(truth, rois)
        var out = [Int](repeating: -1, count: rois.count), matched = [Int](repeating: -1, count: rois.count)
        for j in rois.indices {
            var best: Float = -1, arg = 0
            for i in truth.indices where iou[i * rois.count + j] > best { best = iou[i * rois.count + j]; arg = i }
            if best >= config.roiForegroundIoU {
                out[j] = labels[arg]; matched[j] = arg
            } else if best >= config.roiBackgroundLowIoU {
                out[j] = 0
            }
        }
        return (out, matched)
    }

    /// The training loss of one image at the network's scale.
    ///
    /// - Faster R-CNN: the RPN loss on ``DetectorConfig/rpnBatchSize`` sampled anchors (matched
    ///   with 0.7/0.3 and each box's best anchors) plus the Fast R-CNN loss on RoIs sampled from
    ///   the RPN's training proposals and the ground-truth boxes; the proposals are constants
    ///   (approximate joint training: no gradient through their coordinates).
    /// - Fast R-CNN: the RoI loss on `proposals` (selective search) plus the ground truth.
    /// - R-CNN: the same RoI sampling, each sampled RoI warped and run through the CNN; one
    ///   logistic loss per class (the role of the paper's per-class SVMs), box regression on
    ///   RoIs with IoU ≥ 0.6 (the paper's regression set).
    ///
    /// - Parameters:
    ///   - proposals: selective search boxes in network pixels (R-CNN, Fast R-CNN); ignored by
    ///     Faster R-CNN.
    ///   - generator: draws the samplers' subsets.
    public func trainingLoss(_ sample: DetectionSample, proposals: [Box], _ context: ForwardContext,
                             generator: inout SplitMix64) throws -> (loss: Tensor, parts: DetectionLossParts) {
        let input = try prepare(resized: sample.image, resize: DetectionResize(originalWidth: sample.image.width, originalHeight: sample.image.height,
                                                                             width: sample.image.width, height: sample.image.height))
        let truth = Self.trainingTruth(sample)
        var parts = DetectionLossParts()
        var terms: [Tensor] = []
        var features: Tensor?
        var candidates = proposals
        if architecture != .rcnn { features = try self.features(input, context) }
        if architecture == .fasterRCNN, let rpn, let f = features {
            let (objectness, deltas) = try rpn.outputs(f, context)
            let anchors = try self.anchors(input, features: f)
            let a = config.anchorsPerLocation, plane = objectness.shape[2] * objectness.shape[3]
            let matcher = try Matcher(highThreshold: config.rpnForegroundIoU, lowThreshold: config.rpnBackgroundIoU,
                                      allowLowQualityMatches: true)
            let matches = truth.boxes.isEmpty ? anchors.map { _ in Match.belowLowThreshold }
                : try matcher.match(groundTruth: truth.boxes, predictions: anchors)
            let sampler = try BalancedPositiveNegativeSampler(batchSizePerImage: config.rpnBatchSize, positiveFraction: config.rpnPositiveFraction)
            let (pos, neg) = sampler.sample(matches: matches, generator: &generator)
            let sampled = pos + neg
            let logits = try take(objectness, sampled.map { Self.objectnessIndex($0, anchors: a, plane: plane) })
            let targets = Tensor(shape: [sampled.count], values: pos.map { _ in 1 } + neg.map { _ in 0 })
            let objectnessLoss = try context.scope("rpn_loss") { try Loss.binaryCrossEntropyWithLogits(logits, targets: targets) }
            terms.append(objectnessLoss)
            parts.rpnObjectness = objectnessLoss.scalarValue
            if !pos.isEmpty {
                let predicted = try take(deltas, pos.flatMap { i in (0..<4).map { Self.deltaIndex(i, $0, anchors: a, plane: plane) } })
                let encoded = try BoxCoder.rpn.encode(pos.map { truth.boxes[matches[$0].groundTruth!] }, relativeTo: pos.map { anchors[$0] })
                let l = try context.scope("rpn_loss") {
                    try Self.boxLoss(predicted, Tensor(shape: [4 * pos.count], values: encoded.values), normalizer: sampled.count)
                }
                terms.append(l)
                parts.rpnBox = l.scalarValue
            }
            candidates = try rpnProposals(input, anchors: anchors, objectness: objectness, deltas: deltas, training: true)
        }
        // RoI sampling over the proposals and the ground truth (Fast R-CNN's and torchvision's
        // practice: the boxes themselves are the surest foreground).
        candidates += truth.boxes
        let (labels, matched) = labelRoIs(candidates, truth: truth.boxes, labels: truth.labels)
        let sampler = try BalancedPositiveNegativeSampler(batchSizePerImage: config.roiBatchSize, positiveFraction: config.roiPositiveFraction)
        let (pos, neg) = sampler.sample(labels: labels, generator: &generator)
        let rois = pos + neg
        guard !rois.isEmpty else {
            let total = try terms.dropFirst().reduce(terms.first ?? Tensor.scalar(0)) { try add($0, $1) }
            return (total, parts)
        }
        let boxes = rois.map { candidates[$0] }
        let head = architecture == .rcnn ? try rcnnHead(input, boxes: boxes, context, chunk: boxes.count)
                                         : try boxHead(features: features!, boxes: boxes, context)
        let k = config.classifierOutputs
        let classifierLoss: Tensor
        var regress: [Int] = []  // rows of `rois` that train the regressor
        if architecture == .rcnn {
            var targets = [Float](repeating: 0, count: rois.count * k)
            for (row, i) in rois.enumerated() where labels[i] >= 1 { targets[row * k + labels[i] - 1] = 1 }
            classifierLoss = try context.scope("box_loss") {
                try Loss.binaryCrossEntropyWithLogits(head.logits, targets: Tensor(shape: [rois.count, k], values: targets))
            }
            let iou = truth.boxes.isEmpty ? [] : boxIoUMatrix(truth.boxes, boxes)
            regress = (0..<pos.count).filter { row in
                let m = matched[rois[row]]
                return m >= 0 && iou[m * boxes.count + row] >= 0.6
            }
        } else {
            classifierLoss = try context.scope("box_loss") {
                try Loss.crossEntropy(head.logits, targets: rois.map { Int32(max(labels[$0], 0)) })
            }
            regress = Array(0..<pos.count)
        }
        terms.append(classifierLoss)
        parts.classifier = classifierLoss.scalarValue
        if !regress.isEmpty {
            let column = { (row: Int) -> Int in self.architecture == .rcnn ? labels[rois[row]] - 1 : labels[rois[row]] }
            let predicted = try take(head.deltas, regress.flatMap { row in (0..<4).map { (row * k + column(row)) * 4 + $0 } })
            let encoded = try BoxCoder.roiHeads.encode(regress.map { truth.boxes[matched[rois[$0]]] }, relativeTo: regress.map { boxes[$0] })
            let l = try context.scope("box_loss") {
                try Self.boxLoss(predicted, Tensor(shape: [4 * regress.count], values: encoded.values), normalizer: rois.count)
            }
            terms.append(l)
            parts.box = l.scalarValue
        }
        let total = try terms.dropFirst().reduce(terms[0]) { try add($0, $1) }
        return (total, parts)
    }
}
