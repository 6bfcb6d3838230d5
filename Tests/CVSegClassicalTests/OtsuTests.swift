import Foundation
import Testing
import CVSegCore
import CVSegIO
@testable import CVSegClassical

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path
/// The shared datasets: `CVSEG_DATA`, else `../shared/data` beside the repository (as on CI).
let dataRoot = ProcessInfo.processInfo.environment["CVSEG_DATA"] ?? packageRoot + "/../shared/data"
let otsuFixture = packageRoot + "/Tests/CVSegClassicalTests/Fixtures/otsu.json"

struct OtsuCase: Sendable, CustomTestStringConvertible {
    let path: String, skimage: Int, opencv: Int, foreground: Int, skimage709: Int?
    var testDescription: String { path }
}

func otsuCases(_ key: String = "images") -> [OtsuCase] {
    guard let data = FileManager.default.contents(atPath: otsuFixture),
          let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let list = root[key] as? [[String: Any]] else { return [] }
    return list.map {
        OtsuCase(path: $0["path"] as! String, skimage: $0["skimage"] as! Int, opencv: ($0["opencv"] as? Int) ?? -1,
                 foreground: $0["foreground"] as! Int, skimage709: $0["skimage_bt709"] as? Int)
    }
}

func resolve(_ path: String) -> String {
    path.hasPrefix("samples/") ? packageRoot + "/" + path : dataRoot + "/" + path
}

@Suite struct OtsuKnownAnswerTests {
    @Test func twoSpikesSplitBetweenThem() {
        var counts = [Int](repeating: 0, count: 256)
        counts[10] = 50; counts[200] = 50
        // Every t in 10..<200 separates the spikes equally well; the first (lowest) wins.
        #expect(otsuThreshold(histogram: counts) == 10)
    }

    @Test func handComputedThreeValueHistogram() {
        // Values 0 (x2), 1 (x1), 4 (x1). t=0: w1=2 m1=0, w2=2 m2=2.5 -> 2*2*6.25 = 25.
        // t=1: w1=3 m1=1/3, w2=1 m2=4 -> 3*1*(11/3)^2 = 40.33; t=2,3 are the same split as t=1
        // (empty bins) and tie, so the lowest, 1, wins.
        var counts = [Int](repeating: 0, count: 256)
        counts[0] = 2; counts[1] = 1; counts[4] = 1
        #expect(otsuThreshold(histogram: counts) == 1)
    }

    @Test func constantAndEmptyImages() throws {
        #expect(otsuThreshold(histogram: [Int](repeating: 0, count: 256)) == nil)
        let flat = Image<UInt8>(width: 4, height: 3, layout: .gray, repeating: 77)
        #expect(try otsuThreshold(flat) == 77)
        #expect(binarize(flat, threshold: 77).samples.allSatisfy { $0 == 0 })
        #expect(throws: CVSegError.self) { _ = try otsuThreshold(Image<UInt8>(width: 0, height: 0, layout: .gray)) }
    }

    @Test func colourIsRefusedNotSilentlyConverted() {
        #expect(throws: CVSegError.self) { _ = try otsuThreshold(Image<UInt8>(width: 2, height: 2, layout: .rgb)) }
    }

    @Test func binarizeAndInvert() {
        let image = Image<UInt16>(width: 4, height: 1, layout: .gray, samples: [0, 1000, 1001, 65535])
        #expect(binarize(image, threshold: 1000).samples == [0, 0, 1, 1])
        #expect(binarize(image, threshold: 1000, invert: true).samples == [1, 1, 0, 0])
    }
}

/// Thresholds from scikit-image's `threshold_otsu` and OpenCV's THRESH_OTSU, made by
/// scripts/reference/otsu_reference.py on the samples and the shared DIBCO and Weizmann images.
@Suite struct OtsuReferenceTests {
    @Test func fixtureHasCases() {
        #expect(otsuCases().count >= 140) // 20 DIBCO + 120 horses (+ samples)
        #expect(otsuCases("sixteen_bit").count >= 2)
        #expect(otsuCases("sixteen_bit_samples").count >= 1)
    }

    @Test(arguments: otsuCases())
    func matchesScikitImageAndOpenCV(_ c: OtsuCase) throws {
        let path = resolve(c.path)
        let image = try ImageFile.read(path, options: DecodeOptions(palette: .expand)).expanded()
        guard case .uint8(let rgb) = image else { Issue.record("expected an 8-bit image"); return }
        let gray = rgb.grayscale(weights: .bt601)
        let t = try otsuThreshold(gray)
        #expect(Int(t) == c.skimage)
        if c.opencv >= 0 { #expect(Int(t) == c.opencv) }
        #expect(binarize(gray, threshold: t).samples.reduce(0) { $0 + Int($1) } == c.foreground)
        if let t709 = c.skimage709, !rgb.layout.isGray {
            #expect(Int(try otsuThreshold(rgb.grayscale(weights: .bt709))) == t709)
        }
    }

    @Test(arguments: otsuCases("sixteen_bit") + otsuCases("sixteen_bit_samples"))
    func sixteenBitUsesTheFullHistogram(_ c: OtsuCase) throws {
        let path = c.path.hasPrefix("samples/") ? resolve(c.path) : packageRoot + "/Tests/CVSegClassicalTests/Fixtures/" + c.path
        guard case .image(.uint16(let image)) = try ImageFile.read(path, options: DecodeOptions(palette: .expand)) else {
            Issue.record("expected a 16-bit image"); return
        }
        let t = try otsuThreshold(image)
        #expect(Int(t) == c.skimage)
        #expect(binarize(image, threshold: t).samples.reduce(0) { $0 + Int($1) } == c.foreground)
    }
}
