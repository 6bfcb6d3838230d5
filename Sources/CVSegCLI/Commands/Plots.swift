import CVSegCore
import CVSegEval
import CVSegIO
import CVSegPlot
import CVSegNN

/// Evaluation pictures, drawn by CVSegPlot and written through cvseg's own PNG encoder.
enum Plots {
    static func write(_ canvas: Canvas, to path: String) throws {
        try ImageFile.writeAtomically(ImageEncoder.png(canvas.image, options: PNGWriteOptions(compressionLevel: 6)), to: path)
    }

    /// A file-name-safe form of a class name.
    static func slug(_ name: String) -> String {
        let kept = name.map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
        return String(kept.prefix(40))
    }

    /// `confusion.png`: the confusion matrix as row fractions (rows = ground truth).
    static func confusion(_ matrix: ConfusionMatrix, names: [String], folder: String) throws -> [String] {
        guard matrix.classes >= 2 else { return [] }
        let map = HeatMap(counts: matrix.counts, classNames: names,
                          title: "Confusion matrix (row fractions)")
        let path = folder + "/confusion.png"
        try write(try map.render(), to: path)
        return [path]
    }

    /// One `pr/<id>_<name>.png` per category: COCO's interpolated precision against the 101
    /// recall points at IoU 0.50, 0.75 and their mean over 0.50:0.95 (area all, maxDets 100).
    static func cocoPrecisionRecall(_ result: COCOEvaluator.Result, names: [Int: String], folder: String) throws -> [String] {
        var written: [String] = []
        let d = result.dimensions
        for (k, id) in result.categoryIds.enumerated() {
            let recall = result.recallThresholds
            func curve(_ ts: [Int]) -> [Double]? {
                let values = (0..<d.r).map { r in ts.map { result.precision(t: $0, r: r, k: k, a: 0, m: d.m - 1) } }
                if values.contains(where: { $0.contains(where: { $0 < 0 }) }) { return nil }
                return values.map { $0.reduce(0, +) / Double($0.count) }
            }
            guard let at50 = curve([0]) else { continue } // no ground truth for this category
            var series = [LineSeries(name: "IoU 0.50 (AP \(fixed(result.categoryAP(k, iou: 0), 3)))", x: recall, y: at50)]
            if d.t > 5, let at75 = curve([5]) {
                series.append(LineSeries(name: "IoU 0.75 (AP \(fixed(result.categoryAP(k, iou: 5), 3)))", x: recall, y: at75))
            }
            if let mean = curve(Array(0..<d.t)) {
                series.append(LineSeries(name: "mean 0.50:0.95 (AP \(fixed(result.categoryAP(k), 3)))", x: recall, y: mean))
            }
            let name = names[id] ?? String(id)
            let chart = LineChart.precisionRecall(title: "\(name): interpolated precision-recall", series: series)
            let path = "\(folder)/pr/\(id)_\(slug(name)).png"
            try write(try chart.render(), to: path)
            written.append(path)
        }
        return written
    }

    /// One `pr/<id>_<name>.png` per class with positives: the VOC curve after each detection
    /// and its monotone envelope.
    static func vocPrecisionRecall(_ results: [VOCEvaluator.ClassResult], names: [Int: String], folder: String) throws -> [String] {
        var written: [String] = []
        for r in results where r.positives > 0 && !r.recall.isEmpty {
            var envelope = r.precision
            for i in stride(from: envelope.count - 1, to: 0, by: -1) { envelope[i - 1] = max(envelope[i - 1], envelope[i]) }
            let name = names[r.categoryId] ?? String(r.categoryId)
            let chart = LineChart.precisionRecall(title: "\(name): precision-recall (AP \(fixed(r.ap, 3)))", series: [
                LineSeries(name: "after each detection", x: r.recall, y: r.precision, lineWidth: 1),
                LineSeries(name: "envelope", x: r.recall, y: envelope),
            ])
            let path = "\(folder)/pr/\(r.categoryId)_\(slug(name)).png"
            try write(try chart.render(), to: path)
            written.append(path)
        }
        return written
    }

