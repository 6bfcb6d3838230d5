import CVSegCore

/// One epoch of training, as the progress line, the CSV log and the curves show it.
public struct EpochRecord: Sendable, Equatable {
    /// 1-based.
    public var epoch: Int
    /// Optimisation steps so far (all epochs).
    public var steps: Int
    /// The mean training loss over the epoch's batches.
    public var loss: Double
    /// The learning rate of the epoch's last step.
    public var learningRate: Double
    /// Validation numbers (nil without a validation set): mIoU and aAcc over the validation
    /// set's confusion matrix, and the foreground (class 1) IoU of a two-class task.
    public var validationMIoU: Double?
    public var validationAccuracy: Double?
    public var validationForegroundIoU: Double?
    /// "easy" during the first stage of two-stage training, else "full".
    public var stage: String
    /// Wall time of the epoch, validation included.
    public var seconds: Double

    public init(epoch: Int, steps: Int, loss: Double, learningRate: Double, validationMIoU: Double?, validationAccuracy: Double?,
                validationForegroundIoU: Double?, stage: String, seconds: Double) {
        self.epoch = epoch; self.steps = steps; self.loss = loss; self.learningRate = learningRate
        self.validationMIoU = validationMIoU; self.validationAccuracy = validationAccuracy
        self.validationForegroundIoU = validationForegroundIoU; self.stage = stage; self.seconds = seconds
    }

    public static let csvHeader = "epoch,steps,stage,train_loss,learning_rate,val_miou,val_aacc,val_fg_iou,seconds"

    /// The record as a CSV row (empty cells for missing validation numbers).
    public var csvRow: String {
        func cell(_ v: Double?) -> String { v.map { fixed($0, 6) } ?? "" }
        return [String(epoch), String(steps), stage, fixed(loss, 6), String(Float(learningRate)),
                cell(validationMIoU), cell(validationAccuracy), cell(validationForegroundIoU), fixed(seconds, 2)]
            .joined(separator: ",")
    }

    /// Records from a CSV log written by ``csvRow`` (header first).
    public static func parse(csv text: String, source: String) throws -> [EpochRecord] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard lines.first == csvHeader else {
            throw CVSegError.invalidContent(file: source, reason: "the training history does not start with '\(csvHeader)'")
        }
        lines.removeFirst()
        return try lines.enumerated().map { n, line in
            let c = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            func bad() -> CVSegError { .invalidContent(file: source, reason: "training history row \(n + 1) is malformed: '\(line)'") }
            guard c.count == 9, let epoch = Int(c[0]), let steps = Int(c[1]), let loss = Double(c[3]), let lr = Double(c[4]),
                  let seconds = Double(c[8]) else { throw bad() }
            func optional(_ s: String) throws -> Double? {
                if s.isEmpty { return nil }
                guard let v = Double(s) else { throw bad() }
                return v
            }
            return EpochRecord(epoch: epoch, steps: steps, loss: loss, learningRate: lr, validationMIoU: try optional(c[5]),
                               validationAccuracy: try optional(c[6]), validationForegroundIoU: try optional(c[7]),
                               stage: c[2], seconds: seconds)
        }
    }

    /// The progress line of the epoch.
    public func summary(epochs: Int) -> String {
        var parts = ["epoch \(epoch)/\(epochs)", "loss \(fixed(loss, 4))", "lr \(Float(learningRate))"]
        if stage != "full" { parts.append(stage) }
        if let m = validationMIoU { parts.append("val mIoU \(fixed(m, 4))") }
        if let a = validationAccuracy { parts.append("aAcc \(fixed(a, 4))") }
        if let f = validationForegroundIoU { parts.append("fg IoU \(fixed(f, 4))") }
        parts.append(fixed(seconds, 1) + " s")
        return parts.joined(separator: "  ")
    }
}
