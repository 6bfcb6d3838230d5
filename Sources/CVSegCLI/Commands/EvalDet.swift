import ArgumentParser
import CVSegCore
import CVSegEval
import CVSegIO

struct EvalDet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "det",
        abstract: "Detection boxes: COCO AP (pycocotools' numbers) or PASCAL VOC AP.",
        discussion: """
            Predictions are a COCO results JSON list ({"image_id", "category_id", "bbox": \
            [x, y, w, h], "score"}). Ground truth is a COCO instances JSON file, a folder of \
            PASCAL VOC XML files, or a folder of instance-mask PNGs (0 background, 1..N one \
            object each, as PennFudan's PedMasks); see Docs/CLI.md for how images and \
            categories are matched with folders.
            """)

    enum Metric: String, ExpressibleByArgument, CaseIterable {
        case coco, voc07, voc12
    }

    @Option(help: ArgumentHelp("COCO results JSON with the detections.", valueName: "file"))
    var pred: String

    @Option(help: ArgumentHelp("Ground truth: COCO instances JSON, VOC XML folder or instance-mask folder.", valueName: "path"))
    var gt: String

    @Option(help: ArgumentHelp("coco: the 12 COCOeval numbers; voc07: 11-point AP; voc12: all-point AP.", valueName: "metric"))
    var metric: Metric = .coco

    @Option(help: ArgumentHelp("Class names in id order (1, 2, …) for VOC XML and mask folders.", valueName: "file"))
    var classNames: String?

    @Option(help: ArgumentHelp("Also write the numbers as JSON to this file.", valueName: "file"))
    var json: String?

    @Flag(help: "Make detections of categories absent from the ground truth an error (default: warn and leave them out).")
    var strict = false

    @Option(help: ArgumentHelp("Save the ground truth and these detections to this file, for `cvseg eval merge`.", valueName: "file"))
    var saveState: String?

    @Option(help: ArgumentHelp("Write a precision-recall curve per category to FOLDER/pr/ as PNG.", valueName: "folder"))
    var plots: String?

    func run() throws {
        let names = try classNames.map(readClassNames)
        let truth = try GroundTruthLoader.load(gt, classNames: names)
        let detections = try GroundTruthLoader.matchImages(
            COCOFormat.detections(FileBytes.read(pred), file: pred), predictionsFile: pred, truth: truth)
        let report = DetReport(metric: metric, truth: truth, detections: detections)
        try report.emit(json: json, predictionsFile: pred, strict: strict, plots: plots)
        if let saveState {
            try ImageFile.writeAtomically(Array((report.state.text(indent: 0) + "\n").utf8), to: saveState)
        }
    }
}

/// A detection evaluation's inputs and what `eval det` prints from them. Its saved state keeps
/// the ground truth and this shard's detections; `eval merge` checks that the states share the
/// same ground truth, concatenates the detections in the order given, and evaluates once.
struct DetReport {
    var metric: EvalDet.Metric
    var truth: DetectionGroundTruth
    var detections: [DetectedObject]

