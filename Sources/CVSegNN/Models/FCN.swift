import CVSegCore
import CVSegTensor

/// Fully convolutional network (Long, Shelhamer and Darrell, CVPR 2015): a VGG-style backbone
/// with its fully connected layers as convolutions, a 1×1 class scoring layer and learned
/// upsampling, in the three variants of the paper:
///
/// - `fcn32s`: `score_fr` upsampled ×32 by `upscore`;
/// - `fcn16s`: `upscore2(score_fr) + score_pool4(pool4)`, upsampled ×16 by `upscore16`;
/// - `fcn8s`: that, upsampled ×2 by `upscore_pool4`, `+ score_pool3(pool3)`, upsampled ×8 by
///   `upscore8`.
///
/// Every backbone convolution is 3×3 with padding 1 and a ReLU; each of the 5 stages ends with
/// a 2×2 max pooling (stride 32 at pool5). `fc6` is a `fcKernel×fcKernel` convolution with
/// "same" padding (the paper's 7×7 on a 100-pixel padded input is replaced by the torchvision
/// style of aligned padding), `fc7` 1×1, each with a ReLU and dropout. Upsampling by a factor `f`
/// is a transposed convolution with kernel `2f`, stride `f`, no bias, initialised to bilinear
/// interpolation (``ModelInit/bilinearKernel(size:)`` on the diagonal); its padding `f/2` is the
/// paper's crop: the transposed convolution's full output is `(h + 1)·f` and cropping `f/2` on
/// each side leaves `h·f`, each coarse value centred on its `f×f` cell. The 2× layers are learned
/// (`upscore2`, `upscore_pool4`); the final one is fixed to bilinear interpolation as in the paper
/// (not a parameter, not in the state_dict; run per channel, i.e. with `groups = classes`,
/// which equals the diagonal `[C, C, 2f, 2f]` weight). The paper's 0.01/0.0001 scaling of
/// the pool4/pool3 inputs ("at-once" training) is not applied.
///
/// Sides that are not multiples of 32 are padded with zeros (bottom, right) and the scores
/// cropped back (``SegmentationModel/forward(_:_:)``).
///
/// State_dict names: `stage1.0.weight` … (each stage an `nn.Sequential` of conv, ReLU, …, max
/// pool), `fc6`, `fc7`, `score_fr`, `score_pool4`, `score_pool3`, `upscore2`, `upscore_pool4`
/// (`.weight`, `.bias`; the upsampling layers have no bias), as
/// `scripts/reference/models_reference.py`'s `FCN`.
public final class FCN: SegmentationModel {
    public enum Variant: String, Sendable, CaseIterable {
        case fcn32s, fcn16s, fcn8s
    }

    /// The settings of an FCN; ``metadata`` keys: `architecture` (the variant), `classes`,
    /// `in_channels`, `widths` and `convs` (5 comma-separated integers each), `fc_width`,
    /// `fc_kernel` (odd), `dropout`.
    public struct Config: Equatable, Sendable {
        public var variant: Variant
        public var classes: Int
        public var inChannels: Int
        /// Output channels of the 5 stages (VGG16: 64, 128, 256, 512, 512).
        public var widths: [Int]
        /// Convolutions per stage (VGG16: 2, 2, 3, 3, 3).
        public var convs: [Int]
        /// Channels of fc6 and fc7 (VGG16: 4096).
        public var fcWidth: Int
        /// fc6's kernel (the paper: 7), odd; padded to keep the size.
        public var fcKernel: Int
        /// Dropout after fc6 and fc7 (training only).
        public var dropout: Float
        /// Batch norm after every backbone convolution (not in the paper; for training from
        /// scratch). Metadata key `batch_norm` (`true`; absent means false).
        public var batchNorm = false

        /// Defaults: a VGG16 pattern at half width with a 3×3 fc6 of 512 channels.
        public init(variant: Variant = .fcn8s, classes: Int, inChannels: Int = 3, widths: [Int] = [32, 64, 128, 256, 256],
                    convs: [Int] = [2, 2, 3, 3, 3], fcWidth: Int = 512, fcKernel: Int = 3, dropout: Float = 0.5) {
            self.variant = variant; self.classes = classes; self.inChannels = inChannels; self.widths = widths
            self.convs = convs; self.fcWidth = fcWidth; self.fcKernel = fcKernel; self.dropout = dropout
        }

        /// The paper's sizes (VGG16 widths, fc6 7×7 with 4096 channels).
        public static func vgg16(_ variant: Variant, classes: Int) -> Config {
            Config(variant: variant, classes: classes, widths: [64, 128, 256, 512, 512], fcWidth: 4096, fcKernel: 7)
        }

        public var metadata: [String: String] {
            [SegmentationModel.architectureKey: variant.rawValue, "classes": String(classes), "in_channels": String(inChannels),
             "widths": joined(widths), "convs": joined(convs), "fc_width": String(fcWidth), "fc_kernel": String(fcKernel),
             "dropout": String(dropout)].merging(batchNorm ? ["batch_norm": "true"] : [:]) { a, _ in a }
        }

