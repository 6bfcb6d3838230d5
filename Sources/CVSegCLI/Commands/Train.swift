import ArgumentParser
import CVSegCore
import CVSegIO
import CVSegNN
import CVSegTensor
#if canImport(Glibc)
import Glibc
#endif

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a segmentation network (images and masks) or a detector (images and boxes).",
        subcommands: [FCN8s.self, FCN16s.self, FCN32s.self, Deconv.self, Dilated.self, RCNN.self, FastRCNN.self, FasterRCNN.self])

    static let discussion = """
        Images and masks pair by relative path without extension (a mask named <image>_mask \
        pairs too). Masks are read as class indices (8/16-bit gray, palette by index); 255 is \
        ignored (--ignore). --binary makes any nonzero value foreground. Every file is read and \
        checked before the first step: unreadable files, size mismatches and labels beyond the \
        class count are reported together and nothing trains.

        Each image is resized once so that its longer side is --input-size; every epoch then \
        draws a random scale (--scale), a flip, a colour jitter and a --crop square crop, \
        seeded by --seed (same seed, same bytes). Validation images run whole at --input-size \
        and their scores are mapped back to the original size, as `cvseg segment` does.

        After each epoch: a progress line (loss, learning rate, validation mIoU and, for two \
        classes, foreground IoU), the CSV log (--log, default OUTPUT with .csv), the curves \
        (--curve, default OUTPUT with .png) and a checkpoint (--checkpoint, default OUTPUT \
        with .ckpt.safetensors) that --resume continues from exactly. The model file (-o) \
        keeps the epoch with the best validation mIoU (the last epoch without validation) and \
        records the architecture, classes and preprocessing in its metadata, so `cvseg segment \
        <arch> --weights FILE` needs no other flag. --patience N stops after N epochs without a \
        better validation mIoU (training loss without validation).
        """

    struct FCN8s: TrainNetworkCommand {
        static let configuration = CommandConfiguration(commandName: "fcn8s", abstract: "Train FCN-8s.", discussion: Train.discussion)
        @OptionGroup var options: TrainOptions
        static let architecture = "fcn8s"
    }

    struct FCN16s: TrainNetworkCommand {
        static let configuration = CommandConfiguration(commandName: "fcn16s", abstract: "Train FCN-16s.", discussion: Train.discussion)
        @OptionGroup var options: TrainOptions
        static let architecture = "fcn16s"
    }

    struct FCN32s: TrainNetworkCommand {
        static let configuration = CommandConfiguration(commandName: "fcn32s", abstract: "Train FCN-32s.", discussion: Train.discussion)
        @OptionGroup var options: TrainOptions
        static let architecture = "fcn32s"
    }

    struct Deconv: TrainNetworkCommand {
        static let configuration = CommandConfiguration(
            commandName: "deconvnet", abstract: "Train DeconvNet (--easy-epochs N for the paper's two-stage training).",
            discussion: Train.discussion)
        @OptionGroup var options: TrainOptions
        static let architecture = "deconvnet"
    }

    struct Dilated: TrainNetworkCommand {
        static let configuration = CommandConfiguration(
            commandName: "dilated", abstract: "Train the dilated context network (front end + context module).",
            discussion: Train.discussion)
        @OptionGroup var options: TrainOptions
        static let architecture = "dilated"
    }
}

struct TrainOptions: ParsableArguments, TrainingOutputOptions {
    @Option(help: ArgumentHelp("Folder of training images.", valueName: "dir")) var images: String
    @Option(help: ArgumentHelp("Folder of training masks.", valueName: "dir")) var masks: String
    @Option(help: ArgumentHelp("Folder of validation images.", valueName: "dir")) var valImages: String?
    @Option(help: ArgumentHelp("Folder of validation masks.", valueName: "dir")) var valMasks: String?
    @Option(name: .shortAndLong, help: ArgumentHelp("The trained model (safetensors).", valueName: "file")) var output: String

