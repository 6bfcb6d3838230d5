import CVSegCore
#if canImport(Glibc)
import Glibc // log from the C library
#endif

/// Measures that compare two partitions of an image: a predicted segmentation S (any number of
/// regions, labels of any value) and a ground-truth segmentation G, from their
/// ``ContingencyTable`` n_ij = |S_i ∩ G_j|, with a_i = |S_i|, b_j = |G_j| and N = Σ n_ij.
///
/// - **Variation of information** (Meilă, "Comparing clusterings — an information based
///   distance", J. Multivariate Analysis 98(5), 2007):
///   VI(S, G) = H(S|G) + H(G|S), with
///   H(S|G) = −Σ_ij (n_ij/N) log(n_ij/b_j) (over-segmentation, "false splits": 0 when S refines G) and
///   H(G|S) = −Σ_ij (n_ij/N) log(n_ij/a_i) (under-segmentation, "false merges": 0 when G refines S).
///   The unit is the **bit** (log base 2), as `skimage.metrics.variation_of_information`
///   (scikit-image 0.26, `_xlogx` uses `np.log2`) and the BSDS500 benchmark
///   (`match_segmentations2.m`, `log2`) compute it; `…Nats` values are the same in natural log
///   (bits × ln 2). `variation_of_information(image0=G, image1=S)` returns
///   `[H(S|G), H(G|S)]` in that order: ``overSegmentation``, then ``underSegmentation``.
///   Lower is better; 0 for identical partitions.
/// - **Segmentation covering** (Arbelaez, Maire, Fowlkes, Malik, "Contour detection and
///   hierarchical image segmentation", IEEE TPAMI 33(5), 2011, section 3.2): with the overlap
///   O(R, R') = |R ∩ R'| / |R ∪ R'|, the covering of G by S is
///   C(S → G) = (1/N) Σ_{R ∈ G} |R| · max_{R' ∈ S} O(R, R') (``covering``, the number BSDS reports:
///   each ground-truth region is matched with its best predicted region), and
///   C(G → S) = (1/N) Σ_{R' ∈ S} |R'| · max_{R ∈ G} O(R', R) (``reverseCovering``). Higher is
///   better; 1 for identical partitions.
/// - **Rand index** (Rand, JASA 1971): the fraction of unordered pairs of distinct pixels on which
///   the two partitions agree (both together or both apart),
///   RI = 1 − (Σ a_i²/2 + Σ b_j²/2 − Σ n_ij²) / (N(N−1)/2), the BSDS benchmark's formula, which is
///   exact. Averaged over annotators it is the probabilistic Rand index (Unnikrishnan, Pantofaru,
///   Hebert, IEEE TPAMI 29(6), 2007).
///
/// A zero denominator (N = 0; N = 1 for the Rand index) gives NaN.
public struct PartitionScores: Sendable, Equatable {
    /// N, the pixels compared.
    public let pixels: Int
    /// Predicted regions (rows of the table: labels with a counted pixel).
    public let predictedRegions: Int
    /// Ground-truth regions (columns of the table).
    public let truthRegions: Int
    /// H(S|G) in nats.
    public let overSegmentationNats: Double
    /// H(G|S) in nats.
    public let underSegmentationNats: Double
    /// C(S → G): the ground truth covered by the prediction.
    public let covering: Double
    /// C(G → S): the prediction covered by the ground truth.
    public let reverseCovering: Double
    /// Σ_{R ∈ G} |R| · max O(R, R'): ``covering`` × N, for pooling over images as BSDS does.
    public let coveredPixels: Double
    /// Rand index.
    public let randIndex: Double

    /// H(S|G) in bits (scikit-image's first value).
    public var overSegmentation: Double { overSegmentationNats / Self.ln2 }
    /// H(G|S) in bits (scikit-image's second value).
    public var underSegmentation: Double { underSegmentationNats / Self.ln2 }
    /// VI = H(S|G) + H(G|S) in bits.
    public var variationOfInformation: Double { (overSegmentationNats + underSegmentationNats) / Self.ln2 }
    /// VI in nats.
    public var variationOfInformationNats: Double { overSegmentationNats + underSegmentationNats }

