import CVSegCore
import CVSegEval
import CVSegTensor
#if canImport(Glibc)
import Glibc
#endif

/// Trains a ``SegmentationModel`` on a folder of images and masks, one epoch at a time
/// (``runEpoch(onBatch:)``), validating after each epoch, and saves and resumes its whole state
/// (``saveCheckpoint(to:)``, ``resume(from:)``).
///
/// Everything random comes from ``SegmentationTrainingConfig/seed``: the sample order of epoch
/// `e` and each sample's augmentation are functions of (seed, e, sample), dropout of (seed,
/// step). So a run resumed from the checkpoint of epoch `e` produces the same weights, bit for
/// bit, as the run that did not stop.
///
/// Before the first step both datasets are checked completely (every mask read, every image
/// decoded): unreadable files, image/mask size mismatches and labels beyond the model's class
/// count are reported together, naming the files, and nothing trains.
public final class SegmentationTrainer {
    public let model: SegmentationModel
    public let config: SegmentationTrainingConfig
    /// The class weights of the loss (nil: all 1).
    public let classWeights: [Float]?
    public let optimizer: Optimizer
    /// The completed epochs' records.
    public private(set) var history: [EpochRecord] = []
    /// The best validation mIoU so far (training loss without validation) and its epoch.
    public var best: (value: Float, epoch: Int)? {
        guard let v = stopping.best, let e = stopping.bestStep else { return nil }
        return (v, e)
    }
    /// Whether early stopping has ended training.
    public private(set) var stopped = false

    let train: SampleSet
    let easy: SampleSet?
    let validation: [(input: Tensor, labels: LabelMap)]
    let ignoreLabel: Int32
    var stopping: EarlyStopping
    var steps = 0
    let totalSteps: Int

    public var hasValidation: Bool { !validation.isEmpty }
    public var completedEpochs: Int { history.count }

    /// Reads and checks the data and prepares the optimizer.
    /// - Parameters:
    ///   - train: the training pairs; its class count must be nil or the model's.
    ///   - validation: optional validation pairs (whole images, at the input size).
    /// - Throws: `.invalidArgument` for bad settings or too few samples; `.invalidContent`
    ///   listing every bad file (from ``SegmentationDataset/validate(decodeImages:maxListed:)``).
    public init(model: SegmentationModel, config: SegmentationTrainingConfig, train: SegmentationDataset,
                validation: SegmentationDataset?) throws {
        try config.validate()
        for (name, set) in [("training", train), ("validation", validation)] {
            guard let set else { continue }
            if let c = set.classes, c != model.classes {
                throw CVSegError.invalidArgument("the \(name) set has \(c) classes, the \(model.architecture) model \(model.classes)")
            }
        }
        let classes = model.classes
        func checked(_ set: SegmentationDataset) throws -> SegmentationDataset {
            set.classes == nil
                ? try SegmentationDataset(images: set.imagesFolder, masks: set.masksFolder, classes: classes, maskMode: set.maskMode,
                                          ignoreLabel: set.ignoreLabel, allowUnpaired: !set.unpaired.isEmpty)
                : set
        }
        let trainSet = try checked(train)
        let statistics = try trainSet.validate(decodeImages: true)
        let validationSet = try validation.map(checked)
        _ = try validationSet?.validate(decodeImages: true)
        let droppedLast = trainSet.count / config.batchSize * config.batchSize
        guard droppedLast > 0 else {
            throw CVSegError.invalidArgument(
                "--batch-size \(config.batchSize) is larger than the \(trainSet.count) training pairs (batches are full: batch norm needs them)")
        }

        self.model = model
        self.config = config
        ignoreLabel = trainSet.ignoreLabel
        classWeights = config.classWeighting == .median ? statistics.medianFrequencyWeights : nil
        var samples: [SegmentationSample] = []
        for i in 0..<trainSet.count { samples.append(Self.atInputSize(try trainSet.sample(i), config.inputSize)) }
        self.train = SampleSet(samples, ignoreLabel: trainSet.ignoreLabel)
        if config.easyEpochs > 0 {
            let crops = try trainSet.pairs.indices.compactMap { i in
                try Self.objectCrop(try trainSet.sample(i), ignoreLabel: trainSet.ignoreLabel).map { Self.atInputSize($0, config.inputSize) }
            }
            guard crops.count >= config.batchSize else {
                throw CVSegError.invalidArgument(
                    "--easy-epochs: only \(crops.count) training masks have foreground (labels other than 0), fewer than --batch-size \(config.batchSize)")
            }
            easy = SampleSet(crops, ignoreLabel: trainSet.ignoreLabel)
        } else {
            easy = nil
        }
        var val: [(Tensor, LabelMap)] = []
        if let validationSet {
            for i in 0..<validationSet.count {
                let s = try validationSet.sample(i)
                let size = sizeWithLongerSide(width: s.image.width, height: s.image.height, longer: config.inputSize)
                val.append((try InferenceResize.input(s.image, width: size.width, height: size.height, normalization: config.normalization),
                            s.labels))
            }
        }
        self.validation = val
        stopping = EarlyStopping(patience: config.patience ?? Int.max, goal: val.isEmpty ? .minimize : .maximize)
        let easySteps = config.easyEpochs * ((easy?.count ?? 0) / config.batchSize)
        totalSteps = easySteps + (config.epochs - config.easyEpochs) * (self.train.count / config.batchSize)
        optimizer = try config.optimizer.make(model.parameters, learningRate: config.learningRate, momentum: config.momentum,
                                              weightDecay: config.weightDecay)
    }

