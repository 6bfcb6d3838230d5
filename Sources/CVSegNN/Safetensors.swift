import CVSegCore
import CVSegIO

/// A dense `Float` array: `values` in row-major order, `values.count == product(shape)`
/// (1 for a scalar of shape `[]`, 0 when a dimension is 0).
public struct FloatArray: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }
}

/// The element types of the safetensors format, under the names its headers use, in the
/// reference library's order (`safetensors/src/tensor.rs`, `enum Dtype`, 0.8.0).
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL", f4 = "F4", f6E2M3 = "F6_E2M3", f6E3M2 = "F6_E3M2", u8 = "U8", i8 = "I8"
    case f8E5M2 = "F8_E5M2", f8E4M3 = "F8_E4M3", f8E8M0 = "F8_E8M0"
    case f8E4M3FNUZ = "F8_E4M3FNUZ", f8E5M2FNUZ = "F8_E5M2FNUZ"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16", i32 = "I32", u32 = "U32", f32 = "F32"
    case c64 = "C64", f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bits per element (F4 and F6 are packed below a byte).
    public var bitSize: Int {
        switch self {
        case .f4: 4
        case .f6E2M3, .f6E3M2: 6
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ: 8
        case .i16, .u16, .f16, .bf16: 16
        case .i32, .u32, .f32: 32
        case .c64, .f64, .i64, .u64: 64
        }
    }

    /// Whether ``Safetensors/parse(_:file:limits:)`` converts this type to `Float`.
    /// Integers (I32, I64: PyTorch's `num_batches_tracked`) are read when every value is exactly
    /// representable as a Float (|v| ≤ 2^24).
    public var isReadable: Bool { self == .f32 || self == .f16 || self == .bf16 || self == .i32 || self == .i64 }
}

/// One tensor of a safetensors file, converted to `Float`; `dtype` is the type it was stored as.
public struct SafetensorsTensor: Sendable, Equatable {
    public var name: String
    public var dtype: SafetensorsDType
    public var array: FloatArray
}

/// The contents of a safetensors file.
public struct SafetensorsFile: Sendable, Equatable {
    /// In the order of their data in the file (the reference writer's order: dtypes of larger
    /// alignment first, then names in byte order); empty tensors sharing an offset keep header order.
    public var tensors: [SafetensorsTensor]
    /// The `__metadata__` map; nil when the header has none (or `null`).
    public var metadata: [String: String]?

    /// The tensor called `name`, if any.
    public subscript(name: String) -> SafetensorsTensor? { tensors.first { $0.name == name } }
}

/// Reads and writes the safetensors format (huggingface/safetensors): an 8-byte little-endian
/// header length `N`, `N` bytes of JSON
/// `{"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}`,
/// then the data buffer, little-endian, C order, offsets relative to its start.
///
/// Reading applies the reference library's rules (`SafeTensors::read_metadata` and
/// `Metadata::validate` in `safetensors/src/tensor.rs`): the header length is at most 100 MB and
/// within the file, the header is UTF-8 JSON, every dtype is known, shapes are non-negative
/// integers whose element count × bits does not overflow and fills whole bytes, and, sorted by
/// offsets, the tensors tile the data buffer exactly: each begins where the previous one ends
/// (from 0), holds exactly its shape's bytes, and the last ends at the end of the file. Unknown
/// fields in a tensor's entry are ignored, as there. cvseg is stricter in one way: a name (or
/// metadata key, or field) given twice in the header is an error, where the reference keeps
/// the last one. F32, F16 and BF16 tensors are read as `Float`, and I32/I64 when every value is exact as a Float; any other type fails.
///
/// Writing produces F32 files byte-identical to the reference writer's
/// (`safetensors.numpy.save_file`), including the header padded with spaces to a multiple of
/// 8 bytes; the one difference is that metadata keys are written in byte order, where the
/// reference writes them in (random) hash-map order.
public enum Safetensors {
    /// Bounds on untrusted input.
    public struct Limits: Sendable {
        /// Largest header accepted; the reference library's cap is 100,000,000 bytes.
        public var maxHeaderBytes: Int
        /// Largest file ``Safetensors/read(_:limits:)`` reads.
        public var maxFileBytes: Int

