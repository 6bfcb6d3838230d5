import Foundation
import Testing
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

extension PseudoWeightsTests {
    /// A minimal SHA-256 (FIPS 180-4) for the fixture's map digests.
    enum SHA256 {
        static let k: [UInt32] = [
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
            0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
            0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
            0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
            0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
            0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
            0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
        ]

        /// The digest of doubles as float64 little-endian bytes, in order.
        static func hex(of values: [Double]) -> String {
            var bytes = [UInt8]()
            bytes.reserveCapacity(values.count * 8)
            for v in values {
                let bits = v.bitPattern
                for b in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(b)))) }
            }
            return hex(bytes)
        }

        static func hex(_ message: [UInt8]) -> String {
            var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
            var data = message
            data.append(0x80)
            while data.count % 64 != 56 { data.append(0) }
            let bitLength = UInt64(message.count) * 8
            for b in (0..<8).reversed() { data.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(b)))) }
            @inline(__always) func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
            var w = [UInt32](repeating: 0, count: 64)
            data.withUnsafeBufferPointer { d in
                for chunk in stride(from: 0, to: d.count, by: 64) {
                    for t in 0..<16 {
                        let o = chunk + 4 * t
                        w[t] = UInt32(d[o]) << 24 | UInt32(d[o + 1]) << 16 | UInt32(d[o + 2]) << 8 | UInt32(d[o + 3])
                    }
                    for t in 16..<64 {
                        let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
                        let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
                        w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
                    }
                    var a = h[0], b = h[1], c = h[2], dd = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
                    for t in 0..<64 {
                        let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                        let ch = (e & f) ^ (~e & g)
                        let t1 = hh &+ s1 &+ ch &+ k[t] &+ w[t]
                        let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                        let maj = (a & b) ^ (a & c) ^ (b & c)
                        let t2 = s0 &+ maj
                        hh = g; g = f; f = e; e = dd &+ t1; dd = c; c = b; b = a; a = t1 &+ t2
                    }
                    h[0] = h[0] &+ a; h[1] = h[1] &+ b; h[2] = h[2] &+ c; h[3] = h[3] &+ dd
                    h[4] = h[4] &+ e; h[5] = h[5] &+ f; h[6] = h[6] &+ g; h[7] = h[7] &+ hh
                }
            }
            let digits = Array("0123456789abcdef".utf8)
            var out = [UInt8]()
            for word in h {
                for shift in stride(from: 28, through: 0, by: -4) { out.append(digits[Int((word >> UInt32(shift)) & 0xF)]) }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
