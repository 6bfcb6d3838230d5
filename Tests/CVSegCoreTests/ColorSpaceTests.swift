import Foundation
import Testing
@testable import CVSegCore

/// Colour conversions against scikit-image (float HSV, Lab) and OpenCV (8-bit HSV), from
/// scripts/reference/color_reference.py.
@Suite struct ColorSpaceTests {
    static let fixture: JSON? = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/color/expected.json"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSON.parse([UInt8](data), file: path)
    }()

    static let pictures: JSON? = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/color/label_pictures.json"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSON.parse([UInt8](data), file: path)
    }()

    static func rows(_ key: String) throws -> [[Double]] {
        let fixture = try #require(fixture, "color fixture missing or unreadable")
        let rows = try #require(fixture[key]?.arrayValue, "fixture has no \(key)")
        return try rows.map { row in
            let values = row.arrayValue?.compactMap(\.doubleValue) ?? []
            try #require(values.count == 3, "\(key): a row without three numbers")
            return values
        }
    }

    func image<S: PixelSample>(_ rows: [[Double]], as type: S.Type) -> Image<S> {
        Image(width: rows.count, height: 1, layout: .rgb, samples: rows.flatMap { $0.map { S($0) } })
    }

    func assertClose(_ got: FloatImage, _ expected: [[Double]], tolerance: Double, _ what: String) {
        var worst = 0.0
        for (i, row) in expected.enumerated() {
            for c in 0..<3 { worst = max(worst, abs(got.values[3 * i + c] - row[c])) }
        }
        #expect(worst <= tolerance, "\(what): max |Δ| \(worst)")
    }

    @Test func hsvAndLabMatchScikitImage() throws {
        let rgb8 = image(try Self.rows("rgb8"), as: UInt8.self)
        assertClose(rgb8.hsv(), try Self.rows("hsv"), tolerance: 1e-15, "8-bit hsv")
        assertClose(rgb8.lab(), try Self.rows("lab"), tolerance: 1e-12, "8-bit lab")
        let rgb16 = image(try Self.rows("rgb16"), as: UInt16.self)
        assertClose(rgb16.hsv(), try Self.rows("hsv16"), tolerance: 1e-15, "16-bit hsv")
        assertClose(rgb16.lab(), try Self.rows("lab16"), tolerance: 1e-12, "16-bit lab")
    }

    @Test func hsv8MatchesOpenCV() throws {
        let rgb8 = image(try Self.rows("rgb8"), as: UInt8.self)
        let expected = try Self.rows("hsv8_opencv").flatMap { $0.map { UInt8($0) } }
        #expect(rgb8.hsv8().samples == expected)
    }

    @Test func grayIsEqualChannels() {
        let gray = Image<UInt8>(width: 3, height: 1, layout: .gray, samples: [0, 100, 255])
        let rgb = Image<UInt8>(width: 3, height: 1, layout: .rgb, samples: [0, 0, 0, 100, 100, 100, 255, 255, 255])
        #expect(gray.hsv() == rgb.hsv())
        #expect(gray.lab() == rgb.lab())
        #expect(gray.hsv8() == rgb.hsv8())
        // Grays have no hue or saturation; white is L 100.
        #expect(gray.hsv().values == [0, 0, 0, 0, 0, 100.0 / 255, 0, 0, 1])
        #expect(abs(gray.lab().values[6] - 100) < 1e-3)
        #expect(gray.lab8().samples[6...8] == [255, 128, 128])
    }

    @Test func lab8IsRoundedLab() throws {
        let rgb8 = image(try Self.rows("rgb8"), as: UInt8.self)
        let lab = rgb8.lab(), enc = rgb8.lab8()
        for i in 0..<rgb8.pixelCount {
            let l = (lab.values[3 * i] * 255 / 100).rounded(.toNearestOrEven)
            #expect(Double(enc.samples[3 * i]) == min(max(l, 0), 255))
            #expect(Double(enc.samples[3 * i + 1]) == min(max((lab.values[3 * i + 1] + 128).rounded(.toNearestOrEven), 0), 255))
        }
    }

    @Test func labelPicturesMatchScikitImage() throws {
        let fixture = try #require(Self.pictures, "label_pictures fixture missing or unreadable")
        let w = try #require(fixture["width"]?.intValue), h = try #require(fixture["height"]?.intValue)
        let labels = LabelMap(width: w, height: h, labels: (fixture["labels"]?.arrayValue ?? []).compactMap { $0.intValue.map(Int32.init) })
        let image = Image<UInt8>(width: w, height: h, layout: .rgb,
                                 samples: (fixture["image"]?.arrayValue ?? []).compactMap { $0.intValue.map(UInt8.init) })
        let bounds = (fixture["boundaries"]?.arrayValue ?? []).compactMap { $0.intValue.map { $0 != 0 } }
        #expect(LabelPictures.findBoundaries(labels) == bounds)
        let mean = (fixture["mean"]?.arrayValue ?? []).compactMap(\.doubleValue)
        let got = LabelPictures.meanColors(labels, image: image).samples
        #expect(got.count == mean.count)
        #expect(zip(got, mean).allSatisfy { Double($0) == $1 })
        let marked = LabelPictures.boundaries(labels, on: image).samples
        for i in 0..<w * h {
            let expected: [UInt8] = bounds[i] ? [255, 255, 0] : Array(image.samples[3 * i..<3 * i + 3])
            #expect(Array(marked[3 * i..<3 * i + 3]) == expected)
        }
    }

    @Test func labelColorsBeyondThePalette() {
        #expect(ColorMap.color(forLabel: 1) == ColorMap.pascalVOC[1])
        #expect(ColorMap.color(forLabel: 255) == ColorMap.pascalVOC[255])
        // Past 255 the colours are hashed: stable, never dark, and distinct for neighbours.
        let wide = (256..<1256).map { ColorMap.color(forLabel: Int32($0)) }
        #expect(wide.allSatisfy { $0.r >= 64 && $0.g >= 64 && $0.b >= 64 })
        #expect(Set(wide.map { Int($0.r) << 16 | Int($0.g) << 8 | Int($0.b) }).count == wide.count)
        #expect(ColorMap.color(forLabel: -3) == ColorMap.color(forLabel: -3))
        let map = LabelMap(width: 2, height: 1, labels: [300, 1])
        let c = ColorMap.color(forLabel: 300)
        #expect(LabelPictures.colors(map).samples == [c.r, c.g, c.b, 128, 0, 0])
    }
}