        public init(maxHeaderBytes: Int = 100_000_000, maxFileBytes: Int = FileBytes.defaultMaxBytes) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxFileBytes = maxFileBytes
        }
    }

    /// The tensors and metadata of the safetensors file at `path`.
    ///
    /// - Throws: ``CVSegError`` naming `path` (see ``parse(_:file:limits:)``), or `.io` when the
    ///   file cannot be read or is over `limits.maxFileBytes`.
    public static func read(_ path: String, limits: Limits = Limits()) throws -> SafetensorsFile {
        try parse(FileBytes.read(path, maxBytes: limits.maxFileBytes), file: path, limits: limits)
    }

    /// Parses a whole safetensors file held in memory.
    ///
    /// Nothing is allocated from a size the file claims before it is checked against the bytes
    /// present, so a header claiming terabytes fails at once.
    ///
    /// - Parameter file: named in errors.
    /// - Returns: every tensor converted to `Float` (F16 and BF16 exactly; NaNs keep their sign
    ///   and payload, as numpy's `astype(float32)` does), in data order.
    /// - Throws: ``CVSegError/tooLarge(file:detail:)`` for a header over `limits.maxHeaderBytes`;
    ///   ``CVSegError/malformed(file:line:column:reason:)`` for a header that is not JSON (line and
    ///   column within the header); ``CVSegError/unsupported(file:reason:)`` for a valid file
    ///   with a tensor that is not F32, F16 or BF16; ``CVSegError/invalidContent(file:reason:)``
    ///   for any other broken rule, naming the tensor.
    /// - Complexity: O(bytes + tensors log tensors).
    public static func parse(_ bytes: [UInt8], file: String, limits: Limits = Limits()) throws -> SafetensorsFile {
        let headerCount = try headerLength(bytes, file: file, limits: limits)
        let dataStart = 8 + headerCount
        let header = try parseHeader(Array(bytes[8..<dataStart]), file: file)
        let entries = try layOut(header.entries, dataCount: bytes.count - dataStart, file: file)
        if let other = entries.first(where: { !$0.dtype.isReadable }) {
            throw CVSegError.unsupported(
                file: file, reason: "tensor '\(other.name)' has dtype \(other.dtype.rawValue); cvseg reads F32, F16, BF16, I32 and I64 tensors only")
        }
        try bytes.withUnsafeBytes { raw in
            for entry in entries where entry.dtype == .i32 || entry.dtype == .i64 {
                for i in 0..<entry.count {
                    let v = integer(raw, at: dataStart + entry.begin, i, entry.dtype)
                    guard v.magnitude <= 1 << 24 else {
                        throw CVSegError.unsupported(file: file, reason:
                            "tensor '\(entry.name)' holds the integer \(v), which a Float cannot represent exactly (|v| > 2^24)")
                    }
                }
            }
        }
        let tensors = bytes.withUnsafeBytes { raw in
            entries.map { entry in
                SafetensorsTensor(name: entry.name, dtype: entry.dtype,
                                  array: FloatArray(shape: entry.shape, values: decode(raw, at: dataStart + entry.begin, entry)))
            }
        }
        return SafetensorsFile(tensors: tensors, metadata: header.metadata)
    }

    // MARK: Reading

    /// One tensor's header entry, checked on its own.
    struct Entry {
        var name: String
        var dtype: SafetensorsDType
        var shape: [Int]
        var count: Int
        var begin: Int
        var end: Int
        var position: Int
    }

    /// `N` from the first 8 bytes, checked against the cap and the file before anything is sliced.
    static func headerLength(_ bytes: [UInt8], file: String, limits: Limits) throws -> Int {
        guard bytes.count >= 8 else {
            throw CVSegError.invalidContent(
                file: file, reason: "the file is \(bytes.count) bytes, too short for the 8-byte header length (truncated?)")
        }
        var n: UInt64 = 0
        for i in (0..<8).reversed() { n = n << 8 | UInt64(bytes[i]) }
        guard n <= UInt64(max(limits.maxHeaderBytes, 0)) else {
            throw CVSegError.tooLarge(file: file, detail: "the safetensors header claims \(n) bytes, over the limit of \(limits.maxHeaderBytes)")
        }
        let count = Int(n)
        guard count <= bytes.count - 8 else {
            throw CVSegError.invalidContent(
                file: file, reason: "the header claims \(count) bytes but only \(bytes.count - 8) follow its length (truncated file?)")
        }
        return count
    }

    static func parseHeader(_ text: [UInt8], file: String) throws -> (entries: [Entry], metadata: [String: String]?) {
        var utf8 = text.makeIterator()
        var decoder = UTF8.ForwardParser()
        var offset = 0
        scan: while true {
            switch decoder.parseScalar(from: &utf8) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput: break scan
            case .error:
                throw CVSegError.invalidContent(file: file, reason: "the header is not valid UTF-8 (header byte \(offset + 1))")
            }
        }
        let json: JSON
        do {
            json = try JSON.parse(text, file: file)
        } catch CVSegError.malformed(let f, let line, let column, let reason) {
            throw CVSegError.malformed(file: f, line: line, column: column, reason: "safetensors header: \(reason)")
        }
        guard let members = json.objectValue else {
            throw CVSegError.invalidContent(file: file, reason: "the header is not a JSON object")
        }
        try requireUnique(members.map(\.0), file: file) { "tensor name '\($0)' appears twice in the header" }
        var entries: [Entry] = []
        var metadata: [String: String]?
        for (position, (name, value)) in members.enumerated() {
            if name == "__metadata__" {
                metadata = try parseMetadata(value, file: file)
            } else {
                entries.append(try parseEntry(name, value, position: position, file: file))
            }
        }
        return (entries, metadata)
    }

    static func parseMetadata(_ value: JSON, file: String) throws -> [String: String]? {
        if value.isNull { return nil }
        guard let members = value.objectValue else {
            throw CVSegError.invalidContent(file: file, reason: "__metadata__ is not an object of strings")
        }
        try requireUnique(members.map(\.0), file: file) { "__metadata__ key '\($0)' appears twice" }
        var metadata: [String: String] = [:]
        for (key, item) in members {
            guard let text = item.stringValue else {
                throw CVSegError.invalidContent(file: file, reason: "__metadata__ entry '\(key)' is \(item.text(indent: 0)), not a string")
            }
            metadata[key] = text
        }
        return metadata
    }

    static func parseEntry(_ name: String, _ value: JSON, position: Int, file: String) throws -> Entry {
        func fail(_ reason: String) -> CVSegError { .invalidContent(file: file, reason: "tensor '\(name)': \(reason)") }
        guard let fields = value.objectValue else { throw fail("its header entry is not an object") }
        try requireUnique(fields.map(\.0), file: file) { "tensor '\(name)': field '\($0)' appears twice" }
        guard let dtypeName = value["dtype"]?.stringValue else { throw fail("no \"dtype\" string") }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else { throw fail("unknown dtype '\(dtypeName)'") }
        guard let shapeJSON = value["shape"] else { throw fail("no \"shape\"") }
        guard let shape = nonNegativeIntegers(shapeJSON) else {
            throw fail("shape \(shapeJSON.text(indent: 0)) is not a list of non-negative integers")
        }
        guard let offsetsJSON = value["data_offsets"] else { throw fail("no \"data_offsets\"") }
        guard let offsets = nonNegativeIntegers(offsetsJSON), offsets.count == 2 else {
            throw fail("data_offsets \(offsetsJSON.text(indent: 0)) are not two non-negative integers [begin, end]")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard end >= begin else { throw fail("data_offsets [\(begin), \(end)] end before they begin") }
        // Element count, then bits, with overflow checks in the reference's order.
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw fail("the element count of shape \(shape) overflows") }
            count = product
        }
        let (bits, overflow) = count.multipliedReportingOverflow(by: dtype.bitSize)
        guard !overflow else { throw fail("the size of shape \(shape) in \(dtypeName) overflows") }
        guard bits % 8 == 0 else { throw fail("\(count) elements of \(dtypeName) do not fill whole bytes") }
        guard end - begin == bits / 8 else {
            throw fail("data_offsets [\(begin), \(end)] hold \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(bits / 8)")
        }
        return Entry(name: name, dtype: dtype, shape: shape, count: count, begin: begin, end: end, position: position)
    }

    /// Sorts by offsets and checks that the tensors tile `[0, dataCount)` with no hole or overlap.
    static func layOut(_ entries: [Entry], dataCount: Int, file: String) throws -> [Entry] {
        let sorted = entries.sorted { ($0.begin, $0.end, $0.position) < ($1.begin, $1.end, $1.position) }
        var covered = 0
        var previous: String?
        for entry in sorted {
            func fail(_ reason: String) -> CVSegError { .invalidContent(file: file, reason: "tensor '\(entry.name)': \(reason)") }
            let offsets = "data_offsets [\(entry.begin), \(entry.end)]"
            if entry.begin > covered {
                throw fail("\(offsets) leave bytes \(covered)..<\(entry.begin) of the data buffer to no tensor (a hole)")
            }
            if entry.begin < covered {
                throw fail("\(offsets) overlap tensor '\(previous ?? "")', which ends at byte \(covered)")
            }
            if entry.end > dataCount {
                throw fail("\(offsets) reach past the end of the \(dataCount)-byte data buffer (truncated file?)")
            }
            covered = entry.end
            previous = entry.name
        }
        guard covered == dataCount else {
            throw CVSegError.invalidContent(
                file: file, reason: "the tensors cover \(covered) bytes of the \(dataCount)-byte data buffer; the last \(dataCount - covered) belong to no tensor")
        }
        return sorted
    }

    /// A JSON array of integers in `0...Int.max` (not `1.0`, not `-1`), or nil.
    static func nonNegativeIntegers(_ value: JSON) -> [Int]? {
        guard let items = value.arrayValue else { return nil }
        var result: [Int] = []
        result.reserveCapacity(items.count)
        for item in items {
            guard case .int(let i) = item, i >= 0 else { return nil }
            result.append(i)
        }
        return result
    }

    /// Keys are compared as Swift strings (canonical equivalence), so two spellings of "é" clash.
    static func requireUnique(_ keys: [String], file: String, _ message: (String) -> String) throws {
        var seen = Set<String>()
        for key in keys where !seen.insert(key).inserted {
            throw CVSegError.invalidContent(file: file, reason: message(key))
        }
    }

    /// The entry's elements as `Float`, from `raw[offset...]`, little-endian.
    static func decode(_ raw: UnsafeRawBufferPointer, at offset: Int, _ entry: Entry) -> [Float] {
        [Float](unsafeUninitializedCapacity: entry.count) { out, initialized in
            switch entry.dtype {
            case .f32:
                for i in 0..<entry.count {
                    out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4 * i, as: UInt32.self)))
                }
            case .f16:
                for i in 0..<entry.count {
                    out[i] = floatFromHalf(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 2 * i, as: UInt16.self)))
                }
            case .bf16:
                for i in 0..<entry.count {
                    let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 2 * i, as: UInt16.self))
                    out[i] = Float(bitPattern: UInt32(bits) << 16)
                }
            case .i32, .i64:
                for i in 0..<entry.count { out[i] = Float(integer(raw, at: offset, i, entry.dtype)) }
            default:
                preconditionFailure("decode called for \(entry.dtype)")
            }
            initialized = entry.count
        }
    }

    /// Element `i` of an I32 or I64 tensor at `offset`, little-endian.
    static func integer(_ raw: UnsafeRawBufferPointer, at offset: Int, _ i: Int, _ dtype: SafetensorsDType) -> Int64 {
        dtype == .i32 ? Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4 * i, as: Int32.self)))
                      : Int64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8 * i, as: Int64.self))
    }

    /// IEEE half → single, exactly: subnormals scaled by 2^-24, infinities kept, NaNs keep sign
    /// and payload (shifted up 13 bits, as numpy does; a signalling NaN stays signalling).
    static func floatFromHalf(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x03FF)
        switch exponent {
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        case 0:
            let magnitude = Float(mantissa) * 0x1p-24  // exact: at most 10 bits times a power of two
            return sign == 0 ? magnitude : -magnitude
        default:
            return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
        }
    }

    // MARK: Writing

    /// A safetensors file holding `arrays` as F32 (or F16: each value rounded to the nearest
    /// half-precision value, ties to even, as PyTorch's `.half()`), laid out as the reference
    /// writer does: tensors sorted by name in byte order, the header compact JSON padded with
    /// spaces to a multiple of 8.
    ///
    /// - Parameter metadata: written as `__metadata__` (keys in byte order) unless nil.
    /// - Parameter dtype: `.f32` or `.f16`; F16 refuses values beyond its range (±65504).
    /// - Throws: ``CVSegError/invalidArgument(_:)`` for a name given twice, the reserved name
    ///   `__metadata__`, an array whose shape does not match its value count, or a header over
    ///   100 MB.
    public static func encode(_ arrays: [(name: String, array: FloatArray)], metadata: [String: String]? = nil,
                              dtype: SafetensorsDType = .f32) throws -> [UInt8] {
        guard dtype == .f32 || dtype == .f16 else { throw CVSegError.invalidArgument("safetensors: cvseg writes F32 or F16, not \(dtype.rawValue)") }
        let width = dtype == .f32 ? 4 : 2
        try requireUniqueNames(arrays.map(\.name))
        for (name, array) in arrays {
            guard name != "__metadata__" else {
                throw CVSegError.invalidArgument("safetensors: '__metadata__' is reserved and cannot name a tensor")
            }
            var count = 1
            for d in array.shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard d >= 0, !overflow else { throw CVSegError.invalidArgument("safetensors: tensor '\(name)' has shape \(array.shape)") }
                count = product
            }
            guard count == array.values.count else {
                throw CVSegError.invalidArgument(
                    "safetensors: tensor '\(name)' has shape \(array.shape) but \(array.values.count) values")
            }
            if dtype == .f16, let bad = array.values.first(where: { $0.isFinite && abs($0) > 65504 }) {
                throw CVSegError.invalidArgument("safetensors: tensor '\(name)' holds \(bad), beyond F16's range")
            }
        }
        let sorted = arrays.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        var header: [UInt8] = Array("{".utf8)
        if let metadata {
            header += Array("\"__metadata__\":{".utf8)
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (i, key) in keys.enumerated() {
                if i > 0 { header.append(UInt8(ascii: ",")) }
                appendQuoted(key, to: &header)
                header.append(UInt8(ascii: ":"))
                appendQuoted(metadata[key] ?? "", to: &header)
            }
            header.append(UInt8(ascii: "}"))
            if !sorted.isEmpty { header.append(UInt8(ascii: ",")) }
        }
        var offset = 0
        for (i, (name, array)) in sorted.enumerated() {
            if i > 0 { header.append(UInt8(ascii: ",")) }
            appendQuoted(name, to: &header)
            let shape = array.shape.map(String.init).joined(separator: ",")
            let end = offset + width * array.values.count
            header += Array(":{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}".utf8)
            offset = end
        }
        header.append(UInt8(ascii: "}"))
        header += [UInt8](repeating: UInt8(ascii: " "), count: (8 - header.count % 8) % 8)
        guard header.count <= Limits().maxHeaderBytes else {
            throw CVSegError.invalidArgument("safetensors: the header would be \(header.count) bytes, over the format's 100 MB limit")
        }

        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out += $0 }
        out += header
        for (_, array) in sorted where dtype == .f16 {
            for v in array.values { withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { out += $0 } }
        }
        for (_, array) in sorted where dtype == .f32 {
            #if _endian(little)
            array.values.withUnsafeBytes { out += $0 }
            #else
            for value in array.values { withUnsafeBytes(of: value.bitPattern.littleEndian) { out += $0 } }
            #endif
        }
        return out
    }

    /// Writes ``encode(_:metadata:)``'s bytes to `path` atomically (temporary file, then rename).
    public static func write(_ arrays: [(name: String, array: FloatArray)], metadata: [String: String]? = nil,
                             dtype: SafetensorsDType = .f32, to path: String) throws {
        try FileBytes.writeAtomically(encode(arrays, metadata: metadata, dtype: dtype), to: path)
    }

    static func requireUniqueNames(_ names: [String]) throws {
        var seen = Set<String>()
        for name in names where !seen.insert(name).inserted {
            throw CVSegError.invalidArgument("safetensors: tensor name '\(name)' given twice")
        }
    }

    /// A JSON string as serde_json writes it (the reference writer's JSON library): `"` and `\`
    /// escaped, `\b \f \n \r \t` as such, other controls as `\u00xx` (lowercase hex), every other
    /// byte (`/`, DEL, non-ASCII UTF-8) as is.
    static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20: out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
