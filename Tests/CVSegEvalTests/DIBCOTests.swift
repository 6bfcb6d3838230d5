import Foundation
import Testing
import CVSegCore
import CVSegIO
@testable import CVSegEval

/// DIBCO measures against doxapy 0.9.9 (scripts/reference/dibco_reference.py): synthetic cases
/// with known weight maps, and the 20 DIBCO 2009/2010 development images binarised by Otsu on
/// cvseg's gray and by a fixed threshold.
@Suite struct DIBCOTests {
    static let folder = evalFixtures + "/dibco"

    static func gray(_ path: String) throws -> Image<UInt8> {
        let image = try ImageFile.read(path, options: DecodeOptions(palette: .expand)).expanded()
        guard case .uint8(let i) = image else { throw CVSegError.invalidArgument("\(path) is not 8-bit") }
        return i.grayscale()
    }

    /// doxapy returns DBL_MAX for a perfect PSNR; cvseg says +inf.
    static func same(_ got: Double?, _ want: JSON?, tolerance: Double = 1e-9) -> Bool {
        guard let got else { return want == nil }
        if let text = want?.stringValue { return text == "inf" ? got == .infinity : (text == "nan" ? got.isNaN : false) }
        guard let w = want?.doubleValue else { return false }
        if w == Double.greatestFiniteMagnitude { return got == .infinity }
        return abs(got - w) <= tolerance * max(1, abs(w))
    }

    static func weights(_ rows: JSON?) -> [Double] {
        rows?.arrayValue?.flatMap { $0.arrayValue?.compactMap(\.doubleValue) ?? [] } ?? []
    }

    @Test func syntheticCasesMatchDoxapy() throws {
        let e = try readJSON(Self.folder + "/expected.json")
        let cases = e["synthetic"]!.arrayValue!
        #expect(cases.count >= 4)
        var checked = 0
        for c in cases {
            let gt = try Self.gray(Self.folder + "/" + c["gt"]!.stringValue!)
            let rw = Self.weights(c["recall_weights"]), pw = Self.weights(c["precision_weights"])
            #expect(rw.count == gt.pixelCount && pw.count == gt.pixelCount)
            #expect(DIBCOScores.nonUniformBlocks(gt) == c["nubn"]!.intValue!)
            for p in c["predictions"]!.arrayValue! {
                let bin = try Self.gray(Self.folder + "/" + p["file"]!.stringValue!)
                let s = try DIBCOScores(groundTruth: gt, binarized: bin, recallWeights: rw, precisionWeights: pw)
                let label = "\(c["name"]!.stringValue!)/\(p["name"]!.stringValue!)"
                #expect([s.truePositives, s.falsePositives, s.falseNegatives, s.trueNegatives]
                        == ["tp", "fp", "fn", "tn"].map { p[$0]!.intValue! }, "\(label) counts")
                #expect(Self.same(s.fMeasure, p["fm"]), "\(label) fm \(s.fMeasure)")
                #expect(Self.same(s.recall, p["recall"]) && Self.same(s.precision, p["precision"]), "\(label) R/P")
                #expect(Self.same(s.psnr, p["psnr"]), "\(label) psnr \(s.psnr)")
                #expect(Self.same(s.drd, p["drdm"]), "\(label) drd \(s.drd)")
                #expect(Self.same(s.pseudoFMeasure, p["pfm"]), "\(label) pfm \(String(describing: s.pseudoFMeasure))")
                #expect(Self.same(s.pseudoRecall, p["pseudo_recall"]) && Self.same(s.pseudoPrecision, p["pseudo_precision"]),
                        "\(label) pseudo R/P")
                checked += 1
            }
        }
        #expect(checked >= 12)
    }

    /// The dev images, binarised as the reference did: 255 where cvseg's gray > threshold.
    @Test(arguments: ["otsu_gray15", "fixed100"])
    func developmentImagesMatchDoxapy(binarization: String) throws {
        let e = try readJSON(Self.folder + "/expected.json")
        let images = e["images"]!.arrayValue!
        #expect(images.count == 20)
        var fm = 0.0, psnr = 0.0, drd = 0.0
        for image in images {
            let gt = try Self.gray(evalDataRoot + "/" + image["gt"]!.stringValue!)
            let gray = try Self.gray(evalDataRoot + "/" + image["image"]!.stringValue!)
            let want = image[binarization]!
            let t = UInt8(want["threshold"]!.intValue!)
            let bin = gray.mapSamples { $0 > t ? UInt8(255) : 0 }
            let s = try DIBCOScores(groundTruth: gt, binarized: bin)
            let name = image["name"]!.stringValue!
            #expect(s.truePositives == want["tp"]!.intValue! && s.falsePositives == want["fp"]!.intValue!, "\(name)")
            #expect(s.nubn == image["nubn"]!.intValue!, "\(name) nubn")
            #expect(Self.same(s.fMeasure, want["fm"]) && Self.same(s.psnr, want["psnr"]) && Self.same(s.drd, want["drdm"]),
                    "\(name): fm \(s.fMeasure) psnr \(s.psnr) drd \(s.drd)")
            fm += s.fMeasure; psnr += s.psnr; drd += s.drd
        }
        let means = e["means"]![binarization]!
        #expect(Self.same(fm / 20, means["fm"]) && Self.same(psnr / 20, means["psnr"]) && Self.same(drd / 20, means["drdm"]))
    }
}
