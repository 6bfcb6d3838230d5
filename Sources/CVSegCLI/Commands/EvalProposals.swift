import ArgumentParser
import CVSegCore
import CVSegEval
import CVSegIO

struct EvalProposals: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proposals",
        abstract: "Region proposals: recall at IoU 0.5 and 0.7, average recall and (M)ABO against the number kept.",
        discussion: """
            Proposals are cvseg's proposals JSON (a list of {"file", "boxes": [[x, y, w, h], …]}, \
            best first, as `cvseg propose` writes). Each entry is matched to a ground-truth image \
            by file name (without extension). Ground truth as for `eval det`. Crowd and difficult \
            objects are left out.
            """)

    @Option(help: ArgumentHelp("Proposals JSON.", valueName: "file"))
    var pred: String

    @Option(help: ArgumentHelp("Ground truth: COCO instances JSON, VOC XML folder or instance-mask folder.", valueName: "path"))
    var gt: String

    @Option(help: ArgumentHelp("Numbers of proposals to evaluate at, comma-separated.", valueName: "list"))
    var counts: String = "1,10,100,200,500,1000,2000,5000"

    @Option(help: ArgumentHelp("Class names in id order, for VOC XML and mask folders.", valueName: "file"))
    var classNames: String?

    @Option(help: ArgumentHelp("Also write the table as JSON to this file.", valueName: "file"))
    var json: String?

    @Option(help: ArgumentHelp("Write proposal_recall.png (recall and MABO against the number of proposals) to this folder.", valueName: "folder"))
    var plots: String?

    func validate() throws {
        guard parsedCounts != nil else { throw ValidationError("--counts must be positive integers separated by commas, not \(counts).") }
    }

    var parsedCounts: [Int]? {
        let values = counts.split(separator: ",").map { Int($0.trimmingCharacters()) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return values.map { $0! }
    }

    func run() throws {
        let names = try classNames.map(readClassNames)
        let truth = try GroundTruthLoader.load(gt, classNames: names)
        let entries = try ProposalsFormat.parse(FileBytes.read(pred), file: pred)
        let resolve = GroundTruthLoader.imageResolver(truth)
        var proposals: [Int: [EvalBox]] = [:]
        var unmatched: [String] = []
        for entry in entries {
            if let id = resolve(entry.file) { proposals[id] = entry.boxes } else { unmatched.append(entry.file) }
        }
        if !unmatched.isEmpty {
            writeStderr("cvseg: warning: \(unmatched.count) proposal entries match no ground-truth image (first: \(unmatched[0]))\n")
        }
        let missing = truth.images.filter { proposals[$0.id] == nil }.count
        if missing > 0 {
            writeStderr("cvseg: warning: \(missing) ground-truth images have no proposals; their objects count as missed\n")
        }
        let rows = ProposalEvaluator(counts: parsedCounts!).evaluate(proposals, truth: truth)
        print("proposals   mean/img   recall@0.5  recall@0.7      AR     ABO    MABO")
        for r in rows {
            print(pad(String(r.count), 9, left: true) + pad(fixed(r.meanProposals, 1), 11, left: true)
                  + pad(fixed(r.recall50, 4), 13, left: true) + pad(fixed(r.recall70, 4), 12, left: true)
                  + pad(fixed(r.averageRecall, 4), 8, left: true) + pad(fixed(r.abo, 4), 8, left: true)
                  + pad(fixed(r.mabo, 4), 8, left: true))
        }
        if let plots {
            for path in try Plots.proposalRecall(rows, folder: plots) { writeStderr("cvseg: wrote \(path)\n") }
        }
        if let json {
            let report = JSON.object([
                ("images", .int(truth.images.count)),
                ("rows", .array(rows.map { r in
                    .object([("proposals", .int(r.count)), ("mean_proposals", .number(r.meanProposals)),
                             ("recall50", .number(r.recall50)), ("recall70", .number(r.recall70)),
                             ("AR", .number(r.averageRecall)), ("ABO", .number(r.abo)), ("MABO", .number(r.mabo))])
                })),
            ])
            try ImageFile.writeAtomically(Array((report.text() + "\n").utf8), to: json)
        }
    }
}
