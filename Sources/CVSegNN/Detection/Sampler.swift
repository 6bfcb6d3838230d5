import CVSegCore

/// Picks the examples that enter a detector's classification loss: at most
/// `batchSizePerImage` per image, of which at most a `positiveFraction` share are positives,
/// the rest negatives; ignored examples are never picked. torchvision's
/// `BalancedPositiveNegativeSampler` (`torchvision.models.detection._utils`) with the same
/// counts:
///
///     numPositive = min(#positives, ⌊batchSizePerImage · positiveFraction⌋)
///     numNegative = min(#negatives, batchSizePerImage − numPositive)
///
/// so that an image with few positives is filled up with negatives. Which examples are picked
/// is uniform at random without replacement, like torchvision's, but drawn from cvseg's seeded
/// ``SplitMix64`` (a partial Fisher–Yates shuffle with unbiased bounded draws) rather than
/// `torch.randperm`: the same generator state always picks the same examples, on every platform
/// and Swift version, but not the ones PyTorch would pick.
///
/// Faster R-CNN uses 256 per image at half positives in the RPN, 512 at a quarter in the RoI
/// heads.
public struct BalancedPositiveNegativeSampler: Sendable, Hashable {
    /// The most examples picked per image.
    public var batchSizePerImage: Int
    /// The largest share of positives among them.
    public var positiveFraction: Double

    /// - Throws: `invalidArgument` for a negative batch size or a fraction outside [0, 1].
    public init(batchSizePerImage: Int, positiveFraction: Double) throws {
        guard batchSizePerImage >= 0, positiveFraction >= 0, positiveFraction <= 1 else {
            throw CVSegError.invalidArgument(
                "BalancedPositiveNegativeSampler: batch size \(batchSizePerImage) must be ≥ 0 and fraction \(positiveFraction) in [0, 1]")
        }
        self.batchSizePerImage = batchSizePerImage
        self.positiveFraction = positiveFraction
    }

    /// The RPN's sampler: 256 per image, half positives.
    public static let rpn = try! BalancedPositiveNegativeSampler(batchSizePerImage: 256, positiveFraction: 0.5)
    /// The Fast R-CNN box head's sampler: 512 per image, a quarter positives.
    public static let roiHeads = try! BalancedPositiveNegativeSampler(batchSizePerImage: 512, positiveFraction: 0.25)

    /// How many positives and negatives are picked from `positives` and `negatives` candidates.
    public func counts(positives: Int, negatives: Int) -> (positive: Int, negative: Int) {
        // Python's int(batch * fraction): the product in Double, truncated.
        let pos = min(positives, Int(Double(batchSizePerImage) * positiveFraction))
        return (pos, min(negatives, batchSizePerImage - pos))
    }

    /// Samples one image's examples by label, torchvision's convention: `≥ 1` positive (a class
    /// label, or 1 for the RPN's objectness), `0` negative, anything else (`−1`) ignored.
    /// - Returns: the picked indices into `labels`, ascending (torchvision returns masks).
    public func sample(labels: [Int], generator: inout SplitMix64) -> (positive: [Int], negative: [Int]) {
        pick(positives: labels.indices.filter { labels[$0] >= 1 }, negatives: labels.indices.filter { labels[$0] == 0 },
             generator: &generator)
    }

    /// Samples one image's examples by ``Matcher`` result: matched predictions are positives,
    /// those below the low threshold negatives, those between the thresholds ignored.
    /// - Returns: the picked indices into `matches`, ascending.
    public func sample(matches: [Match], generator: inout SplitMix64) -> (positive: [Int], negative: [Int]) {
        var positives: [Int] = [], negatives: [Int] = []
        for (i, m) in matches.enumerated() {
            switch m {
            case .matched: positives.append(i)
            case .belowLowThreshold: negatives.append(i)
            case .betweenThresholds: break
            }
        }
        return pick(positives: positives, negatives: negatives, generator: &generator)
    }

    private func pick(positives: [Int], negatives: [Int], generator: inout SplitMix64) -> (positive: [Int], negative: [Int]) {
        let n = counts(positives: positives.count, negatives: negatives.count)
        // Positives first, then negatives, from the one generator: the draw is fixed by its state.
        let pos = randomSubset(positives, n.positive, &generator)
        let neg = randomSubset(negatives, n.negative, &generator)
        return (pos, neg)
    }
}

/// `k` distinct elements of `items` chosen uniformly (the first `k` steps of a Fisher–Yates
/// shuffle), sorted ascending; all of `items` when there are no more than `k`.
func randomSubset(_ items: [Int], _ k: Int, _ generator: inout SplitMix64) -> [Int] {
    guard k < items.count else { return items }
    var a = items
    for i in 0..<k { a.swapAt(i, i + uniformBelow(a.count - i, &generator)) }
    return a[..<k].sorted()
}

/// A uniform integer in `0..<bound` (Lemire's multiply-and-reject method: no modulo bias). Kept
/// here rather than `Int.random(in:using:)` so that the draws cannot change with the standard
/// library.
func uniformBelow(_ bound: Int, _ generator: inout SplitMix64) -> Int {
    precondition(bound > 0)
    let b = UInt64(bound)
    var m = generator.next().multipliedFullWidth(by: b)
    if m.low < b {
        let threshold = (0 &- b) % b
        while m.low < threshold { m = generator.next().multipliedFullWidth(by: b) }
    }
    return Int(m.high)
}
