import Foundation
import Testing
import CVSegCore
import CVSegIO
@testable import CVSegNN

/// Files written by the Hugging Face `safetensors` library (scripts/reference/safetensors_reference.py).
private let safetensorsFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/safetensors").path

/// One file of expected.json.
struct SafetensorsExpectedFile: Sendable, CustomTestStringConvertible {
    var file: String
    var json: JSON
    var testDescription: String { file }
}

private func expectedFiles() throws -> [SafetensorsExpectedFile] {
    let path = safetensorsFixtures + "/expected.json"
    let doc = try JSON.parse(FileBytes.read(path), file: path)
    return (doc["files"]?.arrayValue ?? []).map { SafetensorsExpectedFile(file: $0["file"]?.stringValue ?? "?", json: $0) }
}

private func loadExpected() -> [SafetensorsExpectedFile] {
    do { return try expectedFiles() } catch { return [] }
}

/// A file from a JSON header text and data bytes, with the length prefix.
private func stFile(_ header: String, data: [UInt8] = []) -> [UInt8] {
    stFile(bytes: Array(header.utf8), data: data)
}

private func stFile(bytes header: [UInt8], data: [UInt8] = []) -> [UInt8] {
    withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header + data
}

/// The error `parse` throws for `bytes` (nil when it does not throw).
private func parseError(_ bytes: [UInt8]) -> CVSegError? {
    do {
        _ = try Safetensors.parse(bytes, file: "x.safetensors")
        return nil
    } catch let error as CVSegError {
        return error
    } catch {
        return .invalidArgument("not a CVSegError: \(error)")
    }
}

@Suite struct SafetensorsTests {
    // MARK: Files written by the reference library

    @Test func everyFixtureIsListed() throws {
        let names = Set(try expectedFiles().map(\.file))
        let onDisk = Set(try FileManager.default.contentsOfDirectory(atPath: safetensorsFixtures).filter { $0.hasSuffix(".safetensors") })
        #expect(names == onDisk)
        #expect(names.count == 9)
    }

    /// Exact values (bit patterns), shapes, dtypes, data order and metadata.
    @Test(arguments: loadExpected()) func readsReferenceFile(_ expected: SafetensorsExpectedFile) throws {
        let path = safetensorsFixtures + "/" + expected.file
        let tensorsJSON = expected.json["tensors"]?.arrayValue ?? []
        if tensorsJSON.contains(where: { $0["dtype"]?.stringValue == "I64" }) {
            // Integers read as exact Floats (PyTorch's num_batches_tracked is I64).
            let file = try Safetensors.read(path)
            #expect(file["step"]?.array.values == [7, -1] && file["step"]?.dtype == .i64 && file["ok"]?.array.values == [1])
            return
        }
        let contents = try Safetensors.read(path)
        #expect(contents.tensors.map(\.name) == tensorsJSON.map { $0["name"]?.stringValue ?? "" })
        for (tensor, want) in zip(contents.tensors, tensorsJSON) {
            #expect(tensor.dtype.rawValue == want["dtype"]?.stringValue)
            #expect(tensor.array.shape == (want["shape"]?.arrayValue ?? []).compactMap(\.intValue), "\(tensor.name)")
            let bits = (want["bits"]?.arrayValue ?? []).compactMap(\.intValue).map(UInt32.init)
            #expect(tensor.array.values.map(\.bitPattern) == bits, "\(expected.file): \(tensor.name)")
        }
        let metadata = expected.json["metadata"]
        if let metadata, !metadata.isNull {
            let pairs = (metadata.objectValue ?? []).map { ($0.0, $0.1.stringValue ?? "") }
            #expect(contents.metadata == Dictionary(uniqueKeysWithValues: pairs))
        } else {
            #expect(contents.metadata == nil)
        }
    }

    /// Reading a reference F32 file and writing it again gives the same bytes.
    @Test(arguments: loadExpected().filter { $0.json["writer_identical"]?.boolValue == true })
    func writerMatchesReferenceBytes(_ expected: SafetensorsExpectedFile) throws {
        let path = safetensorsFixtures + "/" + expected.file
        let original = try FileBytes.read(path)
        let contents = try Safetensors.parse(original, file: path)
        let arrays = contents.tensors.reversed().map { (name: $0.name, array: $0.array) }  // order must not matter
        #expect(try Safetensors.encode(arrays, metadata: contents.metadata) == original)
    }

