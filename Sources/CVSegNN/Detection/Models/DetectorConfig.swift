import CVSegCore

/// The three detectors of the R-CNN family, in historical order.
public enum DetectorArchitecture: String, CaseIterable, Sendable {
    /// Girshick et al. 2014: every selective-search proposal warped to a fixed size and run
    /// through the CNN on its own; one logistic classifier per class and class-specific box
    /// regression on the CNN's features.
    case rcnn
    /// Girshick 2015: the whole image through the CNN once, RoI max pooling of the proposals,
    /// a softmax over classes + background and class-specific box regression, trained jointly.
    case fastRCNN = "fast-rcnn"
    /// Ren et al. 2015: Fast R-CNN with its proposals from a Region Proposal Network sharing the
    /// backbone's features.
    case fasterRCNN = "faster-rcnn"

    /// Whether the proposals come from selective search (R-CNN, Fast R-CNN).
    public var usesSelectiveSearch: Bool { self != .fasterRCNN }
}

/// Everything that defines a detector: the network's shape, the input scale, the anchors, the
/// samplers and thresholds of training and of inference. All of it is recorded in the model
/// file's metadata (``metadata``, snake_case keys) so that a file runs exactly as it was
/// trained; `cvseg train … --config KEY=VALUE` sets any key.
///
/// Defaults are the papers' (Faster R-CNN §3.1.1–3.1.3 and §3.3; Fast R-CNN §2.3; R-CNN §2)
/// except the backbone, which is small (a VGG pattern at an eighth of VGG16's width, batch norm
/// with frozen statistics) so that it trains on two CPU cores; the shipped pedestrian models
/// set the input scale and anchors for their smaller images (Docs/Models.md).
public struct DetectorConfig: Equatable, Sendable {
    public var architecture: DetectorArchitecture
    /// Object classes, background not counted.
    public var classes: Int
    public var inChannels = 3
    /// Widths of the 5 VGG stages; stages 1–4 end with a 2×2 max pooling, so the features have
    /// stride 16 and `widths[4]` channels (VGG16's conv5_3).
    public var widths = [16, 32, 64, 128, 128]
    /// 3×3 convolutions per stage.
    public var convs = [2, 2, 3, 3, 3]
    /// Batch norm after each backbone convolution, with frozen statistics (``BatchNorm2d/frozen``);
    /// the same layout as the segmentation FCN's stages, so its weights can initialise the backbone.
    public var batchNorm = true
    /// Width of the two fully connected layers of the box head (VGG16: 4096).
    public var fcWidth = 256
    /// RoI pooling output side (Fast R-CNN: 7); R-CNN warps to `16·poolSize` pixels.
    public var poolSize = 7
    /// Dropout after fc6 and fc7 in training.
    public var dropout: Float = 0.5

    /// The shorter side of the network's input (Fast/Faster R-CNN: 600) …
    public var minSize = 600
    /// … unless the longer side would exceed this (1000).
    public var maxSize = 1000
    public var normalization = Normalization.imageNet

    /// Anchor sizes (√area, input pixels) and aspect ratios (height / width): the paper's 3×3.
    public var anchorSizes: [Float] = [128, 256, 512]
    public var anchorRatios: [Float] = [0.5, 1, 2]
    /// Anchors with IoU ≥ this with a ground-truth box are positives (0.7), below
    /// ``rpnBackgroundIoU`` negatives (0.3); each box's best anchors are positives too.
    public var rpnForegroundIoU: Float = 0.7
    public var rpnBackgroundIoU: Float = 0.3
    /// Anchors sampled per image for the RPN loss (256) and their positive fraction (0.5).
    public var rpnBatchSize = 256
    public var rpnPositiveFraction = 0.5
    /// Proposals kept before and after NMS (0.7) in training (12000 / 2000 in the paper) and at
    /// test time (6000 / 300).
    public var rpnPreNMSTopNTrain = 12000
    public var rpnPostNMSTopNTrain = 2000
    public var rpnPreNMSTopNTest = 6000
    public var rpnPostNMSTopNTest = 300
    public var rpnNMSThreshold: Float = 0.7

    /// RoIs with IoU ≥ this are foreground (0.5); background is IoU in
    /// `[roiBackgroundLowIoU, roiForegroundIoU)`: Fast R-CNN's [0.1, 0.5) (its proposals rarely
    /// miss everything, and the low bound acts as hard-example mining), [0, 0.5) for Faster
    /// R-CNN's end-to-end training and for R-CNN's fine-tuning (every RoI below 0.5 is
    /// background), set in ``init(architecture:classes:)``.
    public var roiForegroundIoU: Float = 0.5
    public var roiBackgroundLowIoU: Float = 0.1
    /// RoIs sampled per image (Fast R-CNN: 64 per image, two images a batch) and the
    /// foreground fraction (0.25).
    public var roiBatchSize = 64
    public var roiPositiveFraction = 0.25
    /// Detections: class score above this (0.05), per-class NMS at this IoU (0.3 in R-CNN,
    /// 0.5 in torchvision's Faster R-CNN), at most this many per image (100).
    public var boxScoreThreshold: Float = 0.05
    public var boxNMSThreshold: Float = 0.5
    public var detectionsPerImage = 100

