import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import CVSegCore
import CVSegIO
import CVSegNN
import CVSegTensor

/// Options of the network methods: the weights and the inference size.
struct NetOptions: ParsableArguments {
    @Option(help: ArgumentHelp("""
        Trained weights: a safetensors file whose metadata names the architecture (as \
        `cvseg train` writes). Default: the shipped model named by --model.
        """, valueName: "file"))
    var weights: String?

    @Option(help: ArgumentHelp("""
        The shipped model to use without --weights: horse (foreground/background, default) or \
        camvid (11 street classes), where one is shipped for the architecture.
        """, valueName: "name"))
    var model = "horse"

    @Option(help: ArgumentHelp("""
        Run the network with the image's longer side resized to this many pixels and resize the \
        class scores back to the image bilinearly (default: the model's training input size, \
        else full resolution).
        """, valueName: "pixels"))
    var inputSize: Int?

    @Flag(help: "Run at full resolution even when the model records an input size.")
    var fullResolution = false

    func validate(architecture: String) throws {
        if let s = inputSize, !(1...65_536).contains(s) { throw ValidationError("--input-size must be 1...65536, not \(s).") }
        if inputSize != nil && fullResolution { throw ValidationError("--input-size and --full-resolution exclude each other.") }
        if weights == nil && !ShippedModels.names.contains(model) {
            throw ValidationError("--model must be one of \(ShippedModels.names.joined(separator: ", ")), not '\(model)'.")
        }
    }

    /// The weights file: --weights, or the shipped model for `architecture`.
    func weightsPath(architecture: String) throws -> String {
        if let weights { return weights }
        return try ShippedModels.path(model, architecture: architecture)
    }
}

/// The models shipped with cvseg: `models/<name>-<architecture>.safetensors`, found in
/// `$CVSEG_MODELS` when set, else in a `models` folder next to the executable or in one of its
/// parent folders (so a build inside the source tree finds the repository's `models/`, and an
/// installation finds the `models/` copied beside the binary).
enum ShippedModels {
    static let names = ["horse", "camvid"]

    static func path(_ name: String, architecture: String) throws -> String {
        let file = "\(name)-\(architecture).safetensors"
        var folders: [String] = []
        if let env = getenv("CVSEG_MODELS") {
            folders.append(String(cString: env))
        } else if var dir = executableDirectory() {
            for _ in 0..<6 {
                folders.append(dir + "/models")
                guard let slash = dir.lastIndex(of: "/"), slash != dir.startIndex else { break }
                dir = String(dir[..<slash])
            }
        }
        for folder in folders where access(folder + "/" + file, R_OK) == 0 { return folder + "/" + file }
        throw ValidationError("""
            no shipped \(name) model for \(architecture) (\(file) is not in \(folders.isEmpty ? "any models folder" : folders.joined(separator: ", "))); \
            pass --weights FILE, another --model, or set CVSEG_MODELS
            """)
    }

    /// The folder of the running executable (symbolic links resolved).
    static func executableDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return String(path[..<slash])
    }
}

/// A model shared by the batch's threads. @unchecked: inference only reads the parameters
/// (batch norm uses its running statistics, dropout is off; nothing is written during an
/// inference forward pass), each call has its own ``ForwardContext``, and the oneDNN engine
/// underneath may be called from any thread.
final class SharedNetwork: @unchecked Sendable {
    let model: SegmentationModel
    let normalization: Normalization
    /// The longer side the network runs at (nil: full resolution).
    let inputSize: Int?
    init(model: SegmentationModel, normalization: Normalization, inputSize: Int?) {
        self.model = model
        self.normalization = normalization
        self.inputSize = inputSize
    }
}

/// The network in `path`, which must be a `architecture` model: the metadata is checked
/// before any weight is converted, so a file for another network is refused at once, naming
/// both. Errors name the file.
func loadSegmentationNetwork(_ path: String, architecture: String) throws -> (model: SegmentationModel, metadata: [String: String]) {
    let file = try Safetensors.read(path)
    guard let meta = file.metadata, let found = meta[SegmentationModel.architectureKey] else {
        throw CVSegError.invalidContent(
            file: path, reason: "no '\(SegmentationModel.architectureKey)' in the metadata: not a cvseg segmentation model (SegmentationModel.save writes one)")
    }
    guard found == architecture else {
        throw CVSegError.invalidContent(
            file: path, reason: "the weights are for '\(found)', not '\(architecture)': use `cvseg segment \(found)` or weights for \(architecture)")
    }
    let model: SegmentationModel
    do {
        model = try SegmentationModel.make(metadata: meta)
    } catch CVSegError.invalidArgument(let message) {
        throw CVSegError.invalidContent(file: path, reason: message)
    }
    guard model.inChannels == 3 else {
        throw CVSegError.invalidContent(
            file: path, reason: "the model takes \(model.inChannels) input channels; cvseg segment feeds it RGB (3)")
    }
    let state = file.tensors.map { ($0.name, Tensor(shape: Shape($0.array.shape), values: $0.array.values)) }
    try model.load(stateDict: state, strict: true, source: path)
    return (model, meta)
}

