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

    private struct FileID: Hashable { let device: UInt64, inode: UInt64 }

    private static func id(_ st: stat) -> FileID { FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)) }

    /// Expands files and folders into images, each folder walked recursively with entries sorted
    /// by their UTF-8 bytes; hidden entries (names starting with ".") are skipped, and so is the
    /// folder `skip` (the output folder, when it lies inside an input). A file argument's
    /// relative path is its own name. Problems are reported, never silently dropped: unreadable
    /// folders, image entries that cannot be examined (broken links, permissions), names that
    /// are not UTF-8, and symbolic-link loops.
    static func collect(_ paths: [String], skip: String? = nil) -> (files: [(path: String, relative: String)], problems: [InputProblem]) {
        var files: [(String, String)] = []
        var problems: [InputProblem] = []
        var skipID: FileID?
        if let skip {
            var st = stat()
            if stat(skip, &st) == 0 { skipID = id(st) }
        }
        for path in paths {
            var st = stat()
            guard stat(path, &st) == 0 else {
                problems.append(InputProblem(input: path, reason: String(cString: strerror(errno))))
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                let root = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
                var onPath: Set<FileID> = [id(st)]
                walk(root, relative: "", onPath: &onPath, skip: skipID, into: &files, problems: &problems)
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

    private static func walk(_ folder: String, relative: String, onPath: inout Set<FileID>, skip: FileID?,
                             into files: inout [(String, String)], problems: inout [InputProblem]) {
        guard let dir = opendir(folder) else {
            problems.append(InputProblem(input: folder, reason: String(cString: strerror(errno))))
            return
        }
        var names: [String] = []
        while let entry = readdir(dir) {
            let raw = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if raw.first == UInt8(ascii: ".") { continue }
            guard let name = String(validating: raw, as: UTF8.self) else {
                let shown = String(decoding: raw, as: UTF8.self)
                problems.append(InputProblem(input: folder + "/" + shown,
                                             reason: "the file name is not valid UTF-8; rename it to process it"))
                continue
            }
            names.append(name)
        }
        closedir(dir)
        names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for name in names {
            let full = folder + "/" + name
            let rel = relative.isEmpty ? name : relative + "/" + name
            var st = stat()
            guard stat(full, &st) == 0 else {
                // A broken link or an unreadable entry: only worth a word if it looks like an image.
                if isImage(name) {
                    problems.append(InputProblem(input: full, reason: String(cString: strerror(errno))))
                }
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                let folderID = id(st)
                if folderID == skip { continue }
                guard onPath.insert(folderID).inserted else {
                    problems.append(InputProblem(input: full, reason: "symbolic link loop: it leads back to a folder above it"))
                    continue
                }
                walk(full, relative: rel, onPath: &onPath, skip: skip, into: &files, problems: &problems)
                onPath.remove(folderID)
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

    /// Builds the batch: outputs under `outputRoot`, collisions (two inputs that would write the
    /// same output, or an output that is its own input) reported rather than overwritten, then
    /// the shard's part. Collisions are found on the whole list, and shards are chosen by output
    /// name, so colliding inputs always meet in one shard.
    static func plan(_ paths: [String], outputRoot: String, shard: Shard?) -> (items: [BatchItem], problems: [InputProblem]) {
        let root = outputRoot.hasSuffix("/") && outputRoot.count > 1 ? String(outputRoot.dropLast()) : outputRoot
        let (files, found) = collect(paths, skip: root)
        var problems = found
        var items: [BatchItem] = []
        var seen: [String: String] = [:]
        for (path, relative) in files {
            let outRelative = pngName(relative)
            let output = root + "/" + outRelative
            let belongs = shard?.contains(relativePath: outRelative) ?? true
            if let other = seen[outRelative] {
                if belongs {
                    problems.append(InputProblem(input: path, reason: "its output \(outRelative) would overwrite the output of \(other)"))
                }
                continue
            }
            seen[outRelative] = path
            guard belongs else { continue }
            var a = stat(), b = stat()
            if stat(path, &a) == 0, stat(output, &b) == 0, a.st_dev == b.st_dev, a.st_ino == b.st_ino {
                problems.append(InputProblem(input: path, reason: "its output \(output) is the input itself; choose another -o"))
                continue
            }
            items.append(BatchItem(input: path, relativePath: relative, output: output))
        }
        return (items, problems)
    }
}
