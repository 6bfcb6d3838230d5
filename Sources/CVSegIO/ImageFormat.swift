import CVSegCore

/// The file formats cvseg reads and writes.
public enum ImageFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    case png
    case jpeg

    public var description: String { self == .png ? "PNG" : "JPEG" }

    /// The format a file name's extension names (`.png`, `.jpg`, `.jpeg`, any case), or nil.
    public init?(pathExtensionOf path: String) {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return nil }
        switch path[path.index(after: dot)...].lowercased() {
        case "png": self = .png
        case "jpg", "jpeg": self = .jpeg
        default: return nil
        }
    }

    /// The format the first bytes announce (PNG signature or JPEG SOI marker), or nil.
    public init?(sniffing bytes: some Collection<UInt8>) {
        let head = Array(bytes.prefix(8))
        if head.count >= 8, head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] {
            self = .png
        } else if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF {
            self = .jpeg
        } else {
            return nil
        }
    }
}

/// What to do with palette (colour-mapped) PNGs. There is no default: a label map must be read
/// as indices and a photo as colours, and only the caller knows which it holds.
public enum PaletteMode: Sendable {
    /// Expand palette entries to RGB (RGBA when the file has transparency).
    case expand
    /// Keep the index plane and the palette (``DecodedImage/indexed(_:)``).
    case indices
}

/// Options for decoding untrusted image files.
public struct DecodeOptions: Sendable {
    /// What to do with palette PNGs.
    public var palette: PaletteMode
    /// Accept files that decode only with corrupt-data warnings (CRC mismatch, premature end of
    /// JPEG data, bad Huffman codes). Off by default: such files are errors.
    public var lenient: Bool
    /// Largest accepted width × height, checked against the header before any pixel buffer is
    /// allocated. The default, 2^28 (268 million pixels, about 1 GiB as 8-bit RGBA), stops
    /// "decompression bombs" that claim 100000 × 100000 pixels.
    public var maxPixels: Int
    /// Largest accepted width or height.
    public var maxSide: Int
    /// Largest accepted decoded size in bytes (width × height × channels × bytes per sample),
    /// also checked before any pixel buffer exists: a 2 MB PNG can claim 16384² 16-bit RGBA,
    /// 2 GiB decoded. Default 2^30 (1 GiB).
    public var maxDecodedBytes: Int

    public static let defaultMaxPixels = 1 << 28
    public static let defaultMaxSide = 1 << 18
    public static let defaultMaxDecodedBytes = 1 << 30

    public init(palette: PaletteMode, lenient: Bool = false,
                maxPixels: Int = DecodeOptions.defaultMaxPixels,
                maxSide: Int = DecodeOptions.defaultMaxSide,
                maxDecodedBytes: Int = DecodeOptions.defaultMaxDecodedBytes) {
        self.palette = palette
        self.lenient = lenient
        self.maxPixels = maxPixels
        self.maxSide = maxSide
        self.maxDecodedBytes = maxDecodedBytes
    }
}

/// The result of decoding: an image of samples, or a palette image kept as indices.
public enum DecodedImage: Sendable, Equatable {
    case image(AnyImage)
    case indexed(IndexedImage)

    public var width: Int {
        switch self { case .image(let i): i.width; case .indexed(let i): i.width }
    }
    public var height: Int {
        switch self { case .image(let i): i.height; case .indexed(let i): i.height }
    }

    /// The colour image: an indexed image is expanded through its palette (RGB, or RGBA when
    /// some entry is not opaque).
    public func expanded() -> AnyImage {
        switch self {
        case .image(let image):
            return image
        case .indexed(let indexed):
            let opaque = indexed.palette.allSatisfy { $0.a == 255 }
            let layout: ColorLayout = opaque ? .rgb : .rgba
            let n = layout.channels
            var out = [UInt8](repeating: 0, count: indexed.width * indexed.height * n)
            let black = RGBA(0, 0, 0, 255)
            for (i, index) in indexed.indices.samples.enumerated() {
                let c = Int(index) < indexed.palette.count ? indexed.palette[Int(index)] : black
                out[i * n] = c.r; out[i * n + 1] = c.g; out[i * n + 2] = c.b
                if n == 4 { out[i * n + 3] = c.a }
            }
            return .uint8(Image(width: indexed.width, height: indexed.height, layout: layout, samples: out))
        }
    }
}