    /// Selective search proposals (R-CNN, Fast R-CNN): the paper's mode (`fast`, about 2000
    /// boxes), at most ``maxProposals`` per image, boxes smaller than ``proposalMinSide`` pixels
    /// dropped. Computed on the network-scale image.
    public var proposalMode = "fast"
    public var maxProposals = 2000
    public var proposalMinSide = 8
    /// R-CNN's context padding: pixels of context around the proposal in the warped crop
    /// (the paper's 16 at 227 pixels).
    public var warpContext = 16

    public init(architecture: DetectorArchitecture, classes: Int) {
        self.architecture = architecture
        self.classes = classes
        if architecture != .fastRCNN { roiBackgroundLowIoU = 0 }
    }

    /// Feature stride of the backbone.
    public static let stride = 16
    /// The side R-CNN warps proposals to.
    public var warpSize: Int { Self.stride * poolSize }
    public var anchorsPerLocation: Int { anchorSizes.count * anchorRatios.count }
    /// Outputs of the classifier: K + 1 (softmax with background) or K (R-CNN's per-class
    /// logistic classifiers).
    public var classifierOutputs: Int { architecture == .rcnn ? classes : classes + 1 }

    public static let architectureKey = "architecture"
    public static let kindKey = "cvseg_model"
    public static let kind = "detector"

    public var metadata: [String: String] {
        func list<T>(_ v: [T]) -> String { v.map { "\($0)" }.joined(separator: ",") }
        return [Self.kindKey: Self.kind, Self.architectureKey: architecture.rawValue, "classes": String(classes),
                "in_channels": String(inChannels), "widths": list(widths), "convs": list(convs), "batch_norm": String(batchNorm),
                "fc_width": String(fcWidth), "pool_size": String(poolSize), "dropout": String(dropout),
                "min_size": String(minSize), "max_size": String(maxSize),
                "normalization_mean": list(normalization.mean), "normalization_std": list(normalization.std),
                "anchor_sizes": list(anchorSizes), "anchor_ratios": list(anchorRatios),
                "rpn_fg_iou_thresh": String(rpnForegroundIoU), "rpn_bg_iou_thresh": String(rpnBackgroundIoU),
                "rpn_batch_size_per_image": String(rpnBatchSize), "rpn_positive_fraction": String(rpnPositiveFraction),
                "rpn_pre_nms_top_n_train": String(rpnPreNMSTopNTrain), "rpn_post_nms_top_n_train": String(rpnPostNMSTopNTrain),
                "rpn_pre_nms_top_n_test": String(rpnPreNMSTopNTest), "rpn_post_nms_top_n_test": String(rpnPostNMSTopNTest),
                "rpn_nms_thresh": String(rpnNMSThreshold),
                "box_fg_iou_thresh": String(roiForegroundIoU), "box_bg_iou_thresh_lo": String(roiBackgroundLowIoU),
                "box_batch_size_per_image": String(roiBatchSize), "box_positive_fraction": String(roiPositiveFraction),
                "box_score_thresh": String(boxScoreThreshold), "box_nms_thresh": String(boxNMSThreshold),
                "box_detections_per_img": String(detectionsPerImage),
                "proposal_mode": proposalMode, "max_proposals": String(maxProposals), "proposal_min_side": String(proposalMinSide),
                "warp_context": String(warpContext)]
    }

