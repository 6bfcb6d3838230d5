import ArgumentParser
import CVSegCore
import CVSegEval
import CVSegIO

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate predictions against ground truth.",
        subcommands: [Seg.self])
}

extension Eval {
    struct Seg: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Segmentation masks: one confusion matrix summed over the dataset.",
            discussion: """
                Prediction and ground-truth files are paired by relative path, ignoring the \
                extension. Masks are read as indices (gray 8/16-bit values, palette PNGs by \
                index, never by colour). Metrics come from the confusion matrix summed over all \
                images (dataset IoU), not from a mean of per-image scores.
                """)

        @Option(help: ArgumentHelp("Folder of predicted masks.", valueName: "folder"))
        var pred: String

        @Option(help: ArgumentHelp("Folder of ground-truth masks.", valueName: "folder"))
        var gt: String

        @Flag(help: "Two classes: any nonzero value is foreground (0/255 and 0/1 masks alike).")
        var binary = false

        @Option(help: ArgumentHelp("Number of classes (labels 0..<K), for multi-class masks.", valueName: "K"))
        var numClasses: Int?

        @Option(help: ArgumentHelp("Ground-truth label to ignore (multi-class only).", valueName: "label"))
        var ignore: Int = 255

        @Option(help: ArgumentHelp("Also write the metrics as JSON to this file.", valueName: "file"))
        var json: String?

        func validate() throws {
            if !binary && numClasses == nil { throw ValidationError("Give --binary or --num-classes K.") }
            if binary && numClasses != nil { throw ValidationError("--binary and --num-classes exclude each other.") }
            if let k = numClasses, k < 1 || k > 65536 { throw ValidationError("--num-classes must be 1...65536.") }
        }

        func run() throws {
            let classes = binary ? 2 : numClasses!
            let predFiles = Inputs.collect([pred])
            let gtFiles = Inputs.collect([gt])
            var problems = predFiles.problems + gtFiles.problems
            var gtByStem: [String: String] = [:]
            for file in gtFiles.files { gtByStem[stem(file.relative)] = file.path }
            var matrix = ConfusionMatrix(classes: classes)
            var paired = 0
            var matched = Set<String>()
            for file in predFiles.files {
                let key = stem(file.relative)
                guard let truthPath = gtByStem[key] else {
                    problems.append(InputProblem(input: file.path, reason: "no ground truth for \(file.relative) in \(gt)"))
                    continue
                }
                matched.insert(key)
                do {
                    let p = try readLabels(file.path)
                    let t = try readLabels(truthPath)
                    try matrix.add(predicted: p, truth: t, ignoreLabel: binary ? nil : Int32(ignore))
                    paired += 1
                } catch {
                    problems.append(InputProblem(input: file.path, reason: "\(error)"))
                }
            }
            for file in gtFiles.files where !matched.contains(stem(file.relative)) {
                problems.append(InputProblem(input: file.path, reason: "no prediction for this ground truth"))
            }
            var report: [(String, JSON)] = [("images", .int(paired)), ("classes", .int(classes)), ("pixels", .int(matrix.total))]
            if binary {
                let m = BinaryMetrics(matrix)
                print("images \(paired), pixels \(matrix.total) (dataset confusion matrix, foreground = nonzero)")
                print("foreground  IoU \(fixed(m.iou, 4))  F1 \(fixed(m.f1, 4))  precision \(fixed(m.precision, 4))  "
                      + "recall \(fixed(m.recall, 4))  accuracy \(fixed(m.accuracy, 4))")
                report += [("IoU", .number(m.iou)), ("F1", .number(m.f1)), ("precision", .number(m.precision)),
                           ("recall", .number(m.recall)), ("accuracy", .number(m.accuracy))]
            } else {
                var ious: [Double] = []
                print("images \(paired), pixels \(matrix.total) (dataset confusion matrix)")
                print("class  IoU")
                for c in 0..<classes {
                    let denom = matrix.truePositives(c) + matrix.falsePositives(c) + matrix.falseNegatives(c)
                    let iou = denom == 0 ? Double.nan : Double(matrix.truePositives(c)) / Double(denom)
                    ious.append(iou)
                    let label = String(c)
                    print(String(repeating: " ", count: max(0, 5 - label.count)) + label + "  " + fixed(iou, 4))
                }
                let present = ious.filter { !$0.isNaN }
                let miou = present.isEmpty ? Double.nan : present.reduce(0, +) / Double(present.count)
                let aacc = matrix.total == 0 ? Double.nan
                    : Double((0..<classes).reduce(0) { $0 + matrix.truePositives($1) }) / Double(matrix.total)
                print("mIoU \(fixed(miou, 4))  aAcc \(fixed(aacc, 4)) (classes absent from both are left out of the mean)")
                report += [("mIoU", .number(miou)), ("aAcc", .number(aacc)), ("IoU_per_class", .array(ious.map { .number($0) }))]
            }
            if let json {
                try ImageFile.writeAtomically(Array((JSON.object(report).text() + "\n").utf8), to: json)
            }
            for p in problems { writeStderr("cvseg: FAILED \(p.input): \(p.reason)\n") }
            if !problems.isEmpty { throw ExitCode(1) }
        }

        private func stem(_ relative: String) -> String {
            if let dot = relative.lastIndex(of: "."), !relative[dot...].contains("/") { return String(relative[..<dot]) }
            return relative
        }

        private func readLabels(_ path: String) throws -> LabelMap {
            let decoded = try ImageFile.read(path, options: DecodeOptions(palette: .indices))
            let values: [Int32]
            switch decoded {
            case .indexed(let i):
                values = i.indices.samples.map { Int32($0) }
            case .image(.uint8(let i)) where i.layout == .gray:
                values = i.samples.map { Int32($0) }
            case .image(.uint16(let i)) where i.layout == .gray:
                values = i.samples.map { Int32($0) }
            case .image(let i):
                throw CVSegError.unsupported(file: path, reason: "a mask must be gray or palette, not \(i.layout)")
            }
            let labels = binary ? values.map { $0 != 0 ? Int32(1) : 0 } : values
            return LabelMap(width: decoded.width, height: decoded.height, labels: labels)
        }
    }
}