    static let ln2 = 0.693147180559945309417232121458176568

    /// The measures of one table.
    public init(_ table: ContingencyTable) {
        let n = table.pixels
        pixels = n
        predictedRegions = table.rows
        truthRegions = table.columnCount
        guard n > 0 else {
            overSegmentationNats = .nan; underSegmentationNats = .nan
            covering = .nan; reverseCovering = .nan; coveredPixels = .nan; randIndex = .nan
            return
        }
        let a = table.predictedSizes, b = table.truthSizes
        var hSG = 0.0, hGS = 0.0
        var bestForColumn = [Double](repeating: 0, count: table.columnCount)
        var reverse = 0.0
        var sumCellSquares = 0.0
        for i in 0..<table.rows {
            var bestForRow = 0.0
            let ai = a[i]
            for k in table.rowStart[i]..<table.rowStart[i + 1] {
                let j = table.columns[k], nij = table.counts[k], bj = b[j]
                let c = Double(nij)
                // Both terms are ≥ 0 (n_ij ≤ a_i, b_j): no cancellation.
                hSG += c * log(Double(bj) / c)
                hGS += c * log(Double(ai) / c)
                let overlap = c / Double(ai + bj - nij)
                bestForRow = max(bestForRow, overlap)
                bestForColumn[j] = max(bestForColumn[j], overlap)
                sumCellSquares += c * c
            }
            reverse += Double(ai) * bestForRow
        }
        var covered = 0.0
        for j in 0..<table.columnCount { covered += Double(b[j]) * bestForColumn[j] }
        let total = Double(n)
        overSegmentationNats = hSG / total
        underSegmentationNats = hGS / total
        coveredPixels = covered
        covering = covered / total
        reverseCovering = reverse / total
        let sumA = a.reduce(0.0) { $0 + Double($1) * Double($1) }, sumB = b.reduce(0.0) { $0 + Double($1) * Double($1) }
        let pairs = total * (total - 1) / 2
        randIndex = pairs == 0 ? .nan : 1 - (sumA / 2 + sumB / 2 - sumCellSquares) / pairs
    }

    /// The measures of two label maps of the same size (see ``ContingencyTable``).
    /// - Throws: ``CVSegError/invalidArgument(_:)`` when the sizes differ.
    public init(predicted: LabelMap, truth: LabelMap, ignoreLabel: Int32? = nil) throws {
        self.init(try ContingencyTable(predicted: predicted, truth: truth, ignoreLabel: ignoreLabel))
    }
}

/// Partition measures averaged over several comparisons: the annotators of one image, or the
/// images of a dataset. Each field is the mean over the comparisons where it is defined (not
/// NaN), as numpy's `nanmean`; NaN when none is.
public struct PartitionAverages: Sendable, Equatable {
    /// VI in bits; its two parts H(S|G) and H(G|S) in bits; VI in nats.
    public var variationOfInformation: Double, overSegmentation: Double, underSegmentation: Double
    public var variationOfInformationNats: Double
    /// C(S → G) and C(G → S).
    public var covering: Double, reverseCovering: Double
    /// Rand index (its mean over annotators is the probabilistic Rand index).
    public var randIndex: Double
    /// Regions of the prediction and of the ground truth.
    public var predictedRegions: Double, truthRegions: Double

    public init(variationOfInformation: Double, overSegmentation: Double, underSegmentation: Double,
                variationOfInformationNats: Double, covering: Double, reverseCovering: Double, randIndex: Double,
                predictedRegions: Double, truthRegions: Double) {
        self.variationOfInformation = variationOfInformation
        self.overSegmentation = overSegmentation
        self.underSegmentation = underSegmentation
        self.variationOfInformationNats = variationOfInformationNats
        self.covering = covering
        self.reverseCovering = reverseCovering
        self.randIndex = randIndex
        self.predictedRegions = predictedRegions
        self.truthRegions = truthRegions
    }

