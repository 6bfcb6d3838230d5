import CVSegCore
#if canImport(Glibc)
import Glibc
#endif

/// One image to process: where it is, its path relative to the input it came from, and where
/// its result goes.
struct BatchItem: Sendable {
    let input: String
    let relativePath: String
    let output: String
}

/// A problem with an input path, found before any processing.
struct InputProblem: Sendable {
    let input: String
    let reason: String
}

enum Inputs {
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    /// Expands files and folders into images, each folder walked recursively with entries sorted
    /// by their UTF-8 bytes; hidden entries (names starting with ".") are skipped.
    /// A file argument's relative path is its own name.
    static func collect(_ paths: [String]) -> (files: [(path: String, relative: String)], problems: [InputProblem]) {
        var files: [(String, String)] = []
        var problems: [InputProblem] = []
        for path in paths {
            var st = stat()
            guard stat(path, &st) == 0 else {
                problems.append(InputProblem(input: path, reason: String(cString: strerror(errno))))
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                let root = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
                walk(root, relative: "", into: &files, problems: &problems)
            } else {
                let name = path.split(separator: "/").last.map(String.init) ?? path
                files.append((path, name))
            }
        }
        return (files, problems)
    }

    static func isImage(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: ".") else { return false }
        return imageExtensions.contains(name[name.index(after: dot)...].lowercased())
    }

    private static func walk(_ folder: String, relative: String, into files: inout [(String, String)],
                             problems: inout [InputProblem]) {
        guard let dir = opendir(folder) else {
            problems.append(InputProblem(input: folder, reason: String(cString: strerror(errno))))
            return
        }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            names.append(name)
        }
        closedir(dir)
        names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for name in names {
            let full = folder + "/" + name
            let rel = relative.isEmpty ? name : relative + "/" + name
            var st = stat()
            guard stat(full, &st) == 0 else { continue } // dangling link: not an image
            if (st.st_mode & S_IFMT) == S_IFDIR {
                walk(full, relative: rel, into: &files, problems: &problems)
            } else if isImage(name) {
                files.append((full, rel))
            }
        }
    }

    /// `relative` with its extension replaced by `.png`.
    static func pngName(_ relative: String) -> String {
        if let dot = relative.lastIndex(of: "."), !relative[dot...].contains("/") {
            return relative[..<dot] + ".png"
        }
        return relative + ".png"
    }

    /// Builds the batch: outputs under `outputRoot`, shard filtering, and collisions (two inputs
    /// that would write the same output) reported as problems rather than overwriting each other.
    static func plan(_ paths: [String], outputRoot: String, shard: Shard?) -> (items: [BatchItem], problems: [InputProblem]) {
        let (files, found) = collect(paths)
        var problems = found
        var items: [BatchItem] = []
        var seen: [String: String] = [:]
        let root = outputRoot.hasSuffix("/") && outputRoot.count > 1 ? String(outputRoot.dropLast()) : outputRoot
        for (path, relative) in files {
            if let shard, !shard.contains(relativePath: relative) { continue }
            let outRelative = pngName(relative)
            if let other = seen[outRelative] {
                problems.append(InputProblem(input: path, reason: "its output \(outRelative) would overwrite the output of \(other)"))
                continue
            }
            seen[outRelative] = path
            items.append(BatchItem(input: path, relativePath: relative, output: root + "/" + outRelative))
        }
        return (items, problems)
    }
}
