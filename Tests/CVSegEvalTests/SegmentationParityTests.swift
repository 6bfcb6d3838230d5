import Foundation
import Testing
import CVSegCore
import CVSegIO
@testable import CVSegEval

/// Segmentation metrics against a numpy confusion matrix (scripts/reference/eval_reference.py):
/// ignore pixels, a class absent from the ground truth but predicted, a class absent from both,
/// 0/255 ground truth against 0/1 predictions, palette ground truth read by index.
@Suite struct SegmentationParityTests {
    static func labels(_ path: String, binary: Bool) throws -> LabelMap {
        let decoded = try ImageFile.read(path, options: DecodeOptions(palette: .indices))
        let values: [Int32]
        switch decoded {
        case .indexed(let i): values = i.indices.samples.map { Int32($0) }
        case .image(.uint8(let i)): values = i.samples.map { Int32($0) }
        default: throw CVSegError.invalidArgument("unexpected mask kind in \(path)")
        }
        return LabelMap(width: decoded.width, height: decoded.height, labels: binary ? values.map { $0 != 0 ? 1 : 0 } : values)
    }

    static func close(_ a: Double, _ b: Double?) -> Bool {
        guard let b else { return a.isNaN }
        return abs(a - b) <= 1e-9
    }

    @Test func setsArePresent() {
        #expect(fixtureSets("seg") == ["binary255", "multiclass", "palette"])
    }

    @Test(arguments: fixtureSets("seg"))
    func matchesNumpy(set: String) throws {
        let dir = "\(evalFixtures)/seg/\(set)"
        let e = try readJSON(dir + "/expected.json")
        let classes = e["num_classes"]!.intValue!
        let ignore = e["ignore_label"]?.intValue.map(Int32.init)
        let binary = set == "binary255"
        var matrix = ConfusionMatrix(classes: classes)
        var perImage: [Double] = []
        for name in e["images"]!.arrayValue!.compactMap(\.stringValue) {
            let p = try Self.labels("\(dir)/\(e["pred_dir"]!.stringValue!)/\(name)", binary: binary)
            let t = try Self.labels("\(dir)/\(e["gt_dir"]!.stringValue!)/\(name)", binary: binary)
            try matrix.add(predicted: p, truth: t, ignoreLabel: ignore)
            var counts = ClassCounts(classes: classes)
            try counts.add(predicted: p, truth: t, ignoreLabel: ignore)
            perImage.append(SegmentationMetrics(counts).mIoU)
        }
        let want = e["confusion"]!.arrayValue!.map { $0.arrayValue!.compactMap(\.intValue) }
        #expect((0..<classes).map { g in (0..<classes).map { matrix[g, $0] } } == want)
        let m = SegmentationMetrics(matrix)
        let pc = e["per_class"]!
        for (key, values) in [("iou", m.perClass.map(\.iou)), ("acc", m.perClass.map(\.accuracy)), ("dice", m.perClass.map(\.dice)),
                              ("precision", m.perClass.map(\.precision)), ("recall", m.perClass.map(\.recall))] {
            let expected = pc[key]!.arrayValue!.map(\.doubleValue)
            #expect(zip(values, expected).allSatisfy { Self.close($0, $1) }, "\(key): \(values) vs \(expected)")
        }
        #expect(Self.close(m.aAcc, e["aAcc"]?.doubleValue))
        #expect(Self.close(m.mIoU, e["mIoU"]?.doubleValue))
        #expect(Self.close(m.mAcc, e["mAcc"]?.doubleValue))
        #expect(Self.close(m.mDice, e["mDice"]?.doubleValue))
        #expect(Self.close(m.fwIoU, e["fwIoU"]?.doubleValue))
        // Per-image: each image's own mean IoU, then their mean (a different number).
        if let expected = e["per_image"]?.arrayValue {
            let want = expected.map { $0["mIoU"]?.doubleValue }
            #expect(zip(perImage, want).allSatisfy { Self.close($0, $1) })
        }
        if binary, let fg = e["foreground"] {
            let b = BinaryMetrics(matrix)
            #expect(Self.close(b.iou, fg["iou"]?.doubleValue) && Self.close(b.f1, fg["f1"]?.doubleValue))
            #expect(Self.close(b.precision, fg["precision"]?.doubleValue) && Self.close(b.recall, fg["recall"]?.doubleValue))
            #expect(Self.close(b.accuracy, fg["accuracy"]?.doubleValue))
        }
    }
}
