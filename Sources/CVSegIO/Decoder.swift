import CVSegCore
internal import CVSegShims

/// Decoding PNG and JPEG bytes through libpng and libjpeg(-turbo).
public enum ImageDecoder {
    /// Decodes `bytes`, which came from `file` (used in error messages only).
    ///
    /// - Parameters:
    ///   - format: the format to expect; nil to go by the bytes' signature.
    /// - Throws: ``CVSegError`` naming `file` and the cause: `.decode` for invalid data,
    ///   `.corruptData` for data that decodes only with corruption warnings (unless
    ///   `options.lenient`), `.tooLarge`, `.unsupported` (CMYK JPEG).
    public static func decode(_ bytes: [UInt8], file: String, format: ImageFormat? = nil,
                              options: DecodeOptions) throws -> DecodedImage {
        if bytes.isEmpty {
            throw CVSegError.decode(file: file, format: format?.description ?? "image",
                                    reason: "the file is empty (0 bytes)")
        }
        guard let format = format ?? ImageFormat(sniffing: bytes) else {
            throw CVSegError.decode(file: file, format: "image",
                                    reason: "neither a PNG nor a JPEG file (unrecognised signature)")
        }
        var copts = cvseg_decode_options()
        copts.lenient = options.lenient ? 1 : 0
        copts.palette_as_indices = options.palette == .indices ? 1 : 0
        copts.max_width = UInt32(clamping: options.maxSide)
        copts.max_height = UInt32(clamping: options.maxSide)
        copts.max_pixels = UInt64(clamping: options.maxPixels)
        return try bytes.withUnsafeBufferPointer { buffer in
            switch format {
            case .png:
                return try decodePNG(buffer, file: file, options: copts, maxBytes: options.maxDecodedBytes)
            case .jpeg:
                return try decodeJPEG(buffer, file: file, options: copts, maxBytes: options.maxDecodedBytes)
            }
        }
    }

    private static func decodePNG(_ bytes: UnsafeBufferPointer<UInt8>, file: String,
                                  options: cvseg_decode_options, maxBytes: Int) throws -> DecodedImage {
        var options = options
        var info = cvseg_image_info()
        var reader: OpaquePointer?
        let status = cvseg_png_open(bytes.baseAddress, bytes.count, &options, &reader, &info)
        guard status == Int32(CVSEG_OK), let reader else {
            throw error(status: status, info: info, file: file, format: "PNG")
        }
        defer { cvseg_png_free(reader) }
        try checkSize(info, maxBytes: maxBytes, file: file)
        let isIndexed = options.palette_as_indices != 0 && info.source_color == 3
        let samples = try readSamples(info: info) { pointer, info in
            cvseg_png_read_pixels(reader, pointer, &info)
        } onError: { status, info in
            error(status: status, info: info, file: file, format: "PNG")
        }
        return try makeImage(samples, info: info, indexed: isIndexed, file: file)
    }

    private static func decodeJPEG(_ bytes: UnsafeBufferPointer<UInt8>, file: String,
                                   options: cvseg_decode_options, maxBytes: Int) throws -> DecodedImage {
        var options = options
        var info = cvseg_image_info()
        var reader: OpaquePointer?
        let status = cvseg_jpeg_open(bytes.baseAddress, bytes.count, &options, &reader, &info)
        guard status == Int32(CVSEG_OK), let reader else {
            throw error(status: status, info: info, file: file, format: "JPEG")
        }
        defer { cvseg_jpeg_free(reader) }
        try checkSize(info, maxBytes: maxBytes, file: file)
        let samples = try readSamples(info: info) { pointer, info in
            cvseg_jpeg_read_pixels(reader, pointer, &info)
        } onError: { status, info in
            error(status: status, info: info, file: file, format: "JPEG")
        }
        return try makeImage(samples, info: info, indexed: false, file: file)
    }

