import CVSegCore
#if canImport(Glibc)
import Glibc // log10 from the C library, as doxapy's std::log10
#endif

/// The DIBCO binarization measures, as the DIBCO evaluation tool defines them and doxapy 0.9.9
/// (Δoxa) computes them: F-measure, recall, precision, PSNR, DRD, and with pseudo weights the
/// pseudo F-measure, pseudo-recall and pseudo-precision.
///
/// Convention: **ink is 0** (black, the positive class); any other value is background, as in
/// DIBCO ground truth (1-bit, white paper) and in cvseg's Otsu masks (255 where gray > t).
/// Percentages are 0…100, PSNR is in dB.
///
/// - F-measure = 2RP / (R + P) · 100 with R = TP / (TP + FN), P = TP / (TP + FP); 0 when TP = 0.
/// - PSNR = 10 log10(1 / MSE), MSE = (FP + FN) / pixels (C = 1); +∞ when nothing differs
///   (doxapy returns DBL_MAX there).
/// - DRD = Σ over mismatched pixels k of Σ over the 5×5 window around k (cells inside the image)
///   of W · [GT(cell) ≠ B(k)], divided by NUBN, the number of 8×8 ground-truth blocks (on the
///   ⌊W/8⌋ × ⌊H/8⌋ grid; partial blocks at the right and bottom are ignored) that hold two values.
///   W = 1/√(dx² + dy²) normalised to sum 1, in doxapy's integer form (·1e9, rounded).
///
/// References: K. Ntirogiannis, B. Gatos, I. Pratikakis, "Performance Evaluation Methodology for
/// Historical Document Image Binarization", IEEE TIP 22(2), 2013; H. Lu, A. Kot, Y. Shi,
/// "Distance-reciprocal distortion measure for binary document images", IEEE SPL 11(2), 2004.
public struct DIBCOScores: Sendable, Equatable {
    public let truePositives: Int, falsePositives: Int, falseNegatives: Int, trueNegatives: Int
    public let fMeasure: Double
    public let recall: Double
    public let precision: Double
    public let psnr: Double
    public let drd: Double
    /// Non-uniform 8×8 blocks of the ground truth.
    public let nubn: Int
    /// nil when no pseudo weights were given.
    public let pseudoFMeasure: Double?
    public let pseudoRecall: Double?
    public let pseudoPrecision: Double?