    /// One comparison's values.
    public init(_ s: PartitionScores) {
        self.init(variationOfInformation: s.variationOfInformation, overSegmentation: s.overSegmentation,
                  underSegmentation: s.underSegmentation, variationOfInformationNats: s.variationOfInformationNats,
                  covering: s.covering, reverseCovering: s.reverseCovering, randIndex: s.randIndex,
                  predictedRegions: Double(s.predictedRegions), truthRegions: Double(s.truthRegions))
    }

    /// The field-wise mean (over defined values) of `items`; all NaN for none.
    public static func mean(_ items: [PartitionAverages]) -> PartitionAverages {
        func m(_ f: (PartitionAverages) -> Double) -> Double {
            var sum = 0.0, count = 0
            for item in items {
                let v = f(item)
                if !v.isNaN { sum += v; count += 1 }
            }
            return count == 0 ? .nan : sum / Double(count)
        }
        return PartitionAverages(variationOfInformation: m(\.variationOfInformation), overSegmentation: m(\.overSegmentation),
                                 underSegmentation: m(\.underSegmentation), variationOfInformationNats: m(\.variationOfInformationNats),
                                 covering: m(\.covering), reverseCovering: m(\.reverseCovering), randIndex: m(\.randIndex),
                                 predictedRegions: m(\.predictedRegions), truthRegions: m(\.truthRegions))
    }
}

/// One image compared with each of its annotators (BSDS500 has 4 to 9 per image).
///
/// The image's value of a measure is the **mean over its annotators** (as the BSDS500 benchmark
/// does for the probabilistic Rand index and VI, `match_segmentations2.m`); ``best`` holds, per
/// measure, the annotator that agrees best with the prediction (lowest VI, highest covering and
/// Rand index, each chosen separately; the VI parts and the ground-truth region count are those
/// of the lowest-VI annotator).
public struct PartitionImageScores: Sendable, Equatable {
    /// One entry per annotator, in the order given.
    public let annotators: [PartitionScores]

    public init(annotators: [PartitionScores]) {
        precondition(!annotators.isEmpty, "an image needs at least one annotator")
        self.annotators = annotators
    }

    /// Means over the annotators.
    public var mean: PartitionAverages { PartitionAverages.mean(annotators.map(PartitionAverages.init)) }

    /// The best annotator of each measure; NaN values never win.
    public var best: PartitionAverages {
        func pick(_ better: (Double, Double) -> Bool, _ f: (PartitionScores) -> Double) -> PartitionScores? {
            var chosen: PartitionScores?
            for s in annotators where !f(s).isNaN {
                if let c = chosen, !better(f(s), f(c)) { continue }
                chosen = s
            }
            return chosen
        }
        let vi = pick(<, \.variationOfInformation)
        return PartitionAverages(
            variationOfInformation: vi?.variationOfInformation ?? .nan, overSegmentation: vi?.overSegmentation ?? .nan,
            underSegmentation: vi?.underSegmentation ?? .nan, variationOfInformationNats: vi?.variationOfInformationNats ?? .nan,
            covering: pick(>, \.covering)?.covering ?? .nan,
            reverseCovering: pick(>, \.reverseCovering)?.reverseCovering ?? .nan,
            randIndex: pick(>, \.randIndex)?.randIndex ?? .nan,
            predictedRegions: Double(annotators[0].predictedRegions), truthRegions: vi.map { Double($0.truthRegions) } ?? .nan)
    }
}

