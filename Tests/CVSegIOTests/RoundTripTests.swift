import Foundation
import Testing
import CVSegTestSupport
import CVSegCore
@testable import CVSegIO

@Suite struct RowEncoderTests {
    /// Rows made on demand give the same PNG bytes as the whole image, for every filter and
    /// 8-bit gray, 16-bit gray and 8-bit RGB.
    @Test func rowsEncodeLikeTheWholeImage() throws {
        for (layout, depth) in [(ColorLayout.gray, 8), (.gray, 16), (.rgb, 8)] {
            for filter in [PNGFilter.none, .sub, .adaptive] {
                let options = PNGWriteOptions(compressionLevel: 1, filter: filter)
                let (w, h) = (37, 11)
                let whole: [UInt8], rows: [UInt8]
                if depth == 8 {
                    let image = RoundTripTests.random(UInt8.self, width: w, height: h, layout: layout, seed: 3)
                    whole = try ImageEncoder.png(image, options: options)
                    rows = try ImageEncoder.png(width: w, height: h, layout: layout, bitDepth: 8, options: options) { y, row in
                        for i in 0..<(w * layout.channels) { row[i] = image.samples[y * w * layout.channels + i] }
                    }
                } else {
                    let image = RoundTripTests.random(UInt16.self, width: w, height: h, layout: layout, seed: 4)
                    whole = try ImageEncoder.png(image, options: options)
                    rows = try ImageEncoder.png(width: w, height: h, layout: layout, bitDepth: 16, options: options) { y, row in
                        for i in 0..<(w * layout.channels) {
                            row.storeBytes(of: image.samples[y * w * layout.channels + i], toByteOffset: 2 * i, as: UInt16.self)
                        }
                    }
                }
                #expect(rows == whole, "\(layout) \(depth)-bit, filter \(filter)")
            }
        }
        #expect(throws: CVSegError.self) {
            _ = try ImageEncoder.png(width: 2, height: 2, layout: .gray, bitDepth: 4) { _, _ in }
        }
    }
}

@Suite struct RoundTripTests {
    static func random<S: PixelSample>(_ type: S.Type, width: Int, height: Int, layout: ColorLayout, seed: UInt64) -> Image<S> {
        var g = SplitMix64(seed: seed)
        let samples = (0..<(width * height * layout.channels)).map { _ in S(truncatingIfNeeded: g.next()) }
        return Image(width: width, height: height, layout: layout, samples: samples)
    }

    @Test(arguments: ColorLayout.allCases, [1, 9])
    func pngEightBitIsExact(layout: ColorLayout, level: Int) throws {
        let image = Self.random(UInt8.self, width: 13, height: 7, layout: layout, seed: UInt64(layout.rawValue))
        let bytes = try ImageEncoder.png(image, options: PNGWriteOptions(compressionLevel: level))
        let back = try ImageDecoder.decode(bytes, file: "mem.png", options: DecodeOptions(palette: .expand))
        #expect(back == .image(.uint8(image)))
    }

    @Test(arguments: ColorLayout.allCases)
    func pngSixteenBitIsExact(layout: ColorLayout) throws {
        var image = Self.random(UInt16.self, width: 11, height: 6, layout: layout, seed: 99)
        image.samples[0] = 0; image.samples[1] = 65535; image.samples[2] = 256; image.samples[3] = 1
        let bytes = try ImageEncoder.png(image)
        let back = try ImageDecoder.decode(bytes, file: "mem.png", options: DecodeOptions(palette: .expand))
        #expect(back == .image(.uint16(image)))
    }

    @Test func palettePNGKeepsIndicesAndColours() throws {
        var g = SplitMix64(seed: 7)
        let indices = Image<UInt8>(width: 9, height: 4, layout: .gray,
                                   samples: (0..<36).map { i in i == 0 ? 255 : UInt8(g.next() % 21) })
        let indexed = IndexedImage(indices: indices, palette: ColorMap.pascalVOC)
        let bytes = try ImageEncoder.png(indexed)
        let back = try ImageDecoder.decode(bytes, file: "mem.png", options: DecodeOptions(palette: .indices))
        #expect(back == .indexed(indexed))
        let colours = try ImageDecoder.decode(bytes, file: "mem.png", options: DecodeOptions(palette: .expand))
        guard case .image(.uint8(let rgb)) = colours else { Issue.record("expected RGB"); return }
        #expect(rgb.layout == .rgb)
        #expect(Array(rgb.samples[0..<3]) == [224, 224, 192]) // index 255: VOC boundary colour
    }

