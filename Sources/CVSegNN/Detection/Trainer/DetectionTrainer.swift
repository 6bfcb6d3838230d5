import CVSegCore
import CVSegEval
import CVSegTensor

/// How a detector is trained (the model's own settings are in ``DetectorConfig``).
public struct DetectionTrainingConfig: Sendable, Equatable {
    public var epochs = 20
    /// Images per optimisation step (Fast R-CNN's hierarchical sampling: 2 images, each with
    /// ``DetectorConfig/roiBatchSize`` RoIs; Faster R-CNN: 1).
    public var imagesPerBatch = 2
    public var optimizer = SegmentationTrainingConfig.OptimizerKind.sgd
    /// Fast R-CNN: SGD 0.001, momentum 0.9, weight decay 0.0005.
    public var learningRate: Float = 1e-3
    public var momentum: Float = 0.9
    public var weightDecay: Float = 5e-4
    public var schedule = SegmentationTrainingConfig.Schedule.constant
    /// Shorter sides drawn per image in training (nil: the model's ``DetectorConfig/minSize`` only).
    public var shorterSides: [Int]?
    public var flipProbability: Float = 0.5
    public var patience: Int?
    public var seed: UInt64 = 0

    public init() {}

    public var metadata: [String: String] {
        ["epochs": String(epochs), "images_per_batch": String(imagesPerBatch), "optimizer": optimizer.rawValue,
         "learning_rate": String(learningRate), "momentum": String(momentum), "weight_decay": String(weightDecay),
         "schedule": schedule.rawValue, "scales": shorterSides.map { $0.map(String.init).joined(separator: ",") } ?? "model",
         "flip": String(flipProbability), "patience": patience.map(String.init) ?? "none", "seed": String(seed)]
    }

    public func validate() throws {
        func bad(_ text: String) -> CVSegError { .invalidArgument(text) }
        guard (1...1_000_000).contains(epochs) else { throw bad("--epochs must be 1...1000000, not \(epochs)") }
        guard (1...64).contains(imagesPerBatch) else { throw bad("--batch-size must be 1...64, not \(imagesPerBatch)") }
        guard learningRate.isFinite, learningRate > 0 else { throw bad("--lr must be a positive number, not \(learningRate)") }
        guard momentum.isFinite, (0..<1).contains(momentum) else { throw bad("--momentum must be in [0, 1), not \(momentum)") }
        guard weightDecay.isFinite, weightDecay >= 0 else { throw bad("--weight-decay must be >= 0, not \(weightDecay)") }
        if let s = shorterSides, s.isEmpty || !s.allSatisfy({ (16...8192).contains($0) }) {
            throw bad("--scales must be sizes in 16...8192, not \(s)")
        }
        guard (0...1).contains(flipProbability) else { throw bad("--flip must be in [0, 1], not \(flipProbability)") }
        if let patience, patience < 1 { throw bad("--patience must be at least 1, not \(patience)") }
    }
}

/// One epoch of detection training.
public struct DetectionEpochRecord: Sendable, Equatable {
    public var epoch: Int
    public var steps: Int
    /// Mean total loss and its parts over the epoch's steps.
    public var loss: Double
    public var parts: [Double]  // rpn objectness, rpn box, classifier, box
    public var learningRate: Double
    /// COCO AP (IoU 0.5:0.95) and AP50 on the validation set (nil without one).
    public var validationAP: Double?
    public var validationAP50: Double?
    public var seconds: Double

    public static let csvHeader = "epoch,steps,train_loss,rpn_objectness,rpn_box,classifier,box,learning_rate,val_ap,val_ap50,seconds"

    public var csvRow: String {
        func cell(_ v: Double?) -> String { v.map { fixed($0, 6) } ?? "" }
        return ([String(epoch), String(steps), fixed(loss, 6)] + parts.map { fixed($0, 6) }
                + [String(Float(learningRate)), cell(validationAP), cell(validationAP50), fixed(seconds, 2)]).joined(separator: ",")
    }

