import Foundation
import Testing
import CVSegCore
import CVSegIO
import CVSegTestSupport
@testable import CVSegClassical

/// Multi-level Otsu, triangle, Niblack, Sauvola (scikit-image 0.26) and adaptive mean / Gaussian
/// (OpenCV 5.0) against scripts/reference/thresholds_reference.py, on synthetic images and on
/// crops of two DIBCO images (kept as coordinates: no dataset pixels in the repository).
@Suite struct ThresholdParityTests {
    static let folder = packageRoot + "/Tests/CVSegClassicalTests/Fixtures/thresholds"

    static func expected() throws -> JSON { try JSON.parse(FileBytes.read(folder + "/expected.json"), file: "expected.json") }

    static func names() -> [String] {
        ((try? expected())?["images"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    }

    static func input(_ entry: JSON) throws -> Image<UInt8> {
        if let file = entry["file"]?.stringValue {
            guard case .image(.uint8(let i)) = try ImageFile.read(folder + "/" + file, options: DecodeOptions(palette: .expand)) else {
                throw CVSegError.invalidArgument("fixture \(file) is not 8-bit")
            }
            return i.grayscale()
        }
        let path = dataRoot + "/" + entry["dataset_path"]!.stringValue!
        guard case .uint8(let full) = try ImageFile.read(path, options: DecodeOptions(palette: .expand)).expanded() else {
            throw CVSegError.invalidArgument("\(path) is not 8-bit")
        }
        let gray = full.grayscale()
        let (x0, y0, w, h) = (entry["x"]!.intValue!, entry["y"]!.intValue!, entry["w"]!.intValue!, entry["h"]!.intValue!)
        var crop = [UInt8]()
        for y in y0..<(y0 + h) { crop += gray.samples[(y * gray.width + x0)..<(y * gray.width + x0 + w)] }
        return Image(width: w, height: h, layout: .gray, samples: crop)
    }

    @Test func fixtureHasEveryCase() {
        #expect(Self.names().count == 6)
    }

    @Test(arguments: names())
    func matchesScikitImageAndOpenCV(name: String) throws {
        let e = try Self.expected()
        let entry = e["images"]!.arrayValue!.first { $0["name"]?.stringValue == name }!
        let image = try Self.input(entry)
        #expect(SHA256.hex(image.samples) == entry["input_sha256"]!.stringValue!, "\(name): input differs")
        let counts = histogram(image)
        for (k, want) in entry["multiotsu"]!.objectValue! {
            if let list = want.arrayValue {
                #expect(try multiOtsuThresholds(histogram: counts, classes: Int(k)!) == list.compactMap(\.intValue), "\(name) K=\(k)")
            } else {
                #expect(throws: CVSegError.self, "\(name) K=\(k) should be refused") {
                    _ = try multiOtsuThresholds(histogram: counts, classes: Int(k)!)
                }
            }
        }
        #expect(triangleThreshold(histogram: counts) == entry["triangle"]!.intValue!, "\(name) triangle")
        let params = e["params"]!
        var checked = 0
        for p in params["local"]!.arrayValue! {
            let (method, w, k) = (p["method"]!.stringValue!, p["window"]!.intValue!, p["k"]!.doubleValue!)
            let r = p["r"]?.doubleValue
            let key = "\(method)_w\(w)_k\(Self.number(k))" + (r.map { "_r\(Self.number($0))" } ?? "")
            let rule: LocalThreshold = method == "niblack" ? .niblack(k: k) : .sauvola(k: k, r: r)
            let mask = try localThreshold(image, window: w, rule: rule, foreground: 255)
            try check(mask, entry["masks"]?[key], "\(name) \(key)")
            checked += 1
        }
        for p in params["adaptive"]!.arrayValue! {
            let (method, b, c) = (p["method"]!.stringValue!, p["blockSize"]!.intValue!, p["C"]!.doubleValue!)
            let key = "adaptive_\(method)_b\(b)_C\(Self.number(c))"
            let mask = try adaptiveThreshold(image, method: method == "mean" ? .mean : .gaussian, blockSize: b, offset: c, foreground: 255)
            try check(mask, entry["masks"]?[key], "\(name) \(key)")
            checked += 1
        }
        #expect(checked == 8)
    }

    /// `15`, `0.2`, `-5`: numbers as the fixture names write them.
    static func number(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : "\(v)"
    }

    func check(_ mask: Image<UInt8>, _ want: JSON?, _ label: String) throws {
        guard let want else { Issue.record("\(label): no reference"); return }
        #expect(mask.samples.reduce(0) { $0 + ($1 == 255 ? 1 : 0) } == want["foreground"]!.intValue!, "\(label) foreground")
        #expect(SHA256.hex(mask.samples) == want["sha256"]!.stringValue!, "\(label) pixels")
    }

    @Test func sixteenBitMultiOtsuAndTriangle() throws {
        let e = try Self.expected()["sixteen_bit"]!
        guard case .image(.uint16(let image)) = try ImageFile.read(Self.folder + "/" + e["file"]!.stringValue!,
                                                                   options: DecodeOptions(palette: .expand)) else {
            Issue.record("not 16-bit"); return
        }
        let counts = histogram(image)
        for (k, want) in e["multiotsu"]!.objectValue! {
            #expect(try multiOtsuThresholds(histogram: counts, classes: Int(k)!) == want.arrayValue!.compactMap(\.intValue))
        }
        #expect(triangleThreshold(histogram: counts) == e["triangle"]!.intValue!)
    }

    @Test func multiThresholdLabelsUseStrictComparison() {
        let image = Image<UInt8>(width: 6, height: 1, layout: .gray, samples: [0, 10, 11, 20, 21, 255])
        #expect(multiThresholdLabels(image, thresholds: [10, 20]).samples == [0, 0, 1, 1, 2, 2])
        let wide = Image<UInt16>(width: 3, height: 1, layout: .gray, samples: [1000, 1001, 5000])
        #expect(multiThresholdLabels(wide, thresholds: [1000, 4000]).samples == [0, 1, 2])
    }

    @Test func badAdaptiveParameters() {
        let image = Image<UInt8>(width: 4, height: 4, layout: .gray)
        for b in [1, 2, 10] {
            #expect(throws: CVSegError.self) { _ = try adaptiveThreshold(image, method: .mean, blockSize: b, offset: 0) }
        }
        #expect(throws: CVSegError.self) { _ = try multiOtsuThresholds(histogram: [5, 0, 3], classes: 3) }
        #expect(throws: CVSegError.self) { _ = try multiOtsuThresholds(histogram: [5, 1, 3], classes: 1) }
    }
}
