import CVSegCore
import CVSegTensor

/// DeconvNet (Noh, Hong and Han, ICCV 2015): a VGG-style encoder and its mirror image as
/// decoder. Encoder stage `s` is `convs[s]` × (3×3 convolution, padding 1, batch norm, ReLU)
/// followed by a 2×2 max pooling that keeps its indices; then `fc6` (`fcKernel×fcKernel`, "same"
/// padding), `fc7` (1×1) and `deconv_fc6` (transposed `fcKernel×fcKernel`), each with batch norm
/// and ReLU; decoder stage `s` (5 down to 1) unpools with the indices of pooling `s`
/// (`max_unpool2d` to the size pooling `s` saw) and applies `convs[s]` × (3×3 transposed
/// convolution, stride 1, padding 1, batch norm, ReLU), all of width `widths[s]` except the last,
/// which narrows to `widths[s − 1]` (stage 1 keeps `widths[0]`); a 1×1 convolution scores the
/// classes. The paper's fc6 is a 7×7 convolution without padding on a 7×7 pool5 (224-pixel
/// inputs), reversed by a 7×7 deconvolution; here "same" padding keeps any input size that is
/// a multiple of 32 (others are padded and cropped back). The paper's two-stage training is a
/// matter of the training loop.
///
/// The poolings and unpoolings are the tensor operations `maxPool2d(returnIndices:)` and
/// `maxUnpool`, their indices local to each forward pass (no state kept between passes).
///
/// State_dict names: `enc1.0.weight`, `enc1.1.running_mean`, … (each stage an `nn.Sequential` of
/// conv, BN, ReLU, …), `fc6.0`, `fc6.1`, `fc7.*`, `deconv_fc6.*`, `dec5.0` … `dec1.*`, `score`,
/// as `scripts/reference/models_reference.py`'s `DeconvNet`.
public final class DeconvNet: SegmentationModel {
    public static let architectureName = "deconvnet"

    /// Metadata keys: `architecture` (`deconvnet`), `classes`, `in_channels`, `widths`, `convs`,
    /// `fc_width`, `fc_kernel`.
    public struct Config: Equatable, Sendable {
        public var classes: Int
        public var inChannels: Int
        public var widths: [Int]
        public var convs: [Int]
        public var fcWidth: Int
        public var fcKernel: Int

        public init(classes: Int, inChannels: Int = 3, widths: [Int] = [32, 64, 128, 256, 256], convs: [Int] = [2, 2, 3, 3, 3],
                    fcWidth: Int = 512, fcKernel: Int = 3) {
            self.classes = classes; self.inChannels = inChannels; self.widths = widths; self.convs = convs
            self.fcWidth = fcWidth; self.fcKernel = fcKernel
        }

        public var metadata: [String: String] {
            [SegmentationModel.architectureKey: DeconvNet.architectureName, "classes": String(classes), "in_channels": String(inChannels),
             "widths": joined(widths), "convs": joined(convs), "fc_width": String(fcWidth), "fc_kernel": String(fcKernel)]
        }

        public init(metadata: [String: String]) throws {
            let r = MetadataReader(metadata)
            _ = try r.oneOf(SegmentationModel.architectureKey, [DeconvNet.architectureName])
            self.init(classes: try r.int("classes", in: ModelLimits.channels), inChannels: try r.int("in_channels", in: ModelLimits.channels),
                      widths: try r.ints("widths", count: 5, in: ModelLimits.channels), convs: try r.ints("convs", count: 5, in: ModelLimits.convs),
                      fcWidth: try r.int("fc_width", in: ModelLimits.channels), fcKernel: try r.int("fc_kernel", in: ModelLimits.kernel))
            guard fcKernel % 2 == 1 else { throw r.fail("fc_kernel", "an odd kernel size") }
        }

        func validate() throws {
            try checkCommon(classes: classes, inChannels: inChannels, widths: widths, convs: convs, stages: 5)
            try checkClassifier("DeconvNet", fcWidth: fcWidth, fcKernel: fcKernel, dropout: nil)
        }
    }

