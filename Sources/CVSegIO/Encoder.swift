import CVSegCore
internal import CVSegShims

/// The PNG row filter: a prediction applied to each row before compression.
public enum PNGFilter: Sendable, Equatable {
    /// No prediction: best for masks and label maps, which are flat regions (runs compress well
    /// as they are) and 25% faster to write than `.sub` on document masks.
    case none
    /// Difference from the left neighbour: OpenCV's `imwrite` choice, cheap and good on photos.
    case sub
    /// libpng chooses per row among all filters: smallest files, slowest.
    case adaptive
}

/// PNG encoder settings.
public struct PNGWriteOptions: Sendable, Equatable {
    /// zlib level 0...9. Default 1, as OpenCV's `imwrite`: masks compress well even at level 1,
    /// and level 6 costs about 8x the time on photos (Docs/CLI.md).
    public var compressionLevel: Int
    public var filter: PNGFilter
    /// zlib's run-length strategy (`Z_RLE`), which OpenCV uses with level 1: fast, and good on
    /// filtered rows and masks. Default: on for levels up to 3.
    public var runLength: Bool

    public init(compressionLevel: Int = 1, filter: PNGFilter = .sub, runLength: Bool? = nil) {
        precondition((0...9).contains(compressionLevel), "PNG compression level must be 0...9")
        self.compressionLevel = compressionLevel
        self.filter = filter
        self.runLength = runLength ?? (compressionLevel <= 3)
    }

    /// The same settings with another filter.
    public func with(filter: PNGFilter) -> PNGWriteOptions {
        var copy = self
        copy.filter = filter
        return copy
    }
}

/// Encoding images as PNG or JPEG bytes.
public enum ImageEncoder {
    /// PNG bytes of an 8- or 16-bit image of any layout (16-bit values are kept exactly).
    public static func png<S: PixelSample>(_ image: Image<S>, options: PNGWriteOptions = .init()) throws -> [UInt8] {
        try image.samples.withUnsafeBytes { raw in
            try encodePNG(width: image.width, height: image.height, channels: image.channels,
                          bitDepth: S.bitWidth, pixels: raw, palette: nil, options: options)
        }
    }

    /// PNG bytes of any decoded image.
    public static func png(_ image: AnyImage, options: PNGWriteOptions = .init()) throws -> [UInt8] {
        switch image {
        case .uint8(let i): try png(i, options: options)
        case .uint16(let i): try png(i, options: options)
        }
    }

    /// An indexed (palette) PNG: `indexed.indices` as the index plane, `indexed.palette` as PLTE
    /// (with tRNS for entries whose alpha is not 255). Indices past the palette's end are an error.
    public static func png(_ indexed: IndexedImage, options: PNGWriteOptions = .init()) throws -> [UInt8] {
        guard !indexed.palette.isEmpty else { throw CVSegError.invalidArgument("a palette PNG needs at least one colour") }
        if let bad = indexed.indices.samples.first(where: { Int($0) >= indexed.palette.count }) {
            throw CVSegError.invalidArgument("palette index \(bad) is past the palette's \(indexed.palette.count) entries")
        }
        let palette = indexed.palette.flatMap { [$0.r, $0.g, $0.b, $0.a] }
        return try indexed.indices.samples.withUnsafeBytes { raw in
            try encodePNG(width: indexed.width, height: indexed.height, channels: 1, bitDepth: 8,
                          pixels: raw, palette: palette, options: options)
        }
    }

    /// JPEG bytes of an 8-bit gray or RGB image.
    /// - Parameters:
    ///   - quality: 1...100 (libjpeg's scale; 95 keeps fine detail, 75 is libjpeg's default).
    ///   - progressive: write a progressive JPEG.
    public static func jpeg(_ image: Image<UInt8>, quality: Int = 95, progressive: Bool = false) throws -> [UInt8] {
        guard image.layout == .gray || image.layout == .rgb else {
            throw CVSegError.invalidArgument("JPEG holds gray or RGB, not \(image.layout): convert first")
        }
        guard (1...100).contains(quality) else {
            throw CVSegError.invalidArgument("JPEG quality must be 1...100, not \(quality)")
        }
        guard image.width > 0, image.height > 0 else { throw CVSegError.invalidArgument("cannot encode an empty image") }
        return try image.samples.withUnsafeBytes { raw in
            var params = cvseg_jpeg_write_params()
            params.width = UInt32(image.width)
            params.height = UInt32(image.height)
            params.channels = Int32(image.channels)
            params.pixels = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            params.row_bytes = image.width * image.channels
            params.quality = Int32(quality)
            params.progressive = progressive ? 1 : 0
            return try collect { out, size, message in cvseg_jpeg_encode(&params, out, size, message) }
        }
    }

