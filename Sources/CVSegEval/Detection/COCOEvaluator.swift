import CVSegCore

/// `count` evenly spaced values from `start` to `stop`, computed as numpy's `linspace` does
/// (`i * step + start`, the last set to `stop`), so that thresholds are bit-identical to
/// pycocotools' (the ninth IoU threshold is 0.8999999999999999, not 0.9).
public func linspace(_ start: Double, _ stop: Double, _ count: Int) -> [Double] {
    precondition(count >= 1, "linspace needs at least one value")
    if count == 1 { return [start] }
    let step = (stop - start) / Double(count - 1)
    var values = (0..<count).map { Double($0) * step + start }
    values[count - 1] = stop
    return values
}

/// COCO's box-detection evaluation, step for step as pycocotools' `COCOeval` (iouType `bbox`):
/// the same IoU (crowd regions by intersection over detection area), greedy matching in score
/// order with ties kept in file order, area ranges from the ground truth's `area` field,
/// maxDets truncation per image, 101-point interpolated precision, and the 12 summary numbers.
///
/// References: T.-Y. Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014;
/// pycocotools `cocoeval.py`.
public struct COCOEvaluator: Sendable {
    public struct AreaRange: Sendable {
        public var name: String
        public var low: Double
        public var high: Double
    }

    public var iouThresholds = linspace(0.5, 0.95, 10)
    public var recallThresholds = linspace(0, 1, 101)
    public var maxDetections = [1, 10, 100]
    public var areaRanges = [AreaRange(name: "all", low: 0, high: 1e10),
                             AreaRange(name: "small", low: 0, high: 32 * 32),
                             AreaRange(name: "medium", low: 32 * 32, high: 96 * 96),
                             AreaRange(name: "large", low: 96 * 96, high: 1e10)]

    public init() {}

    /// The result: `precision[t][r][k][a][m]` and `recall[t][k][a][m]` (-1 where undefined), with
    /// k over categories in ascending id order, flattened row-major.
    public struct Result: Sendable {
        public let categoryIds: [Int]
        public let iouThresholds: [Double]
        public let recallThresholds: [Double]
        public let areaRanges: [AreaRange]
        public let maxDetections: [Int]
        public let precision: [Double]
        public let recall: [Double]
        /// Detections left out because their category is not in the ground truth (pycocotools
        /// leaves them out too: it evaluates the ground truth's categories only).
        public let unknownCategoryDetections: Int

        public var dimensions: (t: Int, r: Int, k: Int, a: Int, m: Int) {
            (iouThresholds.count, recallThresholds.count, categoryIds.count, areaRanges.count, maxDetections.count)
        }

        public func precision(t: Int, r: Int, k: Int, a: Int, m: Int) -> Double {
            let d = dimensions
            return precision[(((t * d.r + r) * d.k + k) * d.a + a) * d.m + m]
        }

        public func recall(t: Int, k: Int, a: Int, m: Int) -> Double {
            let d = dimensions
            return recall[((t * d.k + k) * d.a + a) * d.m + m]
        }

        /// pycocotools' `summarize()` numbers: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100,
        /// ARs, ARm, ARl (-1 where no category has data).
        public var stats: [Double] {
            let last = maxDetections.count - 1
            return [
                summarize(ap: true, iou: nil, area: 0, maxDet: last),
                summarize(ap: true, iou: 0, area: 0, maxDet: last),
                summarize(ap: true, iou: iouThresholds.count > 5 ? 5 : nil, area: 0, maxDet: last),
                summarize(ap: true, iou: nil, area: 1, maxDet: last),
                summarize(ap: true, iou: nil, area: 2, maxDet: last),
                summarize(ap: true, iou: nil, area: 3, maxDet: last),
                summarize(ap: false, iou: nil, area: 0, maxDet: 0),
                summarize(ap: false, iou: nil, area: 0, maxDet: min(1, last)),
                summarize(ap: false, iou: nil, area: 0, maxDet: last),
                summarize(ap: false, iou: nil, area: 1, maxDet: last),
                summarize(ap: false, iou: nil, area: 2, maxDet: last),
                summarize(ap: false, iou: nil, area: 3, maxDet: last),
            ]
        }

        /// Mean of the defined (> -1) entries for one IoU threshold index (nil: all), area and
        /// maxDets index; -1 when there are none.
        public func summarize(ap: Bool, iou: Int?, area: Int, maxDet: Int) -> Double {
            let d = dimensions
            var sum = 0.0, count = 0
            for t in 0..<d.t where iou == nil || iou == t {
                for k in 0..<d.k {
                    if ap {
                        for r in 0..<d.r {
                            let v = precision(t: t, r: r, k: k, a: area, m: maxDet)
                            if v > -1 { sum += v; count += 1 }
                        }
                    } else {
                        let v = recall(t: t, k: k, a: area, m: maxDet)
                        if v > -1 { sum += v; count += 1 }
                    }
                }
            }
            return count == 0 ? -1 : sum / Double(count)
        }

