import CVSegCore

/// How a segmentation network is trained: optimisation, scale and augmentation, class weights,
/// stopping. Recorded in checkpoints (``metadata``) so that a resumed run continues with the
/// same settings.
///
/// Scale: every training image is resized once (area averaging when shrinking) so that its
/// longer side is ``inputSize``; then each epoch draws a random scale in ``scale``, a flip, a
/// colour jitter and a ``crop`` × ``crop`` window (``Augmentation``). Validation and inference
/// resize the longer side to ``inputSize`` too and map the scores back to the original size, so
/// the network always sees objects at the scale it was trained on.
public struct SegmentationTrainingConfig: Sendable, Equatable {
    public enum OptimizerKind: String, Sendable, CaseIterable {
        /// Adam with L2 weight decay added to the gradient.
        case adam
        /// AdamW: decoupled weight decay.
        case adamw
        /// SGD with momentum.
        case sgd
    }

    public enum Schedule: String, Sendable, CaseIterable {
        /// The base rate throughout.
        case constant
        /// `base · (1 − step / steps)^0.9` (DeepLab's "poly").
        case poly
        /// Cosine annealing to 0 over all steps.
        case cosine
    }

    public enum ClassWeighting: String, Sendable, CaseIterable {
        /// Every class weighs 1.
        case none
        /// Median-frequency balancing over the training masks (``ClassStatistics/medianFrequencyWeights``).
        case median
    }

    public var epochs = 40
    public var batchSize = 8
    public var optimizer = OptimizerKind.adam
    public var learningRate: Float = 1e-3
    /// SGD's momentum.
    public var momentum: Float = 0.9
    public var weightDecay: Float = 1e-4
    public var schedule = Schedule.poly
    /// The longer side of every image at the network's scale.
    public var inputSize = 192
    /// The side of the square training crops.
    public var crop = 192
    /// Random scale factors around the input size.
    public var scale: ClosedRange<Float> = 0.75...1.25
    public var flipProbability: Float = 0.5
    /// Brightness, contrast and saturation jitter strength (0 for none).
    public var jitter: Float = 0.2
    public var classWeighting = ClassWeighting.none
    /// Stop after this many epochs without a better validation mIoU (training loss without a
    /// validation set); nil trains all ``epochs``.
    public var patience: Int?
    /// Seeds the weights' initialisation, the order of samples, augmentation and dropout.
    public var seed: UInt64 = 0
    /// DeconvNet's two-stage training (Noh et al. 2015, section 4.2): the first `easyEpochs`
    /// epochs train on easy examples — each training image cropped to the box around its
    /// foreground (labels other than 0 and the ignore label) enlarged 1.2 times, so the object
    /// is centred and large — and the rest on whole images. 0 for one stage.
    public var easyEpochs = 0
    public var normalization = Normalization.imageNet

    public init() {}

    /// The settings as strings (checkpoint metadata).
    public var metadata: [String: String] {
        ["epochs": String(epochs), "batch_size": String(batchSize), "optimizer": optimizer.rawValue,
         "learning_rate": String(learningRate), "momentum": String(momentum), "weight_decay": String(weightDecay),
         "schedule": schedule.rawValue, "input_size": String(inputSize), "crop": String(crop),
         "scale": "\(scale.lowerBound),\(scale.upperBound)", "flip": String(flipProbability), "jitter": String(jitter),
         "class_weighting": classWeighting.rawValue, "patience": patience.map(String.init) ?? "none",
         "seed": String(seed), "easy_epochs": String(easyEpochs),
         "normalization_mean": normalization.mean.map { String($0) }.joined(separator: ","),
         "normalization_std": normalization.std.map { String($0) }.joined(separator: ",")]
    }

    /// Refuses settings that cannot train; the messages name the command-line option.
    public func validate() throws {
        func bad(_ text: String) -> CVSegError { .invalidArgument(text) }
        guard (1...1_000_000).contains(epochs) else { throw bad("--epochs must be 1...1000000, not \(epochs)") }
        guard (1...4096).contains(batchSize) else { throw bad("--batch-size must be 1...4096, not \(batchSize)") }
        guard learningRate.isFinite, learningRate > 0 else { throw bad("--lr must be a positive number, not \(learningRate)") }
        guard momentum.isFinite, (0..<1).contains(momentum) else { throw bad("--momentum must be in [0, 1), not \(momentum)") }
        guard weightDecay.isFinite, weightDecay >= 0 else { throw bad("--weight-decay must be >= 0, not \(weightDecay)") }
        guard (8...8192).contains(inputSize) else { throw bad("--input-size must be 8...8192, not \(inputSize)") }
        guard (8...8192).contains(crop) else { throw bad("--crop must be 8...8192, not \(crop)") }
        guard scale.lowerBound > 0, scale.upperBound <= 8, scale.lowerBound.isFinite else {
            throw bad("--scale must be two numbers 0 < min <= max <= 8, not \(scale.lowerBound),\(scale.upperBound)")
        }
        guard (0...1).contains(flipProbability) else { throw bad("--flip must be in [0, 1], not \(flipProbability)") }
        guard (0...1).contains(jitter) else { throw bad("--jitter must be in [0, 1], not \(jitter)") }
        if let patience, patience < 1 { throw bad("--patience must be at least 1, not \(patience)") }
        guard (0..<epochs).contains(easyEpochs) else { throw bad("--easy-epochs must be 0...\(epochs - 1) (fewer than --epochs), not \(easyEpochs)") }
    }
}

extension SegmentationTrainingConfig.Schedule {
    /// The learning rate of 0-based step `t` of `total` from `base`.
    public func rate(base: Float, total: Int, at t: Int) -> Float {
        switch self {
        case .constant: base
        case .poly: LearningRateSchedule.poly(total: total, power: 0.9).rate(base: base, at: t)
        case .cosine: LearningRateSchedule.cosine(total: total, minimum: 0).rate(base: base, at: t)
        }
    }
}

extension SegmentationTrainingConfig.OptimizerKind {
    /// The optimizer of this kind over `parameters` (momentum is SGD's only).
    public func make(_ parameters: [Parameter], learningRate: Float, momentum: Float, weightDecay: Float) throws -> Optimizer {
        switch self {
        case .adam: try Adam(parameters, learningRate: learningRate, weightDecay: weightDecay)
        case .adamw: try Adam.adamW(parameters, learningRate: learningRate, weightDecay: weightDecay)
        case .sgd: try SGD(parameters, learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
        }
    }
}