    @Test func paletteWithTransparencyWritesTRNS() throws {
        let indexed = IndexedImage(indices: Image(width: 2, height: 1, layout: .gray, samples: [0, 1]),
                                   palette: [RGBA(1, 2, 3, 0), RGBA(4, 5, 6, 128)])
        let back = try ImageDecoder.decode(try ImageEncoder.png(indexed), file: "m.png", options: DecodeOptions(palette: .indices))
        #expect(back == .indexed(indexed))
        #expect(back.expanded() == .uint8(Image(width: 2, height: 1, layout: .rgba, samples: [1, 2, 3, 0, 4, 5, 6, 128])))
    }

    @Test func paletteIndexPastTheEndIsRefused() {
        let indexed = IndexedImage(indices: Image(width: 1, height: 1, layout: .gray, samples: [3]), palette: [RGBA(0, 0, 0)])
        #expect(throws: CVSegError.self) { _ = try ImageEncoder.png(indexed) }
    }

    @Test(arguments: [false, true])
    func jpegRoundTripIsClose(progressive: Bool) throws {
        // A smooth image: JPEG at quality 95 keeps it within a few levels.
        let samples = (0..<(32 * 24)).flatMap { i -> [UInt8] in
            let x = i % 32, y = i / 32
            return [UInt8(x * 8), UInt8(y * 10), UInt8((x + y) * 4)]
        }
        let image = Image<UInt8>(width: 32, height: 24, layout: .rgb, samples: samples)
        let bytes = try ImageEncoder.jpeg(image, quality: 95, progressive: progressive)
        let back = try ImageDecoder.decode(bytes, file: "mem.jpg", options: DecodeOptions(palette: .expand))
        guard case .image(.uint8(let decoded)) = back else { Issue.record("expected 8-bit"); return }
        #expect(decoded.layout == .rgb)
        var squared = 0.0
        for (a, b) in zip(decoded.samples, image.samples) {
            let d = Double(Int(a) - Int(b))
            squared += d * d
        }
        let mse = squared / Double(samples.count)
        let psnr = 10 * log10(255 * 255 / max(mse, 1e-9))
        #expect(psnr > 38, "PSNR \(psnr)")
        // Quality changes the size: a lower quality gives a smaller file.
        #expect(try ImageEncoder.jpeg(image, quality: 30, progressive: progressive).count < bytes.count)
    }

    @Test func jpegGrayRoundTrip() throws {
        let image = Image<UInt8>(width: 16, height: 16, layout: .gray, samples: (0..<256).map { UInt8($0) })
        let back = try ImageDecoder.decode(try ImageEncoder.jpeg(image, quality: 100), file: "g.jpg",
                                           options: DecodeOptions(palette: .expand))
        guard case .image(.uint8(let g)) = back else { Issue.record("expected 8-bit"); return }
        #expect(g.layout == .gray)
        #expect(zip(g.samples, image.samples).allSatisfy { abs(Int($0) - Int($1)) <= 2 })
    }

    @Test func jpegRefusesAlphaAndBadQuality() {
        let rgba = Image<UInt8>(width: 2, height: 2, layout: .rgba)
        #expect(throws: CVSegError.self) { _ = try ImageEncoder.jpeg(rgba) }
        #expect(throws: CVSegError.self) { _ = try ImageEncoder.jpeg(Image(width: 2, height: 2, layout: .rgb), quality: 0) }
    }

    @Test func atomicWriteCreatesFoldersAndLeavesNoTemporaries() throws {
        let dir = NSTemporaryDirectory() + "cvseg-io-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/a/b/c.png"
        try ImageFile.writeAtomically([1, 2, 3], to: path)
        try ImageFile.writeAtomically([4, 5], to: path) // replaces
        #expect(try FileBytes.read(path) == [4, 5])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/a/b") == ["c.png"])
        // A folder where the file should go: the error names the path, nothing is left behind.
        try FileManager.default.createDirectory(atPath: dir + "/taken.png", withIntermediateDirectories: true)
        #expect(throws: CVSegError.self) { try ImageFile.writeAtomically([1], to: dir + "/taken.png") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["a", "taken.png"])
    }
}
