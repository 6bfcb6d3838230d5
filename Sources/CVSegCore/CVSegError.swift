/// Errors thrown at cvseg's boundaries: files, formats and user-supplied arguments.
/// Each message names the file (when there is one) and the cause.
public enum CVSegError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not a valid image of the expected format.
    case decode(file: String, format: String, reason: String)
    /// The decoder only got through with a corrupt-data warning (strict mode).
    case corruptData(file: String, format: String, detail: String)
    /// The header claims dimensions over the allowed limit.
    case tooLarge(file: String, detail: String)
    /// A valid file of a kind cvseg does not handle.
    case unsupported(file: String, reason: String)
    /// The file's contents are of another format than its extension says.
    case wrongExtension(file: String, contents: String, extension: String)
    /// Reading, writing or listing failed at the operating-system level.
    case io(path: String, operation: String, reason: String)
    /// An argument that the caller (or user) gave is invalid.
    case invalidArgument(String)
    /// A text file (JSON, XML, CSV) that does not parse; line and column are 1-based.
    case malformed(file: String, line: Int, column: Int, reason: String)
    /// A file that parses but whose contents break the format's rules (a missing field, an
    /// unknown id).
    case invalidContent(file: String, reason: String)
    /// A computation that produced NaN or infinity (training that diverged), with where.
    case nonFinite(String)

    public var description: String {
        switch self {
        case let .decode(file, format, reason):
            "\(file): invalid \(format) file: \(reason)"
        case let .corruptData(file, format, detail):
            "\(file): corrupt \(format) data: \(detail) (pass --lenient to accept damaged files)"
        case let .tooLarge(file, detail):
            "\(file): \(detail)"
        case let .unsupported(file, reason):
            "\(file): \(reason)"
        case let .wrongExtension(file, contents, ext):
            "\(file): the file holds \(contents) data but its extension says \(ext)"
        case let .io(path, operation, reason):
            "\(path): cannot \(operation): \(reason)"
        case let .invalidArgument(message):
            message
        case let .malformed(file, line, column, reason):
            "\(file):\(line):\(column): \(reason)"
        case let .invalidContent(file, reason):
            "\(file): \(reason)"
        case let .nonFinite(message):
            message
        }
    }
}
