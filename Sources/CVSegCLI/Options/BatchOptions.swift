import ArgumentParser
import CVSegCore
#if canImport(Glibc)
import Glibc
#endif

/// `K/N`: this run does shard K (1-based) of N.
struct Shard: ExpressibleByArgument, Sendable, Equatable {
    let index: Int
    let count: Int

    init?(argument: String) {
        let parts = argument.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n >= 1, (1...n).contains(k) else {
            return nil
        }
        index = k
        count = n
    }

    /// Whether the input whose output has this relative path belongs to this shard: FNV-1a
    /// (64-bit) of the path's UTF-8 bytes, modulo N, equals K - 1. The rule depends on the path
    /// alone, so every machine agrees without seeing the others' lists, and adding files moves no
    /// other file.
    func contains(relativePath: String) -> Bool {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in relativePath.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(count)) == index - 1
    }
}

/// Options every batch command shares: inputs, output folder, parallelism, resumption, reports.
struct BatchOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Image files and folders (folders are walked recursively, in sorted order).",
                                 valueName: "input"))
    var inputs: [String]

    @Option(name: .shortAndLong, help: ArgumentHelp("Output folder; the input tree is mirrored there.", valueName: "folder"))
    var output: String

    @Option(help: ArgumentHelp("Images processed at once (default: all cores).", valueName: "n"))
    var jobs: Int?

    @Flag(help: "Leave inputs whose output file already exists alone (to resume a batch).")
    var skipExisting = false

    @Option(help: ArgumentHelp("Process only shard K of N (1-based), chosen by a hash of each input's relative path.",
                               valueName: "K/N"))
    var shard: Shard?

    @Flag(help: "Print a JSON summary on stdout instead of the human one.")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress on stderr (failures are still reported).")
    var quiet = false

    @Flag(help: "Accept images that decode only with corrupt-data warnings (CRC mismatch, truncated JPEG).")
    var lenient = false

    var resolvedJobs: Int { jobs ?? BatchOptions.cores }

    static var cores: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1, not \(jobs).") }
        if inputs.isEmpty { throw ValidationError("Give at least one input file or folder.") }
        if output.isEmpty { throw ValidationError("--output must name a folder.") }
    }
}

/// How mask files are written.
enum MaskFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// 8-bit gray, 0 background, 255 foreground.
    case binary
    /// 8-bit gray class indices (16-bit past 255).
    case labels
    /// Indexed PNG with the PASCAL VOC colour map.
    case palette
    /// RGB picture of the mask blended over the image.
    case overlay
    /// RGB picture, each label in its own colour (any number of labels).
    case color
    /// RGB picture, each region painted with its mean colour in the image.
    case mean
    /// The image with region boundaries marked in yellow.
    case boundaries
}

struct MaskOptions: ParsableArguments {
    @Option(help: ArgumentHelp("""
        Mask file format: binary (8-bit 0/255), labels (class indices 0, 1, …), palette (indexed \
        PNG, PASCAL VOC colours), overlay (RGB: the labels blended over the image), color (RGB: \
        a colour per label, any count), mean (RGB: each region in its mean colour), boundaries \
        (the image with region boundaries in yellow).
        """, valueName: "format"))
    var format: MaskFormat = .binary

    @Option(help: ArgumentHelp("PNG zlib level 0–9; 1 is OpenCV's default and fast, 9 the smallest files.",
                               valueName: "level"))
    var pngCompression: Int = 1

    func validate() throws {
        if !(0...9).contains(pngCompression) {
            throw ValidationError("--png-compression must be 0...9, not \(pngCompression).")
        }
    }
}