    /// The sample resized so that its longer side is `longer` (area averaging for the image,
    /// nearest for the labels).
    static func atInputSize(_ s: SegmentationSample, _ longer: Int) -> SegmentationSample {
        let size = sizeWithLongerSide(width: s.image.width, height: s.image.height, longer: longer)
        return SegmentationSample(image: s.image.resizedForNetwork(width: size.width, height: size.height),
                                  labels: s.labels.resizedNearest(width: size.width, height: size.height), name: s.name)
    }

    /// The box around the labels other than 0 and the ignore label, enlarged 1.2 times about its
    /// centre and kept inside the image; nil when there is no such label.
    static func objectCrop(_ s: SegmentationSample, ignoreLabel: Int32) throws -> SegmentationSample? {
        let (w, h) = (s.labels.width, s.labels.height)
        var (x0, y0, x1, y1) = (w, h, -1, -1)
        for y in 0..<h {
            for x in 0..<w {
                let l = s.labels.labels[y * w + x]
                if l != 0 && l != ignoreLabel { x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y) }
            }
        }
        guard x1 >= 0 else { return nil }
        let (cx, cy) = (Double(x0 + x1 + 1) / 2, Double(y0 + y1 + 1) / 2)
        let (bw, bh) = (Double(x1 - x0 + 1) * 1.2, Double(y1 - y0 + 1) * 1.2)
        let left = max(0, Int((cx - bw / 2).rounded(.down))), top = max(0, Int((cy - bh / 2).rounded(.down)))
        let right = min(w, Int((cx + bw / 2).rounded(.up))), bottom = min(h, Int((cy + bh / 2).rounded(.up)))
        return SegmentationSample(image: s.image.window(x0: left, y0: top, width: right - left, height: bottom - top, fill: [0, 0, 0]),
                                  labels: s.labels.window(x0: left, y0: top, width: right - left, height: bottom - top, fill: ignoreLabel),
                                  name: s.name)
    }

    var augmentation: Augmentation {
        Augmentation(cropWidth: config.crop, cropHeight: config.crop, scale: config.scale, flipProbability: config.flipProbability,
                     brightness: config.jitter, contrast: config.jitter, saturation: config.jitter,
                     padValue: config.normalization.mean.map { $0 * 255 })
    }

    /// The learning rate of 0-based step `t`.
    func rate(at t: Int) -> Float { config.schedule.rate(base: config.learningRate, total: totalSteps, at: t) }

    public static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Trains one epoch, validates, and records it. `onBatch(batch, batches, loss)` is called
    /// after each step (1-based batch).
    /// - Throws: ``CVSegError/nonFinite(_:)`` when the loss or a gradient stops being finite
    ///   (naming the epoch, step and layer); the weights are then those before the step.
    @discardableResult
    public func runEpoch(onBatch: (Int, Int, Float) -> Void = { _, _, _ in }) throws -> EpochRecord {
        let start = Self.now()
        let epoch = history.count  // 0-based
        let isEasy = epoch < config.easyEpochs
        let set = isEasy ? easy! : train
        var batches = set.batches(size: config.batchSize, shuffle: config.seed, epoch: epoch, augmentation: augmentation,
                                  normalization: config.normalization, dropLast: true)
        var sum = 0.0, count = 0
        var lr = config.learningRate
        let (weights, ignore) = (classWeights, ignoreLabel)
        while let batch = try batches.next() {
            lr = rate(at: steps)
            optimizer.learningRate = lr
            let loss: Float
            do {
                loss = try trainingStep(optimizer: optimizer, step: steps, seed: config.seed) { context in
                    let scores = try model(batch.images, context)
                    return try Loss.crossEntropy(scores, targets: batch.targets, ignoreIndex: ignore, classWeights: weights)
                }
            } catch CVSegError.nonFinite(let message) {
                throw CVSegError.nonFinite("epoch \(epoch + 1), \(message)")
            }
            steps += 1
            sum += Double(loss)
            count += 1
            onBatch(count, batches.count, loss)
        }
        var record = EpochRecord(epoch: epoch + 1, steps: steps, loss: count > 0 ? sum / Double(count) : .nan,
                                 learningRate: Double(lr), validationMIoU: nil, validationAccuracy: nil,
                                 validationForegroundIoU: nil, stage: isEasy ? "easy" : "full", seconds: 0)
        if let m = try validate() {
            let metrics = SegmentationMetrics(m)
            record.validationMIoU = metrics.mIoU
            record.validationAccuracy = metrics.aAcc
            if model.classes == 2 { record.validationForegroundIoU = BinaryMetrics(m).iou }
        }
        record.seconds = Self.now() - start
        history.append(record)
        let watched = record.validationMIoU ?? record.loss
        stopped = stopping.update(Float(watched), step: epoch + 1)
        return record
    }

    /// True when the last epoch is the best so far (the one to keep as the trained model).
    public var lastEpochIsBest: Bool { stopping.bestStep == history.count && !history.isEmpty }

    /// The validation set's confusion matrix under the model as it is (nil without one).
    public func validate() throws -> ConfusionMatrix? {
        guard !validation.isEmpty else { return nil }
        var matrix = ConfusionMatrix(classes: model.classes)
        for (input, labels) in validation {
            let scores = try model(input, .inference())
            let predicted = try InferenceResize.labels(scores, width: labels.width, height: labels.height)[0]
            try matrix.add(predicted: predicted, truth: labels, ignoreLabel: ignoreLabel)
        }
        return matrix
    }

    /// Metadata for the trained model file: the architecture (so inference needs no flag), the
    /// preprocessing (`input_size`, `normalization_mean`, `normalization_std`), the classes
    /// (`class_names` as a JSON array when given, `ignore_label`) and how it was trained.
    public func modelMetadata(classNames: [String]?) -> [String: String] {
        var meta = model.metadata
        let c = config.metadata
        for key in ["input_size", "normalization_mean", "normalization_std"] { meta[key] = c[key] }
        meta["ignore_label"] = String(ignoreLabel)
        if let classNames { meta["class_names"] = JSON.array(classNames.map { .string($0) }).text(indent: 0) }
        meta["trained_epochs"] = String(history.count)
        meta["training_seed"] = String(config.seed)
        if let best { meta[hasValidation ? "best_val_miou" : "best_train_loss"] = fixed(Double(best.value), 6); meta["best_epoch"] = String(best.epoch) }
        return meta
    }

    // MARK: checkpoints

    static let checkpointVersion = "segmentation-training-1"

    /// Writes the model, the optimizer's state, the history and the stopping state (atomically).
    public func saveCheckpoint(to path: String) throws {
        let csv = ([EpochRecord.csvHeader] + history.map(\.csvRow)).joined(separator: "\n")
        try TrainingCheckpoint(version: Self.checkpointVersion, steps: steps, history: csv, stopped: stopped, stopping: stopping)
            .write(to: path, model: model, modelMetadata: model.metadata, trainingMetadata: config.metadata, optimizer: optimizer)
    }

    /// Continues from a checkpoint of the same model and settings. The number of epochs and the
    /// patience may differ (to train longer); any other difference is refused, naming the key.
    public func resume(from path: String) throws {
        let c = try TrainingCheckpoint.read(path, version: Self.checkpointVersion, model: model, modelMetadata: model.metadata,
                                            trainingMetadata: config.metadata, optimizer: optimizer)
        let history = try EpochRecord.parse(csv: c.history, source: path)
        guard history.count < config.epochs else {
            throw CVSegError.invalidContent(file: path, reason: "the checkpoint has already trained \(history.count) epochs; give --epochs above that")
        }
        stopping = EarlyStopping(patience: config.patience ?? Int.max, goal: stopping.goal, best: c.stopping.best,
                                 bestStep: c.stopping.bestStep, waited: c.stopping.waited)
        self.history = history
        self.steps = c.steps
        stopped = false
    }
}
