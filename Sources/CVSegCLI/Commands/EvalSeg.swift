import ArgumentParser
import CVSegCore
import CVSegEval
import CVSegIO
import Dispatch
import Synchronization

struct EvalSeg: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seg",
        abstract: "Segmentation masks: one confusion matrix summed over the dataset.",
        discussion: """
            Prediction and ground-truth files are paired by relative path, ignoring the \
            extension. Masks are read as indices (gray 8/16-bit values, palette PNGs by index, \
            never by colour). Metrics come from the confusion matrix summed over all images \
            (dataset IoU); --per-image adds each image's own mIoU and their mean, labelled as such.
            """)

    @Option(help: ArgumentHelp("Folder of predicted masks.", valueName: "folder"))
    var pred: String

    @Option(help: ArgumentHelp("Folder of ground-truth masks.", valueName: "folder"))
    var gt: String

    enum Metric: String, ExpressibleByArgument, CaseIterable {
        case confusion, dibco
    }

    @Option(help: ArgumentHelp("confusion: IoU, accuracy, Dice and more from the confusion matrix; dibco: document "
                               + "binarization measures per image and their means (F-measure, PSNR, DRD; ink = 0).",
                               valueName: "metric"))
    var metric: Metric = .confusion

    @Flag(help: "Two classes: any nonzero value is foreground (0/255 and 0/1 masks alike); nothing is ignored.")
    var binary = false

    @Option(help: ArgumentHelp("Number of classes (labels 0..<K), for multi-class masks.", valueName: "K"))
    var numClasses: Int?

    @Option(help: ArgumentHelp("Ground-truth label to ignore (multi-class only).", valueName: "label"))
    var ignore: Int = 255

    @Option(help: ArgumentHelp("File with one class name per line, in label order.", valueName: "file"))
    var classNames: String?

    @Flag(help: "Also print each image's mIoU and the mean over images (a different number from the dataset mIoU).")
    var perImage = false

    @Flag(help: "Fail (exit 1, no metrics) when a file on either side has no partner.")
    var strict = false

    @Option(help: ArgumentHelp("Images read at once (default: all cores).", valueName: "n"))
    var jobs: Int?

    @Option(help: ArgumentHelp("Also write the metrics as JSON to this file.", valueName: "file"))
    var json: String?

    @Option(help: ArgumentHelp("Save the summed counts to this file, for `cvseg eval merge` across shards.", valueName: "file"))
    var saveState: String?

    @Option(help: ArgumentHelp("Write pictures to this folder: confusion.png (the confusion matrix as a heat map).", valueName: "folder"))
    var plots: String?

    func validate() throws {
        if metric == .dibco {
            if binary || numClasses != nil {
                throw ValidationError("--metric dibco takes no --binary or --num-classes: ink is 0, all else background.")
            }
            return
        }
        if !binary && numClasses == nil { throw ValidationError("Give --binary or --num-classes K.") }
        if binary && numClasses != nil { throw ValidationError("--binary and --num-classes exclude each other.") }
        if let k = numClasses, k < 1 || k > Self.maxClasses {
            throw ValidationError("--num-classes must be 1...\(Self.maxClasses).")
        }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1, not \(jobs).") }
    }

    private struct PairResult: Sendable {
        var counts: ClassCounts?
        var error: String?
        var truthHas255 = false
    }

    /// A confusion matrix takes classes² counters; 1024 classes is 8 MB per worker.
    static let maxClasses = 1024

    func run() throws {
        if metric == .dibco { return try runDIBCO() }
        let classes = binary ? 2 : numClasses!
        var names = binary ? ["background", "foreground"] : (0..<classes).map(String.init)
        if let classNames {
            let given = try readClassNames(classNames)
            guard given.count == classes else {
                throw ValidationError("\(classNames) lists \(given.count) class names for \(classes) classes.")
            }
            names = given
        }
        let (pairList, unpaired) = try Self.pairFiles(pred: pred, gt: gt)
        for line in unpaired { writeStderr("cvseg: \(strict ? "error" : "warning"): \(line)\n") }
        if strict && !unpaired.isEmpty { throw ExitCode(1) }

        let pairs = pairList
        let results = Mutex([PairResult](repeating: PairResult(), count: pairs.count))
        let totals = Mutex([ConfusionMatrix]())
        let next = Atomic<Int>(0)
        let workers = max(1, min(jobs ?? System.cores, pairs.count))
        let (binary, perImage, ignoreLabel) = (self.binary, self.perImage, binary ? nil : Int32(clamping: ignore))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            // Each worker sums into its own matrix; integer sums do not depend on the order.
            var matrix = ConfusionMatrix(classes: classes)
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < pairs.count else { break }
                var r = PairResult()
                do {
                    let p = try Self.readLabelImage(pairs[i].pred, binary: binary)
                    let t = try Self.readLabelImage(pairs[i].truth, binary: binary)
                    guard p.labels.width == t.labels.width, p.labels.height == t.labels.height else {
                        throw CVSegError.invalidArgument("\(pairs[i].pred): prediction is \(p.labels.width)x\(p.labels.height) "
                                                         + "but ground truth \(pairs[i].truth) is \(t.labels.width)x\(t.labels.height)")
                    }
                    do {
                        // The matrix add is all or nothing: a pair with a bad label adds no pixel.
                        switch (p.labels, t.labels) {
                        case (.bytes(let a), .bytes(let b)):
                            try matrix.add(predicted: a, truth: b, ignoreLabel: ignoreLabel)
                        default:
                            try matrix.add(predicted: p.labels.words, truth: t.labels.words, ignoreLabel: ignoreLabel)
                        }
                        var counts = ClassCounts(classes: perImage ? classes : 1)
                        if perImage {
                            try counts.add(predicted: p.labels.labels, truth: t.labels.labels, ignoreLabel: ignoreLabel)
                        }
                        r.counts = counts
                    } catch let error as CVSegError {
                        throw CVSegError.invalidArgument("\(pairs[i].pred) vs \(pairs[i].truth): \(error)")
                    }
                    r.truthHas255 = t.had255
                } catch {
                    r.error = "\(error)"
                }
                results.withLock { $0[i] = r }
            }
            totals.withLock { $0.append(matrix) }
        }
        let all = results.withLock { $0 }
        var total = ConfusionMatrix(classes: classes)
        for m in totals.withLock({ $0 }) { total.add(m) }
        var failures: [String] = []
        for r in all {
            if let e = r.error { failures.append(e) }
        }
        let evaluated = all.filter { $0.counts != nil }.count
        if binary && all.contains(where: { $0.truthHas255 }) {
            writeStderr("cvseg: note: the ground truth holds 255; with --binary it counts as foreground "
                        + "(without --binary, 255 is the ignore label)\n")
        }
        if !unpaired.isEmpty { print("unpaired files: \(unpaired.count) (listed on stderr, left out)") }
        let report = SegReport(
            binary: binary, ignore: binary ? nil : ignore, names: names, images: evaluated, matrix: total,
            perImage: perImage ? zip(pairs, all).compactMap { pair, r in r.counts.map { (pair.relative, $0) } } : nil)
        try report.emit(json: json, plots: plots)
        if let saveState {
            try ImageFile.writeAtomically(Array((report.state.text(indent: 0) + "\n").utf8), to: saveState)
        }
        for failure in failures { writeStderr("cvseg: FAILED \(failure)\n") }
        if !failures.isEmpty { throw ExitCode(1) }
    }

    /// A mask file's labels as stored: gray values or palette indices, 8- or 16-bit.
    enum LabelImage {
        case bytes(Image<UInt8>)
        case words(Image<UInt16>)

        var width: Int { switch self { case .bytes(let i): i.width; case .words(let i): i.width } }
        var height: Int { switch self { case .bytes(let i): i.height; case .words(let i): i.height } }
        var words: Image<UInt16> {
            switch self {
            case .bytes(let i): i.mapSamples { UInt16($0) }
            case .words(let i): i
            }
        }
        var labels: LabelMap {
            switch self {
            case .bytes(let i): LabelMap(i)
            case .words(let i): LabelMap(width: i.width, height: i.height, labels: i.samples.map { Int32($0) })
            }
        }
    }

    /// A mask file as labels. Binary: nonzero becomes 1 (and `had255` says whether 255 occurred).
    static func readLabelImage(_ path: String, binary: Bool) throws -> (labels: LabelImage, had255: Bool) {
        try labelImage(ImageFile.read(path, options: DecodeOptions(palette: .indices)), path: path, binary: binary)
    }

    /// ``readLabelImage(_:binary:)`` of a decoded file.
    static func labelImage(_ decoded: DecodedImage, path: String, binary: Bool) throws -> (labels: LabelImage, had255: Bool) {
        var image: LabelImage
        switch decoded {
        case .indexed(let i): image = .bytes(i.indices)
        case .image(.uint8(let i)) where i.layout == .gray: image = .bytes(i)
        case .image(.uint16(let i)) where i.layout == .gray: image = .words(i)
        case .image(let i):
            throw CVSegError.unsupported(file: path, reason: "a mask must be gray or palette, not \(i.layout)")
        }
        var had255 = false
        if binary {
            switch image {
            case .bytes(let i):
                had255 = i.samples.contains(255)
                image = .bytes(i.mapSamples { $0 != 0 ? 1 : 0 })
            case .words(let i):
                had255 = i.samples.contains(255)
                image = .words(i.mapSamples { $0 != 0 ? 1 : 0 })
            }
        }
        return (image, had255)
    }

    /// ``readLabelImage(_:binary:)`` as a ``LabelMap``. `rgbIDs`: an 8-bit RGB file holds region
    /// ids in the COCO panoptic encoding (id = R + 256·G + 65536·B), as cvseg writes label maps
    /// past 65,535 labels; otherwise a colour file is an error.
    static func readLabels(_ path: String, binary: Bool, rgbIDs: Bool = false) throws -> (labels: LabelMap, had255: Bool) {
        let decoded = try ImageFile.read(path, options: DecodeOptions(palette: .indices))
        if rgbIDs, case .image(.uint8(let i)) = decoded, i.layout == .rgb {
            let ids = MaskWriter.labels(fromRGBIDs: i)
            if binary { return (LabelMap(width: ids.width, height: ids.height, labels: ids.labels.map { $0 != 0 ? 1 : 0 }), false) }
            return (ids, false)
        }
        let (image, had255) = try labelImage(decoded, path: path, binary: binary)
        return (image.labels, had255)
    }
}

