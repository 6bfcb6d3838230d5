import CVSegCore
import CVSegIO
#if canImport(Glibc)
import Glibc
#endif

/// An image file and its mask file, paired by their relative paths without extension.
public struct SegmentationPair: Sendable, Equatable {
    /// The image file's path.
    public let image: String
    /// The mask file's path.
    public let mask: String
    /// The pairing key: the image's path relative to the images folder, without extension.
    public let name: String

    public init(image: String, mask: String, name: String) {
        self.image = image
        self.mask = mask
        self.name = name
    }
}

/// Walking dataset folders and pairing their files (the same rules as `cvseg eval seg`, which
/// lives in the CLI target and is re-implemented here).
enum DatasetFiles {
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    static func isImage(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: ".") else { return false }
        return imageExtensions.contains(name[name.index(after: dot)...].lowercased())
    }

    /// `relative` without its extension.
    static func stem(_ relative: String) -> String {
        if let dot = relative.lastIndex(of: "."), !relative[dot...].contains("/") { return String(relative[..<dot]) }
        return relative
    }

    /// The image files under `folder`, recursively, in byte order of their relative paths;
    /// hidden entries (names starting with ".") are skipped.
    /// - Throws: `.io` when `folder` (or a folder inside it) cannot be listed, or is not a folder.
    static func list(_ folder: String) throws -> [(path: String, relative: String)] {
        try list(folder, matching: isImage)
    }

    /// The files under `folder` whose names satisfy `wanted`, recursively, in byte order of
    /// their relative paths; hidden entries (names starting with ".") are skipped and symbolic
    /// link loops are not followed twice.
    /// - Throws: `.io` when `folder` (or a folder inside it) cannot be listed, or is not a
    ///   folder, or a wanted entry cannot be examined.
    static func list(_ folder: String, matching wanted: (String) -> Bool) throws -> [(path: String, relative: String)] {
        var st = stat()
        guard stat(folder, &st) == 0 else {
            throw CVSegError.io(path: folder, operation: "list", reason: String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw CVSegError.io(path: folder, operation: "list", reason: "not a folder")
        }
        let root = folder.count > 1 && folder.hasSuffix("/") ? String(folder.dropLast()) : folder
        var out: [(String, String)] = []
        var visited: Set<[UInt64]> = []
        try walk(root, "", wanted, &out, &visited)
        return out
    }

    private static func walk(_ dir: String, _ rel: String, _ wanted: (String) -> Bool, _ out: inout [(String, String)],
                             _ visited: inout Set<[UInt64]>) throws {
        var st = stat()
        if stat(dir, &st) == 0 {
            // A symbolic-link loop would otherwise recurse forever.
            guard visited.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted else { return }
        }
        guard let d = opendir(dir) else {
            throw CVSegError.io(path: dir, operation: "list", reason: String(cString: strerror(errno)))
        }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        closedir(d)
        for name in names.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let full = dir + "/" + name, r = rel.isEmpty ? name : rel + "/" + name
            var st = stat()
            guard stat(full, &st) == 0 else {
                if wanted(name) { throw CVSegError.io(path: full, operation: "read", reason: String(cString: strerror(errno))) }
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                try walk(full, r, wanted, &out, &visited)
            } else if wanted(name) {
                out.append((full, r))
            }
        }
    }

    /// Pairs images with masks by relative path without extension (`a/x.jpg` ↔ `a/x.png`); a mask
    /// whose key is no image's key but ends in `_mask` is tried without that suffix (PennFudan's
    /// `FudanPed00001_mask.png`).
    /// - Returns: the pairs in the images' order, and one line per file without a partner (or with
    ///   a rival of the same key).
    static func pair(images: [(path: String, relative: String)], masks: [(path: String, relative: String)],
                     imagesFolder: String, masksFolder: String) -> (pairs: [SegmentationPair], unpaired: [String]) {
        var index: [String: Int] = [:]
        var unpaired: [String] = []
        var keys: [(path: String, key: String)] = []
        for file in images {
            let key = stem(file.relative)
            if let other = index[key] {
                unpaired.append("\(file.path): another image, \(keys[other].path), has the same name without extension")
                continue
            }
            index[key] = keys.count
            keys.append((file.path, key))
        }
        var maskOf = [String?](repeating: nil, count: keys.count)
        for file in masks {
            var key = stem(file.relative)
            if index[key] == nil, key.hasSuffix("_mask"), index[String(key.dropLast(5))] != nil { key.removeLast(5) }
            guard let i = index[key] else {
                unpaired.append("\(file.path): no image for it in \(imagesFolder)")
                continue
            }
            if let other = maskOf[i] {
                unpaired.append("\(file.path): another mask, \(other), belongs to the same image \(keys[i].path)")
                continue
            }
            maskOf[i] = file.path
        }
        var pairs: [SegmentationPair] = []
        for (i, k) in keys.enumerated() {
            if let m = maskOf[i] {
                pairs.append(SegmentationPair(image: k.path, mask: m, name: k.key))
            } else {
                unpaired.append("\(k.path): no mask for it in \(masksFolder)")
            }
        }
        return (pairs, unpaired)
    }

    // MARK: - Reading

    /// The width and height of an image file from its PNG `IHDR` or JPEG `SOFn` header, without
    /// decoding pixels; when the header does not parse (or the signature and extension disagree),
    /// the file is decoded, so the decoder's error (naming the file) is what the caller sees.
    static func imageSize(_ path: String) throws -> (width: Int, height: Int) {
        let bytes = try FileBytes.read(path)
        if let format = ImageFormat(sniffing: bytes), format == ImageFormat(pathExtensionOf: path),
           let size = headerSize(bytes, format) {
            return size
        }
        let decoded = try ImageFile.read(path, options: DecodeOptions(palette: .expand))
        return (decoded.width, decoded.height)
    }

    static func headerSize(_ b: [UInt8], _ format: ImageFormat) -> (width: Int, height: Int)? {
        func be16(_ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
        func be32(_ i: Int) -> Int { be16(i) << 16 | be16(i + 2) }
        switch format {
        case .png:
            guard b.count >= 24, b[12] == 0x49, b[13] == 0x48, b[14] == 0x44, b[15] == 0x52 else { return nil }
            let (w, h) = (be32(16), be32(20))
            return w > 0 && h > 0 ? (w, h) : nil
        case .jpeg:
            var i = 2
            while i + 3 < b.count {
                guard b[i] == 0xFF else { return nil }
                let marker = b[i + 1]
                if marker == 0xFF { i += 1; continue }
                if marker == 0x01 || (0xD0...0xD7).contains(marker) { i += 2; continue }
                let length = be16(i + 2)
                if (0xC0...0xCF).contains(marker), marker != 0xC4, marker != 0xC8, marker != 0xCC {
                    guard i + 8 < b.count else { return nil }
                    let (h, w) = (be16(i + 5), be16(i + 7))
                    return w > 0 && h > 0 ? (w, h) : nil
                }
                if marker == 0xDA || length < 2 { return nil }
                i += 2 + length
            }
            return nil
        }
    }

    /// A mask file's labels: gray 8- or 16-bit values, or palette indices (never colours).
    /// - Throws: the decoder's errors; `.unsupported` for colour or gray+alpha masks.
    static func readMask(_ path: String) throws -> LabelMap {
        switch try ImageFile.read(path, options: DecodeOptions(palette: .indices)) {
        case .indexed(let i):
            return LabelMap(i.indices)
        case .image(.uint8(let i)) where i.layout == .gray:
            return LabelMap(i)
        case .image(.uint16(let i)) where i.layout == .gray:
            return LabelMap(width: i.width, height: i.height, labels: i.samples.map { Int32($0) })
        case .image(let i):
            throw CVSegError.unsupported(file: path, reason: "a mask must be gray (8 or 16 bits) or palette, not \(i.layout)")
        }
    }

    /// An image file as RGB planes (0...255): gray is repeated into three channels, alpha is
    /// dropped, 16-bit samples keep their high byte, palette images are expanded to colour.
    static func readImage(_ path: String) throws -> PlanarImage {
        let decoded = try ImageFile.read(path, options: DecodeOptions(palette: .expand))
        return PlanarImage(decoded.expanded().to8Bit())
    }
}