    /// The configuration a file's metadata describes. Every key is required (files record them
    /// all); an absent or malformed one is named.
    public init(metadata: [String: String]) throws {
        let r = MetadataReader(metadata, kind: "detection")
        guard let a = DetectorArchitecture(rawValue: try r.string(Self.architectureKey)) else {
            throw r.fail(Self.architectureKey, "rcnn, fast-rcnn or faster-rcnn")
        }
        self.init(architecture: a, classes: try r.int("classes", in: 1...4096))
        inChannels = try r.int("in_channels", in: 1...64)
        widths = try r.ints("widths", count: 5, in: ModelLimits.channels)
        convs = try r.ints("convs", count: 5, in: ModelLimits.convs)
        batchNorm = try r.flag("batch_norm")
        fcWidth = try r.int("fc_width", in: ModelLimits.channels)
        poolSize = try r.int("pool_size", in: 1...32)
        dropout = try r.float("dropout", in: 0..<1)
        minSize = try r.int("min_size", in: 16...8192)
        maxSize = try r.int("max_size", in: 16...8192)
        let mean = try r.floats("normalization_mean", maxCount: 3, in: -1e6..<1e6)
        let std = try r.floats("normalization_std", maxCount: 3, in: 1e-6..<1e6)
        guard mean.count == 3, std.count == 3 else { throw r.fail("normalization_mean", "3 means and 3 standard deviations") }
        normalization = Normalization(mean: mean, std: std)
        anchorSizes = try r.floats("anchor_sizes", maxCount: 16, in: 1..<100_000)
        anchorRatios = try r.floats("anchor_ratios", maxCount: 16, in: 0.01..<100)
        rpnForegroundIoU = try r.float("rpn_fg_iou_thresh", in: 0..<1.0001)
        rpnBackgroundIoU = try r.float("rpn_bg_iou_thresh", in: 0..<1.0001)
        rpnBatchSize = try r.int("rpn_batch_size_per_image", in: 1...100_000)
        rpnPositiveFraction = Double(try r.float("rpn_positive_fraction", in: 0..<1.0001))
        rpnPreNMSTopNTrain = try r.int("rpn_pre_nms_top_n_train", in: 1...1_000_000)
        rpnPostNMSTopNTrain = try r.int("rpn_post_nms_top_n_train", in: 1...1_000_000)
        rpnPreNMSTopNTest = try r.int("rpn_pre_nms_top_n_test", in: 1...1_000_000)
        rpnPostNMSTopNTest = try r.int("rpn_post_nms_top_n_test", in: 1...1_000_000)
        rpnNMSThreshold = try r.float("rpn_nms_thresh", in: 0..<1.0001)
        roiForegroundIoU = try r.float("box_fg_iou_thresh", in: 0..<1.0001)
        roiBackgroundLowIoU = try r.float("box_bg_iou_thresh_lo", in: 0..<1.0001)
        roiBatchSize = try r.int("box_batch_size_per_image", in: 1...100_000)
        roiPositiveFraction = Double(try r.float("box_positive_fraction", in: 0..<1.0001))
        boxScoreThreshold = try r.float("box_score_thresh", in: 0..<1)
        boxNMSThreshold = try r.float("box_nms_thresh", in: 0..<1.0001)
        detectionsPerImage = try r.int("box_detections_per_img", in: 1...100_000)
        proposalMode = try r.oneOf("proposal_mode", ["single", "fast", "quality"])
        maxProposals = try r.int("max_proposals", in: 1...100_000)
        proposalMinSide = try r.int("proposal_min_side", in: 0...10_000)
        warpContext = try r.int("warp_context", in: 0...1000)
        try validate()
    }

    /// Refuses combinations that cannot work, naming the key.
    public func validate() throws {
        func bad(_ key: String, _ text: String) -> CVSegError { .invalidArgument("detection setting \(key): \(text)") }
        guard widths.count == 5, convs.count == 5 else { throw bad("widths/convs", "5 stages each") }
        guard minSize <= maxSize else { throw bad("min_size", "\(minSize) is above max_size \(maxSize)") }
        guard rpnBackgroundIoU <= rpnForegroundIoU else { throw bad("rpn_bg_iou_thresh", "above rpn_fg_iou_thresh") }
        guard roiBackgroundLowIoU <= roiForegroundIoU else { throw bad("box_bg_iou_thresh_lo", "above box_fg_iou_thresh") }
        guard !anchorSizes.isEmpty, !anchorRatios.isEmpty else { throw bad("anchor_sizes", "needs sizes and ratios") }
        guard SelectiveSearchMode(rawValue: proposalMode) != nil else { throw bad("proposal_mode", "single, fast or quality") }
    }

    /// Applies `KEY=VALUE` settings (the metadata keys) to this configuration.
    /// - Throws: `invalidArgument` naming an unknown key (and listing the known ones) or a bad value.
    public func applying(_ settings: [(key: String, value: String)]) throws -> DetectorConfig {
        var meta = metadata
        let fixed: Set<String> = [Self.kindKey, Self.architectureKey, "classes"]
        for (key, value) in settings {
            guard meta[key] != nil, !fixed.contains(key) else {
                let keys = meta.keys.filter { !fixed.contains($0) }.sorted().joined(separator: ", ")
                throw CVSegError.invalidArgument("--config: \(architecture.rawValue) has no setting '\(key)' (settings: \(keys))")
            }
            meta[key] = value
        }
        return try DetectorConfig(metadata: meta)
    }
}

/// The selective search modes a detector can use (the names of `SelectiveSearch.Mode`).
enum SelectiveSearchMode: String { case single, fast, quality }
