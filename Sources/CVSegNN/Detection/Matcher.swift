import CVSegCore

/// What the ``Matcher`` decided for one prediction (anchor or proposal).
public enum Match: Sendable, Hashable {
    /// Assigned to this ground-truth box (an index into the ground truth): a positive.
    case matched(Int)
    /// Best quality below the low threshold: a negative (background).
    case belowLowThreshold
    /// Best quality in `[low, high)`: neither, ignored by the losses.
    case betweenThresholds

    /// torchvision's integer encoding: the ground-truth index, `−1` (`BELOW_LOW_THRESHOLD`) or
    /// `−2` (`BETWEEN_THRESHOLDS`).
    public var code: Int {
        switch self {
        case .matched(let i): i
        case .belowLowThreshold: -1
        case .betweenThresholds: -2
        }
    }

    /// The match from torchvision's encoding; `nil` for codes below −2.
    public init?(code: Int) {
        switch code {
        case 0...: self = .matched(code)
        case -1: self = .belowLowThreshold
        case -2: self = .betweenThresholds
        default: return nil
        }
    }

    /// The ground-truth index when matched.
    public var groundTruth: Int? { if case .matched(let i) = self { i } else { nil } }
}

/// Assigns ground-truth boxes to predictions by match quality (IoU): torchvision's `Matcher`
/// (`torchvision.models.detection._utils`), with the same results on every quality matrix.
///
/// For each prediction, the ground truth with the highest quality is its candidate (the first
/// one among equal qualities; a NaN quality wins, the first NaN among several, as `torch.max`
/// along a dimension). With best quality `q`:
/// `q ≥ high` → ``Match/matched(_:)``; `low ≤ q < high` → ``Match/betweenThresholds``;
/// `q < low` → ``Match/belowLowThreshold``. Thresholds are `Float` and compared with the `Float`
/// quality (PyTorch compares a float32 tensor with a Python number in float32: an IoU of
/// `Float(0.7)` is `≥ 0.7`). A NaN quality (two zero-area boxes: 0 / 0) is neither below nor
/// between, so the prediction stays matched to that ground truth, as in torchvision.
///
/// With ``allowLowQualityMatches`` (the RPN's setting) every ground truth also claims the
/// predictions it overlaps best, so that each has at least one positive: for each ground truth,
/// every prediction whose quality equals that ground truth's row maximum (ties included) gets
/// back its candidate, the best ground truth *of the prediction*, which can be another box
/// than the one whose maximum it was. A ground truth that overlaps nothing has row maximum 0,
/// so then every prediction with quality 0 to it, which may be all of them, is matched to its
/// candidate (a torchvision behaviour kept for parity).
///
/// Departure: with no ground truth every prediction is ``Match/belowLowThreshold`` (torchvision
/// raises, and its RPN and RoI heads then label everything background themselves).
public struct Matcher: Sendable, Hashable {
    /// Predictions whose best quality reaches this are matched.
    public var highThreshold: Float
    /// Predictions whose best quality stays below this are background.
    public var lowThreshold: Float
    /// Let every ground truth claim its best predictions, however low their quality.
    public var allowLowQualityMatches: Bool

    /// - Throws: `invalidArgument` when a threshold is NaN or `lowThreshold > highThreshold`.
    public init(highThreshold: Float, lowThreshold: Float, allowLowQualityMatches: Bool = false) throws {
        guard !highThreshold.isNaN, !lowThreshold.isNaN, lowThreshold <= highThreshold else {
            throw CVSegError.invalidArgument(
                "Matcher: low threshold \(lowThreshold) must not exceed high threshold \(highThreshold)")
        }
        self.highThreshold = highThreshold
        self.lowThreshold = lowThreshold
        self.allowLowQualityMatches = allowLowQualityMatches
    }

    /// The RPN's matcher (Faster R-CNN): 0.7 / 0.3, low-quality matches allowed.
    public static let rpn = try! Matcher(highThreshold: 0.7, lowThreshold: 0.3, allowLowQualityMatches: true)
    /// The Fast R-CNN box head's matcher: foreground at IoU ≥ 0.5, background below.
    public static let roiHeads = try! Matcher(highThreshold: 0.5, lowThreshold: 0.5, allowLowQualityMatches: false)

    /// Matches on a quality matrix.
    /// - Parameters:
    ///   - quality: `[M, N]` row-major: `quality[m · N + n]` is the quality of prediction `n`
    ///     for ground truth `m`.
    ///   - groundTruthCount: M.
    ///   - predictionCount: N.
    /// - Returns: `[N]`, one match per prediction.
    /// - Throws: `invalidArgument` when `quality.count != M · N`.
    /// - Complexity: O(M · N).
    public func match(quality: [Float], groundTruthCount m: Int, predictionCount n: Int) throws -> [Match] {
        guard m >= 0, n >= 0, quality.count == m * n else {
            throw CVSegError.invalidArgument("Matcher: \(quality.count) qualities for \(m) ground truths × \(n) predictions")
        }
        guard m > 0 else { return Array(repeating: .belowLowThreshold, count: n) }
        // Column maxima: the candidate ground truth of each prediction.
        var best = Array(quality[0..<n]), candidate = [Int](repeating: 0, count: n)
        for g in 1..<m {
            for p in 0..<n where !best[p].isNaN {
                let q = quality[g * n + p]
                if q.isNaN || q > best[p] { best[p] = q; candidate[p] = g }
            }
        }
        var out: [Match] = (0..<n).map { p in
            let q = best[p]
            if q < lowThreshold { return .belowLowThreshold }
            if q < highThreshold { return .betweenThresholds }
            return .matched(candidate[p])
        }
        if allowLowQualityMatches {
            for g in 0..<m {
                let row = quality[(g * n)..<(g * n + n)]
                guard var top = row.first else { continue }
                for q in row.dropFirst() where !top.isNaN && (q.isNaN || q > top) { top = q }
                for (p, q) in row.enumerated() where q == top { out[p] = .matched(candidate[p]) }
            }
        }
        return out
    }

    /// Matches predictions to ground-truth boxes by IoU (``boxIoUMatrix(_:_:)``).
    public func match(groundTruth: [Box], predictions: [Box]) throws -> [Match] {
        try match(quality: boxIoUMatrix(groundTruth, predictions), groundTruthCount: groundTruth.count,
                  predictionCount: predictions.count)
    }
}

/// The IoU of every pair, as torchvision's `box_iou`: `[A, B]` row-major, `iou[i · B + j]` for
/// `a[i]` and `b[j]`. Areas are `(x2 − x1) · (y2 − y1)` unclamped, the overlap is CVSegCore's
/// ``boxOverlap(_:area:_:area:denominator:pixels:)`` and disjoint boxes give `0 / (areaA + areaB)`:
/// 0, or NaN for two zero-area boxes (torchvision divides its clamped zero intersection by the
/// union the same way).
/// - Complexity: O(A · B).
public func boxIoUMatrix(_ a: [Box], _ b: [Box]) -> [Float] {
    let tb = b.map { (x1: $0.x1, y1: $0.y1, x2: $0.x2, y2: $0.y2) }
    let areaB = tb.map { boxArea($0) }
    var out = [Float](repeating: 0, count: a.count * b.count)
    for (i, box) in a.enumerated() {
        let ta = (x1: box.x1, y1: box.y1, x2: box.x2, y2: box.y2), areaA = boxArea(ta)
        for j in 0..<tb.count {
            out[i * tb.count + j] = boxOverlap(ta, area: areaA, tb[j], area: areaB[j]) ?? 0 / (areaA + areaB[j])
        }
    }
    return out
}
