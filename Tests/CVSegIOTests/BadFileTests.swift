import Foundation
import Testing
import CVSegTestSupport
import CVSegCore
@testable import CVSegIO

/// Each damaged file must throw an error that names the file and the cause; none may crash,
/// abort or exit the process (libjpeg's default handler would call exit()).
@Suite struct BadFileTests {
    static let strict = DecodeOptions(palette: .expand)
    static let lenient = DecodeOptions(palette: .expand, lenient: true)

    @Test func manifestCoversEveryKind() throws {
        let kinds = Set(try loadManifest("bad").compactMap { $0["kind"] as? String })
        #expect(kinds.isSuperset(of: ["empty", "truncated", "crc", "corrupt_data", "wrong_extension", "not_image",
                                      "huge", "jpeg_premature_end", "jpeg_corrupt_data"]))
    }

    @Test(arguments: manifestNames("bad"))
    func throwsNamingTheFile(name: String) throws {
        let kind = try entry("bad", name)["kind"] as! String
        let path = "\(fixtureRoot)/bad/\(name)"
        var caught: CVSegError?
        do {
            _ = try ImageFile.read(path, options: Self.strict)
        } catch let error as CVSegError {
            caught = error
        }
        guard let error = caught else {
            Issue.record("\(name) (\(kind)) decoded without an error")
            return
        }
        let text = error.description
        #expect(text.hasPrefix(path + ": "), "\(text)")
        switch kind {
        case "empty":
            #expect(text.contains("empty"))
        case "truncated":
            #expect(text.contains("truncated") || text.contains("Not enough image data"), "\(text)")
        case "crc":
            guard case .decode = error else { Issue.record("\(text)"); return }
            #expect(text.contains("CRC"), "\(text)")
        case "corrupt_data":
            #expect(text.contains("invalid distance") || text.contains("IDAT"), "\(text)")
        case "wrong_extension":
            guard case .wrongExtension = error else { Issue.record("\(text)"); return }
        case "not_image":
            #expect(text.contains("unrecognised signature"), "\(text)")
        case "huge":
            guard case .tooLarge = error else { Issue.record("\(text)"); return }
            #expect(text.contains("exceed the limit"))
        case "jpeg_premature_end":
            guard case .corruptData = error else { Issue.record("\(text)"); return }
            #expect(text.contains("Premature end of JPEG file"))
        case "jpeg_corrupt_data":
            guard case .corruptData = error else { Issue.record("\(text)"); return }
            #expect(text.contains("Corrupt JPEG data"))
        case "many_scans":
            // Strict mode stops even earlier, at libjpeg's warning about the repeated scans.
            #expect(text.contains("more than 1000 progressive scans") || text.contains("Inconsistent progression"), "\(text)")
        default:
            Issue.record("unknown kind \(kind)")
        }
    }

    /// With --lenient, damage that libraries can decode through is accepted; data that cannot be
    /// decoded at all still fails.
    @Test func lenientAcceptsRecoverableDamageOnly() throws {
        let crc = try ImageFile.read("\(fixtureRoot)/bad/bad_crc.png", options: Self.lenient)
        #expect(crc.width == 32 && crc.height == 32)
        let cut = try ImageFile.read("\(fixtureRoot)/bad/truncated.jpg", options: Self.lenient)
        #expect(cut.width == 64 && cut.height == 64)
        let huffman = try ImageFile.read("\(fixtureRoot)/bad/corrupt_huffman.jpg", options: Self.lenient)
        #expect(huffman.width == 64)
        #expect(throws: CVSegError.self) {
            _ = try ImageFile.read("\(fixtureRoot)/bad/huge.png", options: Self.lenient)
        }
        #expect(throws: CVSegError.self) {
            _ = try ImageFile.read("\(fixtureRoot)/bad/truncated.png", options: Self.lenient)
        }
        // Lenient or not, a file with over 1000 scans is refused (it could take hours).
        #expect(throws: CVSegError.self) {
            _ = try ImageFile.read("\(fixtureRoot)/bad/many_scans.jpg", options: Self.lenient)
        }
    }

    /// Warnings that leave the pixels intact (an unknown JFIF revision) do not fail a strict decode.
    @Test func harmlessJPEGWarningIsNotCorruption() throws {
        var bytes = try FileBytes.read("\(fixtureRoot)/jpeg/gray_q90.jpg")
        let jfif: [UInt8] = Array("JFIF".utf8) + [0]
        guard let at = (0..<(bytes.count - 5)).first(where: { Array(bytes[$0..<$0 + 5]) == jfif }) else {
            Issue.record("no JFIF marker"); return
        }
        bytes[at + 5] = 2 // major version 2: libjpeg warns "unknown JFIF revision number"
        let patched = try ImageDecoder.decode(bytes, file: "jfif2.jpg", options: Self.strict)
        let original = try ImageFile.read("\(fixtureRoot)/jpeg/gray_q90.jpg", options: Self.strict)
        #expect(patched == original)
    }

    /// The decoded size is limited too: a few kilobytes can claim 16384 x 16384 16-bit RGBA (2 GiB).
    @Test func decodedBytesAreLimited() throws {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func chunk(_ type: String, _ data: [UInt8]) {
            let body = Array(type.utf8) + data
            png += withUnsafeBytes(of: UInt32(data.count).bigEndian, Array.init) + body
            png += withUnsafeBytes(of: crc32(body).bigEndian, Array.init)
        }
        let side = withUnsafeBytes(of: UInt32(16384).bigEndian, Array.init)
        chunk("IHDR", side + side + [16, 6, 0, 0, 0])
        chunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])
        chunk("IEND", [])
        #expect {
            _ = try ImageDecoder.decode(png, file: "big.png", options: Self.strict)
        } throws: { error in
            guard case CVSegError.tooLarge = error else { return false }
            return "\(error)".contains("decode to more than the limit")
        }
    }

    @Test func nonRegularFilesAreRefusedWithoutBlocking() throws {
        let dir = NSTemporaryDirectory() + "cvseg-special-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(mkfifo(dir + "/pipe.png", 0o644) == 0)
        #expect(symlink("/dev/zero", dir + "/zero.png") == 0)
        for name in ["pipe.png", "zero.png"] {
            #expect {
                _ = try ImageFile.read(dir + "/" + name, options: Self.strict)
            } throws: { error in
                "\(error)".contains("not a regular file")
            }
        }
        // A sparse file claiming 2 GiB is refused by size before any read.
        let fd = open(dir + "/sparse.png", O_CREAT | O_WRONLY, 0o644)
        #expect(ftruncate(fd, 2 << 30) == 0)
        close(fd)
        #expect {
            _ = try ImageFile.read(dir + "/sparse.png", options: Self.strict)
        } throws: { error in
            "\(error)".contains("over the limit")
        }
    }

    @Test func limitsAreTheCallers() throws {
        let small = DecodeOptions(palette: .expand, maxPixels: 30)
        #expect(throws: CVSegError.self) {
            _ = try ImageFile.read("\(fixtureRoot)/png/gray8.png", options: small)  // 7 x 5 = 35 pixels
        }
        #expect(try ImageFile.read("\(fixtureRoot)/png/gray8.png", options: DecodeOptions(palette: .expand, maxPixels: 35)).width == 7)
    }

    @Test func missingFileAndFolderAreIOErrors() {
        #expect {
            _ = try ImageFile.read("/nonexistent/x.png", options: Self.strict)
        } throws: { error in
            "\(error)" == "/nonexistent/x.png: cannot read: No such file or directory"
        }
        #expect {
            _ = try ImageFile.read(fixtureRoot, options: Self.strict)
        } throws: { error in
            "\(error)".contains("it is a directory")
        }
    }

    /// Random damage anywhere in a valid file: a clean error or a decoded image, never a crash.
    @Test func randomByteFlipsNeverCrash() throws {
        var generator = SplitMix64(seed: 42)
        for name in ["png/rgb8_interlaced_33x17.png", "jpeg/rgb_progressive.jpg", "png/pal4_trns.png"] {
            let original = try FileBytes.read("\(fixtureRoot)/\(name)")
            for _ in 0..<200 {
                var bytes = original
                for _ in 0..<3 {
                    let at = Int(generator.next() % UInt64(bytes.count))
                    bytes[at] ^= UInt8(truncatingIfNeeded: generator.next() | 1)
                }
                if generator.next() % 4 == 0 { bytes.removeLast(Int(generator.next() % UInt64(bytes.count / 2))) }
                do {
                    let image = try ImageDecoder.decode(bytes, file: name, options: Self.lenient)
                    #expect(image.width > 0)
                } catch let error as CVSegError {
                    #expect("\(error)".hasPrefix(name))
                }
            }
        }
    }
}


/// CRC-32 (IEEE), for building PNG chunks in tests.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        c ^= UInt32(b)
        for _ in 0..<8 { c = (c >> 1) ^ (c & 1 == 1 ? 0xEDB8_8320 : 0) }
    }
    return ~c
}
