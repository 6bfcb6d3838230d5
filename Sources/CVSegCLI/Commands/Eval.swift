import ArgumentParser

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate predictions against ground truth.",
        subcommands: [EvalSeg.self, EvalDet.self, EvalProposals.self, EvalMerge.self, EvalPartition.self])
}

/// Lines of a class-names file: one name per line, blank lines and `#` comments skipped.
func readClassNames(_ path: String) throws -> [String] {
    let text = String(decoding: try FileBytes.read(path), as: UTF8.self)
    return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters() }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(self.drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}

/// `name` padded to `width` on the right (or left when `right` is false).
func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - text.count))
    return left ? fill + text : text + fill
}

import CVSegIO
