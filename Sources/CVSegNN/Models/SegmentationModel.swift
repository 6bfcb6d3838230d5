import CVSegCore
import CVSegTensor

/// A semantic segmentation network: `[N, inChannels, H, W]` in, per-pixel class scores
/// (logits) `[N, classes, H, W]` out, for any `H, W ≥ 1`.
///
/// Subclasses (``FCN``, ``DeconvNet``, ``DilatedNet``) implement ``forwardAligned(_:_:)`` for
/// inputs whose sides are multiples of ``outputStride``; ``forward(_:_:)`` pads other inputs with
/// zeros at the bottom and right to the next multiple, runs the network and crops the scores back
/// to the input's size (so the top-left `H×W` of the result sees the same geometry as an aligned
/// input; the padding rows/columns only reach pixels near the bottom/right edges through the
/// receptive field).
///
/// The architecture and its settings are described by ``metadata`` (string → string, stored as
/// safetensors `__metadata__` by ``save(to:)``), from which ``make(metadata:seed:)`` builds the
/// same model again; ``load(from:)`` builds a model from a weights file and loads it strictly.
open class SegmentationModel: Layer {
    /// The metadata key naming the architecture (`fcn32s`, `fcn16s`, `fcn8s`, `deconvnet`, `dilated`).
    public static let architectureKey = "architecture"

    /// `fcn32s`, `fcn16s`, `fcn8s`, `deconvnet` or `dilated`.
    public let architecture: String
    /// The number of output channels (classes).
    public let classes: Int
    /// The number of input channels (3 for RGB).
    public let inChannels: Int
    /// Input sides must be multiples of this for ``forwardAligned(_:_:)`` (others are padded).
    public let outputStride: Int

    public init(architecture: String, classes: Int, inChannels: Int, outputStride: Int) {
        self.architecture = architecture
        self.classes = classes
        self.inChannels = inChannels
        self.outputStride = outputStride
        super.init()
    }

    /// The architecture's settings besides `architecture`, `classes` and `in_channels`, as
    /// metadata strings (widths etc.). Overridden by each architecture.
    open var config: [String: String] { [:] }

    /// Everything ``make(metadata:seed:)`` needs to build this model again.
    public var metadata: [String: String] {
        config.merging([Self.architectureKey: architecture, "classes": String(classes), "in_channels": String(inChannels)]) { _, b in b }
    }

    /// The network on an input whose height and width are multiples of ``outputStride``.
    open func forwardAligned(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        throw CVSegError.invalidArgument("\(architecture): forwardAligned not implemented")
    }

    /// Scores `[N, classes, H, W]` for `x` `[N, inChannels, H, W]`: padded with zeros (bottom,
    /// right) to multiples of ``outputStride``, run, and cropped back to `H×W`.
    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        guard x.shape.rank == 4, x.shape[1] == inChannels, x.shape[2] > 0, x.shape[3] > 0 else {
            throw CVSegError.invalidArgument("\(architecture): needs an input [N, \(inChannels), H, W] with H, W ≥ 1, got \(x.shape)")
        }
        let (h, w) = (x.shape[2], x.shape[3])
        let s = outputStride
        let (ph, pw) = ((h + s - 1) / s * s, (w + s - 1) / s * s)
        if ph == h && pw == w { return try forwardAligned(x, context) }
        let y = try forwardAligned(padBottomRight(x, height: ph, width: pw), context)
        return try cropTopLeft(y, height: h, width: w)
    }

    /// Writes the weights (parameters and buffers, F32) with ``metadata`` as the safetensors
    /// `__metadata__`.
    public func save(to path: String) throws {
        try saveWeights(to: path, metadata: metadata)
    }

    /// Loads weights saved for this model. When the file's metadata names an architecture, it
    /// must describe this model (every key of ``metadata`` equal), else the error names the
    /// first differing key; then the weights load strictly (every missing, unexpected and
    /// mis-shaped key named).
    public func loadChecked(from path: String) throws {
        let file = try Safetensors.read(path)
        if let meta = file.metadata, meta[Self.architectureKey] != nil {
            for (key, mine) in metadata.sorted(by: { $0.key < $1.key }) where meta[key] != mine {
                let theirs = meta[key].map { "'\($0)'" } ?? "missing"
                throw CVSegError.invalidContent(
                    file: path, reason: "weights are for another model: metadata key '\(key)' is \(theirs), this \(architecture) model has '\(mine)'")
            }
        }
        let state = file.tensors.map { ($0.name, Tensor(shape: Shape($0.array.shape), values: $0.array.values)) }
        try load(stateDict: state, strict: true, source: path)
    }

    /// The model that `metadata` describes (``metadata`` of a model, or a weights file's
    /// `__metadata__`), with fresh weights from `seed`. Keys other than the architecture's are
    /// ignored (PyTorch tools add some, such as `format`).
    /// - Throws: ``CVSegError/invalidArgument(_:)`` naming the missing or malformed key.
    public class func make(metadata: [String: String], seed: UInt64 = 0) throws -> SegmentationModel {
        let reader = MetadataReader(metadata)
        let name = try reader.string(architectureKey)
        var rng = SplitMix64(seed: seed)
        switch name {
        case let v where FCN.Variant(rawValue: v) != nil:
            return try FCN(FCN.Config(metadata: metadata), generator: &rng)
        case DeconvNet.architectureName:
            return try DeconvNet(DeconvNet.Config(metadata: metadata), generator: &rng)
        case DilatedNet.architectureName:
            return try DilatedNet(DilatedNet.Config(metadata: metadata), generator: &rng)
        default:
            throw CVSegError.invalidArgument(
                "segmentation metadata: key '\(architectureKey)' is '\(name)', expected one of fcn32s, fcn16s, fcn8s, deconvnet, dilated")
        }
    }

    /// The model a weights file describes (its metadata), with the file's weights (strict).
    public class func load(from path: String) throws -> SegmentationModel {
        let file = try Safetensors.read(path)
        guard let meta = file.metadata else {
            throw CVSegError.invalidContent(file: path, reason: "no __metadata__: cannot tell the architecture (metadata key '\(architectureKey)')")
        }
        let model: SegmentationModel
        do {
            model = try make(metadata: meta)
        } catch CVSegError.invalidArgument(let message) {
            throw CVSegError.invalidContent(file: path, reason: message)
        }
        let state = file.tensors.map { ($0.name, Tensor(shape: Shape($0.array.shape), values: $0.array.values)) }
        try model.load(stateDict: state, strict: true, source: path)
        return model
    }
}