    /// `proposal_recall.png`: recall at IoU 0.5 and 0.7 and AR against the number of proposals.
    static func proposalRecall(_ rows: [ProposalEvaluator.Row], folder: String) throws -> [String] {
        guard !rows.isEmpty else { return [] }
        let x = rows.map { Double($0.count) }
        let chart = LineChart.proposalRecall(title: "Proposal recall", series: [
            LineSeries(name: "recall at IoU 0.5", x: x, y: rows.map(\.recall50)),
            LineSeries(name: "recall at IoU 0.7", x: x, y: rows.map(\.recall70)),
            LineSeries(name: "average recall 0.5:0.95", x: x, y: rows.map(\.averageRecall)),
            LineSeries(name: "MABO", x: x, y: rows.map(\.mabo)),
        ], logX: rows.count > 1 && (rows.last!.count / max(rows.first!.count, 1)) >= 10)
        let path = folder + "/proposal_recall.png"
        try write(try chart.render(), to: path)
        return [path]
    }

    /// The training curves, one picture: the mean training loss per epoch above, the validation
    /// mIoU (and foreground IoU, pixel accuracy) below, both against the epoch.
    static func trainingCurves(_ history: [EpochRecord], epochs: Int, title: String, to path: String) throws {
        let x = history.map { Double($0.epoch) }
        var metrics: [LineSeries] = []
        func add(_ name: String, _ values: [Double?]) {
            guard values.allSatisfy({ $0 != nil }) else { return }
            metrics.append(LineSeries(name: name, x: x, y: values.map { $0! }))
        }
        add("validation mIoU", history.map(\.validationMIoU))
        add("validation foreground IoU", history.map(\.validationForegroundIoU))
        add("validation pixel accuracy", history.map(\.validationAccuracy))
        try curves(losses: [LineSeries(name: "training loss", x: x, y: history.map(\.loss))], metrics: metrics,
                   epochs: epochs, title: title, to: path)
    }

    /// A detector's training curves: the loss and its parts, and validation AP and AP50.
    static func detectionCurves(_ history: [DetectionEpochRecord], epochs: Int, title: String, to path: String) throws {
        let x = history.map { Double($0.epoch) }
        var losses = [LineSeries(name: "total", x: x, y: history.map(\.loss))]
        for (i, name) in ["RPN objectness", "RPN box", "RoI classifier", "RoI box"].enumerated()
        where history.contains(where: { $0.parts[i] != 0 }) {
            losses.append(LineSeries(name: name, x: x, y: history.map { $0.parts[i] }))
        }
        var metrics: [LineSeries] = []
        if history.allSatisfy({ $0.validationAP != nil && $0.validationAP50 != nil }) {
            metrics = [LineSeries(name: "validation AP50", x: x, y: history.map { $0.validationAP50! }),
                       LineSeries(name: "validation AP (0.5:0.95)", x: x, y: history.map { $0.validationAP! })]
        }
        try curves(losses: losses, metrics: metrics, epochs: epochs, title: title, to: path)
    }

    /// Loss curves above validation curves (0…1), one PNG.
    private static func curves(losses: [LineSeries], metrics: [LineSeries], epochs: Int, title: String, to path: String) throws {
        guard let first = losses.first, !first.x.isEmpty else { return }
        let xRange = 0.0...Double(max(epochs, 2))
        let values = losses.flatMap(\.y).filter(\.isFinite)
        let top = max(values.max() ?? 1, 1e-6) * 1.05
        let lossChart = LineChart(title: title + ": training loss", xLabel: "Epoch", yLabel: "Loss", series: losses,
                                  xRange: xRange, yRange: 0...top, width: 640, height: 320)
        var picture = try lossChart.render().image
        if !metrics.isEmpty {
            let metricChart = LineChart(title: "Validation", xLabel: "Epoch", yLabel: "Score", series: metrics,
                                        xRange: xRange, yRange: 0...1, width: 640, height: 320, legend: .automatic)
            let below = try metricChart.render().image
            picture = Image(width: picture.width, height: picture.height + below.height, layout: picture.layout,
                            samples: picture.samples + below.samples)
        }
        try ImageFile.writeAtomically(ImageEncoder.png(picture, options: PNGWriteOptions(compressionLevel: 6)), to: path)
    }
}