/// A dataset's partition measures: the **mean over images** of each image's mean over its
/// annotators (``PartitionImageScores``), and the same for the best annotators.
///
/// ``pooledCovering`` is the BSDS500 benchmark's own pooling of the covering
/// (`evaluation_reg_image.m` / `collect_eval_reg.m`): Σ over every image and annotator of
/// Σ_{R ∈ G} |R| max O(R, R'), over Σ of their pixel counts. It weights each image by its pixels
/// times its number of annotators, so it differs slightly from ``mean``'s covering.
public struct PartitionDatasetScores: Sendable, Equatable {
    public private(set) var images: [PartitionImageScores] = []

    public init() {}

    public mutating func add(_ image: PartitionImageScores) { images.append(image) }

    /// Mean over images of the per-image means over annotators.
    public var mean: PartitionAverages { PartitionAverages.mean(images.map(\.mean)) }
    /// Mean over images of the per-image best annotators.
    public var best: PartitionAverages { PartitionAverages.mean(images.map(\.best)) }
    /// Covering pooled over all images and annotators (BSDS500's convention).
    public var pooledCovering: Double {
        var covered = 0.0, pixels = 0
        for image in images {
            for s in image.annotators where s.pixels > 0 {
                covered += s.coveredPixels
                pixels += s.pixels
            }
        }
        return pixels == 0 ? .nan : covered / Double(pixels)
    }
}

/// The oracle foreground labelling of a partition against binary ground truth, accumulated
/// into one two-class confusion matrix over the whole dataset.
///
/// This is how a label map (regions without classes) becomes foreground and background: each
/// predicted region goes to the ground-truth class that holds the majority of its pixels —
/// foreground (ground truth ≠ 0) when it has strictly more foreground than background pixels,
/// background otherwise (ties go to background). The resulting foreground IoU,
/// TP / (TP + FP + FN), is the upper bound that an ideal classifier of whole regions reaches on
/// this partition: the "achievable segmentation accuracy" convention of superpixel benchmarks
/// (Liu, Tuzel, Ramalingam, Chellappa, "Entropy rate superpixel segmentation", CVPR 2011),
/// here scored as foreground IoU. It rewards over-segmentation (one region per pixel scores 1),
/// so read it next to the number of regions.
public struct OracleForeground: Sendable, Equatable {
    /// counts[truth * 2 + predicted] with 0 = background, 1 = foreground.
    public private(set) var matrix = ConfusionMatrix(classes: 2)

    public init() {}

    /// Pixels of each row (predicted region) of `table` on ground-truth labels ≠ 0.
    public static func foregroundPixels(_ table: ContingencyTable) -> [Int] {
        (0..<table.rows).map { i in
            var foreground = 0
            for k in table.rowStart[i]..<table.rowStart[i + 1] where table.truthLabels[table.columns[k]] != 0 {
                foreground += table.counts[k]
            }
            return foreground
        }
    }

    /// Whether each row (predicted region) of `table` is labelled foreground: strictly more of
    /// its pixels on ground-truth labels ≠ 0 than on label 0.
    public static func foregroundRegions(_ table: ContingencyTable) -> [Bool] {
        zip(foregroundPixels(table), table.predictedSizes).map { 2 * $0 > $1 }
    }

    /// Adds one image; `table`'s ground truth is binary: label 0 background, any other label
    /// foreground.
    public mutating func add(_ table: ContingencyTable) {
        var counts = matrix.counts
        for (foreground, size) in zip(Self.foregroundPixels(table), table.predictedSizes) {
            let p = 2 * foreground > size ? 1 : 0
            counts[1 * 2 + p] += foreground
            counts[0 * 2 + p] += size - foreground
        }
        matrix = ConfusionMatrix(classes: 2, counts: counts)
    }

    /// Adds another accumulation (e.g. one worker's).
    public mutating func add(_ other: OracleForeground) { matrix.add(other.matrix) }

    /// Foreground IoU, precision, recall and more of the oracle labelling.
    public var metrics: BinaryMetrics { BinaryMetrics(matrix) }
    /// Foreground IoU of the oracle labelling (NaN when there is no foreground at all).
    public var iou: Double { metrics.iou }
}