    @Option(help: ArgumentHelp("Number of classes (default: the largest mask label below the ignore label + 1).", valueName: "n"))
    var classes: Int?
    @Flag(help: "Any nonzero mask value is foreground (two classes).") var binary = false
    @Option(help: ArgumentHelp("Mask label skipped by the loss and the metrics.", valueName: "label")) var ignore: Int32 = 255
    @Option(help: ArgumentHelp("Class names, one per line (stored in the model).", valueName: "file")) var classNames: String?
    @Option(parsing: .singleValue, help: ArgumentHelp("""
        Architecture setting KEY=VALUE, repeatable (e.g. widths=16,32,64,128,128 convs=2,2,2,2,2 \
        fc_width=256 dropout=0.5); the keys are the model metadata's.
        """, valueName: "key=value"))
    var config: [String] = []

    @Option(help: "Epochs.") var epochs = 40
    @Option(help: "Images per batch (full batches only).") var batchSize = 8
    @Option(help: ArgumentHelp("adam, adamw or sgd.", valueName: "name")) var optimizer = "adam"
    @Option(help: "Base learning rate.") var lr: Float = 1e-3
    @Option(help: "SGD momentum.") var momentum: Float = 0.9
    @Option(help: "Weight decay (L2 for adam and sgd, decoupled for adamw).") var weightDecay: Float = 1e-4
    @Option(help: ArgumentHelp("Learning-rate schedule over all steps: constant, poly (0.9) or cosine.", valueName: "name"))
    var schedule = "poly"
    @Option(help: ArgumentHelp("Longer side of every image at the network's scale.", valueName: "pixels")) var inputSize = 192
    @Option(help: ArgumentHelp("Side of the square training crops (default: --input-size).", valueName: "pixels")) var crop: Int?
    @Option(help: ArgumentHelp("Random scale range MIN,MAX.", valueName: "min,max")) var scale = "0.75,1.25"
    @Option(help: ArgumentHelp("Horizontal flip probability.", valueName: "p")) var flip: Float = 0.5
    @Option(help: ArgumentHelp("Brightness/contrast/saturation jitter strength.", valueName: "j")) var jitter: Float = 0.2
    @Option(help: ArgumentHelp("Loss class weights: none or median (median-frequency balancing).", valueName: "name"))
    var classWeights = "none"
    @Option(help: ArgumentHelp("Stop after N epochs without improvement.", valueName: "n")) var patience: Int?
    @Option(help: "Seed of initialisation, order, augmentation and dropout.") var seed: UInt64 = 0
    @Option(help: ArgumentHelp("Two-stage training: the first N epochs on object crops (easy examples).", valueName: "n"))
    var easyEpochs = 0

    @Option(help: ArgumentHelp("Start from these weights (same architecture and classes).", valueName: "file")) var initWeights: String?
    @Option(help: ArgumentHelp("Continue from a checkpoint written by an earlier run.", valueName: "file")) var resume: String?
    @Option(help: ArgumentHelp("Checkpoint path (default: OUTPUT with .ckpt.safetensors).", valueName: "file")) var checkpoint: String?
    @Option(help: ArgumentHelp("CSV log (default: OUTPUT with .csv).", valueName: "file")) var log: String?
    @Option(help: ArgumentHelp("Loss and mIoU curves PNG (default: OUTPUT with .png).", valueName: "file")) var curve: String?
    @Option(help: ArgumentHelp("Number type of the model file: f32, or f16 (half the size; the checkpoint stays f32).",
                               valueName: "type"))
    var weightsDtype = "f32"
    @Flag(help: "No progress on stderr.") var quiet = false

