import Foundation
import Testing
import CVSegCore
@testable import CVSegIO

/// Every PNG variant, written by pypng (another encoder), must decode to the values the
/// generator computed from its own arrays.
@Suite struct PNGFixtureTests {
    @Test func manifestListsEveryVariant() throws {
        let names = Set(try loadManifest("png").compactMap { $0["file"] as? String })
        for depth in [1, 2, 4, 8, 16] { #expect(names.contains("gray\(depth).png")) }
        for depth in [1, 2, 4, 8] { #expect(names.contains("pal\(depth).png")) }
        for name in ["graya8.png", "graya16.png", "rgb8.png", "rgb16.png", "rgba8.png", "rgba16.png",
                     "pal8_trns.png", "gray8_interlaced.png", "rgb16_interlaced.png", "pal2_interlaced.png"] {
            #expect(names.contains(name))
        }
    }

    @Test(arguments: manifestNames("png"))
    func expandedSamplesMatch(name: String) throws {
        let e = try entry("png", name)
        let expected = e["expected"] as! [String: Any]
        let decoded = try ImageFile.read("\(fixtureRoot)/png/\(name)", options: DecodeOptions(palette: .expand))
        let image = decoded.expanded()
        #expect(image.width == e["width"] as? Int)
        #expect(image.height == e["height"] as? Int)
        #expect(image.layout.channels == expected["channels"] as? Int)
        #expect(image.bitDepth == expected["bit_depth"] as? Int)
        let samples: [Int]
        switch image {
        case .uint8(let i): samples = i.samples.map(Int.init)
        case .uint16(let i): samples = i.samples.map(Int.init)
        }
        #expect(samples == ints(expected["samples"]))
    }

    @Test(arguments: manifestNames("png").filter { $0.hasPrefix("pal") })
    func paletteIndicesAndColoursSurvive(name: String) throws {
        let e = try entry("png", name)
        let decoded = try ImageFile.read("\(fixtureRoot)/png/\(name)", options: DecodeOptions(palette: .indices))
        guard case .indexed(let indexed) = decoded else {
            Issue.record("\(name) was not returned as an indexed image")
            return
        }
        #expect(indexed.indices.samples.map(Int.init) == ints(e["indices"]))
        let palette = (e["palette"] as! [[Int]]).map { RGBA(UInt8($0[0]), UInt8($0[1]), UInt8($0[2]), UInt8($0[3])) }
        #expect(indexed.palette == palette)
        // Asking for colours gives the same as expanding the indices ourselves.
        let expandedByReader = try ImageFile.read("\(fixtureRoot)/png/\(name)", options: DecodeOptions(palette: .expand))
        #expect(expandedByReader.expanded() == decoded.expanded())
    }

    @Test func interlacedEqualsItsValues() throws {
        let e = try entry("png", "rgb8_interlaced_33x17.png")
        #expect(e["interlaced"] as? Bool == true)
        let image = try ImageFile.read("\(fixtureRoot)/png/rgb8_interlaced_33x17.png", options: DecodeOptions(palette: .expand))
        guard case .image(.uint8(let rgb)) = image else { Issue.record("expected 8-bit"); return }
        #expect(rgb.samples.map(Int.init) == ints((e["expected"] as! [String: Any])["samples"]))
    }
}

@Suite struct JPEGFixtureTests {
    @Test(arguments: manifestNames("jpeg").filter { $0 != "cmyk.jpg" })
    func decodesWithinOneOfPillow(name: String) throws {
        let e = try entry("jpeg", name)
        let decoded = try ImageFile.read("\(fixtureRoot)/jpeg/\(name)", options: DecodeOptions(palette: .expand))
        guard case .image(.uint8(let image)) = decoded else { Issue.record("expected 8-bit"); return }
        #expect(image.width == 16 && image.height == 12)
        #expect(image.channels == e["channels"] as? Int)
        let expected = ints(e["expected"])
        #expect(expected.count == image.samples.count)
        // Pillow bundles libjpeg-turbo 3.x and Debian ships 2.1; both use the islow IDCT, so any
        // difference is a rounding step in upsampling: at most 1.
        let worst = zip(image.samples, expected).map { abs(Int($0) - $1) }.max() ?? 0
        #expect(worst <= 1, "max difference \(worst)")
    }

    @Test func cmykIsRefusedClearly() throws {
        let path = "\(fixtureRoot)/jpeg/cmyk.jpg"
        #expect {
            _ = try ImageFile.read(path, options: DecodeOptions(palette: .expand))
        } throws: { error in
            guard case CVSegError.unsupported(let file, let reason) = error else { return false }
            return file == path && reason.contains("CMYK")
        }
    }
}
