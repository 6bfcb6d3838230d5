import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Progress on stderr: a redrawn bar when stderr is a terminal, a plain line every few seconds
/// otherwise (logs), nothing when quiet.
final class Progress: Sendable {
    private struct State {
        var done = 0
        var failed = 0
        var lastDraw = 0.0
    }
    private let total: Int
    private let enabled: Bool
    private let terminal: Bool
    private let label: String
    private let state = Mutex(State())
    private let start: Double

    init(total: Int, label: String, quiet: Bool) {
        self.total = total
        self.label = label
        enabled = !quiet && total > 0
        terminal = isatty(2) != 0
        start = Progress.now()
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    var elapsed: Double { Progress.now() - start }

    func advance(failed: Bool) {
        guard enabled else { return }
        state.withLock { s in
            s.done += 1
            if failed { s.failed += 1 }
            let t = Progress.now()
            let interval = terminal ? 0.1 : 5.0
            if t - s.lastDraw >= interval || s.done == total {
                s.lastDraw = t
                draw(s)
            }
        }
    }

    func finish() {
        guard enabled, terminal else { return }
        writeStderr("\n")
    }

    private func draw(_ s: State) {
        let failedText = s.failed > 0 ? ", \(s.failed) failed" : ""
        if terminal {
            let width = 30
            let filled = total > 0 ? width * s.done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            writeStderr("\r\(label) [\(bar)] \(s.done)/\(total)\(failedText)")
        } else {
            writeStderr("\(label): \(s.done)/\(total) done\(failedText), \(Int(elapsed)) s\n")
        }
    }
}

func writeStderr(_ text: String) {
    var text = text
    text.withUTF8 { buffer in
        var offset = 0
        while offset < buffer.count {
            let n = write(2, buffer.baseAddress! + offset, buffer.count - offset)
            if n <= 0 { break }
            offset += n
        }
    }
}
