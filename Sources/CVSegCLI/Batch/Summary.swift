import CVSegCore

/// The end-of-batch report: a JSON document (`--json`) or a few human lines, plus every failure.
struct BatchSummary {
    struct File {
        var input: String
        var output: String
        var status: String
        var details: FileDetails?
    }
    struct Failure {
        var input: String
        var error: String
    }

    var command: String
    var inputs: Int
    var written: Int
    var skipped: Int
    var failed: Int
    var seconds: Double
    var files: [File]
    var failures: [Failure]

    init(command: String, items: [BatchItem], statuses: [ItemStatus], problems: [InputProblem], seconds: Double) {
        self.command = command
        self.seconds = (seconds * 1000).rounded() / 1000
        var files: [File] = []
        var failures = problems.map { Failure(input: $0.input, error: $0.reason) }
        var written = 0, skipped = 0
        for (item, status) in zip(items, statuses) {
            switch status {
            case .written(let details):
                written += 1
                files.append(File(input: item.input, output: item.output, status: "written", details: details))
            case .skipped:
                skipped += 1
                files.append(File(input: item.input, output: item.output, status: "skipped", details: nil))
            case .failed(let reason):
                failures.append(Failure(input: item.input, error: reason))
            }
        }
        self.files = files
        self.failures = failures
        self.written = written
        self.skipped = skipped
        self.failed = failures.count
        self.inputs = items.count + problems.count
    }

    /// Prints the summary (stdout) and failures (stderr); returns the exit status.
    func report(json: Bool) -> Int32 {
        if json {
            print(self.json.text())
        } else {
            var line = "\(command): \(written) written"
            if skipped > 0 { line += ", \(skipped) skipped (output exists)" }
            if failed > 0 { line += ", \(failed) failed" }
            line += " in \(fixed(seconds, 2)) s"
            print(line)
        }
        for failure in failures {
            writeStderr("cvseg: FAILED \(failure.error.hasPrefix(failure.input) ? failure.error : failure.input + ": " + failure.error)\n")
        }
        return failed > 0 ? 1 : 0
    }

    var json: JSON {
        .object([
            ("command", .string(command)),
            ("inputs", .int(inputs)),
            ("written", .int(written)),
            ("skipped", .int(skipped)),
            ("failed", .int(failed)),
            ("seconds", .number(seconds)),
            ("files", .array(files.map { file in
                var members: [(String, JSON)] = [("input", .string(file.input)), ("output", .string(file.output)),
                                                 ("status", .string(file.status))]
                if let details = file.details { members.append(("details", details.json)) }
                return .object(members)
            })),
            ("failures", .array(failures.map { .object([("input", .string($0.input)), ("error", .string($0.error))]) })),
        ])
    }
}