    public static func parse(csv text: String, source: String) throws -> [DetectionEpochRecord] {
        var lines = text.split(separator: "\n").map(String.init)
        guard lines.first == csvHeader else {
            throw CVSegError.invalidContent(file: source, reason: "the training history does not start with '\(csvHeader)'")
        }
        lines.removeFirst()
        return try lines.enumerated().map { n, line in
            let c = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            func bad() -> CVSegError { .invalidContent(file: source, reason: "training history row \(n + 1) is malformed: '\(line)'") }
            guard c.count == 11, let epoch = Int(c[0]), let steps = Int(c[1]), let loss = Double(c[2]),
                  let lr = Double(c[7]), let seconds = Double(c[10]) else { throw bad() }
            let parts = try c[3...6].map { s -> Double in guard let v = Double(s) else { throw bad() }; return v }
            func optional(_ s: String) throws -> Double? {
                if s.isEmpty { return nil }
                guard let v = Double(s) else { throw bad() }
                return v
            }
            return DetectionEpochRecord(epoch: epoch, steps: steps, loss: loss, parts: parts, learningRate: lr,
                                        validationAP: try optional(c[8]), validationAP50: try optional(c[9]), seconds: seconds)
        }
    }

    public func summary(epochs: Int) -> String {
        var s = ["epoch \(epoch)/\(epochs)", "loss \(fixed(loss, 4))",
                 "(rpn \(fixed(parts[0], 3))+\(fixed(parts[1], 3)), roi \(fixed(parts[2], 3))+\(fixed(parts[3], 3)))",
                 "lr \(Float(learningRate))"]
        if let ap = validationAP, let ap50 = validationAP50 { s.append("val AP \(fixed(ap, 4))  AP50 \(fixed(ap50, 4))") }
        s.append(fixed(seconds, 1) + " s")
        return s.joined(separator: "  ")
    }
}

/// Trains a ``Detector`` on a ``DetectionDataset``, one epoch at a time, validating with COCO AP
/// after each; checkpoints hold the whole state so that a resumed run equals the one that did
/// not stop (every random draw is a function of the seed, the epoch and the sample or step).
///
/// Selective search proposals (R-CNN, Fast R-CNN) are computed once per image at the model's
/// scale and mapped through each epoch's scale and flip with the boxes.
public final class DetectionTrainer {
    public let detector: Detector
    public let config: DetectionTrainingConfig
    public let optimizer: Optimizer
    public private(set) var history: [DetectionEpochRecord] = []
    public private(set) var stopped = false
    public var best: (value: Float, epoch: Int)? {
        guard let v = stopping.best, let e = stopping.bestStep else { return nil }
        return (v, e)
    }

    /// Training samples at their original size, with proposals in original pixels.
    let train: [(sample: DetectionSample, proposals: [Box])]
    /// Validation images prepared at the model's scale, proposals in network pixels.
    let validation: [(input: DetectorInput, proposals: [Box]?, imageId: Int)]
    public let validationTruth: DetectionGroundTruth?
    var stopping: EarlyStopping
    var steps = 0
    let totalSteps: Int

    public var hasValidation: Bool { !validation.isEmpty }
    public var completedEpochs: Int { history.count }