/// The preprocessing a model file records (`cvseg train` writes it): the normalisation
/// (`normalization_mean`, `normalization_std`; default ImageNet's) and the input size
/// (`input_size`, the longer side; nil when absent). Malformed values are errors naming the file.
func recordedPreprocessing(_ meta: [String: String], file: String) throws -> (normalization: Normalization, inputSize: Int?) {
    func floats(_ key: String) throws -> [Float]? {
        guard let text = meta[key] else { return nil }
        let values = text.split(separator: ",").map { Float($0) }
        guard values.count == 3, values.allSatisfy({ $0 != nil && $0!.isFinite }) else {
            throw CVSegError.invalidContent(file: file, reason: "metadata '\(key)' is '\(text)', expected 3 numbers separated by commas")
        }
        return values.map { $0! }
    }
    var normalization = Normalization.imageNet
    if let mean = try floats("normalization_mean"), let std = try floats("normalization_std") {
        guard std.allSatisfy({ $0 > 0 }) else { throw CVSegError.invalidContent(file: file, reason: "metadata 'normalization_std' must be positive") }
        normalization = Normalization(mean: mean, std: std)
    }
    var inputSize: Int?
    if let text = meta["input_size"] {
        guard let v = Int(text), (1...65_536).contains(v) else {
            throw CVSegError.invalidContent(file: file, reason: "metadata 'input_size' is '\(text)', expected an integer in 1...65536")
        }
        inputSize = v
    }
    return (normalization, inputSize)
}

/// Labels of one image: RGB (gray repeated, alpha dropped, 16-bit to its high byte, as the
/// training data loader does), normalised, run at full size or at `inputSize` (longer side)
/// with the scores resized back bilinearly, argmax over the classes.
func segmentWithNetwork(_ image: AnyImage, network: SharedNetwork) throws -> LabelMap {
    let planar = PlanarImage(image.to8Bit())
    let (w, h) = (planar.width, planar.height)
    let x: Tensor
    if let s = network.inputSize {
        let size = sizeWithLongerSide(width: w, height: h, longer: s)
        x = try InferenceResize.input(planar, width: size.width, height: size.height, normalization: network.normalization)
    } else {
        x = try network.normalization.tensor([planar])
    }
    let scores = try network.model(x, .inference())
    return try InferenceResize.labels(scores, width: w, height: h)[0]
}

/// The classes that occur in `labels` (all in 0..<classes), ascending.
func classesPresent(_ labels: LabelMap, classes: Int) -> [Int] {
    var seen = [Bool](repeating: false, count: max(classes, 1))
    for l in labels.labels where l >= 0 && Int(l) < seen.count { seen[Int(l)] = true }
    return seen.indices.filter { seen[$0] }
}

/// The batch of a network method: load the weights (refusing another architecture's before any
/// image is read), then read, segment and write each image as the classical methods do.
/// `--json` details: `width`, `height` and `classes` (the classes present in the labels).
func runNetworkBatch(_ architecture: String, batch: BatchOptions, mask: MaskOptions, net: NetOptions) throws {
    let weights = try net.weightsPath(architecture: architecture)
    let (model, meta) = try loadSegmentationNetwork(weights, architecture: architecture)
    let recorded = try recordedPreprocessing(meta, file: weights)
    if model.classes > 256 && mask.format == .palette {
        throw CVSegError.invalidContent(file: weights, reason: "\(model.classes) classes do not fit a palette PNG (256 at most); use --format labels")
    }
    let network = SharedNetwork(model: model, normalization: recorded.normalization,
                                inputSize: net.fullResolution ? nil : net.inputSize ?? recorded.inputSize)
    let name = "segment \(architecture)"
    let (items, problems) = Inputs.plan(batch.inputs, outputRoot: batch.output, shard: batch.shard)
    let progress = Progress(total: items.count, label: name, quiet: batch.quiet)
    let decode = DecodeOptions(palette: .expand, lenient: batch.lenient)
    let png = PNGWriteOptions(compressionLevel: mask.pngCompression)
    let (format, classes) = (mask.format, model.classes)
    let statuses = BatchRunner.run(items, jobs: batch.resolvedJobs, skipExisting: batch.skipExisting, progress: progress) { item in
        let image = try ImageFile.read(item.input, options: decode).expanded()
        let labels = try segmentWithNetwork(image, network: network)
        let written: MaskLabels = classes <= 256
            ? .bytes(Image(width: labels.width, height: labels.height, layout: .gray, samples: labels.labels.map { UInt8(truncatingIfNeeded: $0) }))
            : .wide(labels)
        try MaskWriter.write(written, format: format, source: image, to: item.output, options: png)
        return FileDetails(width: image.width, height: image.height, threshold: nil, foregroundFraction: nil,
                           classes: classesPresent(labels, classes: classes))
    }
    let summary = BatchSummary(command: name, items: items, statuses: statuses, problems: problems, seconds: progress.elapsed)
    let status = summary.report(json: batch.json)
    if status != 0 { throw ExitCode(status) }
}