    public let configuration: Config
    public let encoders: [Sequential]
    public let fc6: Sequential, fc7: Sequential, deconvFc6: Sequential
    /// Decoder stages for poolings 5, 4, …, 1 (registered as `dec5` … `dec1`).
    public let decoders: [Sequential]
    public let score: Conv2d

    public init(_ config: Config, generator: inout SplitMix64) throws {
        try config.validate()
        configuration = config
        let w = config.widths, k = config.fcKernel
        func convBN(_ i: Int, _ o: Int, kernel: Int, _ g: inout SplitMix64) -> [Layer] {
            [Conv2d(i, o, kernel: Size2(integerLiteral: kernel), padding: Size2(integerLiteral: kernel / 2), generator: &g),
             BatchNorm2d(o), Activation(.relu)]
        }
        func deconvBN(_ i: Int, _ o: Int, kernel: Int, _ g: inout SplitMix64) -> [Layer] {
            [ConvTranspose2d(i, o, kernel: Size2(integerLiteral: kernel), padding: Size2(integerLiteral: kernel / 2), generator: &g),
             BatchNorm2d(o), Activation(.relu)]
        }
        var encoders: [Sequential] = []
        for s in 0..<5 {
            var layers: [Layer] = []
            for j in 0..<config.convs[s] {
                layers += convBN(j == 0 ? (s == 0 ? config.inChannels : w[s - 1]) : w[s], w[s], kernel: 3, &generator)
            }
            encoders.append(Sequential(layers))
        }
        self.encoders = encoders
        fc6 = Sequential(convBN(w[4], config.fcWidth, kernel: k, &generator))
        fc7 = Sequential(convBN(config.fcWidth, config.fcWidth, kernel: 1, &generator))
        deconvFc6 = Sequential(deconvBN(config.fcWidth, w[4], kernel: k, &generator))
        var decoders: [Sequential] = []
        for s in stride(from: 4, through: 0, by: -1) {
            var layers: [Layer] = []
            let n = config.convs[s]
            for j in 0..<n {
                layers += deconvBN(w[s], j == n - 1 ? w[max(s - 1, 0)] : w[s], kernel: 3, &generator)
            }
            decoders.append(Sequential(layers))
        }
        self.decoders = decoders
        score = Conv2d(w[0], config.classes, kernel: 1, generator: &generator)
        super.init(architecture: Self.architectureName, classes: config.classes, inChannels: config.inChannels, outputStride: 32)
        for (s, e) in encoders.enumerated() { register(layer: e, as: "enc\(s + 1)") }
        register(layer: fc6, as: "fc6")
        register(layer: fc7, as: "fc7")
        register(layer: deconvFc6, as: "deconv_fc6")
        for (i, d) in decoders.enumerated() { register(layer: d, as: "dec\(5 - i)") }
        register(layer: score, as: "score")
    }

    public override var config: [String: String] { configuration.metadata }

    public override func forwardAligned(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        var h = x
        var pools: [(indices: [Int32], height: Int, width: Int)] = []
        for (s, encoder) in encoders.enumerated() {
            h = try encoder(h, context)
            let before = h
            let (y, indices) = try context.scope("pool\(s + 1)") { try maxPool2d(before, kernel: 2, returnIndices: true) }
            guard let indices else { throw CVSegError.invalidArgument("DeconvNet: pool\(s + 1) returned no indices") }
            pools.append((indices, before.shape[2], before.shape[3]))
            h = y
        }
        h = try deconvFc6(fc7(fc6(h, context), context), context)
        for (i, decoder) in decoders.enumerated() {
            let s = 4 - i, p = pools[s], input = h
            h = try context.scope("unpool\(s + 1)") { try maxUnpool(input, indices: p.indices, height: p.height, width: p.width) }
            h = try decoder(h, context)
        }
        return try score(h, context)
    }
}
