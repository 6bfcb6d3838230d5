import CVSegCore
internal import CVSegShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and writing image files.
public enum ImageFile {
    /// Reads and decodes the image at `path`.
    ///
    /// The format comes from the file's signature; a file whose extension names another format
    /// (a JPEG called `.png`) is an error, so that mislabelled data is noticed.
    /// - Throws: ``CVSegError`` naming `path`: `.io` when the file cannot be read, and the
    ///   decoder's errors (see ``ImageDecoder/decode(_:file:format:options:)``).
    public static func read(_ path: String, options: DecodeOptions) throws -> DecodedImage {
        let bytes = try FileBytes.read(path)
        if bytes.isEmpty {
            throw CVSegError.decode(file: path, format: ImageFormat(pathExtensionOf: path)?.description ?? "image",
                                    reason: "the file is empty (0 bytes)")
        }
        let sniffed = ImageFormat(sniffing: bytes)
        let named = ImageFormat(pathExtensionOf: path)
        if let sniffed, let named, sniffed != named {
            throw CVSegError.wrongExtension(file: path, contents: sniffed.description, extension: named.description)
        }
        guard let format = sniffed else {
            throw CVSegError.decode(file: path, format: named?.description ?? "image",
                                    reason: "not a \(named?.description ?? "PNG or JPEG") file (unrecognised signature)")
        }
        return try ImageDecoder.decode(bytes, file: path, format: format, options: options)
    }

    /// Writes `bytes` to `path` atomically: into a temporary file in the same folder, then renamed
    /// over `path`, so an interrupted run never leaves a half-written file. Creates missing folders.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        try FileBytes.writeAtomically(bytes, to: path)
    }
}

/// Whole-file reads and atomic writes with POSIX calls, so every failure carries `errno`'s text.
public enum FileBytes {
    /// Largest file ``read(_:maxBytes:)`` accepts by default: 1 GiB.
    public static let defaultMaxBytes = 1 << 30

    /// The bytes of the regular file at `path`.
    ///
    /// Anything but a regular file (a folder, a FIFO, a device such as `/dev/zero`) is refused
    /// before reading, without blocking, and so is a file over `maxBytes` (a sparse file can
    /// claim terabytes).
    public static func read(_ path: String, maxBytes: Int = FileBytes.defaultMaxBytes) throws -> [UInt8] {
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw ioError(path, "read") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ioError(path, "read") }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw CVSegError.io(path: path, operation: "read", reason: "it is a directory")
        default: throw CVSegError.io(path: path, operation: "read", reason: "not a regular file (a pipe, device or socket)")
        }
        guard Int(st.st_size) <= maxBytes else {
            throw CVSegError.io(path: path, operation: "read",
                                reason: "the file is \(st.st_size) bytes, over the limit of \(maxBytes)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        // Read straight into uninitialised storage sized from fstat; a file that grew since is
        // followed to its end, within the limit.
        let expected = max(Int(st.st_size), 0) + 1
        var bytes = try readChunk(fd, path: path, count: expected)
        if bytes.count == expected {
            while true {
                let more = try readChunk(fd, path: path, count: 1 << 20)
                if more.isEmpty { break }
                bytes += more
                if bytes.count > maxBytes {
                    throw CVSegError.io(path: path, operation: "read", reason: "the file grew past the limit of \(maxBytes) bytes")
                }
            }
        }
        return bytes
    }

    /// Up to `count` bytes from `fd`: fewer only at the end of the file.
    private static func readChunk(_ fd: Int32, path: String, count: Int) throws -> [UInt8] {
        var failure: Int32 = 0
        let chunk = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var filled = 0
            while filled < count {
                let n = Glibc.read(fd, buffer.baseAddress! + filled, count - filled)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { failure = errno; break }
                if n == 0 { break }
                filled += n
            }
            initialized = filled
        }
        if failure != 0 { throw CVSegError.io(path: path, operation: "read", reason: String(cString: strerror(failure))) }
        return chunk
    }

    /// Writes `bytes` to `path` so that `path` holds either its old contents or all of the new:
    /// the data goes into an unnamed file in the destination folder (`O_TMPFILE`, which vanishes
    /// if the process dies), is given a short temporary name, and is renamed over `path`.
    /// Where `O_TMPFILE` is unsupported, a named temporary file is used. Missing folders are created.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let folder = parentFolder(of: path)
        try createFolders(folder)
        let dir = folder.isEmpty ? "." : folder
        let temp = dir + "/.cvseg-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
        var fd = cvseg_open_tmpfile(dir)
        let unnamed = fd >= 0
        if !unnamed {
            fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw ioError(path, "write") }
        }
        var failure: Int32 = 0
        bytes.withUnsafeBytes { raw in
            var written = 0
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                written += n
            }
        }
        if failure == 0 && unnamed {
            // Give the unnamed file its temporary name (linkat through /proc, as open(2) documents).
            if linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, temp, AT_SYMLINK_FOLLOW) != 0 { failure = errno }
        }
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure == 0 && rename(temp, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temp)
            throw CVSegError.io(path: path, operation: "write", reason: String(cString: strerror(failure)))
        }
    }

    /// Creates `folder` and its missing parents (like `mkdir -p`).
    public static func createFolders(_ folder: String) throws {
        guard !folder.isEmpty else { return }
        var st = stat()
        if stat(folder, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw CVSegError.io(path: folder, operation: "create folder", reason: "a file of that name exists")
            }
            return
        }
        try createFolders(parentFolder(of: folder))
        if mkdir(folder, 0o755) != 0 && errno != EEXIST {
            throw ioError(folder, "create folder")
        }
    }

    static func parentFolder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    static func ioError(_ path: String, _ operation: String) -> CVSegError {
        .io(path: path, operation: operation, reason: String(cString: strerror(errno)))
    }
}

/// Process-wide settings for batch runs.
public enum BatchMemory {
    /// A batch allocates and frees image-sized buffers over and over. glibc hands blocks over
    /// 128 KiB to mmap and back to the kernel on free, so every image paid for fresh zeroed
    /// pages; keeping them in the heap for reuse saves about 5% of an Otsu batch
    /// (scripts/bench/otsu). Call once, early; the memory stays with the process until it exits.
    public static func keepBuffersInHeap() {
        cvseg_keep_buffers_in_heap()
    }
}
