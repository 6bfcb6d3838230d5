import CVSegCore

/// The per-class and summary numbers of a segmentation confusion matrix, with the definitions
/// of mmsegmentation (`mmseg.evaluation.metrics.IoUMetric`) and torchvision's references:
///
/// - IoU = TP / (TP + FP + FN); Acc = recall = TP / (TP + FN); precision = TP / (TP + FP);
///   Dice = F1 = 2 TP / (2 TP + FP + FN). A zero denominator gives NaN.
/// - aAcc = Σ TP / Σ pixels; mIoU, mAcc, mDice = means over the classes whose value is not NaN
///   (numpy's `nanmean`).
/// - fwIoU = Σ_c freq_c · IoU_c with freq_c = ground-truth pixels of c / all pixels, over classes
///   present in the ground truth.
///
/// All from one matrix summed over the dataset, not a mean of per-image scores.
public struct SegmentationMetrics: Sendable, Equatable {
    public struct ClassScores: Sendable, Equatable {
        public let iou: Double, accuracy: Double, dice: Double, precision: Double, recall: Double
        /// Ground-truth and predicted pixels of the class.
        public let truthPixels: Int, predictedPixels: Int
    }

    public let perClass: [ClassScores]
    public let aAcc: Double
    public let mIoU: Double
    public let mAcc: Double
    public let mDice: Double
    public let fwIoU: Double
    public let pixels: Int

    public init(_ m: ConfusionMatrix) {
        func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? .nan : Double(a) / Double(b) }
        var scores: [ClassScores] = []
        var truthTotal = 0
        var correct = 0
        for c in 0..<m.classes {
            let tp = m.truePositives(c), fp = m.falsePositives(c), fn = m.falseNegatives(c)
            truthTotal += tp + fn
            correct += tp
            scores.append(ClassScores(iou: ratio(tp, tp + fp + fn), accuracy: ratio(tp, tp + fn),
                                      dice: ratio(2 * tp, 2 * tp + fp + fn), precision: ratio(tp, tp + fp),
                                      recall: ratio(tp, tp + fn), truthPixels: tp + fn, predictedPixels: tp + fp))
        }
        perClass = scores
        pixels = m.total
        aAcc = ratio(correct, m.total)
        func nanmean(_ values: [Double]) -> Double {
            let defined = values.filter { !$0.isNaN }
            return defined.isEmpty ? .nan : defined.reduce(0, +) / Double(defined.count)
        }
        mIoU = nanmean(scores.map(\.iou))
        mAcc = nanmean(scores.map(\.accuracy))
        mDice = nanmean(scores.map(\.dice))
        var fw = 0.0
        for s in scores where s.truthPixels > 0 {
            fw += Double(s.truthPixels) / Double(truthTotal) * s.iou
        }
        fwIoU = truthTotal == 0 ? .nan : fw
    }
}