        /// - Throws: ``CVSegError/invalidArgument(_:)`` naming the missing or malformed key.
        public init(metadata: [String: String]) throws {
            let r = MetadataReader(metadata)
            guard let variant = Variant(rawValue: try r.string(SegmentationModel.architectureKey)) else {
                throw r.fail(SegmentationModel.architectureKey, "fcn32s, fcn16s or fcn8s")
            }
            self.init(variant: variant, classes: try r.int("classes", in: ModelLimits.channels),
                      inChannels: try r.int("in_channels", in: ModelLimits.channels),
                      widths: try r.ints("widths", count: 5, in: ModelLimits.channels),
                      convs: try r.ints("convs", count: 5, in: ModelLimits.convs),
                      fcWidth: try r.int("fc_width", in: ModelLimits.channels), fcKernel: try r.int("fc_kernel", in: ModelLimits.kernel),
                      dropout: try r.float("dropout", in: 0..<1))
            batchNorm = try r.flag("batch_norm")
            guard fcKernel % 2 == 1 else { throw r.fail("fc_kernel", "an odd kernel size") }
        }

        func validate() throws {
            try checkCommon(classes: classes, inChannels: inChannels, widths: widths, convs: convs, stages: 5)
            try checkClassifier("FCN", fcWidth: fcWidth, fcKernel: fcKernel, dropout: dropout)
        }
    }

    public let configuration: Config
    public let stages: [Sequential]
    public let fc6: Conv2d, fc7: Conv2d, scoreFr: Conv2d
    public let scorePool4: Conv2d?, scorePool3: Conv2d?
    public let upscore2: ConvTranspose2d?, upscorePool4: ConvTranspose2d?
    /// The fixed final upsampling: the bilinear kernel per channel, `[classes, 1, 2f, 2f]`.
    public let finalUpsampling: Tensor
    /// The final upsampling factor: 32, 16 or 8.
    public let finalFactor: Int

    public init(_ config: Config, generator: inout SplitMix64) throws {
        try config.validate()
        configuration = config
        let c = config.classes, w = config.widths
        var stages: [Sequential] = []
        for i in 0..<5 {
            stages.append(vggStage(i == 0 ? config.inChannels : w[i - 1], w[i], convs: config.convs[i], pool: true,
                                   batchNorm: config.batchNorm, generator: &generator))
        }
        self.stages = stages
        fc6 = Conv2d(w[4], config.fcWidth, kernel: Size2(integerLiteral: config.fcKernel),
                     padding: Size2(integerLiteral: config.fcKernel / 2), generator: &generator)
        fc7 = Conv2d(config.fcWidth, config.fcWidth, kernel: 1, generator: &generator)
        scoreFr = Conv2d(config.fcWidth, c, kernel: 1, generator: &generator)
        func up2() -> ConvTranspose2d {
            let layer = ConvTranspose2d(c, c, kernel: 4, stride: 2, padding: 1, bias: false, generator: &generator)
            layer.weight.value = ModelInit.bilinearWeight(channels: c, size: 4)
            return layer
        }
        switch config.variant {
        case .fcn32s:
            (scorePool4, scorePool3, upscore2, upscorePool4, finalFactor) = (nil, nil, nil, nil, 32)
        case .fcn16s:
            scorePool4 = Conv2d(w[3], c, kernel: 1, generator: &generator)
            upscore2 = up2()
            (scorePool3, upscorePool4, finalFactor) = (nil, nil, 16)
        case .fcn8s:
            scorePool4 = Conv2d(w[3], c, kernel: 1, generator: &generator)
            upscore2 = up2()
            scorePool3 = Conv2d(w[2], c, kernel: 1, generator: &generator)
            upscorePool4 = up2()
            finalFactor = 8
        }
        let kernel = ModelInit.bilinearKernel(size: 2 * finalFactor)
        finalUpsampling = Tensor(shape: [c, 1, 2 * finalFactor, 2 * finalFactor], values: Array((0..<c).map { _ in kernel }.joined()))
        super.init(architecture: config.variant.rawValue, classes: c, inChannels: config.inChannels, outputStride: 32)
        for (i, s) in stages.enumerated() { register(layer: s, as: "stage\(i + 1)") }
        register(layer: fc6, as: "fc6")
        register(layer: fc7, as: "fc7")
        register(layer: scoreFr, as: "score_fr")
        if let scorePool4 { register(layer: scorePool4, as: "score_pool4") }
        if let upscore2 { register(layer: upscore2, as: "upscore2") }
        if let scorePool3 { register(layer: scorePool3, as: "score_pool3") }
        if let upscorePool4 { register(layer: upscorePool4, as: "upscore_pool4") }
    }

    public override var config: [String: String] { configuration.metadata }

    public override func forwardAligned(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        var h = x
        var pooled: [Tensor] = []
        for stage in stages {
            h = try stage(h, context)
            pooled.append(h)
        }
        let p = configuration.dropout
        h = try dropout(fc6.reluForward(h, context), probability: p, training: context.isTraining, generator: &context.generator)
        h = try dropout(fc7.reluForward(h, context), probability: p, training: context.isTraining, generator: &context.generator)
        var score = try scoreFr(h, context)
        if let upscore2, let scorePool4 {
            score = try add(upscore2(score, context), scorePool4(pooled[3], context))
        }
        if let upscorePool4, let scorePool3 {
            score = try add(upscorePool4(score, context), scorePool3(pooled[2], context))
        }
        let f = finalFactor
        return try context.scope("upscore\(f == 32 ? "" : String(f))") {
            try convTranspose2d(score, weight: finalUpsampling, stride: Size2(integerLiteral: f), padding: Size2(integerLiteral: f / 2),
                                groups: classes)
        }
    }
}
