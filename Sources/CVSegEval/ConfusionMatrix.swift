import CVSegCore

/// A confusion matrix accumulated over pixels: `counts[gt * classes + pred]`.
///
/// Ground-truth pixels equal to `ignoreLabel` are skipped; a label outside `0..<classes` in the
/// ground truth or the prediction is an error (it would otherwise vanish from every metric).
/// Metrics follow the confusion-matrix definitions of mmsegmentation and torchvision's references:
/// IoU_c = TP / (TP + FP + FN), summed over the whole dataset (not averaged per image).
public struct ConfusionMatrix: Sendable, Equatable {
    public let classes: Int
    public private(set) var counts: [Int]

    public init(classes: Int) {
        precondition(classes > 0, "a confusion matrix needs at least one class")
        self.classes = classes
        counts = [Int](repeating: 0, count: classes * classes)
    }

    /// A matrix from saved counts (`counts[truth * classes + predicted]`).
    public init(classes: Int, counts: [Int]) {
        precondition(classes > 0 && counts.count == classes * classes, "\(counts.count) counts for \(classes) classes")
        self.classes = classes
        self.counts = counts
    }

    public subscript(truth: Int, predicted: Int) -> Int { counts[truth * classes + predicted] }

    /// Adds one image's pixels.
    /// - Throws: ``CVSegError/invalidArgument(_:)`` when the sizes differ or a label is out of range.
    public mutating func add(predicted: LabelMap, truth: LabelMap, ignoreLabel: Int32? = LabelMap.ignoreLabel) throws {
        guard predicted.width == truth.width, predicted.height == truth.height else {
            throw CVSegError.invalidArgument(
                "prediction is \(predicted.width)x\(predicted.height) but ground truth is \(truth.width)x\(truth.height)")
        }
        let k = classes
        // All or nothing: labels are checked before any count changes, so a bad image adds nothing.
        if let bad = firstOutOfRange(predicted: predicted, truth: truth, ignoreLabel: ignoreLabel) {
            throw CVSegError.invalidArgument("label out of range 0..<\(k): ground truth \(bad.gt), prediction \(bad.pred)")
        }
        counts.withUnsafeMutableBufferPointer { m in
            predicted.labels.withUnsafeBufferPointer { p in
                truth.labels.withUnsafeBufferPointer { t in
                    for i in 0..<t.count {
                        let g = t[i]
                        if let ignoreLabel, g == ignoreLabel { continue }
                        m[Int(g) * k + Int(p[i])] += 1
                    }
                }
            }
        }
    }

    private func firstOutOfRange(predicted: LabelMap, truth: LabelMap, ignoreLabel: Int32?) -> (gt: Int32, pred: Int32)? {
        let k = Int32(clamping: classes)
        return predicted.labels.withUnsafeBufferPointer { p in
            truth.labels.withUnsafeBufferPointer { t in
                for i in 0..<t.count {
                    let g = t[i]
                    if let ignoreLabel, g == ignoreLabel { continue }
                    let q = p[i]
                    if g < 0 || g >= k || q < 0 || q >= k { return (g, q) }
                }
                return nil
            }
        }
    }

    /// Adds one image given as 8-bit label images (the gray samples are the labels): the fast
    /// path for mask files, with no conversion to `Int32`. All or nothing, like the ``LabelMap``
    /// version.
    public mutating func add(predicted: Image<UInt8>, truth: Image<UInt8>, ignoreLabel: Int32? = LabelMap.ignoreLabel) throws {
        try addSamples(predicted, truth, ignoreLabel: ignoreLabel)
    }

    /// The same for 16-bit label images.
    public mutating func add(predicted: Image<UInt16>, truth: Image<UInt16>, ignoreLabel: Int32? = LabelMap.ignoreLabel) throws {
        try addSamples(predicted, truth, ignoreLabel: ignoreLabel)
    }

    private mutating func addSamples<S: PixelSample>(_ predicted: Image<S>, _ truth: Image<S>, ignoreLabel: Int32?) throws {
        guard predicted.layout == .gray, truth.layout == .gray else {
            throw CVSegError.invalidArgument("label images must have one channel")
        }
        guard predicted.width == truth.width, predicted.height == truth.height else {
            throw CVSegError.invalidArgument(
                "prediction is \(predicted.width)x\(predicted.height) but ground truth is \(truth.width)x\(truth.height)")
        }
        let k = classes
        let ignore = ignoreLabel.map(Int.init) ?? -1
        // One pass over runs of equal (truth, prediction) pairs: label maps are piecewise
        // constant, so a run is counted with one addition instead of one memory increment per
        // pixel (consecutive increments of the same cell wait on each other). Counts go to a
        // local matrix first, so that a bad image adds nothing.
        var local = [Int](repeating: 0, count: k * k)
        let bad: (gt: Int, pred: Int)? = local.withUnsafeMutableBufferPointer { m in
            predicted.samples.withUnsafeBufferPointer { p in
                truth.samples.withUnsafeBufferPointer { t in
                    Self.countRuns(truth: t, predicted: p, classes: k, ignore: ignore, into: m)
                }
            }
        }
        if let bad {
            throw CVSegError.invalidArgument("label out of range 0..<\(k): ground truth \(bad.gt), prediction \(bad.pred)")
        }
        for i in counts.indices { counts[i] &+= local[i] }
    }