enum System {
    static var cores: Int { BatchOptions.cores }
}

extension EvalSeg {
    /// `--metric dibco`: per-image DIBCO measures and their arithmetic means (as DIBCO reports).
    func runDIBCO() throws {
        let (pairs, unpaired) = try Self.pairFiles(pred: pred, gt: gt)
        for line in unpaired { writeStderr("cvseg: \(strict ? "error" : "warning"): \(line)\n") }
        if strict && !unpaired.isEmpty { throw ExitCode(1) }
        let results = Mutex([Result<DIBCOScores, CVSegError>?](repeating: nil, count: pairs.count))
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: max(1, min(jobs ?? System.cores, pairs.count))) { _ in
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < pairs.count else { break }
                let r: Result<DIBCOScores, CVSegError>
                do {
                    let truth = try Self.readGray(pairs[i].truth), binarized = try Self.readGray(pairs[i].pred)
                    do {
                        let weights = PseudoWeights(groundTruth: truth)
                        r = .success(try DIBCOScores(groundTruth: truth, binarized: binarized,
                                                     recallWeights: weights.recall, precisionWeights: weights.precision))
                    } catch let error as CVSegError {
                        throw CVSegError.invalidArgument("\(pairs[i].pred) vs \(pairs[i].truth): \(error)")
                    }
                } catch let error as CVSegError {
                    r = .failure(error)
                } catch {
                    r = .failure(.invalidArgument("\(error)"))
                }
                results.withLock { $0[i] = r }
            }
        }
        var rows: [JSON] = [], scores: [DIBCOScores] = [], failures: [String] = []
        print("   FM(%)  p-FM(%)   recall  precision  PSNR(dB)      DRD  image (ink = 0; doxapy 0.9.9 definitions)")
        for (pair, r) in zip(pairs, results.withLock { $0 }) {
            switch r {
            case .success(let s)?:
                scores.append(s)
                print(pad(fixed(s.fMeasure, 2), 8, left: true) + pad(fixed(s.pseudoFMeasure ?? .nan, 2), 9, left: true)
                      + pad(fixed(s.recall, 2), 9, left: true)
                      + pad(fixed(s.precision, 2), 11, left: true) + pad(fixed(s.psnr, 2), 10, left: true)
                      + pad(fixed(s.drd, 3), 9, left: true) + "  " + pair.relative)
                rows.append(.object([("file", .string(pair.relative)), ("fm", .number(s.fMeasure)),
                                     ("pfm", .number(s.pseudoFMeasure ?? .nan)), ("pseudo_recall", .number(s.pseudoRecall ?? .nan)),
                                     ("pseudo_precision", .number(s.pseudoPrecision ?? .nan)), ("recall", .number(s.recall)),
                                     ("precision", .number(s.precision)), ("psnr", .number(s.psnr)), ("drd", .number(s.drd))]))
            case .failure(let e)?: failures.append("\(e)")
            case nil: failures.append("\(pair.pred): not evaluated")
            }
        }
        func mean(_ f: (DIBCOScores) -> Double) -> Double {
            scores.isEmpty ? .nan : scores.reduce(0) { $0 + f($1) } / Double(scores.count)
        }
        let means: [(String, Double)] = [("fm", mean(\.fMeasure)), ("pfm", mean { $0.pseudoFMeasure ?? .nan }),
                                         ("recall", mean(\.recall)), ("precision", mean(\.precision)),
                                         ("psnr", mean(\.psnr)), ("drd", mean(\.drd))]
        print("mean over \(scores.count) images (mean of per-image values, as DIBCO): FM \(fixed(means[0].1, 2))  "
              + "p-FM \(fixed(means[1].1, 2))  PSNR \(fixed(means[4].1, 2))  DRD \(fixed(means[5].1, 3))")
        if let json {
            let report = JSON.object([("metric", .string("dibco")), ("images", .int(scores.count)),
                                      ("means", .object(means.map { ($0.0, .number($0.1)) })), ("per_image", .array(rows))])
            try ImageFile.writeAtomically(Array((report.text() + "\n").utf8), to: json)
        }
        for failure in failures { writeStderr("cvseg: FAILED \(failure)\n") }
        if !failures.isEmpty { throw ExitCode(1) }
    }

    /// Pairs files of `pred` and `gt` by relative path without extension; lists the unpaired.
    static func pairFiles(pred: String, gt: String) throws -> (pairs: [(pred: String, truth: String, relative: String)], unpaired: [String]) {
        let predFiles = Inputs.collect([pred]), gtFiles = Inputs.collect([gt])
        for p in predFiles.problems + gtFiles.problems { writeStderr("cvseg: \(p.input): \(p.reason)\n") }
        if !predFiles.problems.isEmpty || !gtFiles.problems.isEmpty { throw ExitCode(1) }
        var gtByStem: [String: String] = [:]
        for file in gtFiles.files { gtByStem[GroundTruthLoader.stem(file.relative)] = file.path }
        var pairs: [(pred: String, truth: String, relative: String)] = []
        var unpaired: [String] = []
        var matched = Set<String>()
        for file in predFiles.files {
            if let truth = gtByStem[GroundTruthLoader.stem(file.relative)] {
                pairs.append((file.path, truth, file.relative))
                matched.insert(GroundTruthLoader.stem(file.relative))
            } else {
                unpaired.append("\(file.path): no ground truth for it in \(gt)")
            }
        }
        for file in gtFiles.files where !matched.contains(GroundTruthLoader.stem(file.relative)) {
            unpaired.append("\(file.path): no prediction for it in \(pred)")
        }
        return (pairs, unpaired)
    }

    /// A gray 8-bit image (colour converted with BT.601, palettes expanded).
    static func readGray(_ path: String) throws -> Image<UInt8> {
        guard case .uint8(let image) = try ImageFile.read(path, options: DecodeOptions(palette: .expand)).expanded() else {
            throw CVSegError.unsupported(file: path, reason: "DIBCO measures need 8-bit images")
        }
        return image.grayscale()
    }
}