    func emit(json: String?, predictionsFile pred: String, strict: Bool, plots: String? = nil) throws {
        let (metric, truth, detections) = (self.metric, self.truth, self.detections)
        let nameOf = Dictionary(truth.categories.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        var report: [(String, JSON)] = [("metric", .string(metric.rawValue)), ("images", .int(truth.images.count)),
                                        ("detections", .int(detections.count))]
        switch metric {
        case .coco:
            let result = try COCOEvaluator().evaluate(detections, truth: truth, detectionsFile: pred)
            if result.unknownCategoryDetections > 0 {
                let message = "\(pred): \(result.unknownCategoryDetections) detections have a category_id that is not in the ground truth"
                if strict { throw CVSegError.invalidContent(file: pred, reason: String(message.dropFirst(pred.count + 2))) }
                writeStderr("cvseg: warning: \(message); left out, as pycocotools does\n")
                report.append(("unknown_category_detections", .int(result.unknownCategoryDetections)))
            }
            let stats = result.stats
            let labels = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
            let lines = [
                "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
                "Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ]",
                "Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ]",
                "Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
                "Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
                "Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
                "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ]",
                "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ]",
                "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
                "Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
                "Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
                "Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
            ]
            for (line, value) in zip(lines, stats) { print(" \(line) = \(fixed(value, 3))") }
            report += zip(labels, stats).map { ($0, .number($1)) }
            print("")
            let width = max(8, truth.categories.map(\.name.count).max() ?? 8)
            print(pad("category", width) + "      AP    AP50")
            var rows: [JSON] = []
            for (k, id) in result.categoryIds.enumerated() {
                let ap = result.categoryAP(k), ap50 = result.categoryAP(k, iou: 0)
                let name = nameOf[id] ?? String(id)
                print(pad(name, width) + pad(fixed(ap, 3), 8, left: true) + pad(fixed(ap50, 3), 8, left: true))
                rows.append(.object([("id", .int(id)), ("name", .string(name)), ("AP", .number(ap)), ("AP50", .number(ap50))]))
            }
            report.append(("per_category", .array(rows)))
            if let plots {
                let written = try Plots.cocoPrecisionRecall(result, names: nameOf, folder: plots)
                writeStderr("cvseg: wrote \(written.count) precision-recall curves to \(plots)/pr\n")
            }
        case .voc07, .voc12:
            let evaluator = VOCEvaluator(interpolation: metric == .voc07 ? .elevenPoint : .allPoints)
            let results = evaluator.evaluate(detections, truth: truth)
            let width = max(8, truth.categories.map(\.name.count).max() ?? 8)
            print(pad("category", width) + "      AP  positives  detections")
            var rows: [JSON] = []
            for r in results {
                let name = nameOf[r.categoryId] ?? String(r.categoryId)
                print(pad(name, width) + pad(fixed(r.ap, 4), 8, left: true) + pad(String(r.positives), 11, left: true)
                      + pad(String(r.detections), 12, left: true))
                rows.append(.object([("id", .int(r.categoryId)), ("name", .string(name)), ("AP", .number(r.ap)),
                                     ("positives", .int(r.positives)), ("detections", .int(r.detections))]))
            }
            let mean = VOCEvaluator.mean(results)
            print("mAP \(fixed(mean, 4)) (\(metric == .voc07 ? "VOC2007 11-point" : "VOC2010+ all-point"), "
                  + "IoU > 0.5, difficult objects ignored, classes without positives left out)")
            report += [("mAP", .number(mean)), ("per_category", .array(rows))]
            if let plots {
                let written = try Plots.vocPrecisionRecall(results, names: nameOf, folder: plots)
                writeStderr("cvseg: wrote \(written.count) precision-recall curves to \(plots)/pr\n")
            }
        }
        if let json {
            try ImageFile.writeAtomically(Array((JSON.object(report).text() + "\n").utf8), to: json)
        }
    }

    var truthJSON: JSON {
        .object([
            ("images", .array(truth.images.map { i in
                .object([("id", .int(i.id)), ("file_name", i.fileName.map { .string($0) } ?? .null),
                         ("width", i.width.map { .int($0) } ?? .null), ("height", i.height.map { .int($0) } ?? .null)])
            })),
            ("categories", .array(truth.categories.map { .object([("id", .int($0.id)), ("name", .string($0.name))]) })),
            ("annotations", .array(truth.objects.map { o in
                .object([("id", .int(o.id)), ("image_id", .int(o.imageId)), ("category_id", .int(o.categoryId)),
                         ("bbox", .array([.number(o.box.x), .number(o.box.y), .number(o.box.width), .number(o.box.height)])),
                         ("area", .number(o.area)), ("iscrowd", .int(o.isCrowd ? 1 : 0)), ("difficult", .bool(o.isDifficult))])
            })),
        ])
    }

    var detectionsJSON: JSON {
        .array(detections.map { d in
            .object([("image_id", .int(d.imageId)), ("category_id", .int(d.categoryId)),
                     ("bbox", .array([.number(d.box.x), .number(d.box.y), .number(d.box.width), .number(d.box.height)])),
                     ("score", .number(d.score))])
        })
    }

    var state: JSON {
        .object([("cvseg_eval_state", .int(1)), ("kind", .string("det")), ("metric", .string(metric.rawValue)),
                 ("truth", truthJSON), ("detections", detectionsJSON)])
    }

    init(metric: EvalDet.Metric, truth: DetectionGroundTruth, detections: [DetectedObject]) {
        self.metric = metric; self.truth = truth; self.detections = detections
    }

    init(state: JSON, file: String) throws {
        guard state["kind"]?.stringValue == "det", let m = state["metric"]?.stringValue.flatMap(EvalDet.Metric.init(rawValue:)),
              let truthJSON = state["truth"], let dets = state["detections"] else {
            throw CVSegError.invalidContent(file: file, reason: "not a cvseg detection state (from `eval det --save-state`)")
        }
        metric = m
        truth = try COCOFormat.groundTruth(Array(truthJSON.text(indent: 0).utf8), file: file)
        detections = try COCOFormat.detections(Array(dets.text(indent: 0).utf8), file: file)
    }

    mutating func merge(_ other: DetReport, file: String) throws {
        guard other.metric == metric else {
            throw CVSegError.invalidContent(file: file, reason: "made with --metric \(other.metric.rawValue), the first state with \(metric.rawValue)")
        }
        guard other.truthJSON == truthJSON else {
            throw CVSegError.invalidContent(file: file, reason: "its ground truth differs from the first state's")
        }
        detections += other.detections
    }
}