    /// Counts runs of equal (truth, prediction) pairs into `m`; returns the first pair with a
    /// label outside `0..<classes` (truth equal to `ignore` excepted), or nil.
    private static func countRuns<S: PixelSample>(truth t: UnsafeBufferPointer<S>, predicted p: UnsafeBufferPointer<S>,
                                                  classes k: Int, ignore: Int,
                                                  into m: UnsafeMutableBufferPointer<Int>) -> (gt: Int, pred: Int)? {
        let n = t.count
        guard n > 0, let tBase = t.baseAddress, let pBase = p.baseAddress else { return nil }
        let tRaw = UnsafeRawPointer(tBase), pRaw = UnsafeRawPointer(pBase)
        let size = MemoryLayout<S>.stride
        let perWord = 8 / size                      // samples per 64-bit word (8 or 4)
        var i = 0
        while i < n {
            let g = t[i], q = p[i]
            var j = i &+ 1
            if perWord > 1 {
                // Whole words of the run: compare 8 bytes of each map with the value repeated.
                let gWord = UInt64(truncatingIfNeeded: g) &* (size == 1 ? 0x0101_0101_0101_0101 : 0x0001_0001_0001_0001)
                let qWord = UInt64(truncatingIfNeeded: q) &* (size == 1 ? 0x0101_0101_0101_0101 : 0x0001_0001_0001_0001)
                while j &+ perWord <= n
                    && tRaw.loadUnaligned(fromByteOffset: j &* size, as: UInt64.self) == gWord
                    && pRaw.loadUnaligned(fromByteOffset: j &* size, as: UInt64.self) == qWord {
                    j &+= perWord
                }
            }
            while j < n && t[j] == g && p[j] == q { j &+= 1 }
            let gi = Int(g), qi = Int(q)
            if gi != ignore {
                if gi >= k || qi >= k { return (gi, qi) }
                m[gi &* k &+ qi] &+= j &- i
            }
            i = j
        }
        return nil
    }

    /// Adds another matrix of the same size.
    public mutating func add(_ other: ConfusionMatrix) {
        precondition(other.classes == classes, "confusion matrices of different sizes")
        for i in counts.indices { counts[i] += other.counts[i] }
    }

    public var total: Int { counts.reduce(0, +) }
    public func truePositives(_ c: Int) -> Int { self[c, c] }
    public func falsePositives(_ c: Int) -> Int { (0..<classes).reduce(0) { $0 + ($1 == c ? 0 : self[$1, c]) } }
    public func falseNegatives(_ c: Int) -> Int { (0..<classes).reduce(0) { $0 + ($1 == c ? 0 : self[c, $1]) } }
}

/// Foreground metrics of a two-class (background 0, foreground 1) confusion matrix.
/// A ratio whose denominator is zero is NaN (reported as such, never silently 0 or 1).
public struct BinaryMetrics: Sendable, Equatable {
    public let truePositives: Int, falsePositives: Int, falseNegatives: Int, trueNegatives: Int

    public init(_ m: ConfusionMatrix) {
        precondition(m.classes == 2, "binary metrics need a 2-class matrix")
        truePositives = m[1, 1]; falsePositives = m[0, 1]
        falseNegatives = m[1, 0]; trueNegatives = m[0, 0]
    }

    private func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? .nan : Double(a) / Double(b) }
    public var precision: Double { ratio(truePositives, truePositives + falsePositives) }
    public var recall: Double { ratio(truePositives, truePositives + falseNegatives) }
    /// F1 = Dice = 2TP / (2TP + FP + FN).
    public var f1: Double { ratio(2 * truePositives, 2 * truePositives + falsePositives + falseNegatives) }
    /// Intersection over union of the foreground, TP / (TP + FP + FN).
    public var iou: Double { ratio(truePositives, truePositives + falsePositives + falseNegatives) }
    public var accuracy: Double {
        ratio(truePositives + trueNegatives, truePositives + trueNegatives + falsePositives + falseNegatives)
    }
}