    func trainingConfig() throws -> SegmentationTrainingConfig {
        var c = SegmentationTrainingConfig()
        c.epochs = epochs
        c.batchSize = batchSize
        guard let o = SegmentationTrainingConfig.OptimizerKind(rawValue: optimizer) else {
            throw ValidationError("--optimizer must be adam, adamw or sgd, not '\(optimizer)'")
        }
        c.optimizer = o
        c.learningRate = lr
        c.momentum = momentum
        c.weightDecay = weightDecay
        guard let s = SegmentationTrainingConfig.Schedule(rawValue: schedule) else {
            throw ValidationError("--schedule must be constant, poly or cosine, not '\(schedule)'")
        }
        c.schedule = s
        c.inputSize = inputSize
        c.crop = crop ?? inputSize
        let parts = scale.split(separator: ",").map { Float($0) }
        guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo <= hi else {
            throw ValidationError("--scale must be MIN,MAX with MIN <= MAX, not '\(scale)'")
        }
        c.scale = lo...hi
        c.flipProbability = flip
        c.jitter = jitter
        guard let w = SegmentationTrainingConfig.ClassWeighting(rawValue: classWeights) else {
            throw ValidationError("--class-weights must be none or median, not '\(classWeights)'")
        }
        c.classWeighting = w
        c.patience = patience
        c.seed = seed
        c.easyEpochs = easyEpochs
        do { try c.validate() } catch CVSegError.invalidArgument(let m) { throw ValidationError(m) }
        return c
    }

    func validate() throws {
        _ = try trainingConfig()
        if (valImages == nil) != (valMasks == nil) { throw ValidationError("give both --val-images and --val-masks, or neither") }
        if let classes, !(1...65_536).contains(classes) { throw ValidationError("--classes must be 1...65536, not \(classes)") }
        if binary, let classes, classes != 2 { throw ValidationError("--binary means 2 classes, not --classes \(classes)") }
        if !(0...65_535).contains(ignore) { throw ValidationError("--ignore must be 0...65535, not \(ignore)") }
        try validateOutputs()
    }
}

/// The options every `train` subcommand shares: the output files, the model's number type,
/// the starting point and the `--config` settings.
protocol TrainingOutputOptions {
    var output: String { get }
    var checkpoint: String? { get }
    var log: String? { get }
    var curve: String? { get }
    var weightsDtype: String { get }
    var initWeights: String? { get }
    var resume: String? { get }
    var config: [String] { get }
}

extension TrainingOutputOptions {
    var stem: String { output.hasSuffix(".safetensors") ? String(output.dropLast(12)) : output }
    var checkpointPath: String { checkpoint ?? stem + ".ckpt.safetensors" }
    var logPath: String { log ?? stem + ".csv" }
    var curvePath: String { curve ?? stem + ".png" }

    func validateOutputs() throws {
        if !["f32", "f16"].contains(weightsDtype) { throw ValidationError("--weights-dtype must be f32 or f16, not '\(weightsDtype)'") }
        if initWeights != nil && resume != nil { throw ValidationError("--init-weights and --resume exclude each other") }
        for item in config where !item.contains("=") { throw ValidationError("--config takes KEY=VALUE, not '\(item)'") }
        let paths = [output, checkpointPath, logPath, curvePath]
        if Set(paths).count != paths.count { throw ValidationError("the model, checkpoint, log and curve paths must differ") }
    }
}

/// A `train` subcommand: one per architecture.
protocol TrainNetworkCommand: ParsableCommand {
    static var architecture: String { get }
    var options: TrainOptions { get }
}

extension TrainNetworkCommand {
    func validate() throws { try options.validate() }
    func run() throws { try trainNetwork(Self.architecture, options) }
}

/// The default settings of an architecture for `classes` classes, as metadata.
func defaultModelMetadata(_ architecture: String, classes: Int) -> [String: String] {
    switch architecture {
    case "deconvnet": DeconvNet.Config(classes: classes).metadata
    case "dilated": DilatedNet.Config(classes: classes).metadata
    default: FCN.Config(variant: FCN.Variant(rawValue: architecture) ?? .fcn8s, classes: classes).metadata
    }
}

/// One-line progress on a terminal's stderr (nothing when quiet or not a terminal).
func progressLine(_ text: String, quiet: Bool) {
    guard !quiet, isatty(2) != 0 else { return }
    writeStderr("\r" + text + "\u{1B}[K")
}

