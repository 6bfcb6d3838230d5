import ArgumentParser
import CVSegCore
import CVSegIO
import CVSegNN
import CVSegTensor
#if canImport(Glibc)
import Glibc
#endif

extension Train {
    static let detectionDiscussion = """
        Ground truth (--gt, --val-gt): a COCO instances JSON file, a folder of PASCAL VOC XML \
        files (classes from --class-names, else the sorted names found), or a folder of \
        instance-id masks as PennFudan's (<image>_mask.png, 0 background, each other value one \
        object of one class). Every annotation is checked before training: boxes outside the \
        image or without area are errors (--drop-invalid-boxes leaves them out and counts them), \
        unknown categories are errors, and an image without ground truth is an error unless \
        --negatives makes it an image without objects.

        Each image is resized so that its shorter side is the model's min_size (the longer at \
        most max_size; --config min_size=N max_size=M); --scales draws the shorter side per \
        image and epoch from a list, --flip mirrors; seeded by --seed. R-CNN and Fast R-CNN \
        compute selective search proposals once per image at the model's scale.

        After each epoch: a progress line (loss and its parts, validation COCO AP and AP50), \
        the CSV log, the loss and AP curves as PNG, and a checkpoint that --resume continues \
        from exactly. The model file keeps the epoch with the best validation AP50 (the last \
        without validation) and records every setting, so `cvseg detect <method> --weights \
        FILE` needs no other flag. --init-backbone FILE starts the backbone from a \
        segmentation FCN's (or a detector's) weights with the same widths and convs.
        """

    struct RCNN: TrainDetectorCommand {
        static let configuration = CommandConfiguration(
            commandName: "rcnn", abstract: "Train R-CNN (selective search, warped proposals, per-class classifiers).",
            discussion: Train.detectionDiscussion)
        @OptionGroup var options: DetectionTrainOptions
        static let architecture = DetectorArchitecture.rcnn
    }

    struct FastRCNN: TrainDetectorCommand {
        static let configuration = CommandConfiguration(
            commandName: "fast-rcnn", abstract: "Train Fast R-CNN (selective search, RoI pooling, multi-task loss).",
            discussion: Train.detectionDiscussion)
        @OptionGroup var options: DetectionTrainOptions
        static let architecture = DetectorArchitecture.fastRCNN
    }

    struct FasterRCNN: TrainDetectorCommand {
        static let configuration = CommandConfiguration(
            commandName: "faster-rcnn", abstract: "Train Faster R-CNN (region proposal network + Fast R-CNN head, joint).",
            discussion: Train.detectionDiscussion)
        @OptionGroup var options: DetectionTrainOptions
        static let architecture = DetectorArchitecture.fasterRCNN
    }
}

struct DetectionTrainOptions: ParsableArguments, TrainingOutputOptions {
    @Option(help: ArgumentHelp("Folder of training images.", valueName: "dir")) var images: String
    @Option(help: ArgumentHelp("Training ground truth: COCO JSON, VOC XML folder or instance-mask folder.", valueName: "path"))
    var gt: String
    @Option(help: ArgumentHelp("Folder of validation images.", valueName: "dir")) var valImages: String?
    @Option(help: ArgumentHelp("Validation ground truth.", valueName: "path")) var valGt: String?
    @Option(name: .shortAndLong, help: ArgumentHelp("The trained model (safetensors).", valueName: "file")) var output: String
    @Option(help: ArgumentHelp("Class names, one per line (VOC: the classes and their order; masks: the one class's name).",
                               valueName: "file"))
    var classNames: String?
    @Flag(help: "Leave out boxes outside their image or without area (else an error).") var dropInvalidBoxes = false
    @Flag(help: "Images without ground truth are images without objects (else an error).") var negatives = false
    @Option(parsing: .singleValue, help: ArgumentHelp("""
        Model setting KEY=VALUE, repeatable (e.g. min_size=256 anchor_sizes=32,64,128 \
        widths=16,32,64,128,128); the keys are the model metadata's.
        """, valueName: "key=value"))
    var config: [String] = []