        /// Per-category AP over all IoU thresholds (area all, the largest maxDets), and at IoU
        /// 0.5; -1 for a category without ground truth.
        public func categoryAP(_ k: Int, iou: Int? = nil) -> Double {
            let d = dimensions
            var sum = 0.0, count = 0
            for t in 0..<d.t where iou == nil || iou == t {
                for r in 0..<d.r {
                    let v = precision(t: t, r: r, k: k, a: 0, m: d.m - 1)
                    if v > -1 { sum += v; count += 1 }
                }
            }
            return count == 0 ? -1 : sum / Double(count)
        }
    }

    /// Per image and category, the outcome of matching at every IoU threshold.
    private struct ImageEval {
        var scores: [Double]        // detections, best first (at most maxDetections.last)
        var matched: [Bool]         // [t * D + d]
        var ignored: [Bool]         // [t * D + d]
        var countedTruth: Int       // ground truth not ignored in this area range
    }

    /// Evaluates `detections` against `truth`.
    /// - Throws: ``CVSegError/invalidContent(file:reason:)`` for a detection whose image is not
    ///   in the ground truth (pycocotools asserts). Detections of categories the ground truth
    ///   does not have are left out and counted in the result.
    public func evaluate(_ detections: [DetectedObject], truth: DetectionGroundTruth,
                         detectionsFile: String = "detections") throws -> Result {
        let imageIds = Set(truth.images.map(\.id)).sorted()
        let categoryIds = Set(truth.categories.map(\.id)).sorted()
        let imageIndex = Dictionary(uniqueKeysWithValues: imageIds.enumerated().map { ($1, $0) })
        let categoryIndex = Dictionary(uniqueKeysWithValues: categoryIds.enumerated().map { ($1, $0) })
        let (I, K, A, M, T, R) = (imageIds.count, categoryIds.count, areaRanges.count, maxDetections.count,
                                  iouThresholds.count, recallThresholds.count)
        // Group by (category, image), keeping file order.
        var truthGroups = [[Int]](repeating: [], count: K * I)
        for (n, object) in truth.objects.enumerated() {
            guard let i = imageIndex[object.imageId], let k = categoryIndex[object.categoryId] else { continue }
            truthGroups[k * I + i].append(n)
        }
        var detectionGroups = [[Int]](repeating: [], count: K * I)
        var unknownCategory = 0
        for (n, d) in detections.enumerated() {
            guard let i = imageIndex[d.imageId] else {
                throw CVSegError.invalidContent(file: detectionsFile,
                                                reason: "detection [\(n)]: image_id \(d.imageId) is not in the ground truth")
            }
            guard let k = categoryIndex[d.categoryId] else {
                unknownCategory += 1
                continue
            }
            detectionGroups[k * I + i].append(n)
        }
        let maxDet = maxDetections.last ?? 100
        var evals = [ImageEval?](repeating: nil, count: K * A * I)
        for k in 0..<K {
            for i in 0..<I {
                let g = truthGroups[k * I + i].map { truth.objects[$0] }
                // Best score first; equal scores keep file order (numpy's stable mergesort).
                let d = stableSortedByScore(detectionGroups[k * I + i].map { detections[$0] }).prefix(maxDet)
                if g.isEmpty && d.isEmpty { continue }
                let ious = iouMatrix(Array(d), g)
                for a in 0..<A {
                    evals[(k * A + a) * I + i] = evaluateImage(Array(d), g, ious: ious, area: areaRanges[a])
                }
            }
        }
        var precision = [Double](repeating: -1, count: T * R * K * A * M)
        var recall = [Double](repeating: -1, count: T * K * A * M)
        for k in 0..<K {
            for a in 0..<A {
                let group = (0..<I).compactMap { evals[(k * A + a) * I + $0] }
                if group.isEmpty { continue }
                let countedTruth = group.reduce(0) { $0 + $1.countedTruth }
                if countedTruth == 0 { continue }
                for (m, limit) in maxDetections.enumerated() {
                    accumulate(group, limit: limit, countedTruth: countedTruth) { t, values, lastRecall in
                        for r in 0..<R { precision[(((t * R + r) * K + k) * A + a) * M + m] = values[r] }
                        recall[((t * K + k) * A + a) * M + m] = lastRecall
                    }
                }
            }
        }
        return Result(categoryIds: categoryIds, iouThresholds: iouThresholds, recallThresholds: recallThresholds,
                      areaRanges: areaRanges, maxDetections: maxDetections, precision: precision, recall: recall,
                      unknownCategoryDetections: unknownCategory)
    }

    private func stableSortedByScore(_ d: [DetectedObject]) -> [DetectedObject] {
        d.enumerated().sorted { $0.element.score != $1.element.score ? $0.element.score > $1.element.score : $0.offset < $1.offset }
            .map(\.element)
    }

