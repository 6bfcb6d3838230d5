import CVSegCore
import CVSegTensor

/// The dilated-convolution network of Yu and Koltun (ICLR 2016): a VGG-style front end without
/// its last two poolings (output stride 8) whose later convolutions are dilated instead —
/// stage 5's by 2, fc6's by 4 — then `fc7` (1×1), a 1×1 class layer `fc_final`, the basic
/// context module and bilinear upsampling ×8.
///
/// Front end: stages 1–3 are `convs[s]` × (3×3 convolution, padding 1, ReLU) and a 2×2 max
/// pooling; stage 4 the same without pooling; stage 5 with dilation 2 (padding 2) and no
/// pooling; fc6 is `fcKernel×fcKernel` with dilation 4 ("same" padding), fc7 1×1, both with
/// ReLU and dropout. The paper's front end has no padding and works on reflection-padded
/// inputs; here every convolution keeps the size.
///
/// Basic context module (Table 1 of the paper): `C = classes` channels, 3×3 convolutions with
/// dilations 1, 1, 2, 4, 8, 16, 1 (padding = dilation), each followed by a ReLU, then a 1×1
/// convolution without one; identity-initialised (``ModelInit/identity(_:)``: the centre tap
/// of channel c to channel c is 1, everything else and the biases 0). With those weights the
/// module computes `relu(x)`, which is `x` on the front end's non-negative outputs (its ReLUs
/// truncate negative scores).
///
/// The scores are resized ×8 by bilinear interpolation (`F.interpolate(…, mode="bilinear",
/// align_corners=False)`). Sides that are not multiples of 8 are padded with zeros (bottom,
/// right) and cropped back.
///
/// State_dict names: `stage1.0.weight` …, `fc6`, `fc7`, `fc_final`, `context.0`, `context.2`, …,
/// `context.14` (`nn.Sequential` of conv, ReLU, …, conv), as
/// `scripts/reference/models_reference.py`'s `DilatedNet`.
public final class DilatedNet: SegmentationModel {
    public static let architectureName = "dilated"

    /// Metadata keys: `architecture` (`dilated`), `classes`, `in_channels`, `widths`, `convs`,
    /// `fc_width`, `fc_kernel`, `dropout`, `context` (`basic` or `none`), `context_dilations`
    /// (comma-separated; the paper's 1,1,2,4,8,16,1).
    public struct Config: Equatable, Sendable {
        public enum Context: String, Sendable { case basic, none }
        public var classes: Int
        public var inChannels: Int
        public var widths: [Int]
        public var convs: [Int]
        public var fcWidth: Int
        public var fcKernel: Int
        public var dropout: Float
        /// Batch norm after every backbone convolution (not in the paper; for training from
        /// scratch). Metadata key `batch_norm` (`true`; absent means false).
        public var batchNorm = false
        public var context: Context
        /// The dilations of the context module's 3×3 layers (a 1×1 layer follows).
        public var contextDilations: [Int]

        public init(classes: Int, inChannels: Int = 3, widths: [Int] = [32, 64, 128, 256, 256], convs: [Int] = [2, 2, 3, 3, 3],
                    fcWidth: Int = 512, fcKernel: Int = 3, dropout: Float = 0.5, context: Context = .basic,
                    contextDilations: [Int] = [1, 1, 2, 4, 8, 16, 1]) {
            self.classes = classes; self.inChannels = inChannels; self.widths = widths; self.convs = convs
            self.fcWidth = fcWidth; self.fcKernel = fcKernel; self.dropout = dropout; self.context = context
            self.contextDilations = contextDilations
        }

        public var metadata: [String: String] {
            [SegmentationModel.architectureKey: DilatedNet.architectureName, "classes": String(classes), "in_channels": String(inChannels),
             "widths": joined(widths), "convs": joined(convs), "fc_width": String(fcWidth), "fc_kernel": String(fcKernel),
             "dropout": String(dropout), "context": context.rawValue, "context_dilations": joined(contextDilations)]
                .merging(batchNorm ? ["batch_norm": "true"] : [:]) { a, _ in a }
        }