/// Typed reads of string metadata; every error names the key.
struct MetadataReader {
    let metadata: [String: String]
    /// The kind of model, for messages ("segmentation", "detection").
    let kind: String
    init(_ metadata: [String: String], kind: String = "segmentation") { self.metadata = metadata; self.kind = kind }

    func fail(_ key: String, _ expected: String) -> CVSegError {
        let value = metadata[key].map { "is '\($0)'" } ?? "is missing"
        return CVSegError.invalidArgument("\(kind) metadata: key '\(key)' \(value), expected \(expected)")
    }

    /// 1 to `maxCount` comma-separated numbers, each in `range`.
    func floats(_ key: String, maxCount: Int, in range: Range<Float>) throws -> [Float] {
        let what = "1 to \(maxCount) numbers in [\(range.lowerBound), \(range.upperBound)) separated by commas"
        guard let s = metadata[key] else { throw fail(key, what) }
        let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { Float($0) }
        guard (1...maxCount).contains(parts.count), parts.allSatisfy({ $0.map(range.contains) ?? false }) else { throw fail(key, what) }
        return parts.map { $0! }
    }

    func string(_ key: String) throws -> String {
        guard let v = metadata[key] else { throw fail(key, "a value") }
        return v
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int {
        guard let s = metadata[key], let v = Int(s), range.contains(v) else {
            throw fail(key, "an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }

    func ints(_ key: String, count: Int, in range: ClosedRange<Int>) throws -> [Int] {
        let what = "\(count) integers in \(range.lowerBound)...\(range.upperBound) separated by commas"
        guard let s = metadata[key] else { throw fail(key, what) }
        let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == count, parts.allSatisfy({ $0.map(range.contains) ?? false }) else { throw fail(key, what) }
        return parts.map { $0! }
    }

    func float(_ key: String, in range: Range<Float>) throws -> Float {
        guard let s = metadata[key], let v = Float(s), range.contains(v) else {
            throw fail(key, "a number in [\(range.lowerBound), \(range.upperBound))")
        }
        return v
    }

    func oneOf(_ key: String, _ values: [String]) throws -> String {
        guard let s = metadata[key], values.contains(s) else { throw fail(key, "one of " + values.joined(separator: ", ")) }
        return s
    }
}

/// Bounds on metadata values (a file's metadata is untrusted: no absurd allocations).
enum ModelLimits {
    static let channels = 1...65_536
    static let convs = 1...64
    static let kernel = 1...31
}

/// `[a, b, c]` as `"a,b,c"`.
func joined(_ values: [Int]) -> String { values.map(String.init).joined(separator: ",") }

/// Checks the settings every architecture shares; errors name the metadata key.
/// The fully connected part's settings (as convolutions): width, odd kernel, dropout.
func checkClassifier(_ kind: String, fcWidth: Int, fcKernel: Int, dropout: Float?) throws {
    guard ModelLimits.channels.contains(fcWidth) else { throw CVSegError.invalidArgument("\(kind) config: 'fc_width' is \(fcWidth)") }
    guard ModelLimits.kernel.contains(fcKernel), fcKernel % 2 == 1 else {
        throw CVSegError.invalidArgument("\(kind) config: 'fc_kernel' is \(fcKernel), expected an odd size in 1...31")
    }
    if let dropout, !(0..<1).contains(dropout) {
        throw CVSegError.invalidArgument("\(kind) config: 'dropout' is \(dropout), expected [0, 1)")
    }
}

func checkCommon(classes: Int, inChannels: Int, widths: [Int], convs: [Int], stages: Int) throws {
    func bad(_ key: String, _ value: String, _ expected: String) -> CVSegError {
        CVSegError.invalidArgument("segmentation config: '\(key)' is \(value), expected \(expected)")
    }
    guard ModelLimits.channels.contains(classes) else { throw bad("classes", "\(classes)", "1...65536") }
    guard ModelLimits.channels.contains(inChannels) else { throw bad("in_channels", "\(inChannels)", "1...65536") }
    guard widths.count == stages, widths.allSatisfy(ModelLimits.channels.contains) else {
        throw bad("widths", "\(widths)", "\(stages) widths in 1...65536")
    }
    guard convs.count == stages, convs.allSatisfy(ModelLimits.convs.contains) else {
        throw bad("convs", "\(convs)", "\(stages) counts in 1...64")
    }
}
