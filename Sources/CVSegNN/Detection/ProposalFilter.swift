import CVSegCore
import CVSegTensor

#if canImport(Glibc)
import Glibc
#endif

/// Region proposals for one image: the hand-off from the RPN to the RoI heads.
public struct Proposals: Sendable, Equatable {
    /// `xyxy`, clipped to the image, best first.
    public var boxes: [Box]
    /// Objectness probabilities (sigmoid of the logits), same order.
    public var scores: [Float]
    /// The anchor each proposal was decoded from (an index into the anchors).
    public var anchorIndices: [Int]
    /// The feature level of that anchor.
    public var levels: [Int]

    public init(boxes: [Box], scores: [Float], anchorIndices: [Int], levels: [Int]) {
        self.boxes = boxes
        self.scores = scores
        self.anchorIndices = anchorIndices
        self.levels = levels
    }

    public var count: Int { boxes.count }
}

/// Turns an RPN's raw outputs for one image into proposals, exactly as torchvision's
/// `RegionProposalNetwork.filter_proposals` (`torchvision.models.detection.rpn`):
///
/// 1. per feature level, the ``preNMSTopN`` anchors with the highest objectness logit
///    (`topk`), levels kept in order;
/// 2. their deltas decoded with ``boxCoder`` (the RPN's, weights 1, 1, 1, 1) and the logits
///    turned into probabilities, `1 / (1 + exp(−x))` in `Float`;
/// 3. boxes clipped to the image (``clipBoxes(_:imageHeight:imageWidth:)``);
/// 4. boxes with a side below ``minSize`` removed (``indicesOfBoxes(_:withSidesAtLeast:)``);
/// 5. boxes with a probability below ``scoreThreshold`` removed (kept when `≥`);
/// 6. NMS at ``nmsThreshold``, separately per level (CVSegCore's ``batchedNMS(boxes:scores:classes:iouThreshold:)``
///    with the level as class, torchvision's `batched_nms`);
/// 7. the best ``postNMSTopN`` kept.
///
/// Order and ties: NMS visits probabilities in descending order with ties in the order of
/// step 1, i.e. by descending logit (sigmoid maps logits ≥ 17 all to 1.0 in `Float`). Equal
/// logits within a level are taken in anchor order; `torch.topk` leaves their order
/// unspecified. With more than 1000 boxes entering NMS, torchvision's `batched_nms` re-sorts the
/// kept boxes with an unstable sort, so equal kept probabilities can come out in another
/// order there (see `batchedNMS`).
///
/// Decoding only the selected anchors gives the same boxes as torchvision, which decodes all
/// of them first (each row is decoded on its own).
public struct ProposalFilter: Sendable, Hashable {
    /// Anchors kept per level before NMS (torchvision: 2000 in training, 1000 in inference).
    public var preNMSTopN: Int
    /// Proposals kept after NMS (2000 in training, 1000 in inference).
    public var postNMSTopN: Int
    /// IoU above which NMS suppresses a proposal (0.7).
    public var nmsThreshold: Double
    /// Proposals with a side shorter than this, after clipping, are removed (1e-3 pixels).
    public var minSize: Float
    /// Proposals with a lower probability are removed (0).
    public var scoreThreshold: Float
    /// Decodes the deltas (the RPN's coder).
    public var boxCoder: BoxCoder

    public init(preNMSTopN: Int = 1000, postNMSTopN: Int = 1000, nmsThreshold: Double = 0.7, minSize: Float = 1e-3,
                scoreThreshold: Float = 0, boxCoder: BoxCoder = .rpn) {
        self.preNMSTopN = preNMSTopN
        self.postNMSTopN = postNMSTopN
        self.nmsThreshold = nmsThreshold
        self.minSize = minSize
        self.scoreThreshold = scoreThreshold
        self.boxCoder = boxCoder
    }

    /// torchvision's training settings: 2000 before and after NMS.
    public static let training = ProposalFilter(preNMSTopN: 2000, postNMSTopN: 2000)
    /// torchvision's inference settings: 1000 before and after NMS.
    public static let inference = ProposalFilter(preNMSTopN: 1000, postNMSTopN: 1000)