    /// Decodes both datasets (every image), computes the proposals where the method needs them
    /// and prepares the optimizer. `onPrepared(done, total)` reports progress.
    /// - Throws: `invalidArgument` for settings that cannot train or a class count that differs
    ///   from the model's; decoding errors name the file.
    public init(detector: Detector, config: DetectionTrainingConfig, train: DetectionDataset, validation: DetectionDataset?,
                onPrepared: (Int, Int) -> Void = { _, _ in }) throws {
        try config.validate()
        for (name, set) in [("training", train), ("validation", validation)] {
            guard let set else { continue }
            guard set.categories.count == detector.config.classes else {
                throw CVSegError.invalidArgument(
                    "the \(name) set has \(set.categories.count) categories, the \(detector.architecture.rawValue) model \(detector.config.classes)")
            }
        }
        guard train.count >= config.imagesPerBatch else {
            throw CVSegError.invalidArgument("--batch-size \(config.imagesPerBatch) is larger than the \(train.count) training images")
        }
        self.detector = detector
        self.config = config
        let total = train.count + (validation?.count ?? 0)
        var done = 0
        var samples: [(DetectionSample, [Box])] = []
        for i in 0..<train.count {
            let s = try train.sample(i)
            var proposals: [Box] = []
            if detector.architecture.usesSelectiveSearch {
                let input = try detector.prepare(s.image)
                proposals = input.resize.toOriginal(try detector.selectiveSearch(input.image))
            }
            samples.append((s, proposals))
            done += 1
            onPrepared(done, total)
        }
        self.train = samples
        var val: [(DetectorInput, [Box]?, Int)] = []
        var images: [EvalImage] = [], objects: [GroundTruthObject] = []
        if let validation {
            for i in 0..<validation.count {
                let s = try validation.sample(i)
                let input = try detector.prepare(s.image)
                let proposals = detector.architecture.usesSelectiveSearch ? try detector.selectiveSearch(input.image) : nil
                val.append((input, proposals, i + 1))
                images.append(EvalImage(id: i + 1, fileName: s.name, width: s.image.width, height: s.image.height))
                for (j, b) in s.boxes.enumerated() {
                    objects.append(GroundTruthObject(id: objects.count + 1, imageId: i + 1, categoryId: Int(s.labels[j]),
                                                     box: EvalBox(x: Double(b.x1), y: Double(b.y1), width: Double(b.x2 - b.x1), height: Double(b.y2 - b.y1)),
                                                     isCrowd: s.isCrowd[j], isDifficult: s.isDifficult[j]))
                }
                done += 1
                onPrepared(done, total)
            }
            validationTruth = DetectionGroundTruth(images: images, categories: validation.categories.map { (Int($0.label), $0.name) },
                                                   objects: objects)
        } else {
            validationTruth = nil
        }
        self.validation = val
        stopping = EarlyStopping(patience: config.patience ?? Int.max, goal: val.isEmpty ? .minimize : .maximize)
        totalSteps = config.epochs * (samples.count / config.imagesPerBatch)
        optimizer = try config.optimizer.make(detector.parameters, learningRate: config.learningRate, momentum: config.momentum,
                                              weightDecay: config.weightDecay)
    }

    func rate(at t: Int) -> Float { config.schedule.rate(base: config.learningRate, total: totalSteps, at: t) }

    /// Training sample `i` of `epoch` with its scale and flip, and its proposals moved with it.
    func augmented(_ i: Int, epoch: Int) -> (DetectionSample, [Box]) {
        let (s, proposals) = train[i]
        let m = detector.config
        let augmentation = DetectionAugmentation(shorterSides: config.shorterSides ?? [m.minSize], maxSize: m.maxSize,
                                                 flipProbability: config.flipProbability)
        let (side, flip) = augmentation.draw(seed: DetectionAugmentation.seed(config.seed, epoch: epoch, index: i))
        let resize = DetectionResize(width: s.image.width, height: s.image.height, shorterSide: side, maxSize: m.maxSize)
        var out = s.resized(resize)
        var boxes = clipBoxes(resize.apply(proposals), imageHeight: resize.height, imageWidth: resize.width)
        if flip {
            out = out.flippedHorizontally()
            let w = Float(resize.width)
            boxes = boxes.map { Box(x1: w - $0.x2, y1: $0.y1, x2: w - $0.x1, y2: $0.y2) }
        }
        return (out, boxes)
    }

