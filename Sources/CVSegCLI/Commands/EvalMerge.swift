import ArgumentParser
import CVSegCore
import CVSegEval
import CVSegIO

struct EvalMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge the --save-state files of shards into one evaluation.",
        discussion: """
            For a batch split across machines: run `cvseg eval seg` (or `eval det`) on each part \
            with --save-state, then merge the states. Segmentation states add their confusion \
            matrices; detection states must share the same ground truth, and their detections \
            are concatenated in the order given. The numbers equal one run on the union.
            """)

    @Argument(help: ArgumentHelp("State files written by --save-state.", valueName: "state"))
    var states: [String]

    @Option(help: ArgumentHelp("Also write the metrics as JSON to this file.", valueName: "file"))
    var json: String?

    @Flag(help: "Detection states: make detections of categories absent from the ground truth an error.")
    var strict = false

    @Option(help: ArgumentHelp("Write the pictures the evaluation makes to this folder.", valueName: "folder"))
    var plots: String?

    func validate() throws {
        if states.isEmpty { throw ValidationError("Give at least one state file.") }
    }

    func run() throws {
        let parsed = try states.map { path in (path, try JSON.parse(FileBytes.read(path), file: path)) }
        switch parsed[0].1["kind"]?.stringValue {
        case "seg":
            var report = try SegReport(state: parsed[0].1, file: parsed[0].0)
            for (path, state) in parsed.dropFirst() { try report.merge(SegReport(state: state, file: path), file: path) }
            try report.emit(json: json, plots: plots)
        case "det":
            var report = try DetReport(state: parsed[0].1, file: parsed[0].0)
            for (path, state) in parsed.dropFirst() { try report.merge(DetReport(state: state, file: path), file: path) }
            try report.emit(json: json, predictionsFile: states.joined(separator: "+"), strict: strict, plots: plots)
        default:
            throw CVSegError.invalidContent(file: parsed[0].0, reason: "not a cvseg evaluation state (from --save-state)")
        }
    }
}