    /// The proposals of one image.
    ///
    /// - Parameters:
    ///   - anchors: `[A]`, the image's anchors, levels concatenated (``AnchorGenerator``).
    ///   - objectness: `A` logits in anchor order (any shape with A elements, e.g. `[A]` or `[A, 1]`).
    ///   - deltas: `[A, 4]`, the RPN's box deltas in anchor order.
    ///   - imageHeight, imageWidth: the image's size (before padding), for clipping.
    ///   - anchorsPerLevel: how many of the anchors belong to each level, in order; `nil` for
    ///     one level.
    /// - Throws: `invalidArgument` when the counts disagree, a level count is negative, or the
    ///   image size is negative.
    public func callAsFunction(anchors: [Box], objectness: Tensor, deltas: Tensor, imageHeight: Int, imageWidth: Int,
                               anchorsPerLevel: [Int]? = nil) throws -> Proposals {
        let n = anchors.count
        let perLevel = anchorsPerLevel ?? [n]
        guard objectness.count == n, deltas.shape == [n, 4] else {
            throw CVSegError.invalidArgument(
                "ProposalFilter: \(n) anchors need \(n) objectness values and [\(n), 4] deltas, got \(objectness.shape) and \(deltas.shape)")
        }
        guard perLevel.allSatisfy({ $0 >= 0 }), perLevel.reduce(0, +) == n else {
            throw CVSegError.invalidArgument("ProposalFilter: anchors per level \(perLevel) do not add up to \(n) anchors")
        }
        guard imageHeight >= 0, imageWidth >= 0 else {
            throw CVSegError.invalidArgument("ProposalFilter: image size \(imageHeight)×\(imageWidth)")
        }
        let logits = objectness.values, d = deltas.values

        // 1. Top N per level.
        var chosen: [Int] = [], levels: [Int] = []
        var start = 0
        for (level, count) in perLevel.enumerated() {
            let top = topIndices(logits, start..<(start + count), max(0, preNMSTopN))
            chosen += top
            levels += Array(repeating: level, count: top.count)
            start += count
        }
        // 2. Decode and score. 3. Clip.
        var rows = [Float](); rows.reserveCapacity(4 * chosen.count)
        for i in chosen { rows += d[(4 * i)..<(4 * i + 4)] }
        let boxes = clipBoxes(boxCoder.decode(rows, relativeTo: chosen.map { anchors[$0] }),
                              imageHeight: imageHeight, imageWidth: imageWidth)
        let scores = chosen.map { 1 / (1 + expf(-logits[$0])) }
        // 4. Small boxes, 5. low scores.
        let keep = indicesOfBoxes(boxes, withSidesAtLeast: minSize).filter { scores[$0] >= scoreThreshold }
        // 6. NMS per level, 7. top N.
        let kept = batchedNMS(boxes: keep.map { boxes[$0] }, scores: keep.map { scores[$0] },
                              classes: keep.map { levels[$0] }, iouThreshold: nmsThreshold)
            .prefix(max(0, postNMSTopN)).map { keep[$0] }
        return Proposals(boxes: kept.map { boxes[$0] }, scores: kept.map { scores[$0] },
                         anchorIndices: kept.map { chosen[$0] }, levels: kept.map { levels[$0] })
    }
}

/// The indices in `range` of the `k` largest `values`, largest first; equal values in index
/// order, NaN before every number (as PyTorch orders NaN).
func topIndices(_ values: [Float], _ range: Range<Int>, _ k: Int) -> [Int] {
    let sorted = range.sorted { i, j in
        let a = values[i], b = values[j]
        if a.isNaN || b.isNaN { return a.isNaN != b.isNaN ? a.isNaN : i < j }
        return a != b ? a > b : i < j
    }
    return Array(sorted.prefix(k))
}

/// Boxes clamped to an `imageHeight × imageWidth` image: x into `[0, imageWidth]`, y into
/// `[0, imageHeight]` (torchvision's `clip_boxes_to_image`; NaN stays NaN). A box entirely
/// outside becomes a zero-width or zero-height box on the border.
public func clipBoxes(_ boxes: [Box], imageHeight: Int, imageWidth: Int) -> [Box] {
    let w = Float(imageWidth), h = Float(imageHeight)
    func clamp(_ v: Float, _ hi: Float) -> Float { v < 0 ? 0 : (v > hi ? hi : v) }
    return boxes.map { Box(x1: clamp($0.x1, w), y1: clamp($0.y1, h), x2: clamp($0.x2, w), y2: clamp($0.y2, h)) }
}

/// The indices of the boxes whose width and height are both at least `minSize`
/// (torchvision's `remove_small_boxes`, which returns the boxes to keep), ascending.
public func indicesOfBoxes(_ boxes: [Box], withSidesAtLeast minSize: Float) -> [Int] {
    boxes.indices.filter { boxes[$0].x2 - boxes[$0].x1 >= minSize && boxes[$0].y2 - boxes[$0].y1 >= minSize }
}