    /// Trains one epoch and validates. `onBatch(batch, batches, loss)` after each step.
    @discardableResult
    public func runEpoch(onBatch: (Int, Int, Float) -> Void = { _, _, _ in }) throws -> DetectionEpochRecord {
        let start = SegmentationTrainer.now()
        let epoch = history.count
        var order = Array(0..<train.count)
        var g = SplitMix64(seed: DatasetBatches.mix(config.seed, UInt64(epoch), 0x4445_5445))
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(g.next() % UInt64(i + 1))) }
        let batches = order.count / config.imagesPerBatch
        var sum = 0.0, partSums = [0.0, 0.0, 0.0, 0.0]
        var lr = config.learningRate
        for b in 0..<batches {
            lr = rate(at: steps)
            optimizer.learningRate = lr
            let indices = order[(b * config.imagesPerBatch)..<((b + 1) * config.imagesPerBatch)]
            var parts = DetectionLossParts()
            let loss: Float
            do {
                loss = try trainingStep(optimizer: optimizer, step: steps, seed: config.seed) { context in
                    var total: Tensor?
                    for i in indices {
                        let (sample, proposals) = augmented(i, epoch: epoch)
                        var sampler = SplitMix64(seed: DatasetBatches.mix(config.seed, UInt64(steps), UInt64(i)))
                        let (l, p) = try detector.trainingLoss(sample, proposals: proposals, context, generator: &sampler)
                        parts = parts + p
                        total = try total.map { try add($0, l) } ?? l
                    }
                    return try scale(total!, by: 1 / Float(indices.count))
                }
            } catch CVSegError.nonFinite(let message) {
                throw CVSegError.nonFinite("epoch \(epoch + 1), \(message)")
            }
            steps += 1
            sum += Double(loss)
            let n = Double(indices.count)
            partSums[0] += Double(parts.rpnObjectness) / n; partSums[1] += Double(parts.rpnBox) / n
            partSums[2] += Double(parts.classifier) / n; partSums[3] += Double(parts.box) / n
            onBatch(b + 1, batches, loss)
        }
        let d = Double(max(batches, 1))
        var record = DetectionEpochRecord(epoch: epoch + 1, steps: steps, loss: sum / d, parts: partSums.map { $0 / d },
                                          learningRate: Double(lr), validationAP: nil, validationAP50: nil, seconds: 0)
        if let (ap, ap50) = try validate() {
            record.validationAP = ap
            record.validationAP50 = ap50
        }
        record.seconds = SegmentationTrainer.now() - start
        history.append(record)
        stopped = stopping.update(Float(record.validationAP50 ?? record.loss), step: epoch + 1)
        return record
    }

    /// True when the last epoch is the best so far (validation AP50; training loss without validation).
    public var lastEpochIsBest: Bool { stopping.bestStep == history.count && !history.isEmpty }

    /// The validation detections (original pixels) of the model as it is.
    public func validationDetections() throws -> [DetectedObject] {
        var out: [DetectedObject] = []
        for (input, proposals, id) in validation {
            var d = try detector.trace(input, proposals: proposals).detections
            d.boxes = clipBoxes(input.resize.toOriginal(d.boxes), imageHeight: input.resize.originalHeight, imageWidth: input.resize.originalWidth)
            for k in 0..<d.count {
                let b = d.boxes[k]
                out.append(DetectedObject(imageId: id, categoryId: d.labels[k],
                                          box: EvalBox(x: Double(b.x1), y: Double(b.y1), width: Double(b.x2 - b.x1), height: Double(b.y2 - b.y1)),
                                          score: Double(d.scores[k])))
            }
        }
        return out
    }

    /// COCO AP and AP50 on the validation set (nil without one).
    public func validate() throws -> (ap: Double, ap50: Double)? {
        guard let truth = validationTruth, !validation.isEmpty else { return nil }
        let stats = try COCOEvaluator().evaluate(validationDetections(), truth: truth).stats
        return (stats[0], stats[1])
    }

    /// Metadata of the trained model file: the detector's settings, class names, training facts.
    public func modelMetadata(categories: [DetectionCategory]) -> [String: String] {
        var meta = detector.metadata
        meta["class_names"] = JSON.array(categories.map { .string($0.name) }).text(indent: 0)
        meta["category_ids"] = JSON.array(categories.map { .int($0.id) }).text(indent: 0)
        meta["trained_epochs"] = String(history.count)
        meta["training_seed"] = String(config.seed)
        if let best { meta[hasValidation ? "best_val_ap50" : "best_train_loss"] = fixed(Double(best.value), 6); meta["best_epoch"] = String(best.epoch) }
        return meta
    }

    // MARK: checkpoints

    static let checkpointVersion = "detection-training-1"

    public func saveCheckpoint(to path: String) throws {
        let csv = ([DetectionEpochRecord.csvHeader] + history.map(\.csvRow)).joined(separator: "\n")
        try TrainingCheckpoint(version: Self.checkpointVersion, steps: steps, history: csv, stopped: stopped, stopping: stopping)
            .write(to: path, model: detector, modelMetadata: detector.metadata, trainingMetadata: config.metadata, optimizer: optimizer)
    }

    public func resume(from path: String) throws {
        let c = try TrainingCheckpoint.read(path, version: Self.checkpointVersion, model: detector, modelMetadata: detector.metadata,
                                            trainingMetadata: config.metadata, optimizer: optimizer)
        let history = try DetectionEpochRecord.parse(csv: c.history, source: path)
        guard history.count < config.epochs else {
            throw CVSegError.invalidContent(file: path, reason: "the checkpoint has already trained \(history.count) epochs; give --epochs above that")
        }
        stopping = EarlyStopping(patience: config.patience ?? Int.max, goal: stopping.goal, best: c.stopping.best,
                                 bestStep: c.stopping.bestStep, waited: c.stopping.waited)
        self.history = history
        steps = c.steps
        stopped = false
    }
}
