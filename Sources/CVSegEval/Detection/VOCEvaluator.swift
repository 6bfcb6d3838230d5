import CVSegCore

/// PASCAL VOC detection AP, as the VOC devkit computes it (and py-faster-rcnn's `voc_eval.py`):
/// per class, detections in descending score order (ties in file order), each matched to the
/// ground truth of its image with the highest overlap; overlap > 0.5 with an unmatched object is
/// a hit, with an already matched one a false alarm; "difficult" objects are neither and are not
/// counted as positives. Overlaps use the devkit's inclusive pixel convention: a box from x1 to
/// x2 is `x2 - x1 + 1` pixels wide (boxes are read as `x1 = x`, `x2 = x + w`).
///
/// References: M. Everingham et al., "The PASCAL Visual Object Classes (VOC) Challenge", IJCV 2010.
public struct VOCEvaluator: Sendable {
    public enum Interpolation: Sendable {
        /// VOC2007: mean of the interpolated precision at recall 0, 0.1, …, 1 (11 points).
        case elevenPoint
        /// VOC2010 and later: the area under the monotone precision envelope (all points).
        case allPoints
    }

    public var interpolation: Interpolation
    public var iouThreshold: Double

    public init(interpolation: Interpolation, iouThreshold: Double = 0.5) {
        self.interpolation = interpolation
        self.iouThreshold = iouThreshold
    }

    public struct ClassResult: Sendable, Equatable {
        public let categoryId: Int
        /// NaN when the class has no positive (non-difficult) object: its recall is undefined.
        public let ap: Double
        public let positives: Int
        public let detections: Int
        /// Recall and precision after each detection, best score first (the raw curve).
        public let recall: [Double]
        public let precision: [Double]
    }

    /// AP per ground-truth category (ascending id); the mean over classes with positives is
    /// ``mean(_:)``.
    public func evaluate(_ detections: [DetectedObject], truth: DetectionGroundTruth) -> [ClassResult] {
        let categoryIds = Set(truth.categories.map(\.id)).sorted()
        var truthByClassImage: [Int: [Int: [Int]]] = [:]
        for (n, object) in truth.objects.enumerated() {
            truthByClassImage[object.categoryId, default: [:]][object.imageId, default: []].append(n)
        }
        var detectionsByClass: [Int: [Int]] = [:]
        for (n, d) in detections.enumerated() { detectionsByClass[d.categoryId, default: []].append(n) }
        return categoryIds.map { c in
            let byImage = truthByClassImage[c] ?? [:]
            let positives = byImage.values.reduce(0) { $0 + $1.filter { !truth.objects[$0].isDifficult }.count }
            let mine = (detectionsByClass[c] ?? []).sorted {
                detections[$0].score != detections[$1].score ? detections[$0].score > detections[$1].score : $0 < $1
            }
            var used: [Int: [Bool]] = [:]
            var tp = [Double](), fp = [Double]()
            tp.reserveCapacity(mine.count); fp.reserveCapacity(mine.count)
            for n in mine {
                let d = detections[n]
                let objects = byImage[d.imageId] ?? []
                var best = -Double.infinity, bestIndex = -1
                let b = (x1: d.box.x, y1: d.box.y, x2: d.box.x + d.box.width, y2: d.box.y + d.box.height)
                let areaB = boxArea(b, .inclusive)
                for (j, o) in objects.enumerated() {
                    let g = truth.objects[o].box
                    let gt = (x1: g.x, y1: g.y, x2: g.x + g.width, y2: g.y + g.height)
                    let areaG = boxArea(gt, .inclusive)
                    // Disjoint: the devkit divides an intersection of 0 by the union.
                    let overlap = boxOverlap(b, area: areaB, gt, area: areaG, pixels: .inclusive) ?? 0 / (areaB + areaG)
                    if overlap > best { best = overlap; bestIndex = j }
                }
                var hit = 0.0, miss = 0.0
                if best > iouThreshold {
                    if !truth.objects[objects[bestIndex]].isDifficult {
                        var flags = used[d.imageId] ?? [Bool](repeating: false, count: objects.count)
                        if !flags[bestIndex] {
                            hit = 1
                            flags[bestIndex] = true
                            used[d.imageId] = flags
                        } else {
                            miss = 1
                        }
                    }
                } else {
                    miss = 1
                }
                tp.append((tp.last ?? 0) + hit)
                fp.append((fp.last ?? 0) + miss)
            }
            let recall = tp.map { $0 / Double(positives) }
            let precision = zip(tp, fp).map { $0 / max($0 + $1, Double.ulpOfOne) }
            let ap = positives == 0 ? Double.nan : averagePrecision(recall: recall, precision: precision)
            return ClassResult(categoryId: c, ap: ap, positives: positives, detections: mine.count,
                               recall: recall, precision: precision)
        }
    }

    /// Mean AP over the classes that have positives.
    public static func mean(_ results: [ClassResult]) -> Double {
        let defined = results.filter { !$0.ap.isNaN }
        return defined.isEmpty ? .nan : defined.reduce(0) { $0 + $1.ap } / Double(defined.count)
    }

    func averagePrecision(recall: [Double], precision: [Double]) -> Double {
        switch interpolation {
        case .elevenPoint:
            var ap = 0.0
            for i in 0...10 {
                let t = Double(i) * 0.1 // numpy arange(0., 1.1, 0.1)
                var p = 0.0
                var any = false
                for (r, q) in zip(recall, precision) where r >= t {
                    p = any ? max(p, q) : q
                    any = true
                }
                ap += (any ? p : 0) / 11
            }
            return ap
        case .allPoints:
            let mrec = [0.0] + recall + [1.0]
            var mpre = [0.0] + precision + [0.0]
            for i in stride(from: mpre.count - 1, to: 0, by: -1) { mpre[i - 1] = max(mpre[i - 1], mpre[i]) }
            var ap = 0.0
            for i in 0..<(mrec.count - 1) where mrec[i + 1] != mrec[i] {
                ap += (mrec[i + 1] - mrec[i]) * mpre[i + 1]
            }
            return ap
        }
    }
}
