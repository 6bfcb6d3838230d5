import ArgumentParser
import CVSegCore
import CVSegEval
import CVSegIO
import CVSegNN
import CVSegPlot
import Synchronization

struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Detect objects with R-CNN, Fast R-CNN or Faster R-CNN; write COCO results JSON.",
        subcommands: [RCNN.self, FastRCNN.self, FasterRCNN.self])

    static let discussion = """
        Writes one COCO results JSON list: {"image_id", "category_id", "bbox": [x, y, w, h], \
        "score", "file_name"} per detection, in input order and best score first within an \
        image; file_name is the image's path relative to its input root. image_id comes from \
        --gt (a COCO instances JSON: matched by file_name without extension, else by base \
        name), otherwise from the sorted input order (1, 2, …); category_id is the model's \
        recorded category id (COCO training) or its class number 1…K. Boxes are in the \
        original image's pixels. Without --weights the shipped pedestrian model of the method \
        is used ($CVSEG_MODELS or models/ beside the executable). --draw DIR writes each image \
        with its boxes, labels and scores (the input tree mirrored, PNG). A file that cannot be \
        read is reported and the others go on; the exit status is then 1. `cvseg eval det \
        --pred FILE --gt GT` evaluates the result.
        """

    struct RCNN: DetectCommand {
        static let configuration = CommandConfiguration(commandName: "rcnn", abstract: "R-CNN detection.", discussion: Detect.discussion)
        @OptionGroup var options: DetectOptions
        static let architecture = DetectorArchitecture.rcnn
    }

    struct FastRCNN: DetectCommand {
        static let configuration = CommandConfiguration(commandName: "fast-rcnn", abstract: "Fast R-CNN detection.", discussion: Detect.discussion)
        @OptionGroup var options: DetectOptions
        static let architecture = DetectorArchitecture.fastRCNN
    }

    struct FasterRCNN: DetectCommand {
        static let configuration = CommandConfiguration(commandName: "faster-rcnn", abstract: "Faster R-CNN detection.",
                                                        discussion: Detect.discussion)
        @OptionGroup var options: DetectOptions
        static let architecture = DetectorArchitecture.fasterRCNN
    }
}

struct DetectOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Image files or folders (searched recursively for .png, .jpg, .jpeg).", valueName: "input"))
    var inputs: [String]
    @Option(name: .shortAndLong, help: ArgumentHelp("The COCO results JSON to write.", valueName: "file")) var output: String
    @Option(help: ArgumentHelp("Model file (default: the shipped pedestrian model).", valueName: "file")) var weights: String?
    @Option(help: ArgumentHelp("COCO instances JSON giving the image ids.", valueName: "file")) var gt: String?
    @Option(help: ArgumentHelp("Keep detections scoring at least this (default: the model's box_score_thresh).", valueName: "s"))
    var scoreThreshold: Float?
    @Option(help: ArgumentHelp("Also write each image with its detections drawn to this folder.", valueName: "folder")) var draw: String?
    @Option(help: ArgumentHelp("Draw detections scoring at least this.", valueName: "s")) var drawThreshold: Float = 0.5
    @Option(help: ArgumentHelp("Process only shard K of N (1-based), chosen by a hash of each input's relative path; image ids stay those of the whole batch, so the shards' JSON lists concatenate.",
                               valueName: "K/N"))
    var shard: Shard?
    @Flag(name: .shortAndLong, help: "No progress on stderr (failures are still reported).") var quiet = false
    @Flag(help: "Accept images that decode only with corrupt-data warnings (CRC mismatch, truncated JPEG).") var lenient = false

    func validate() throws {
        if let s = scoreThreshold, !(0...1).contains(s) { throw ValidationError("--score-threshold must be in [0, 1], not \(s).") }
        if !(0...1).contains(drawThreshold) { throw ValidationError("--draw-threshold must be in [0, 1], not \(drawThreshold).") }
    }
}

protocol DetectCommand: ParsableCommand {
    static var architecture: DetectorArchitecture { get }
    var options: DetectOptions { get }
}

extension DetectCommand {
    func validate() throws { try options.validate() }
    func run() throws { try runDetection(Self.architecture, options) }
}

/// The class names and category ids a detector file records (`class_names`, `category_ids`
/// JSON arrays); class numbers and "class N" where absent.
func detectorClasses(_ path: String, classes: Int) throws -> (names: [String], ids: [Int]) {
    let meta = try Safetensors.read(path).metadata ?? [:]
    var names = (1...classes).map { "class \($0)" }, ids = Array(1...classes)
    if let text = meta["class_names"], let list = try JSON.parse(text, file: path).arrayValue {
        let given = list.compactMap(\.stringValue)
        if given.count == classes { names = given }
    }
    if let text = meta["category_ids"], let list = try JSON.parse(text, file: path).arrayValue {
        let given = list.compactMap(\.intValue)
        if given.count == classes { ids = given }
    }
    return (names, ids)
}