    /// Scores `binarized` against `groundTruth` (same size, `.gray`).
    /// - Parameters:
    ///   - recallWeights, precisionWeights: pseudo weight maps of the ground truth (row-major,
    ///     one per pixel), for the pseudo measures; nil to skip them.
    /// - Throws: ``CVSegError/invalidArgument(_:)`` when the sizes or layouts differ.
    public init(groundTruth g: Image<UInt8>, binarized b: Image<UInt8>,
                recallWeights: [Double]? = nil, precisionWeights: [Double]? = nil) throws {
        guard g.layout == .gray, b.layout == .gray else {
            throw CVSegError.invalidArgument("DIBCO measures need one-channel images")
        }
        guard g.width == b.width, g.height == b.height else {
            throw CVSegError.invalidArgument("binarization is \(b.width)x\(b.height) but ground truth is \(g.width)x\(g.height)")
        }
        var tp = 0, fp = 0, fn = 0, tn = 0
        var wrTP = 0.0, wrFN = 0.0, wpFP = 0.0
        let weighted = recallWeights != nil && precisionWeights != nil
        let rw = recallWeights ?? [], pw = precisionWeights ?? []
        if weighted {
            precondition(rw.count == g.pixelCount && pw.count == g.pixelCount, "weight maps must have one value per pixel")
        }
        g.samples.withUnsafeBufferPointer { gt in
            b.samples.withUnsafeBufferPointer { bin in
                for i in 0..<gt.count {
                    let same = gt[i] == bin[i], ink = bin[i] == 0
                    switch (same, ink) {
                    case (true, true): tp += 1; if weighted { wrTP += rw[i] }
                    case (true, false): tn += 1
                    case (false, true): fp += 1; if weighted { wpFP += pw[i] }
                    case (false, false): fn += 1; if weighted { wrFN += rw[i] }
                    }
                }
            }
        }
        truePositives = tp; falsePositives = fp; falseNegatives = fn; trueNegatives = tn
        if tp == 0 {
            recall = 0; precision = 0; fMeasure = 0
        } else {
            let r = Double(tp) / Double(tp + fn), p = Double(tp) / Double(tp + fp)
            recall = r * 100; precision = p * 100
            fMeasure = ((2 * r * p) / (r + p)) * 100
        }
        let mse = Double(fp + fn) / Double(tp + tn + fp + fn)
        psnr = mse == 0 ? .infinity : 10 * log10(1 / mse)
        let blocks = DIBCOScores.nonUniformBlocks(g)
        nubn = blocks
        // doxapy divides the exact integer sum by NUBN · 1e9 once; 0/0 (nothing differs, no
        // non-uniform block) is NaN and x/0 is +inf there too.
        drd = Double(DIBCOScores.drdSum(g, b) ?? 0) / Double(blocks * 1_000_000_000)
        if weighted {
            // Pseudo-precision charges each false alarm 1 + its precision weight (wpTP is always
            // 0: the precision weights live on background only).
            let pr = wrTP == 0 ? 0 : wrTP / (wrTP + wrFN)
            let pp = tp == 0 ? 0 : Double(tp) / (Double(tp) + (wpFP + Double(fp)))
            pseudoRecall = pr * 100
            pseudoPrecision = pp * 100
            pseudoFMeasure = pr == 0 || pp == 0 ? 0 : (2 * pr * pp) / (pr + pp) * 100
        } else {
            pseudoRecall = nil; pseudoPrecision = nil; pseudoFMeasure = nil
        }
    }

    /// The 5×5 reciprocal-distance weights ·1e9, rounded (doxapy 0.9.9's table).
    static let drdWeights: [UInt64] = [
        25582088, 32359066, 36178535, 32359066, 25582088,
        32359066, 51164175, 72357071, 51164175, 32359066,
        36178535, 72357071, 0, 72357071, 36178535,
        32359066, 51164175, 72357071, 51164175, 32359066,
        25582088, 32359066, 36178535, 32359066, 25582088,
    ]

    /// Σ DRD_k · 1e9 over mismatched pixels, exactly, in integers; nil when nothing differs.
    static func drdSum(_ g: Image<UInt8>, _ b: Image<UInt8>) -> UInt64? {
        let w = g.width, h = g.height
        var sum: UInt64 = 0
        var any = false
        g.samples.withUnsafeBufferPointer { gt in
            b.samples.withUnsafeBufferPointer { bin in
                for y in 0..<h {
                    for x in 0..<w where gt[y * w + x] != bin[y * w + x] {
                        any = true
                        let value = bin[y * w + x]
                        for dy in -2...2 {
                            let yy = y + dy
                            if yy < 0 || yy >= h { continue }
                            for dx in -2...2 {
                                let xx = x + dx
                                if xx < 0 || xx >= w { continue }
                                if gt[yy * w + xx] != value { sum += drdWeights[(dy + 2) * 5 + dx + 2] }
                            }
                        }
                    }
                }
            }
        }
        return any ? sum : nil
    }

    /// 8×8 blocks of the ground truth holding two different values, on the ⌊W/8⌋ × ⌊H/8⌋ grid.
    static func nonUniformBlocks(_ g: Image<UInt8>) -> Int {
        let w = g.width
        var count = 0
        g.samples.withUnsafeBufferPointer { gt in
            for by in 0..<(g.height / 8) {
                for bx in 0..<(w / 8) {
                    let first = gt[by * 8 * w + bx * 8]
                    var mixed = false
                    for y in (by * 8)..<(by * 8 + 8) where !mixed {
                        for x in (bx * 8)..<(bx * 8 + 8) where gt[y * w + x] != first {
                            mixed = true
                            break
                        }
                    }
                    if mixed { count += 1 }
                }
            }
        }
        return count
    }
}

