import ArgumentParser
import CVSegCore
import CVSegEval
import CVSegIO
import Dispatch
import Synchronization

/// `cvseg eval partition`: region label maps against human segmentations (BSDS500-style, several
/// annotators per image) with variation of information, segmentation covering and the Rand index;
/// with `--binary-gt`, also the oracle foreground IoU of the regions.
struct EvalPartition: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partition",
        abstract: "Region label maps against ground-truth segmentations: VI, covering, Rand index.",
        discussion: """
            Each predicted file (a region label map: any label values, each value one region) is \
            paired with the ground-truth files of the same relative path without extension, \
            either named alike (a/b/123.png) or with an annotator suffix (a/b/123_1.png, \
            a/b/123_2.png, …: several human segmentations of one image). Files are read as \
            indices (gray 8/16-bit values, palette PNGs by index). Measures per pair: \
            VI = H(S|G) + H(G|S) in bits (log2, as scikit-image's variation_of_information and \
            the BSDS500 benchmark; lower is better); covering of the ground truth by the \
            prediction C(S→G) (Arbelaez et al. 2011, the number BSDS reports) and the reverse \
            C(G→S); Rand index. An image's value is the mean over its annotators (so the Rand \
            index is the probabilistic Rand index), the dataset's the mean over images; "best" \
            takes each image's best-agreeing annotator instead. --binary-gt reads the ground \
            truth as foreground (nonzero) / background and adds the oracle foreground IoU: every \
            predicted region goes to the class holding the majority of its pixels (ties: \
            background), one confusion matrix over all images — the best an ideal region \
            classifier can reach. Unpaired files are listed on stderr and make the exit status \
            1 (after the others are scored) unless --allow-unpaired.
            """)

    @Option(help: ArgumentHelp("Folder of predicted label maps.", valueName: "folder"))
    var pred: String

    @Option(help: ArgumentHelp("Folder of ground-truth label maps (<name>.png or <name>_<k>.png per annotator).", valueName: "folder"))
    var gt: String

    @Flag(help: "Binary ground truth (nonzero = foreground); adds the oracle foreground IoU.")
    var binaryGt = false

    @Option(help: ArgumentHelp("Ground-truth value whose pixels are left out of every measure (default: none; with --binary-gt it is compared with the file's values).", valueName: "label"))
    var ignore: Int?

    @Flag(help: "Also print and save each image's values.")
    var perImage = false

    @Flag(help: "Unpaired files are warnings and leave the exit status 0.")
    var allowUnpaired = false

    @Option(help: ArgumentHelp("Images read at once (default: all cores).", valueName: "n"))
    var jobs: Int?

    @Option(help: ArgumentHelp("Also write the results as JSON to this file.", valueName: "file"))
    var json: String?

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1, not \(jobs).") }
        if let ignore, Int32(exactly: ignore) == nil { throw ValidationError("--ignore must fit in 32 bits, not \(ignore).") }
    }

    /// A prediction and the ground-truth files of its annotators.
    struct Group {
        var pred: String
        var relative: String
        var truths: [String]
    }

    private struct ImageResult: Sendable {
        var scores: PartitionImageScores?
        var oracle = OracleForeground()
        var error: String?
    }

    func run() throws {
        let (groups, unpaired) = try Self.pairFiles(pred: pred, gt: gt)
        for line in unpaired { writeStderr("cvseg: \(allowUnpaired ? "warning" : "error"): \(line)\n") }
        let results = Mutex([ImageResult](repeating: ImageResult(), count: groups.count))
        let next = Atomic<Int>(0)
        let (binary, ignoreLabel) = (binaryGt, ignore.map { Int32($0) })
        // With --binary-gt the ignore label is compared with the file's values, before they become
        // 0/1; ignored pixels get -1, which no file value can be.
        let tableIgnore: Int32? = binary ? (ignoreLabel == nil ? nil : -1) : ignoreLabel
        DispatchQueue.concurrentPerform(iterations: max(1, min(jobs ?? System.cores, groups.count))) { _ in
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < groups.count else { break }
                var r = ImageResult()
                do {
                    let p = try EvalSeg.readLabels(groups[i].pred, binary: false, rgbIDs: true).labels
                    var annotators: [PartitionScores] = []
                    for truthPath in groups[i].truths {
                        var t = try EvalSeg.readLabels(truthPath, binary: false, rgbIDs: true).labels
                        if binary {
                            t.labels = t.labels.map { $0 == ignoreLabel ? -1 : $0 != 0 ? 1 : 0 }
                        }
                        guard p.width == t.width, p.height == t.height else {
                            throw CVSegError.invalidArgument("\(groups[i].pred): prediction is \(p.width)x\(p.height) "
                                                             + "but ground truth \(truthPath) is \(t.width)x\(t.height)")
                        }
                        let table = try ContingencyTable(predicted: p, truth: t, ignoreLabel: tableIgnore)
                        annotators.append(PartitionScores(table))
                        if binary { r.oracle.add(table) }
                    }
                    r.scores = PartitionImageScores(annotators: annotators)
                } catch {
                    r.error = "\(error)"
                    r.oracle = OracleForeground()
                }
                results.withLock { $0[i] = r }
            }
        }
        let all = results.withLock { $0 }
        var dataset = PartitionDatasetScores()
        var oracle = OracleForeground()
        var rows: [(group: Group, scores: PartitionImageScores, oracle: OracleForeground)] = []
        var failures: [String] = []
        for (group, r) in zip(groups, all) {
            if let e = r.error { failures.append(e) }
            guard let scores = r.scores else { continue }
            dataset.add(scores)
            oracle.add(r.oracle)
            rows.append((group, scores, r.oracle))
        }
        if !unpaired.isEmpty { print("unpaired files: \(unpaired.count) (listed on stderr, left out)") }
        try report(dataset, oracle: binaryGt ? oracle : nil, rows: rows)
        for failure in failures { writeStderr("cvseg: FAILED \(failure)\n") }
        if !failures.isEmpty || (!unpaired.isEmpty && !allowUnpaired) { throw ExitCode(1) }
    }

    private func report(_ dataset: PartitionDatasetScores, oracle: OracleForeground?,
                        rows: [(group: Group, scores: PartitionImageScores, oracle: OracleForeground)]) throws {
        let mean = dataset.mean, best = dataset.best
        let pairs = dataset.images.reduce(0) { $0 + $1.annotators.count }
        let counts = dataset.images.map(\.annotators.count)
        let range = counts.isEmpty ? "0" : counts.min() == counts.max() ? "\(counts[0])" : "\(counts.min() ?? 0)–\(counts.max() ?? 0)"
        print("images \(dataset.images.count), ground-truth maps \(pairs) (\(range) per image)"
              + (binaryGt ? ", ground truth binary (nonzero = foreground)" : "")
              + (ignore.map { ", ignored ground-truth label \($0)" } ?? ""))
        print("per image: mean over its annotators; dataset: mean over images")
        print("measure                              mean   best annotator")
        func line(_ name: String, _ a: Double, _ b: Double?, digits: Int = 4) {
            print(pad(name, 32) + pad(fixed(a, digits), 9, left: true) + (b.map { pad(fixed($0, digits), 10, left: true) } ?? ""))
        }
        line("VI (bits, lower is better)", mean.variationOfInformation, best.variationOfInformation)
        line("  H(S|G) over-segmentation", mean.overSegmentation, best.overSegmentation)
        line("  H(G|S) under-segmentation", mean.underSegmentation, best.underSegmentation)
        line("covering of GT by prediction", mean.covering, best.covering)
        line("covering of prediction by GT", mean.reverseCovering, best.reverseCovering)
        line("PRI (Rand index)", mean.randIndex, best.randIndex)
        line("regions per image, prediction", mean.predictedRegions, nil, digits: 1)
        line("regions per image, ground truth", mean.truthRegions, nil, digits: 1)
        if let oracle {
            let b = oracle.metrics
            print("oracle foreground IoU \(fixed(b.iou, 4))  (each region to its majority class, ties background; "
                  + "one confusion matrix over all images)  precision \(fixed(b.precision, 4))  recall \(fixed(b.recall, 4))")
        }
        var members: [(String, JSON)] = [
            ("images", .int(dataset.images.count)), ("ground_truth_maps", .int(pairs)),
            ("VI", .number(mean.variationOfInformation)), ("VI_over", .number(mean.overSegmentation)),
            ("VI_under", .number(mean.underSegmentation)), ("VI_nats", .number(mean.variationOfInformationNats)),
            ("covering", .number(mean.covering)), ("covering_reverse", .number(mean.reverseCovering)),
            ("covering_pooled", .number(dataset.pooledCovering)), ("PRI", .number(mean.randIndex)),
            ("regions", .number(mean.predictedRegions)), ("truth_regions", .number(mean.truthRegions)),
            ("best_annotator", .object([("VI", .number(best.variationOfInformation)), ("covering", .number(best.covering)),
                                        ("covering_reverse", .number(best.reverseCovering)), ("PRI", .number(best.randIndex))])),
        ]
        if let oracle {
            let m = oracle.matrix
            members.append(("oracle_fg_IoU", .number(oracle.iou)))
            members.append(("oracle", .object([("tp", .int(m[1, 1])), ("fp", .int(m[0, 1])), ("fn", .int(m[1, 0])), ("tn", .int(m[0, 0]))])))
        }
        if perImage {
            print("per image (mean over annotators):")
            print("      VI  covering  reverse     PRI  regions  GT maps" + (oracle != nil ? "  oracle IoU" : "") + "  file")
            var list: [JSON] = []
            for (group, scores, o) in rows {
                let m = scores.mean
                print(pad(fixed(m.variationOfInformation, 4), 8, left: true) + pad(fixed(m.covering, 4), 10, left: true)
                      + pad(fixed(m.reverseCovering, 4), 9, left: true) + pad(fixed(m.randIndex, 4), 8, left: true)
                      + pad(fixed(m.predictedRegions, 0), 9, left: true) + pad(String(scores.annotators.count), 9, left: true)
                      + (oracle != nil ? pad(fixed(o.iou, 4), 12, left: true) : "") + "  " + group.relative)
                var item: [(String, JSON)] = [
                    ("file", .string(group.relative)), ("ground_truth", .array(group.truths.map { .string($0) })),
                    ("VI", .number(m.variationOfInformation)), ("covering", .number(m.covering)),
                    ("covering_reverse", .number(m.reverseCovering)), ("PRI", .number(m.randIndex)),
                    ("regions", .number(m.predictedRegions)),
                    ("per_annotator", .array(scores.annotators.map { s in
                        .object([("VI", .number(s.variationOfInformation)), ("covering", .number(s.covering)),
                                 ("covering_reverse", .number(s.reverseCovering)), ("PRI", .number(s.randIndex)),
                                 ("truth_regions", .int(s.truthRegions))])
                    })),
                ]
                if oracle != nil { item.append(("oracle_fg_IoU", .number(o.iou))) }
                list.append(.object(item))
            }
            members.append(("per_image", .array(list)))
        }
        if let json {
            try ImageFile.writeAtomically(Array((JSON.object(members).text() + "\n").utf8), to: json)
        }
    }

    /// Groups the ground-truth files of `gt` under the predictions of `pred`, by relative path
    /// without extension. A ground-truth file pairs with the prediction of the same stem; failing
    /// that, a stem ending in `_<digits>` pairs with the prediction named by the rest (annotator
    /// <digits>). A prediction's annotators are ordered: the same-stem file first, then by
    /// annotator number, then by path. Lists the files left without a partner.
    static func pairFiles(pred: String, gt: String) throws -> (groups: [Group], unpaired: [String]) {
        let predFiles = Inputs.collect([pred]), gtFiles = Inputs.collect([gt])
        for p in predFiles.problems + gtFiles.problems { writeStderr("cvseg: \(p.input): \(p.reason)\n") }
        if !predFiles.problems.isEmpty || !gtFiles.problems.isEmpty { throw ExitCode(1) }
        var groups: [Group] = []
        var index: [String: Int] = [:]
        var unpaired: [String] = []
        for file in predFiles.files {
            let stem = GroundTruthLoader.stem(file.relative)
            if let other = index[stem] {
                unpaired.append("\(file.path): another prediction, \(groups[other].pred), has the same name without extension")
                continue
            }
            index[stem] = groups.count
            groups.append(Group(pred: file.path, relative: file.relative, truths: []))
        }
        var annotated: [[(order: Int, path: String)]] = Array(repeating: [], count: groups.count)
        for file in gtFiles.files {
            let stem = GroundTruthLoader.stem(file.relative)
            if let g = index[stem] {
                annotated[g].append((-1, file.path))
            } else if let (base, k) = annotatorSuffix(stem), let g = index[base] {
                annotated[g].append((k, file.path))
            } else {
                unpaired.append("\(file.path): no prediction for it in \(pred)")
            }
        }
        for g in groups.indices {
            groups[g].truths = annotated[g].sorted {
                $0.order != $1.order ? $0.order < $1.order : $0.path.utf8.lexicographicallyPrecedes($1.path.utf8)
            }.map(\.path)
        }
        for group in groups where group.truths.isEmpty {
            unpaired.append("\(group.pred): no ground truth for it in \(gt)")
        }
        return (groups.filter { !$0.truths.isEmpty }, unpaired)
    }

    /// `("a/123", 4)` for `"a/123_4"`: a stem whose last path component ends in `_` and digits.
    static func annotatorSuffix(_ stem: String) -> (base: String, annotator: Int)? {
        guard let underscore = stem.lastIndex(of: "_") else { return nil }
        let digits = stem[stem.index(after: underscore)...]
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let k = Int(digits) else { return nil }
        let base = String(stem[..<underscore])
        guard !base.isEmpty, !base.hasSuffix("/") else { return nil }
        return (base, k)
    }
}