    /// PNG bytes of an image whose rows are made one at a time by `row(y, buffer)` (8-bit or
    /// native-endian 16-bit samples, `width · channels` of them a row), so that no image-sized
    /// buffer of them exists: for label maps converted on the way out.
    public static func png(width: Int, height: Int, layout: ColorLayout, bitDepth: Int, options: PNGWriteOptions = .init(),
                           row: (Int, UnsafeMutableRawBufferPointer) -> Void) throws -> [UInt8] {
        guard bitDepth == 8 || bitDepth == 16 else { throw CVSegError.invalidArgument("PNG rows must be 8- or 16-bit, not \(bitDepth)") }
        let rowBytes = width * layout.channels * bitDepth / 8
        return try withoutActuallyEscaping(row) { row in
            final class Rows {
                let make: (Int, UnsafeMutableRawBufferPointer) -> Void, bytes: Int
                init(_ make: @escaping (Int, UnsafeMutableRawBufferPointer) -> Void, _ bytes: Int) { self.make = make; self.bytes = bytes }
            }
            let rows = Rows(row, rowBytes)
            return try withExtendedLifetime(rows) {
                try encodePNG(width: width, height: height, channels: layout.channels, bitDepth: bitDepth,
                              pixels: nil, palette: nil, options: options,
                              rows: (fill: { context, y, buffer in
                                  guard let context, let buffer else { return }
                                  let rows = Unmanaged<Rows>.fromOpaque(context).takeUnretainedValue()
                                  rows.make(Int(y), UnsafeMutableRawBufferPointer(start: buffer, count: rows.bytes))
                              }, context: Unmanaged.passUnretained(rows).toOpaque()))
            }
        }
    }

    private static func encodePNG(width: Int, height: Int, channels: Int, bitDepth: Int,
                                  pixels: UnsafeRawBufferPointer?, palette: [UInt8]?,
                                  options: PNGWriteOptions,
                                  rows: (fill: @convention(c) (UnsafeMutableRawPointer?, UInt32, UnsafeMutablePointer<UInt8>?) -> Void,
                                         context: UnsafeMutableRawPointer)? = nil) throws -> [UInt8] {
        guard width > 0, height > 0, width <= Int(UInt32.max), height <= Int(UInt32.max) else {
            throw CVSegError.invalidArgument("cannot encode a \(width)x\(height) image")
        }
        var params = cvseg_png_write_params()
        params.width = UInt32(width)
        params.height = UInt32(height)
        params.channels = Int32(channels)
        params.bit_depth = Int32(bitDepth)
        params.pixels = pixels?.baseAddress?.assumingMemoryBound(to: UInt8.self)
        params.row_bytes = width * channels * bitDepth / 8
        if let rows {
            params.row_fn = rows.fill
            params.row_context = rows.context
        } else if params.pixels == nil {
            throw CVSegError.invalidArgument("no pixels to encode")
        }
        params.compression_level = Int32(options.compressionLevel)
        switch options.filter {
        case .none: params.filter = 0
        case .sub: params.filter = 1
        case .adaptive: params.filter = 2
        }
        params.run_length = options.runLength ? 1 : 0
        if let palette {
            return try palette.withUnsafeBufferPointer { p in
                params.palette = p.baseAddress
                params.palette_count = Int32(p.count / 4)
                return try collect { out, size, message in cvseg_png_encode(&params, out, size, message) }
            }
        }
        return try collect { out, size, message in cvseg_png_encode(&params, out, size, message) }
    }

    /// Runs a C encoder that returns a malloc'ed buffer, and copies it out.
    private static func collect(
        _ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>,
                   UnsafeMutablePointer<CChar>) -> Int32
    ) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: Int(CVSEG_MESSAGE_SIZE))
        let status = message.withUnsafeMutableBufferPointer { encode(&out, &size, $0.baseAddress!) }
        defer { cvseg_free(out) }
        guard status == Int32(CVSEG_OK), let out else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw CVSegError.invalidArgument("encoding failed: \(text)")
        }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}