func trainNetwork(_ architecture: String, _ o: TrainOptions) throws {
    let config = try o.trainingConfig()
    let mode: SegmentationDataset.MaskMode = o.binary ? .binary : .indices
    let train = try SegmentationDataset(images: o.images, masks: o.masks, classes: o.binary ? 2 : o.classes, maskMode: mode, ignoreLabel: o.ignore)
    let validation = try o.valImages.map {
        try SegmentationDataset(images: $0, masks: o.valMasks!, classes: o.binary ? 2 : o.classes, maskMode: mode, ignoreLabel: o.ignore)
    }
    // The class count: given, or from the training masks (only masks are read for it).
    let classes = try train.classes ?? train.validate().classes
    guard classes >= 1 else { throw CVSegError.invalidContent(file: o.masks, reason: "no labelled pixels in the training masks") }

    var metadata = defaultModelMetadata(architecture, classes: classes)
    for item in o.config {
        let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
        let key = parts[0], value = parts.count > 1 ? parts[1] : ""
        let optional = architecture == "deconvnet" ? [] : ["batch_norm"]  // keys absent from the defaults
        guard metadata[key] != nil || optional.contains(key), !["architecture", "classes"].contains(key) else {
            let keys = (metadata.keys.filter { !["architecture", "classes"].contains($0) } + optional).sorted().joined(separator: ", ")
            throw ValidationError("--config: \(architecture) has no setting '\(key)' (settings: \(keys))")
        }
        metadata[key] = value
    }
    let model: SegmentationModel
    do {
        model = try SegmentationModel.make(metadata: metadata, seed: config.seed)
    } catch CVSegError.invalidArgument(let m) {
        throw ValidationError("--config: \(m)")
    }
    var names: [String]?
    if let file = o.classNames {
        let text = String(decoding: try FileBytes.read(file), as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingSuffix("\r") }
        let given = Array(lines.reversed().drop { $0.isEmpty }.reversed())
        guard given.count == classes else {
            throw CVSegError.invalidContent(file: file, reason: "\(given.count) class names for \(classes) classes")
        }
        names = given
    }
    if let initial = o.initWeights { try model.loadChecked(from: initial) }

    let trainer = try SegmentationTrainer(model: model, config: config, train: train, validation: validation)
    if let resume = o.resume {
        try trainer.resume(from: resume)
        if !o.quiet { writeStderr("resumed from \(resume) after epoch \(trainer.completedEpochs)\n") }
    }
    if !o.quiet {
        let parameters = model.parameters.reduce(0) { $0 + $1.value.count }
        writeStderr("train \(architecture): \(train.count) training pairs, \(validation?.count ?? 0) validation, \(classes) classes, "
                    + "\(parameters) parameters, \(config.epochs) epochs of \(train.count / config.batchSize) batches\n")
    }
    while trainer.completedEpochs < config.epochs && !trainer.stopped {
        let epoch = trainer.completedEpochs + 1
        let record = try trainer.runEpoch { b, n, loss in
            progressLine("epoch \(epoch)/\(config.epochs)  batch \(b)/\(n)  loss \(fixed(Double(loss), 4))", quiet: o.quiet)
        }
        progressLine("", quiet: o.quiet)
        if !o.quiet { writeStderr("\r" + record.summary(epochs: config.epochs) + "\n") }
        if !trainer.hasValidation || trainer.lastEpochIsBest {
            try model.saveWeights(to: o.output, metadata: trainer.modelMetadata(classNames: names),
                                  dtype: o.weightsDtype == "f16" ? .f16 : .f32)
        }
        let csv = ([EpochRecord.csvHeader] + trainer.history.map(\.csvRow)).joined(separator: "\n") + "\n"
        try FileBytes.writeAtomically(Array(csv.utf8), to: o.logPath)
        try Plots.trainingCurves(trainer.history, epochs: config.epochs, title: "\(architecture) training", to: o.curvePath)
        try trainer.saveCheckpoint(to: o.checkpointPath)
    }
    if !o.quiet {
        if trainer.stopped { writeStderr("early stopping: no improvement for \(config.patience ?? 0) epochs\n") }
        if let best = trainer.best {
            let what = trainer.hasValidation ? "best validation mIoU \(fixed(Double(best.value), 4)) at epoch \(best.epoch)"
                                             : "last epoch \(trainer.completedEpochs)"
            writeStderr("\(what); model written to \(o.output)\n")
        }
    }
}

extension Substring {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : String(self) }
}
