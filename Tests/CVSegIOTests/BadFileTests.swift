import Foundation
import Testing
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

/// A small seeded generator for repeatable tests (SplitMix64, Steele et al. 2014).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