/// A segmentation evaluation's result: what `eval seg` prints, saves as state, and what
/// `eval merge` rebuilds by summing states.
struct SegReport {
    var binary: Bool
    var ignore: Int?
    var names: [String]
    var images: Int
    var matrix: ConfusionMatrix
    var perImage: [(file: String, counts: ClassCounts)]?

    func emit(json: String?, plots: String? = nil) throws {
        let total = matrix
        let classes = matrix.classes
        let metrics = SegmentationMetrics(total)
        print("images \(images), pixels \(total.total); dataset confusion matrix (metrics pooled over all pixels)"
              + (binary ? ", foreground = nonzero" : ", ignored label \(ignore.map(String.init) ?? "none")"))
        let nameWidth = max(5, names.map(\.count).max() ?? 5)
        print(pad("class", nameWidth) + "     IoU     Acc    Dice    Prec  Recall")
        for (c, s) in metrics.perClass.enumerated() {
            print(pad(names[c], nameWidth) + [s.iou, s.accuracy, s.dice, s.precision, s.recall]
                .map { pad(fixed($0, 4), 8, left: true) }.joined())
        }
        print("aAcc \(fixed(metrics.aAcc, 4))  mAcc \(fixed(metrics.mAcc, 4))  mIoU \(fixed(metrics.mIoU, 4))  "
              + "fwIoU \(fixed(metrics.fwIoU, 4))  (means over classes with a defined value)")
        var report: [(String, JSON)] = [
            ("images", .int(images)), ("pixels", .int(total.total)),
            ("mIoU", .number(metrics.mIoU)), ("aAcc", .number(metrics.aAcc)), ("mAcc", .number(metrics.mAcc)),
            ("mDice", .number(metrics.mDice)), ("fwIoU", .number(metrics.fwIoU)),
            ("per_class", .array(metrics.perClass.enumerated().map { c, s in
                .object([("class", .string(names[c])), ("IoU", .number(s.iou)), ("Acc", .number(s.accuracy)),
                         ("Dice", .number(s.dice)), ("precision", .number(s.precision)), ("recall", .number(s.recall))])
            })),
            ("confusion", .array((0..<classes).map { g in .array((0..<classes).map { .int(total[g, $0]) }) })),
        ]
        if binary {
            let b = BinaryMetrics(total)
            print("foreground  IoU \(fixed(b.iou, 4))  F1 \(fixed(b.f1, 4))  precision \(fixed(b.precision, 4))  "
                  + "recall \(fixed(b.recall, 4))  accuracy \(fixed(b.accuracy, 4))")
            report.append(("foreground", .object([("IoU", .number(b.iou)), ("F1", .number(b.f1)),
                                                  ("precision", .number(b.precision)), ("recall", .number(b.recall)),
                                                  ("accuracy", .number(b.accuracy))])))
        }
        if let perImage {
            print("per image (each image's own mIoU over its classes present; NOT the dataset mIoU above):")
            var rows: [JSON] = []
            var sum = 0.0, count = 0
            for (file, counts) in perImage {
                let s = SegmentationMetrics(counts)
                print("  \(pad(fixed(s.mIoU, 4), 7, left: true))  \(file)")
                rows.append(.object([("file", .string(file)), ("mIoU", .number(s.mIoU)), ("aAcc", .number(s.aAcc))]))
                if !s.mIoU.isNaN { sum += s.mIoU; count += 1 }
            }
            let mean = count == 0 ? Double.nan : sum / Double(count)
            print("mean of per-image mIoU \(fixed(mean, 4)) over \(count) images")
            report += [("per_image", .array(rows)), ("per_image_mean_mIoU", .number(mean))]
        }
        if let json {
            try ImageFile.writeAtomically(Array((JSON.object(report).text() + "\n").utf8), to: json)
        }
        if let plots {
            for path in try Plots.confusion(matrix, names: names, folder: plots) { writeStderr("cvseg: wrote \(path)\n") }
        }
    }

