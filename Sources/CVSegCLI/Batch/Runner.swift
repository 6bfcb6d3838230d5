import Dispatch
import Synchronization
import CVSegCore
#if canImport(Glibc)
import Glibc
#endif

/// What happened to one input.
enum ItemStatus: Sendable {
    case written(details: FileDetails)
    case skipped
    case failed(reason: String)
}

/// Per-file facts a command reports in its JSON summary.
struct FileDetails: Sendable, Equatable {
    var width: Int
    var height: Int
    var threshold: Int?
    var foregroundFraction: Double?
    var thresholds: [Int]? = nil
    var regions: Int? = nil
    /// The classes present in a network's labels.
    var classes: [Int]? = nil

    var json: JSON {
        var members: [(String, JSON)] = [("width", .int(width)), ("height", .int(height))]
        if let classes { members.append(("classes", .array(classes.map { .int($0) }))) }
        if let threshold { members.append(("threshold", .int(threshold))) }
        if let thresholds { members.append(("thresholds", .array(thresholds.map { .int($0) }))) }
        if let regions { members.append(("regions", .int(regions))) }
        if let foregroundFraction { members.append(("foreground_fraction", .number(foregroundFraction))) }
        return .object(members)
    }
}

/// Runs `work` over the batch on `jobs` threads. Each item is independent and results are
/// returned in input order, so the files written and the summary do not depend on `jobs`.
enum BatchRunner {
    static func run(_ items: [BatchItem], jobs: Int, skipExisting: Bool, progress: Progress,
                    work: @Sendable (BatchItem) throws -> FileDetails) -> [ItemStatus] {
        let next = Atomic<Int>(0)
        let results = Mutex<[ItemStatus?]>(Array(repeating: nil, count: items.count))
        let workers = max(1, min(jobs, items.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < items.count else { break }
                let item = items[i]
                let status: ItemStatus
                if skipExisting && access(item.output, F_OK) == 0 {
                    status = .skipped
                } else {
                    do {
                        status = .written(details: try work(item))
                    } catch {
                        status = .failed(reason: "\(error)")
                    }
                }
                results.withLock { $0[i] = status }
                if case .failed = status { progress.advance(failed: true) } else { progress.advance(failed: false) }
            }
        }
        progress.finish()
        return results.withLock { $0.map { $0 ?? .failed(reason: "not processed") } }
    }
}

/// Writes a `cvseg: FAILED path: cause` line for each input problem and each failed item (for
/// the commands that write one file for the whole batch) and returns how many there were.
func reportFailures(_ problems: [InputProblem], _ items: [BatchItem], _ statuses: [ItemStatus]) -> Int {
    var failed = problems.count
    for problem in problems { writeStderr("cvseg: FAILED \(problem.input): \(problem.reason)\n") }
    for (item, status) in zip(items, statuses) {
        if case .failed(let reason) = status {
            failed += 1
            writeStderr("cvseg: FAILED \(item.input): \(reason)\n")
        }
    }
    return failed
}