    @Test func specialValuesAndShapes() throws {
        let contents = try Safetensors.read(safetensorsFixtures + "/f32.safetensors")
        let scalar = try #require(contents["scalar"])
        #expect(scalar.array.shape == [] && scalar.array.values == [-7.75])
        #expect(contents["empty2d"]?.array == FloatArray(shape: [2, 0], values: []))
        let special = try #require(contents["special"]).array.values
        #expect(special[0].bitPattern == 0 && special[1].bitPattern == 0x8000_0000)
        #expect(special[2] == .infinity && special[3] == -.infinity)
        #expect(special[6] == .leastNonzeroMagnitude && special[7] == .greatestFiniteMagnitude)
        #expect(special[10].bitPattern == 0x7FC0_0001 && special[11].bitPattern == 0xFF80_0123)

        let half = try #require(Safetensors.read(safetensorsFixtures + "/f16.safetensors")["half.special"]).array.values
        #expect(half[2] == 0x1p-24 && half[3] == -0x1p-24 && half[4] == 0x3FFp-24 && half[5] == 0x1p-14)
        #expect(half[9] == 65504 && half[11] == .infinity && half[12] == -.infinity)
        #expect(half[13].isNaN && half[15].isSignalingNaN && half[14].sign == .minus)
    }

    /// The bit-level F16 conversion against Swift's `Float16` on every pattern.
    @Test func halfConversionIsExact() throws {
        for bits in UInt16.min...UInt16.max {
            let ours = Safetensors.floatFromHalf(bits)
            let swift = Float(Float16(bitPattern: bits))
            if swift.isNaN {
                // Sign, quiet bit and payload kept (numpy's rule; Float16's conversion may quiet it).
                #expect(ours.bitPattern == UInt32(bits & 0x8000) << 16 | 0x7F80_0000 | UInt32(bits & 0x3FF) << 13)
            } else if ours.bitPattern != swift.bitPattern {
                Issue.record("half \(String(bits, radix: 16)): \(ours) != \(swift)")
                return
            }
        }
    }

    // MARK: Writing