    var state: JSON {
        var members: [(String, JSON)] = [
            ("cvseg_eval_state", .int(1)), ("kind", .string("seg")), ("binary", .bool(binary)),
            ("ignore", ignore.map { .int($0) } ?? .null), ("names", .array(names.map { .string($0) })),
            ("images", .int(images)), ("confusion", .array(matrix.counts.map { .int($0) })),
        ]
        if let perImage {
            members.append(("per_image", .array(perImage.map { file, c in
                .object([("file", .string(file)), ("tp", .array(c.truePositives.map { .int($0) })),
                         ("predicted", .array(c.predicted.map { .int($0) })), ("truth", .array(c.truth.map { .int($0) }))])
            })))
        }
        return .object(members)
    }

    /// Rebuilds a report from a saved state.
    init(state: JSON, file: String) throws {
        func bad(_ reason: String) -> CVSegError { .invalidContent(file: file, reason: reason) }
        guard state["kind"]?.stringValue == "seg", let names = state["names"]?.arrayValue?.compactMap(\.stringValue),
              let counts = state["confusion"]?.arrayValue?.compactMap(\.intValue), counts.count == names.count * names.count,
              !names.isEmpty, let images = state["images"]?.intValue else {
            throw bad("not a cvseg segmentation state (from `eval seg --save-state`)")
        }
        binary = state["binary"]?.boolValue ?? false
        ignore = state["ignore"]?.intValue
        self.names = names
        self.images = images
        matrix = ConfusionMatrix(classes: names.count, counts: counts)
        if let rows = state["per_image"]?.arrayValue {
            perImage = try rows.map { row in
                guard let file = row["file"]?.stringValue,
                      let tp = row["tp"]?.arrayValue?.compactMap(\.intValue), let p = row["predicted"]?.arrayValue?.compactMap(\.intValue),
                      let t = row["truth"]?.arrayValue?.compactMap(\.intValue),
                      tp.count == names.count, p.count == names.count, t.count == names.count else {
                    throw bad("a per-image entry is incomplete")
                }
                return (file, ClassCounts(classes: names.count, truePositives: tp, predicted: p, truth: t))
            }
        }
    }

    init(binary: Bool, ignore: Int?, names: [String], images: Int, matrix: ConfusionMatrix,
         perImage: [(file: String, counts: ClassCounts)]?) {
        self.binary = binary; self.ignore = ignore; self.names = names; self.images = images
        self.matrix = matrix; self.perImage = perImage
    }

    /// The sum of two shards' reports; they must have been made with the same settings.
    mutating func merge(_ other: SegReport, file: String) throws {
        guard other.binary == binary, other.ignore == ignore, other.names == names else {
            throw CVSegError.invalidContent(file: file, reason: "made with other settings (classes, names, --binary or --ignore) than the first state")
        }
        matrix.add(other.matrix)
        images += other.images
        if let rows = other.perImage { perImage = (perImage ?? []) + rows }
        perImage?.sort { $0.file.utf8.lexicographicallyPrecedes($1.file.utf8) }
    }
}
