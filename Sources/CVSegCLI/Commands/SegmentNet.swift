import ArgumentParser
import CVSegCore
import CVSegIO
import CVSegNN
import CVSegTensor

/// Options of the network methods: the weights and the inference size.
struct NetOptions: ParsableArguments {
    @Option(help: ArgumentHelp("""
        Trained weights: a safetensors file whose metadata names the architecture (as \
        SegmentationModel.save writes). Required until models are shipped.
        """, valueName: "file"))
    var weights: String?

    @Option(help: ArgumentHelp("""
        Run the network with the image's longer side resized to this many pixels and resize the \
        class scores back to the image bilinearly (default: full resolution).
        """, valueName: "pixels"))
    var inputSize: Int?

    func validate(architecture: String) throws {
        if weights == nil { throw ValidationError("no shipped model for \(architecture) yet; pass --weights FILE") }
        if let s = inputSize, !(1...65_536).contains(s) { throw ValidationError("--input-size must be 1...65536, not \(s).") }
    }
}

/// A model shared by the batch's threads. @unchecked: inference only reads the parameters
/// (batch norm uses its running statistics, dropout is off; nothing is written during an
/// inference forward pass), each call has its own ``ForwardContext``, and the oneDNN engine
/// underneath may be called from any thread.
final class SharedNetwork: @unchecked Sendable {
    let model: SegmentationModel
    let normalization: Normalization
    init(model: SegmentationModel, normalization: Normalization) {
        self.model = model
        self.normalization = normalization
    }
}

/// The network in `path`, which must be a `architecture` model: the metadata is checked
/// before any weight is converted, so a file for another network is refused at once, naming
/// both. Errors name the file.
func loadSegmentationNetwork(_ path: String, architecture: String) throws -> SegmentationModel {
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
    return model
}

/// The size whose longer side is `longer`, keeping the aspect ratio (the shorter side rounded,
/// at least 1).
func inferenceSize(width: Int, height: Int, longer: Int) -> (width: Int, height: Int) {
    let long = max(width, height, 1)
    func scaled(_ side: Int) -> Int { max(1, Int((Double(side) * Double(longer) / Double(long)).rounded())) }
    return width >= height ? (longer, scaled(height)) : (scaled(width), longer)
}

/// Labels of one image: RGB (gray repeated, alpha dropped, 16-bit to its high byte, as the
/// training data loader does), normalised, run at full size or at `inputSize` (longer side)
/// with the scores resized back bilinearly, argmax over the classes.
func segmentWithNetwork(_ image: AnyImage, network: SharedNetwork, inputSize: Int?) throws -> LabelMap {
    let planar = PlanarImage(image.to8Bit())
    let (w, h) = (planar.width, planar.height)
    let x: Tensor
    if let s = inputSize {
        let size = inferenceSize(width: w, height: h, longer: s)
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
    guard let weights = net.weights else { throw ValidationError("no shipped model for \(architecture) yet; pass --weights FILE") }
    let model = try loadSegmentationNetwork(weights, architecture: architecture)
    if model.classes > 256 && mask.format == .palette {
        throw CVSegError.invalidContent(file: weights, reason: "\(model.classes) classes do not fit a palette PNG (256 at most); use --format labels")
    }
    let network = SharedNetwork(model: model, normalization: .imageNet)
    let name = "segment \(architecture)"
    let (items, problems) = Inputs.plan(batch.inputs, outputRoot: batch.output, shard: batch.shard)
    let progress = Progress(total: items.count, label: name, quiet: batch.quiet)
    let decode = DecodeOptions(palette: .expand, lenient: batch.lenient)
    let png = PNGWriteOptions(compressionLevel: mask.pngCompression)
    let (format, inputSize, classes) = (mask.format, net.inputSize, model.classes)
    let statuses = BatchRunner.run(items, jobs: batch.resolvedJobs, skipExisting: batch.skipExisting, progress: progress) { item in
        let image = try ImageFile.read(item.input, options: decode).expanded()
        let labels = try segmentWithNetwork(image, network: network, inputSize: inputSize)
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
        The weights file (--weights, safetensors) names its architecture in its metadata; a file \
        for another architecture is refused before any image is read. Images become RGB (gray \
        repeated, alpha dropped, 16-bit reduced to the high byte, palette expanded), are \
        normalised with the ImageNet mean and standard deviation, and run at full resolution \
        (the network pads to its output stride and crops back) or, with --input-size S, with the \
        longer side resized to S and the class scores resized back bilinearly. Labels are the \
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