    /// F16 writing rounds to nearest, ties to even (PyTorch's `.half()`); out-of-range values are refused.
    @Test func writesHalfPrecision() throws {
        let values: [Float] = [1.0 / 3, 0.1, 65504, 1e-8, -2.5, 0x1p-24, 1 + 0x1p-11]
        let bytes = try Safetensors.encode([("h", FloatArray(shape: [7], values: values))], metadata: ["k": "v"], dtype: .f16)
        let file = try Safetensors.parse(bytes, file: "mem")
        #expect(file["h"]?.dtype == .f16 && file.metadata == ["k": "v"])
        let tail = Array(bytes.suffix(14))
        let bits = (0..<7).map { UInt16(tail[2 * $0]) | UInt16(tail[2 * $0 + 1]) << 8 }
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even gives 1 (0x3C00).
        #expect(bits == [0x3555, 0x2E66, 0x7BFF, 0x0000, 0xC100, 0x0001, 0x3C00], "\(bits.map { String($0, radix: 16) })")
        #expect(file["h"]?.array.values == bits.map { Float(Float16(bitPattern: $0)) })
        #expect(throws: CVSegError.self) {
            try Safetensors.encode([("big", FloatArray(shape: [1], values: [70000]))], dtype: .f16)
        }
    }

    @Test func writeThenReadRoundTrips() throws {
        let dir = NSTemporaryDirectory() + "cvseg-st-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/sub/model.safetensors"
        let arrays: [(name: String, array: FloatArray)] = [
            ("w", FloatArray(shape: [2, 2], values: [1, -2, .nan, .infinity])),
            ("b", FloatArray(shape: [], values: [0.5])),
            ("e", FloatArray(shape: [0, 4], values: [])),
        ]
        try Safetensors.write(arrays, metadata: ["k": "v", "a": "b"], to: path)
        let bytes = try FileBytes.read(path)
        #expect(bytes.count % 4 == 0 && (bytes.count - 20) % 8 == 0)  // header padded to 8; 20 data bytes
        let back = try Safetensors.read(path)
        #expect(back.tensors.map(\.name) == ["b", "e", "w"])
        #expect(back.metadata == ["a": "b", "k": "v"])
        #expect(back["w"]?.array.values.map(\.bitPattern) == arrays[0].array.values.map(\.bitPattern))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/sub") == ["model.safetensors"])
        let header = String(decoding: bytes[8..<(bytes.count - 20)], as: UTF8.self)
        #expect(header.hasPrefix(#"{"__metadata__":{"a":"b","k":"v"},"b":{"dtype":"F32","shape":[],"data_offsets":[0,4]}"#))
    }

    @Test func writerRefusesBadInput() throws {
        let one = FloatArray(shape: [1], values: [1])
        #expect(throws: CVSegError.invalidArgument("safetensors: tensor name 'a' given twice")) {
            _ = try Safetensors.encode([("a", one), ("a", one)])
        }
        #expect(throws: CVSegError.self) { _ = try Safetensors.encode([("__metadata__", one)]) }
        var bad = one
        bad.values.append(2)
        #expect(throws: CVSegError.invalidArgument("safetensors: tensor 'a' has shape [1] but 2 values")) {
            _ = try Safetensors.encode([("a", bad)])
        }
        #expect(try Safetensors.encode([]) == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
    }

    // MARK: Hostile files

    static let f32One = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#

    @Test func truncatedAndOversizedHeaders() throws {
        #expect(parseError([1, 0, 0])?.description
                == "x.safetensors: the file is 3 bytes, too short for the 8-byte header length (truncated?)")
        let valid = stFile(Self.f32One, data: [0, 0, 128, 63])
        #expect(try Safetensors.parse(valid, file: "x")["a"]?.array.values == [1])
        for cut in [valid.count - 1, 8 + 10] {
            #expect(parseError(Array(valid[..<cut])) != nil, "cut at \(cut)")
        }
        #expect(parseError(Array(valid[..<(8 + 10)]))?.description.contains("only 10 follow its length (truncated file?)") == true)
        #expect(parseError(Array(valid.dropLast()))?.description.contains("reach past the end of the 3-byte data buffer") == true)

        // 2^60: refused from the length alone (the reference's "header too large").
        let huge = withUnsafeBytes(of: (UInt64(1) << 60).littleEndian) { Array($0) } + Array("{}".utf8)
        guard case .tooLarge(_, let detail)? = parseError(huge) else { Issue.record("2^60 header accepted"); return }
        #expect(detail.contains("1152921504606846976 bytes, over the limit of 100000000"))
        #expect(parseError([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7B]) != nil)
        // Within the cap but past the end (the reference's "invalid header length").
        let past = withUnsafeBytes(of: UInt64(100).littleEndian) { Array($0) } + Array("{}".utf8)
        #expect(parseError(past)?.description == "x.safetensors: the header claims 100 bytes but only 2 follow its length (truncated file?)")
        // A tighter cap is honoured.
        #expect(throws: CVSegError.self) {
            _ = try Safetensors.parse(valid, file: "x", limits: Safetensors.Limits(maxHeaderBytes: 16))
        }
    }

    @Test func headerThatIsNotJSON() throws {
        guard case .malformed(_, 1, let column, let reason)? = parseError(stFile(#"{"a": nope}"#)) else {
            Issue.record("accepted"); return
        }
        #expect(column == 7 && reason.hasPrefix("safetensors header: "))
        #expect(parseError(stFile("[]"))?.description == "x.safetensors: the header is not a JSON object")
        #expect(parseError(stFile("{}\0\0\0\0\0\0")) != nil)  // padding must be spaces
        // {"<C3 28>":1}: a lead byte without its continuation byte.
        let invalidUTF8 = stFile(bytes: [0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D])
        #expect(parseError(invalidUTF8)?.description == "x.safetensors: the header is not valid UTF-8 (header byte 3)")
        // Whitespace before and padding after the object are accepted, as by the reference.
        #expect(try Safetensors.parse(stFile("  {}  "), file: "x").tensors.isEmpty)
    }

    @Test func offsetsMustTileTheBuffer() throws {
        let past = stFile(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0])
        #expect(parseError(past)?.description
                == "x.safetensors: tensor 'a': data_offsets [0, 8] reach past the end of the 4-byte data buffer (truncated file?)")
        let overlap = stFile(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                           data: [UInt8](repeating: 0, count: 8))
        #expect(parseError(overlap)?.description
                == "x.safetensors: tensor 'b': data_offsets [4, 8] overlap tensor 'a', which ends at byte 8")
        let hole = stFile(#"{"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                        data: [UInt8](repeating: 0, count: 12))
        #expect(parseError(hole)?.description
                == "x.safetensors: tensor 'b': data_offsets [8, 12] leave bytes 4..<8 of the data buffer to no tensor (a hole)")
        let trailing = stFile(Self.f32One, data: [UInt8](repeating: 0, count: 8))
        #expect(parseError(trailing)?.description
                == "x.safetensors: the tensors cover 4 bytes of the 8-byte data buffer; the last 4 belong to no tensor")
        let backwards = stFile(#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0])
        #expect(parseError(backwards)?.description.contains("data_offsets [4, 0] end before they begin") == true)
        // Two empty tensors may share an offset; header order breaks the tie.
        let empties = stFile(#"{"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"y":{"dtype":"BF16","shape":[3,0],"data_offsets":[0,0]}}"#)
        #expect(try Safetensors.parse(empties, file: "x").tensors.map(\.name) == ["z", "y"])
    }

    @Test func sizeMustMatchShapeAndDtype() throws {
        let short = stFile(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        #expect(parseError(short)?.description
                == "x.safetensors: tensor 'a': data_offsets [0, 4] hold 4 bytes but shape [2] of F32 needs 8")
        let f16 = stFile(#"{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        #expect(parseError(f16)?.description.contains("needs 6") == true)
        let overflow = stFile(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        #expect(parseError(overflow)?.description == "x.safetensors: tensor 'a': the element count of shape [4294967296, 4294967296] overflows")
        let bitsOverflow = stFile(#"{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        #expect(parseError(bitsOverflow)?.description.contains("overflows") == true)
        let packed = stFile(#"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#, data: [0, 0])
        #expect(parseError(packed)?.description.contains("3 elements of F4 do not fill whole bytes") == true)
        for shape in ["[-1]", "[1.0]", "[1e0]", "[\"1\"]", "[18446744073709551616]", "3"] {
            let bytes = stFile(#"{"a":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
            #expect(parseError(bytes)?.description.contains("is not a list of non-negative integers") == true, "\(shape)")
        }
        for offsets in ["[0]", "[0,4,4]", "[-4,0]", "null"] {
            let bytes = stFile(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":\#(offsets)}}"#, data: [0, 0, 0, 0])
            #expect(parseError(bytes)?.description.contains("are not two non-negative integers") == true, "\(offsets)")
        }
        #expect(parseError(stFile(#"{"a":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0]))?.description
                == #"x.safetensors: tensor 'a': no "data_offsets""#)
        #expect(parseError(stFile(#"{"a":5}"#))?.description == "x.safetensors: tensor 'a': its header entry is not an object")
    }

    @Test func namesMustBeUnique() throws {
        // Our JSON parser keeps both members; the reference would silently keep the last one.
        let twice = stFile(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                         data: [0, 0, 0, 0])
        #expect(parseError(twice)?.description == "x.safetensors: tensor name 'a' appears twice in the header")
        let field = stFile(#"{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        #expect(parseError(field)?.description == "x.safetensors: tensor 'a': field 'dtype' appears twice")
        let metaKey = stFile(#"{"__metadata__":{"k":"1","k":"2"}}"#)
        #expect(parseError(metaKey)?.description == "x.safetensors: __metadata__ key 'k' appears twice")
    }

    @Test func dtypes() throws {
        let unknown = stFile(#"{"a":{"dtype":"Q32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        #expect(parseError(unknown)?.description == "x.safetensors: tensor 'a': unknown dtype 'Q32'")
        let lower = stFile(#"{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        #expect(parseError(lower)?.description.contains("unknown dtype 'f32'") == true)
        let i64 = stFile(#"{"n":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0, 0, 1, 0, 0])
        guard case .unsupported(_, let reason)? = parseError(i64) else { Issue.record("2^40 accepted"); return }
        #expect(reason == "tensor 'n' holds the integer 1099511627776, which a Float cannot represent exactly (|v| > 2^24)")
        let i32 = stFile(#"{"n":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}"#, data: [5, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(try Safetensors.parse(i32, file: "x")["n"]?.array.values == [5, -1])
        let u64 = stFile(#"{"n":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        guard case .unsupported(_, let reason2)? = parseError(u64) else { Issue.record("U64 accepted"); return }
        #expect(reason2 == "tensor 'n' has dtype U64; cvseg reads F32, F16, BF16, I32 and I64 tensors only")
        // BF16 little-endian: 0x3F80 = 1.0, 0xC000 = -2.0.
        let bf16 = stFile(#"{"b":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#, data: [0x80, 0x3F, 0x00, 0xC0])
        #expect(try Safetensors.parse(bf16, file: "x")["b"]?.array.values == [1, -2])
        #expect(SafetensorsDType.allCases.count == 22)
    }

    @Test func metadataMustMapStringsToStrings() throws {
        let number = stFile(#"{"__metadata__":{"a":1}}"#)
        #expect(parseError(number)?.description == "x.safetensors: __metadata__ entry 'a' is 1, not a string")
        #expect(parseError(stFile(#"{"__metadata__":["a"]}"#))?.description == "x.safetensors: __metadata__ is not an object of strings")
        #expect(parseError(stFile(#"{"__metadata__":{"a":{"b":"c"}}}"#)) != nil)
        // null is accepted as "no metadata", as by the reference (an Option).
        #expect(try Safetensors.parse(stFile(#"{"__metadata__":null}"#), file: "x").metadata == nil)
        #expect(try Safetensors.parse(stFile(#"{"__metadata__":{}}"#), file: "x").metadata == [:])
    }

    @Test func readNamesThePath() throws {
        let missing = safetensorsFixtures + "/no-such.safetensors"
        #expect(throws: CVSegError.self) { _ = try Safetensors.read(missing) }
        #expect(throws: CVSegError.self) {
            _ = try Safetensors.read(safetensorsFixtures + "/f32.safetensors", limits: Safetensors.Limits(maxFileBytes: 100))
        }
    }
}
