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
        self.init(m.classCounts)
    }

    public init(_ counts: ClassCounts) {
        func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? .nan : Double(a) / Double(b) }
        var scores: [ClassScores] = []
        var truthTotal = 0
        var correct = 0
        let m = counts
        for c in 0..<m.classes {
            let tp = m.truePositives[c], fp = m.predicted[c] - tp, fn = m.truth[c] - tp
            truthTotal += tp + fn
            correct += tp
            scores.append(ClassScores(iou: ratio(tp, tp + fp + fn), accuracy: ratio(tp, tp + fn),
                                      dice: ratio(2 * tp, 2 * tp + fp + fn), precision: ratio(tp, tp + fp),
                                      recall: ratio(tp, tp + fn), truthPixels: tp + fn, predictedPixels: tp + fp))
        }
        perClass = scores
        pixels = truthTotal
        aAcc = ratio(correct, truthTotal)
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

/// Per-class pixel counts (true positives, predicted, ground truth): all the per-class metrics
/// need, in O(classes) memory where a confusion matrix takes O(classes²).
public struct ClassCounts: Sendable, Equatable {
    public let classes: Int
    public private(set) var truePositives: [Int]
    public private(set) var predicted: [Int]
    public private(set) var truth: [Int]

    public init(classes: Int) {
        precondition(classes > 0, "at least one class")
        self.classes = classes
        truePositives = [Int](repeating: 0, count: classes)
        predicted = truePositives
        truth = truePositives
    }

    /// Counts from saved values (all three arrays `classes` long).
    public init(classes: Int, truePositives: [Int], predicted: [Int], truth: [Int]) {
        precondition(truePositives.count == classes && predicted.count == classes && truth.count == classes,
                     "class counts of the wrong length")
        self.classes = classes
        self.truePositives = truePositives
        self.predicted = predicted
        self.truth = truth
    }

    /// Adds one image's pixels, skipping ground truth equal to `ignoreLabel`.
    /// - Throws: ``CVSegError/invalidArgument(_:)`` when the sizes differ or a label is out of range.
    public mutating func add(predicted p: LabelMap, truth t: LabelMap, ignoreLabel: Int32? = LabelMap.ignoreLabel) throws {
        guard p.width == t.width, p.height == t.height else {
            throw CVSegError.invalidArgument("prediction is \(p.width)x\(p.height) but ground truth is \(t.width)x\(t.height)")
        }
        let k = classes
        var bad: (gt: Int32, pred: Int32)?
        truePositives.withUnsafeMutableBufferPointer { tp in
            predicted.withUnsafeMutableBufferPointer { pc in
                truth.withUnsafeMutableBufferPointer { tc in
                    p.labels.withUnsafeBufferPointer { pl in
                        t.labels.withUnsafeBufferPointer { tl in
                            for i in 0..<tl.count {
                                let g = tl[i]
                                if let ignoreLabel, g == ignoreLabel { continue }
                                let q = pl[i]
                                guard g >= 0, Int(g) < k, q >= 0, Int(q) < k else { bad = (g, q); return }
                                tc[Int(g)] += 1
                                pc[Int(q)] += 1
                                if g == q { tp[Int(g)] += 1 }
                            }
                        }
                    }
                }
            }
        }
        if let bad {
            throw CVSegError.invalidArgument("label out of range 0..<\(k): ground truth \(bad.gt), prediction \(bad.pred)")
        }
    }
}

extension ConfusionMatrix {
    /// The per-class counts of this matrix.
    public var classCounts: ClassCounts {
        var tp = [Int](repeating: 0, count: classes), pc = tp, tc = tp
        for g in 0..<classes {
            for q in 0..<classes {
                let n = self[g, q]
                tc[g] += n
                pc[q] += n
                if g == q { tp[g] += n }
            }
        }
        return ClassCounts(classes: classes, truePositives: tp, predicted: pc, truth: tc)
    }
}