extension Segment {
    static let networkDiscussion = """
        The weights file (--weights, safetensors; default the shipped model chosen by --model) \
        names its architecture in its metadata; a file for another architecture is refused \
        before any image is read. Images become RGB (gray repeated, alpha dropped, 16-bit \
        reduced to the high byte, palette expanded), are normalised as the model records \
        (ImageNet's mean and standard deviation otherwise) and run with the longer side resized \
        to the model's training input size (--input-size S to choose another; area averaging \
        when shrinking) with the class scores resized back bilinearly, or at full resolution \
        (--full-resolution, or a model without a recorded size; the network pads to its output \
        stride and crops back). Labels are the \
        argmax over the classes: --format labels, palette, color or overlay keep them; binary \
        marks label > 0 as foreground. --jobs N runs N images at once; the oneDNN threads inside \
        each are set by OMP_NUM_THREADS (all cores by default: with --jobs above 1, set \
        OMP_NUM_THREADS=1 or cores/N). --json details: width, height, classes (present).
        """

    struct FCN8s: NetworkSegmentCommand {
        static let configuration = CommandConfiguration(
            commandName: "fcn8s", abstract: "FCN-8s (Long et al. 2015) semantic segmentation into class labels.",
            discussion: Segment.networkDiscussion)
        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions
        @OptionGroup var net: NetOptions
        static let architecture = "fcn8s"
    }

    struct FCN16s: NetworkSegmentCommand {
        static let configuration = CommandConfiguration(
            commandName: "fcn16s", abstract: "FCN-16s (Long et al. 2015) semantic segmentation into class labels.",
            discussion: Segment.networkDiscussion)
        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions
        @OptionGroup var net: NetOptions
        static let architecture = "fcn16s"
    }

    struct FCN32s: NetworkSegmentCommand {
        static let configuration = CommandConfiguration(
            commandName: "fcn32s", abstract: "FCN-32s (Long et al. 2015) semantic segmentation into class labels.",
            discussion: Segment.networkDiscussion)
        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions
        @OptionGroup var net: NetOptions
        static let architecture = "fcn32s"
    }

    struct Deconv: NetworkSegmentCommand {
        static let configuration = CommandConfiguration(
            commandName: "deconvnet", abstract: "DeconvNet (Noh et al. 2015) semantic segmentation into class labels.",
            discussion: Segment.networkDiscussion)
        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions
        @OptionGroup var net: NetOptions
        static let architecture = "deconvnet"
    }

    struct Dilated: NetworkSegmentCommand {
        static let configuration = CommandConfiguration(
            commandName: "dilated", abstract: "Dilated convolutions (Yu and Koltun 2016) semantic segmentation into class labels.",
            discussion: Segment.networkDiscussion)
        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions
        @OptionGroup var net: NetOptions
        static let architecture = "dilated"
    }
}

/// A `segment` subcommand that runs a network: one per architecture, sharing validation and the
/// batch (their memory is handled differently too, see `CVSegCommand.main`).
protocol NetworkSegmentCommand: ParsableCommand {
    static var architecture: String { get }
    var batch: BatchOptions { get }
    var mask: MaskOptions { get }
    var net: NetOptions { get }
}

extension NetworkSegmentCommand {
    func validate() throws { try net.validate(architecture: Self.architecture) }
    func run() throws { try runNetworkBatch(Self.architecture, batch: batch, mask: mask, net: net) }
}