    /// `ious[d * G + g]`, as pycocotools' `maskUtils.iou` on boxes: a crowd region's overlap is
    /// intersection over the detection's area.
    private func iouMatrix(_ d: [DetectedObject], _ g: [GroundTruthObject]) -> [Double] {
        var ious = [Double](repeating: 0, count: d.count * g.count)
        for (di, det) in d.enumerated() {
            let db = det.box
            let da = db.width * db.height
            for (gi, truth) in g.enumerated() {
                let gb = truth.box
                if let overlap = boxOverlap((db.x, db.y, db.x + db.width, db.y + db.height), area: da,
                                            (gb.x, gb.y, gb.x + gb.width, gb.y + gb.height),
                                            area: gb.width * gb.height,
                                            denominator: truth.isCrowd ? .firstArea : .union) {
                    ious[di * g.count + gi] = overlap
                }
            }
        }
        return ious
    }

    /// pycocotools' `evaluateImg` for one image, category and area range.
    private func evaluateImage(_ d: [DetectedObject], _ g: [GroundTruthObject], ious: [Double],
                               area: AreaRange) -> ImageEval {
        let T = iouThresholds.count, D = d.count, G = g.count
        // Ground truth outside the area range (or crowd) is ignored; non-ignored first, stable.
        let gtIgnore = g.map { $0.isCrowd || $0.area < area.low || $0.area > area.high }
        let order = (0..<G).filter { !gtIgnore[$0] } + (0..<G).filter { gtIgnore[$0] }
        var gtMatched = [Bool](repeating: false, count: T * G)
        var matched = [Bool](repeating: false, count: T * D)
        var ignored = [Bool](repeating: false, count: T * D)
        if D > 0 && G > 0 {
            for t in 0..<T {
                for di in 0..<D {
                    var best = min(iouThresholds[t], 1 - 1e-10)
                    var m = -1
                    for (position, gi) in order.enumerated() {
                        if gtMatched[t * G + position] && !g[gi].isCrowd { continue }
                        if m > -1 && !gtIgnore[order[m]] && gtIgnore[gi] { break }
                        let iou = ious[di * G + gi]
                        if iou < best { continue }
                        best = iou
                        m = position
                    }
                    if m == -1 { continue }
                    let gi = order[m]
                    ignored[t * D + di] = gtIgnore[gi]
                    // pycocotools stores the ground truth's id as the match: id 0 reads as "no match".
                    matched[t * D + di] = g[gi].id != 0
                    gtMatched[t * G + m] = true
                }
            }
        }
        for di in 0..<D {
            let a = d[di].box.width * d[di].box.height
            if a < area.low || a > area.high {
                for t in 0..<T where !matched[t * D + di] { ignored[t * D + di] = true }
            }
        }
        return ImageEval(scores: d.map(\.score), matched: matched, ignored: ignored,
                         countedTruth: gtIgnore.reduce(0) { $0 + ($1 ? 0 : 1) })
    }

    /// pycocotools' `accumulate` for one category, area range and maxDets.
    private func accumulate(_ group: [ImageEval], limit: Int, countedTruth: Int,
                            store: (Int, [Double], Double) -> Void) {
        // (image position, detection index) of every kept detection, image order then score order.
        var entries: [(e: Int, d: Int, score: Double)] = []
        for (e, image) in group.enumerated() {
            for d in 0..<min(limit, image.scores.count) { entries.append((e, d, image.scores[d])) }
        }
        let order = entries.indices.sorted {
            entries[$0].score != entries[$1].score ? entries[$0].score > entries[$1].score : $0 < $1
        }
        let T = iouThresholds.count, R = recallThresholds.count
        let eps = Double.ulpOfOne // np.spacing(1)
        var precisionAt = [Double](repeating: 0, count: R)
        var rc: [Double] = [], pr: [Double] = []
        rc.reserveCapacity(order.count); pr.reserveCapacity(order.count)
        for t in 0..<T {
            rc.removeAll(keepingCapacity: true)
            pr.removeAll(keepingCapacity: true)
            var tp = 0.0, fp = 0.0
            for index in order {
                let entry = entries[index]
                let image = group[entry.e]
                let D = image.scores.count
                if image.ignored[t * D + entry.d] { 
                    // Neither a hit nor a false alarm, but it still occupies its place.
                } else if image.matched[t * D + entry.d] {
                    tp += 1
                } else {
                    fp += 1
                }
                rc.append(tp / Double(countedTruth))
                pr.append(tp / (fp + tp + eps))
            }
            let lastRecall = rc.last ?? 0
            // Precision envelope: non-increasing from the right.
            if pr.count > 1 {
                for i in stride(from: pr.count - 1, to: 0, by: -1) where pr[i] > pr[i - 1] { pr[i - 1] = pr[i] }
            }
            for r in 0..<R { precisionAt[r] = 0 }
            for (r, threshold) in recallThresholds.enumerated() {
                // First position whose recall reaches the threshold (numpy searchsorted, left).
                var lo = 0, hi = rc.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if rc[mid] < threshold { lo = mid + 1 } else { hi = mid }
                }
                if lo >= pr.count { break }
                precisionAt[r] = pr[lo]
            }
            store(t, precisionAt, lastRecall)
        }
    }
}