func runDetection(_ architecture: DetectorArchitecture, _ o: DetectOptions) throws {
    let path = try o.weights ?? ShippedModels.path("pedestrian", architecture: architecture.rawValue)
    let shared = SharedDetector(try Detector.load(from: path))
    let detector = shared.detector
    guard detector.architecture == architecture else {
        throw CVSegError.invalidContent(file: path, reason: "a \(detector.architecture.rawValue) model, not \(architecture.rawValue)")
    }
    let (names, categoryIds) = try detectorClasses(path, classes: detector.config.classes)
    let threshold = o.scoreThreshold ?? detector.config.boxScoreThreshold
    let resolve = try o.gt.map { GroundTruthLoader.imageResolver(try GroundTruthLoader.load($0, classNames: nil)) }
    // Image ids are numbered over the whole batch, before sharding.
    let all = Inputs.plan(o.inputs, outputRoot: o.draw ?? "", shard: nil).items.map(\.relativePath)
    let (items, problems) = Inputs.plan(o.inputs, outputRoot: o.draw ?? "", shard: o.shard)
    let progress = Progress(total: items.count, label: "detect \(architecture.rawValue)", quiet: o.quiet)
    let decode = DecodeOptions(palette: .expand, lenient: o.lenient)
    let entries = Mutex<[Int: [JSON]]>([:])
    var ids: [Int] = []
    let order = Dictionary(all.enumerated().map { ($1, $0 + 1) }, uniquingKeysWith: { a, _ in a })
    for item in items {
        if let resolve {
            guard let id = resolve(item.relativePath) else { ids.append(-1); continue }  // fails in the batch, named
            ids.append(id)
        } else {
            ids.append(order[item.relativePath] ?? -1)
        }
    }
    let (draw, drawThreshold) = (o.draw, o.drawThreshold)
    let imageIds = ids
    let position = Dictionary(items.enumerated().map { ($1.input, $0) }, uniquingKeysWith: { a, _ in a })
    let statuses = BatchRunner.run(items, jobs: 1, skipExisting: false, progress: progress) { item in
        let n = position[item.input] ?? 0
        guard imageIds[n] >= 0 else { throw CVSegError.invalidArgument("no image named \(item.relativePath) in the --gt file") }
        let image = try ImageFile.read(item.input, options: decode).expanded().to8Bit()
        let d = try shared.detector.detect(PlanarImage(image))
        var list: [JSON] = []
        for k in 0..<d.count where d.scores[k] >= threshold {
            let b = d.boxes[k]
            list.append(.object([
                ("image_id", .int(imageIds[n])), ("category_id", .int(categoryIds[d.labels[k] - 1])),
                ("bbox", .array([b.x1, b.y1, b.x2 - b.x1, b.y2 - b.y1].map { .number((Double($0) * 100).rounded() / 100) })),
                ("score", .number((Double(d.scores[k]) * 100_000).rounded() / 100_000)), ("file_name", .string(item.relativePath)),
            ]))
        }
        entries.withLock { $0[n] = list }
        if draw != nil {
            let keep = (0..<d.count).filter { d.scores[$0] >= drawThreshold }
            try ImageFile.writeAtomically(try ImageEncoder.png(drawDetections(keep.map { (d.boxes[$0], names[d.labels[$0] - 1], d.scores[$0], d.labels[$0]) },
                                                                               on: image)), to: item.output)
        }
        return FileDetails(width: image.width, height: image.height, threshold: nil, foregroundFraction: nil, regions: list.count)
    }
    let results = entries.withLock { e in (0..<items.count).flatMap { e[$0] ?? [] } }
    let text = results.isEmpty ? "[]\n" : "[\n" + results.map { $0.text(indent: 0) }.joined(separator: ",\n") + "\n]\n"
    try FileBytes.writeAtomically(Array(text.utf8), to: o.output)
    let failed = reportFailures(problems, items, statuses)
    if !o.quiet {
        writeStderr("detect \(architecture.rawValue): \(items.count - failed + problems.count) images, \(results.count) detections in "
                    + "\(fixed(progress.elapsed, 2)) s" + (failed > 0 ? ", \(failed) failed" : "") + "; wrote \(o.output)\n")
    }
    if failed > 0 { throw ExitCode(1) }
}

/// A detector used by the batch runner's worker (one at a time: `jobs: 1`). @unchecked: an
/// inference pass only reads the parameters (as ``SharedNetwork``).
final class SharedDetector: @unchecked Sendable {
    let detector: Detector
    init(_ detector: Detector) { self.detector = detector }
}

/// `image` with each detection's box (2 pixels, its class's colour) and a "name 0.97" label on
/// a filled strip above the box (inside it when the box touches the top).
func drawDetections(_ detections: [(box: Box, name: String, score: Float, label: Int)], on image: Image<UInt8>) -> Image<UInt8> {
    var canvas = Canvas(image: image)
    for d in detections.reversed() {
        let rgba = ColorMap.color(forLabel: Int32(d.label))
        let color = PlotColor(rgba.r, rgba.g, rgba.b)
        let x0 = Int(d.box.x1.rounded()), y0 = Int(d.box.y1.rounded())
        let rect = PixelRect(x: x0, y: y0, width: max(1, Int(d.box.x2.rounded()) - x0), height: max(1, Int(d.box.y2.rounded()) - y0))
        canvas.strokeRect(rect, color: color, thickness: 2)
        let text = "\(d.name) \(fixed(Double(d.score), 2))"
        let w = BitmapFont.textWidth(text, scale: 1) + 4, h = BitmapFont.lineHeight + 2
        let top = y0 >= h ? y0 - h : y0
        canvas.fillRect(PixelRect(x: x0, y: top, width: w, height: h), color: color)
        let luminance = 0.299 * Double(color.r) + 0.587 * Double(color.g) + 0.114 * Double(color.b)
        canvas.drawText(text, at: PixelPoint(x: x0 + 2, y: top + 1), color: luminance > 140 ? .black : .white)
    }
    return canvas.image
}
