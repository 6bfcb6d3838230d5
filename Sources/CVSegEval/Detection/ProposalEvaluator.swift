import CVSegCore

/// Region-proposal quality: recall at IoU thresholds against the number of proposals kept,
/// average recall (AR), and average best overlap (ABO, MABO).
///
/// - Recall@N at IoU t: the fraction of ground-truth objects whose best IoU with the first N
///   proposals of their image is at least t.
/// - AR@N: the mean of Recall@N over the IoU thresholds 0.50, 0.55, …, 0.95 (the discrete form
///   of Hosang et al.'s 2∫ recall(o) do over [0.5, 1], the same thresholds as COCO's AR).
/// - ABO of a class: the mean over its objects of the best IoU with the first N proposals;
///   MABO: the mean ABO over classes (Uijlings et al.).
///
/// IoU is COCO's (continuous coordinates, no "+1"). Crowd regions and "difficult" objects are
/// left out; an image without proposals has all its objects missed.
///
/// References: J. Uijlings et al., "Selective Search for Object Recognition", IJCV 2013;
/// J. Hosang et al., "What makes for effective detection proposals?", TPAMI 2016.
public struct ProposalEvaluator: Sendable {
    public var counts: [Int]
    public var iouThresholds = linspace(0.5, 0.95, 10)

    public init(counts: [Int] = [1, 10, 100, 200, 500, 1000, 2000, 5000]) {
        self.counts = counts.sorted()
    }

    public struct Row: Sendable, Equatable {
        public let count: Int
        public let recall50: Double
        public let recall70: Double
        public let averageRecall: Double
        /// Mean best overlap over all objects.
        public let abo: Double
        /// Mean over classes of the per-class ABO.
        public let mabo: Double
        /// Mean number of proposals actually available per image at this count.
        public let meanProposals: Double
    }

    /// - Parameter proposals: per ground-truth image id, its proposals best first.
    public func evaluate(_ proposals: [Int: [EvalBox]], truth: DetectionGroundTruth) -> [Row] {
        let objects = truth.objects.filter { !$0.isCrowd && !$0.isDifficult }
        var byImage: [Int: [GroundTruthObject]] = [:]
        for o in objects { byImage[o.imageId, default: []].append(o) }
        // best[o][c]: best IoU of object o within the first counts[c] proposals.
        var best: [[Double]] = []
        var classes: [Int] = []
        for image in truth.images {
            guard let objs = byImage[image.id] else { continue }
            let boxes = proposals[image.id] ?? []
            for o in objs {
                var running = 0.0
                var row: [Double] = []
                var next = 0
                for (rank, b) in boxes.enumerated() {
                    while next < counts.count && rank >= counts[next] { row.append(running); next += 1 }
                    if next == counts.count { break }
                    running = max(running, iou(b, o.box))
                }
                while row.count < counts.count { row.append(running) }
                best.append(row)
                classes.append(o.categoryId)
            }
        }
        let imagesWithTruth = truth.images.count
        return counts.enumerated().map { c, n in
            let values = best.map { $0[c] }
            func recall(_ t: Double) -> Double {
                values.isEmpty ? .nan : Double(values.filter { $0 >= t }.count) / Double(values.count)
            }
            let ar = values.isEmpty ? .nan : iouThresholds.map(recall).reduce(0, +) / Double(iouThresholds.count)
            var perClass: [Int: (sum: Double, count: Int)] = [:]
            for (v, k) in zip(values, classes) {
                let e = perClass[k] ?? (0, 0)
                perClass[k] = (e.sum + v, e.count + 1)
            }
            let abos = perClass.keys.sorted().map { perClass[$0]!.sum / Double(perClass[$0]!.count) }
            let available = truth.images.reduce(0) { $0 + min(n, proposals[$1.id]?.count ?? 0) }
            return Row(count: n, recall50: recall(0.5), recall70: recall(0.7), averageRecall: ar,
                       abo: values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count),
                       mabo: abos.isEmpty ? .nan : abos.reduce(0, +) / Double(abos.count),
                       meanProposals: imagesWithTruth == 0 ? 0 : Double(available) / Double(imagesWithTruth))
        }
    }

    /// COCO's box IoU (the shared kernel, areas `width * height` as pycocotools), 0 when disjoint.
    func iou(_ a: EvalBox, _ b: EvalBox) -> Double {
        boxOverlap((a.x, a.y, a.x + a.width, a.y + a.height), area: a.width * a.height,
                   (b.x, b.y, b.x + b.width, b.y + b.height), area: b.width * b.height) ?? 0
    }
}

/// cvseg's proposals file: a list of `{"file", "width", "height", "boxes": [[x, y, w, h], …]}`,
/// boxes best first (`cvseg propose` writes it).
public enum ProposalsFormat {
    public struct Entry: Sendable, Equatable {
        public var file: String
        public var width: Int?
        public var height: Int?
        public var boxes: [EvalBox]
    }

    public static func parse(_ bytes: [UInt8], file: String) throws -> [Entry] {
        let root = try JSON.parse(bytes, file: file)
        guard let list = root.arrayValue else {
            throw CVSegError.invalidContent(file: file, reason: "expected a list of {\"file\", \"boxes\"} objects")
        }
        return try list.enumerated().map { i, item in
            guard let name = item["file"]?.stringValue else {
                throw CVSegError.invalidContent(file: file, reason: "[\(i)] has no \"file\"")
            }
            guard let boxes = item["boxes"]?.arrayValue else {
                throw CVSegError.invalidContent(file: file, reason: "[\(i)] (\(name)) has no \"boxes\" list")
            }
            return Entry(file: name, width: item["width"]?.intValue, height: item["height"]?.intValue,
                         boxes: try boxes.enumerated().map { j, b in
                             try COCOFormat.parseBox(b, what: "[\(i)] (\(name)) box \(j)", file: file)
                         })
        }
    }
}
