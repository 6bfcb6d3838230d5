import Foundation
import Testing
import CVSegTestSupport
import CVSegCore
import CVSegIO
@testable import CVSegEval

/// The DIBCO pseudo-FM weight maps against doxapy 0.9.9 `generate_pseudo_weights`
/// (Tests/CVSegEvalTests/Fixtures/dibco/expected.json, scripts/reference/dibco_reference.py):
/// the complete maps of the four synthetic GTs, and per dev GT the maps' sums, nonzero counts,
/// maxima and sha256 of the float64 little-endian row-major bytes.
@Suite struct PseudoWeightsTests {
    static let dibco = evalFixtures + "/dibco"

    /// The fixture, parsed once (every test case reads it).
    static let parsed = Result { try readJSON(dibco + "/expected.json") }
    static func expected() throws -> JSON { try parsed.get() }

    /// A 0/255 gray image from fixture rows ('#' = ink 0, '.' = background 255).
    static func image(rows: [String]) -> Image<UInt8> {
        let samples = rows.flatMap { $0.utf8.map { $0 == UInt8(ascii: "#") ? UInt8(0) : 255 } }
        return Image(width: rows.first?.utf8.count ?? 0, height: rows.count, layout: .gray, samples: samples)
    }

    /// A 1-bit (or 8-bit) gray PNG as 0/255 gray.
    static func gray(_ path: String) throws -> Image<UInt8> {
        guard case .image(.uint8(let image)) = try ImageFile.read(path, options: DecodeOptions(palette: .expand)),
              image.layout == .gray
        else { throw CVSegError.invalidArgument("\(path): expected an 8-bit gray image") }
        return image
    }

    static func map(_ value: JSON?) -> [Double] {
        (value?.arrayValue ?? []).flatMap { row in (row.arrayValue ?? []).map { $0.doubleValue ?? .nan } }
    }

    /// Where two maps differ: the count and the largest absolute difference.
    static func difference(_ a: [Double], _ b: [Double]) -> String {
        guard a.count == b.count else { return "sizes \(a.count) vs \(b.count)" }
        let diffs = zip(a, b).filter { $0.0.bitPattern != $0.1.bitPattern }.map { abs($0.0 - $0.1) }
        return "\(diffs.count) pixels differ, max |diff| \(diffs.max() ?? 0)"
    }

    static var syntheticNames: [String] {
        ((try? expected())?["synthetic"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    }

    static var devNames: [String] {
        ((try? expected())?["images"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    }

    @Test func fixtureIsPresent() throws {
        #expect(Self.syntheticNames == ["strokes", "ring_diagonal", "block_edge", "empty_gt"])
        #expect(Self.devNames.count == 20)
    }

    @Test(arguments: syntheticNames)
    func syntheticMapsAreBitExact(name: String) throws {
        let e = try Self.expected()["synthetic"]!.arrayValue!.first { $0["name"]?.stringValue == name }!
        let gt = Self.image(rows: e["gt_rows"]!.arrayValue!.compactMap(\.stringValue))
        #expect(gt.width == e["width"]!.intValue! && gt.height == e["height"]!.intValue!)
        #expect(try Self.gray(Self.dibco + "/" + e["gt"]!.stringValue!) == gt, "the PNG is the rows")

        let w = PseudoWeights(groundTruth: gt)
        #expect(w.width == gt.width && w.height == gt.height)
        let rw = Self.map(e["recall_weights"]), pw = Self.map(e["precision_weights"])
        #expect(w.recall == rw, "\(name) recall: \(Self.difference(w.recall, rw))")
        #expect(w.precision == pw, "\(name) precision: \(Self.difference(w.precision, pw))")
        // The domains: GW only on ink, PW − 1 only on background, within 0...2.
        for i in 0..<gt.pixelCount {
            if gt.samples[i] == 0 { #expect(w.precision[i] == 0) } else { #expect(w.recall[i] == 0) }
        }
        #expect(w.precision.allSatisfy { $0 >= 0 && $0 <= 2 })
    }

    /// The dev GTs to check. An unoptimised build needs about 5.6 s per megapixel (the 20 GTs are
    /// 15.4 megapixels), so a debug build checks every fifth one (4 GTs, 2.1 megapixels) unless
    /// CVSEG_PW_DEV=all; release builds check all 20.
    static var devSubset: [String] {
        let all = devNames
        #if DEBUG
        if ProcessInfo.processInfo.environment["CVSEG_PW_DEV"] != "all" {
            return all.enumerated().filter { $0.offset % 5 == 0 }.map(\.element)
        }
        #endif
        return all
    }

    @Test(arguments: devSubset)
    func devSummariesMatch(name: String) throws {
        let e = try Self.expected()["images"]!.arrayValue!.first { $0["name"]?.stringValue == name }!
        let path = evalDataRoot + "/" + e["gt"]!.stringValue!
        try #require(FileManager.default.fileExists(atPath: path), "dev data not found at \(path)")
        let gt = try Self.gray(path)
        #expect(gt.width == e["width"]!.intValue! && gt.height == e["height"]!.intValue!)
        let w = PseudoWeights(groundTruth: gt)
        let s = e["pseudo_weights"]!
        for (key, values) in [("recall", w.recall), ("precision", w.precision)] {
            let nonzero = values.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
            #expect(nonzero == s["\(key)_nonzero"]!.intValue!, "\(name) \(key) nonzero")
            #expect(values.max() == s["\(key)_max"]!.doubleValue!, "\(name) \(key) max")
            // numpy sums pairwise, so the last bits of the sum depend on its order.
            let sum = values.reduce(0, +), want = s["\(key)_sum"]!.doubleValue!
            #expect(abs(sum - want) <= 1e-9 * max(1, abs(want)), "\(name) \(key) sum \(sum) vs \(want)")
            #expect(SHA256.hex(of: values) == s["\(key)_sha256"]!.stringValue!, "\(name) \(key) sha256")
        }
    }

    @Test func sha256KnownAnswers() {
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func emptyImage() {
        let w = PseudoWeights(groundTruth: Image(width: 0, height: 0, layout: .gray))
        #expect(w.recall.isEmpty && w.precision.isEmpty)
        let one = PseudoWeights(groundTruth: Image(width: 1, height: 1, layout: .gray, repeating: 0))
        #expect(one.recall.count == 1 && one.precision == [0])
    }

    /// Degenerate shapes (all ink, one row, one column, ink on the frame, values other than 0 and
    /// 255) run and keep each map on its own domain.
    @Test(arguments: [
        ["#####", "#####", "#####"], ["#.#..##"], ["#", ".", "#", "#"], ["##..", "#...", "...#"],
        ["#..#", "....", "....", "#..#"], ["...", "...", "..."],
    ])
    func degenerateShapes(rows: [String]) {
        var gt = Self.image(rows: rows)
        if gt.pixelCount > 1 { gt.samples[gt.pixelCount - 1] = gt.samples[gt.pixelCount - 1] == 0 ? 0 : 128 }
        let w = PseudoWeights(groundTruth: gt)
        #expect(w.recall.count == gt.pixelCount && w.precision.count == gt.pixelCount)
        for i in 0..<gt.pixelCount {
            if gt.samples[i] == 0 { #expect(w.precision[i] == 0 && w.recall[i] >= 0) } else { #expect(w.recall[i] == 0) }
        }
        #expect(w.precision.allSatisfy { $0 >= 0 && $0 <= 2 })
    }
}