    private static func checkSize(_ info: cvseg_image_info, maxBytes: Int, file: String) throws {
        let (bytes, overflow) = info.row_bytes.multipliedReportingOverflow(by: Int(info.height))
        if overflow || bytes > maxBytes {
            throw CVSegError.tooLarge(file: file, detail: "image dimensions \(info.width) x \(info.height) "
                + "(\(info.channels) channels, \(info.bit_depth)-bit) decode to more than the limit of \(maxBytes) bytes")
        }
    }

    /// The decoded samples: 8-bit into `[UInt8]`, 16-bit straight into `[UInt16]` (no second copy).
    private enum Samples {
        case bytes([UInt8])
        case words([UInt16])
    }

    /// Allocates the output rows and lets `read` fill them.
    private static func readSamples(
        info: cvseg_image_info,
        read: (UnsafeMutablePointer<UInt8>, inout cvseg_image_info) -> Int32,
        onError: (Int32, cvseg_image_info) -> CVSegError
    ) throws -> Samples {
        var info = info
        let byteCount = info.row_bytes * Int(info.height)
        var status = Int32(CVSEG_OK)
        // The decoder writes every row before it returns OK; on failure the array is thrown away
        // below, so no uninitialised sample escapes.
        let samples: Samples
        if info.bit_depth == 16 {
            let count = byteCount / 2
            samples = .words([UInt16](unsafeUninitializedCapacity: max(count, 1)) { buffer, initialized in
                let raw = UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: UInt8.self)
                status = read(raw, &info)
                initialized = count
            })
        } else {
            samples = .bytes([UInt8](unsafeUninitializedCapacity: max(byteCount, 1)) { buffer, initialized in
                status = read(buffer.baseAddress!, &info)
                initialized = byteCount
            })
        }
        guard status == Int32(CVSEG_OK) else { throw onError(status, info) }
        return samples
    }

    private static func makeImage(_ samples: Samples, info: cvseg_image_info, indexed: Bool,
                                  file: String) throws -> DecodedImage {
        let width = Int(info.width), height = Int(info.height)
        guard let layout = ColorLayout(channels: Int(info.channels)),
              info.bit_depth == 8 || info.bit_depth == 16,
              info.row_bytes == width * Int(info.channels) * Int(info.bit_depth) / 8 else {
            throw CVSegError.unsupported(
                file: file, reason: "unexpected decoder output (\(info.channels) channels, \(info.bit_depth) bits)")
        }
        switch samples {
        case .words(let words):
            return .image(.uint16(Image(width: width, height: height, layout: layout, samples: words)))
        case .bytes(let bytes) where indexed:
            let palette = withUnsafeBytes(of: info.palette) { raw in
                (0..<Int(info.palette_count)).map { i in
                    RGBA(raw[4 * i], raw[4 * i + 1], raw[4 * i + 2], raw[4 * i + 3])
                }
            }
            let indices = Image<UInt8>(width: width, height: height, layout: .gray, samples: bytes)
            return .indexed(IndexedImage(indices: indices, palette: palette))
        case .bytes(let bytes):
            return .image(.uint8(Image(width: width, height: height, layout: layout, samples: bytes)))
        }
    }

    private static func error(status: Int32, info: cvseg_image_info, file: String, format: String) -> CVSegError {
        let message = withUnsafeBytes(of: info.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        switch Int(status) {
        case Int(CVSEG_ERR_TOO_LARGE): return .tooLarge(file: file, detail: message)
        case Int(CVSEG_ERR_CORRUPT): return .corruptData(file: file, format: format, detail: message)
        case Int(CVSEG_ERR_UNSUPPORTED): return .unsupported(file: file, reason: message)
        case Int(CVSEG_ERR_NOMEM): return .decode(file: file, format: format, reason: "out of memory")
        default: return .decode(file: file, format: format, reason: message.isEmpty ? "unknown error" : message)
        }
    }
}