    @Option(help: "Epochs.") var epochs = 20
    @Option(help: ArgumentHelp("Images per step (default: 1 for faster-rcnn, else 2).", valueName: "n")) var batchSize: Int?
    @Option(help: ArgumentHelp("sgd, adam or adamw.", valueName: "name")) var optimizer = "sgd"
    @Option(help: "Base learning rate.") var lr: Float = 1e-3
    @Option(help: "SGD momentum.") var momentum: Float = 0.9
    @Option(help: "Weight decay.") var weightDecay: Float = 5e-4
    @Option(help: ArgumentHelp("Learning-rate schedule: constant, poly or cosine.", valueName: "name")) var schedule = "constant"
    @Option(help: ArgumentHelp("Shorter sides to draw from per image, comma-separated (default: the model's min_size).",
                               valueName: "list"))
    var scales: String?
    @Option(help: ArgumentHelp("Horizontal flip probability.", valueName: "p")) var flip: Float = 0.5
    @Option(help: ArgumentHelp("Stop after N epochs without a better validation AP50.", valueName: "n")) var patience: Int?
    @Option(help: "Seed of initialisation, order, augmentation, sampling and dropout.") var seed: UInt64 = 0

    @Option(help: ArgumentHelp("Initialise the backbone from this FCN or detector file.", valueName: "file")) var initBackbone: String?
    @Option(help: ArgumentHelp("Start from these weights (same method and settings).", valueName: "file")) var initWeights: String?
    @Option(help: ArgumentHelp("Continue from a checkpoint written by an earlier run.", valueName: "file")) var resume: String?
    @Option(help: ArgumentHelp("Checkpoint path (default: OUTPUT with .ckpt.safetensors).", valueName: "file")) var checkpoint: String?
    @Option(help: ArgumentHelp("CSV log (default: OUTPUT with .csv).", valueName: "file")) var log: String?
    @Option(help: ArgumentHelp("Loss and AP curves PNG (default: OUTPUT with .png).", valueName: "file")) var curve: String?
    @Option(help: ArgumentHelp("Number type of the model file: f32 or f16.", valueName: "type")) var weightsDtype = "f32"
    @Flag(help: "No progress on stderr.") var quiet = false

    func trainingConfig(_ architecture: DetectorArchitecture) throws -> DetectionTrainingConfig {
        var c = DetectionTrainingConfig()
        c.epochs = epochs
        c.imagesPerBatch = batchSize ?? (architecture == .fasterRCNN ? 1 : 2)
        guard let o = SegmentationTrainingConfig.OptimizerKind(rawValue: optimizer) else {
            throw ValidationError("--optimizer must be sgd, adam or adamw, not '\(optimizer)'")
        }
        c.optimizer = o
        c.learningRate = lr
        c.momentum = momentum
        c.weightDecay = weightDecay
        guard let s = SegmentationTrainingConfig.Schedule(rawValue: schedule) else {
            throw ValidationError("--schedule must be constant, poly or cosine, not '\(schedule)'")
        }
        c.schedule = s
        if let scales {
            let sides = scales.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
            guard !sides.isEmpty, sides.allSatisfy({ $0 != nil }) else { throw ValidationError("--scales must be integers separated by commas, not '\(scales)'") }
            c.shorterSides = sides.map { $0! }
        }
        c.flipProbability = flip
        c.patience = patience
        c.seed = seed
        do { try c.validate() } catch CVSegError.invalidArgument(let m) { throw ValidationError(m) }
        return c
    }

    func validate() throws {
        _ = try trainingConfig(.fastRCNN)
        if (valImages == nil) != (valGt == nil) { throw ValidationError("give both --val-images and --val-gt, or neither") }
        try validateOutputs()
    }
}

/// A `train` subcommand for a detector.
protocol TrainDetectorCommand: ParsableCommand {
    static var architecture: DetectorArchitecture { get }
    var options: DetectionTrainOptions { get }
}

extension TrainDetectorCommand {
    func validate() throws { try options.validate() }
    func run() throws { try trainDetector(Self.architecture, options) }
}

/// Lines of a text file without the trailing empty ones.
func readLines(_ file: String) throws -> [String] {
    let text = String(decoding: try FileBytes.read(file), as: UTF8.self)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingSuffix("\r") }
    return Array(lines.reversed().drop { $0.isEmpty }.reversed())
}

/// The ground-truth source a path names: a `.json` file is COCO, a folder with XML files is
/// VOC, any other folder instance masks.
func detectionGroundTruthSource(_ path: String, classNames: [String]?) throws -> DetectionGroundTruthSource {
    var st = stat()
    guard stat(path, &st) == 0 else { throw CVSegError.io(path: path, operation: "stat", reason: String(cString: strerror(errno))) }
    if (st.st_mode & S_IFMT) != S_IFDIR { return .coco(file: path) }
    if !(try VOCFolder.xmlFiles(path)).isEmpty { return .voc(folder: path, classNames: classNames) }
    return .instanceMasks(folder: path, className: classNames?.first ?? "pedestrian")
}