        public init(metadata: [String: String]) throws {
            let r = MetadataReader(metadata)
            _ = try r.oneOf(SegmentationModel.architectureKey, [DilatedNet.architectureName])
            let dilations = try r.string("context_dilations").split(separator: ",", omittingEmptySubsequences: false).compactMap { Int($0) }
            let listed = try r.string("context_dilations").split(separator: ",", omittingEmptySubsequences: false).count
            guard dilations.count == listed, (1...16).contains(dilations.count), dilations.allSatisfy((1...1024).contains) else {
                throw r.fail("context_dilations", "1 to 16 dilations in 1...1024 separated by commas")
            }
            guard let context = Context(rawValue: try r.oneOf("context", ["basic", "none"])) else {
                throw r.fail("context", "basic or none")
            }
            self.init(classes: try r.int("classes", in: ModelLimits.channels), inChannels: try r.int("in_channels", in: ModelLimits.channels),
                      widths: try r.ints("widths", count: 5, in: ModelLimits.channels), convs: try r.ints("convs", count: 5, in: ModelLimits.convs),
                      fcWidth: try r.int("fc_width", in: ModelLimits.channels), fcKernel: try r.int("fc_kernel", in: ModelLimits.kernel),
                      dropout: try r.float("dropout", in: 0..<1), context: context,
                      contextDilations: dilations)
            batchNorm = try r.flag("batch_norm")
            guard fcKernel % 2 == 1 else { throw r.fail("fc_kernel", "an odd kernel size") }
        }

        func validate() throws {
            try checkCommon(classes: classes, inChannels: inChannels, widths: widths, convs: convs, stages: 5)
            try checkClassifier("dilated", fcWidth: fcWidth, fcKernel: fcKernel, dropout: dropout)
            guard (1...16).contains(contextDilations.count), contextDilations.allSatisfy((1...1024).contains) else {
                throw CVSegError.invalidArgument("dilated config: 'context_dilations' is \(contextDilations)")
            }
        }
    }

    public let configuration: Config
    public let stages: [Sequential]
    public let fc6: Conv2d, fc7: Conv2d, fcFinal: Conv2d
    /// The context module (nil when `context` is `none`).
    public let context: Sequential?

    public init(_ config: Config, generator: inout SplitMix64) throws {
        try config.validate()
        configuration = config
        let w = config.widths, k = config.fcKernel, c = config.classes
        var stages: [Sequential] = []
        for s in 0..<5 {
            stages.append(vggStage(s == 0 ? config.inChannels : w[s - 1], w[s], convs: config.convs[s], dilation: s == 4 ? 2 : 1,
                                   pool: s < 3, batchNorm: config.batchNorm, generator: &generator))
        }
        self.stages = stages
        fc6 = Conv2d(w[4], config.fcWidth, kernel: Size2(integerLiteral: k), padding: Size2(integerLiteral: 4 * (k / 2)), dilation: 4,
                     generator: &generator)
        fc7 = Conv2d(config.fcWidth, config.fcWidth, kernel: 1, generator: &generator)
        fcFinal = Conv2d(config.fcWidth, c, kernel: 1, generator: &generator)
        if config.context == .basic {
            var layers: [Layer] = []
            for d in config.contextDilations {
                let conv = Conv2d(c, c, kernel: 3, padding: Size2(integerLiteral: d), dilation: Size2(integerLiteral: d), generator: &generator)
                ModelInit.identity(conv)
                layers += [conv, Activation(.relu)]
            }
            let last = Conv2d(c, c, kernel: 1, generator: &generator)
            ModelInit.identity(last)
            layers.append(last)
            context = Sequential(layers)
        } else {
            context = nil
        }
        super.init(architecture: Self.architectureName, classes: c, inChannels: config.inChannels, outputStride: 8)
        for (s, stage) in stages.enumerated() { register(layer: stage, as: "stage\(s + 1)") }
        register(layer: fc6, as: "fc6")
        register(layer: fc7, as: "fc7")
        register(layer: fcFinal, as: "fc_final")
        if let context { register(layer: context, as: "context") }
    }

    public override var config: [String: String] { configuration.metadata }

    /// The front end's class scores at stride 8 (before the context module).
    public func frontEnd(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        var h = x
        for stage in stages { h = try stage(h, context) }
        let p = configuration.dropout
        h = try dropout(fc6.reluForward(h, context), probability: p, training: context.isTraining, generator: &context.generator)
        h = try dropout(fc7.reluForward(h, context), probability: p, training: context.isTraining, generator: &context.generator)
        return try fcFinal(h, context)
    }

    public override func forwardAligned(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        var h = try frontEnd(x, context)
        if let module = self.context { h = try module(h, context) }
        let coarse = h
        return try context.scope("upsample") {
            try upsampleBilinear(coarse, height: coarse.shape[2] * 8, width: coarse.shape[3] * 8, alignCorners: false)
        }
    }
}