func trainDetector(_ architecture: DetectorArchitecture, _ o: DetectionTrainOptions) throws {
    let config = try o.trainingConfig(architecture)
    let names = try o.classNames.map(readLines)
    let options = DetectionDataset.Options(invalidBoxes: o.dropInvalidBoxes ? .drop : .reject,
                                           imagesWithoutGroundTruth: o.negatives ? .negatives : .reject, decodeImages: true)
    let train = try DetectionDataset(images: o.images, groundTruth: detectionGroundTruthSource(o.gt, classNames: names), options: options)
    let validation = try o.valImages.map {
        try DetectionDataset(images: $0, groundTruth: detectionGroundTruthSource(o.valGt!, classNames: names), options: options)
    }
    if let validation, validation.categories.map(\.name) != train.categories.map(\.name) {
        throw ValidationError("the validation categories (\(validation.categories.map(\.name))) differ from the training ones (\(train.categories.map(\.name)))")
    }
    let settings = o.config.map { item -> (key: String, value: String) in
        let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
        return (parts[0], parts.count > 1 ? parts[1] : "")
    }
    let modelConfig: DetectorConfig
    do {
        modelConfig = try DetectorConfig(architecture: architecture, classes: train.categories.count).applying(settings)
    } catch CVSegError.invalidArgument(let m) {
        throw ValidationError(m)
    }
    let detector = try Detector(modelConfig, seed: config.seed)
    if let file = o.initBackbone { try detector.loadBackbone(from: file) }
    if let file = o.initWeights {
        let other = try Detector.load(from: file)
        guard other.metadata == detector.metadata else {
            throw CVSegError.invalidContent(file: file, reason: "weights of another detector (settings differ from this run's)")
        }
        try detector.load(stateDict: other.stateDict(), strict: true, source: file)
    }
    if !o.quiet {
        writeStderr("train \(architecture.rawValue): \(train.count) training images (\(train.objectsPerLabel.dropFirst().reduce(0, +)) objects), "
                    + "\(validation?.count ?? 0) validation, classes \(train.categories.map(\.name).joined(separator: ", "))"
                    + (train.droppedBoxes.isEmpty ? "" : ", \(train.droppedBoxes.count) invalid boxes left out") + "\n")
    }
    let started = SegmentationTrainer.now()
    let trainer = try DetectionTrainer(detector: detector, config: config, train: train, validation: validation) { done, total in
        progressLine("preparing images \(done)/\(total)" + (architecture.usesSelectiveSearch ? " (selective search)" : ""), quiet: o.quiet)
    }
    progressLine("", quiet: o.quiet)
    if let resume = o.resume {
        try trainer.resume(from: resume)
        if !o.quiet { writeStderr("resumed from \(resume) after epoch \(trainer.completedEpochs)\n") }
    }
    if !o.quiet {
        let parameters = detector.parameters.reduce(0) { $0 + $1.value.count }
        writeStderr("\(parameters) parameters, \(config.epochs) epochs of \(train.count / config.imagesPerBatch) steps; "
                    + "prepared in \(fixed(SegmentationTrainer.now() - started, 1)) s\n")
    }
    while trainer.completedEpochs < config.epochs && !trainer.stopped {
        let epoch = trainer.completedEpochs + 1
        let record = try trainer.runEpoch { b, n, loss in
            progressLine("epoch \(epoch)/\(config.epochs)  step \(b)/\(n)  loss \(fixed(Double(loss), 4))", quiet: o.quiet)
        }
        progressLine("", quiet: o.quiet)
        if !o.quiet { writeStderr("\r" + record.summary(epochs: config.epochs) + "\n") }
        if !trainer.hasValidation || trainer.lastEpochIsBest {
            try detector.saveWeights(to: o.output, metadata: trainer.modelMetadata(categories: train.categories),
                                     dtype: o.weightsDtype == "f16" ? .f16 : .f32)
        }
        let csv = ([DetectionEpochRecord.csvHeader] + trainer.history.map(\.csvRow)).joined(separator: "\n") + "\n"
        try FileBytes.writeAtomically(Array(csv.utf8), to: o.logPath)
        try Plots.detectionCurves(trainer.history, epochs: config.epochs, title: "\(architecture.rawValue) training", to: o.curvePath)
        try trainer.saveCheckpoint(to: o.checkpointPath)
    }
    if !o.quiet {
        if trainer.stopped { writeStderr("early stopping: no improvement for \(config.patience ?? 0) epochs\n") }
        if let best = trainer.best {
            let what = trainer.hasValidation ? "best validation AP50 \(fixed(Double(best.value), 4)) at epoch \(best.epoch)"
                                             : "last epoch \(trainer.completedEpochs)"
            writeStderr("\(what); model written to \(o.output) (\(fixed(SegmentationTrainer.now() - started, 0)) s)\n")
        }
    }
}
