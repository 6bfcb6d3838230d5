import Foundation
import Testing
import CVSegCore
import CVSegIO
import CVSegTensor
@testable import CVSegNN

/// The trainer's parts: area resizing (against OpenCV), object crops for two-stage training,
/// the CSV history, and optimizer state that continues exactly.
@Suite struct TrainerTests {
    /// `PlanarImage.resizedForNetwork` equals OpenCV's INTER_AREA (scripts/reference/resize_reference.py).
    @Test func areaResizingMatchesOpenCV() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/resize/area.json"
        let json = try JSON.parse(FileBytes.read(path), file: path)
        let cases = try #require(json["cases"]?.arrayValue)
        #expect(cases.count == 8)
        for c in cases {
            let (w, h) = (try #require(c["width"]?.intValue), try #require(c["height"]?.intValue))
            let (ow, oh) = (try #require(c["out_width"]?.intValue), try #require(c["out_height"]?.intValue))
            let input = try #require(c["input"]?.arrayValue).compactMap(\.doubleValue).map(Float.init)
            let expected = try #require(c["expected"]?.arrayValue).compactMap(\.doubleValue).map(Float.init)
            let out = PlanarImage(width: w, height: h, values: input).resizedForNetwork(width: ow, height: oh)
            #expect(out.width == ow && out.height == oh && out.values.count == expected.count)
            let worst = zip(out.values, expected).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst < 1e-3, "\(w)x\(h) -> \(ow)x\(oh): max |Δ| \(worst)")
        }
    }

    @Test func growingFallsBackToBilinear() {
        let image = PlanarImage(width: 2, height: 2, values: (0..<12).map(Float.init))
        #expect(image.resizedForNetwork(width: 4, height: 2) == image.resized(width: 4, height: 2))
        #expect(image.resizedForNetwork(width: 2, height: 2) == image)
    }

    /// The easy example of a sample: the foreground's box enlarged 1.2× about its centre, inside
    /// the image; none without foreground.
    @Test func objectCropIsTheEnlargedForegroundBox() throws {
        var labels = [Int32](repeating: 0, count: 20 * 10)
        for y in 2..<7 { for x in 5..<15 { labels[y * 20 + x] = 1 } }  // box x 5...14, y 2...6
        labels[0] = 255  // ignored: not foreground
        let image = PlanarImage(width: 20, height: 10, values: (0..<600).map(Float.init))
        let sample = SegmentationSample(image: image, labels: LabelMap(width: 20, height: 10, labels: labels))
        let crop = try #require(try SegmentationTrainer.objectCrop(sample, ignoreLabel: 255))
        // Centre (10, 4.5); 12 × 6 → x 4...16, y 1.5...7.5 → rows 1..<8.
        #expect(crop.image.width == 12 && crop.image.height == 7)
        #expect(crop.labels[0, 0] == 0 && crop.labels[1, 1] == 1 && crop.labels[11, 6] == 0)
        #expect(crop.image.values[0] == image.values[1 * 20 + 4])
        let empty = SegmentationSample(image: image, labels: LabelMap(width: 20, height: 10, repeating: 0))
        #expect(try SegmentationTrainer.objectCrop(empty, ignoreLabel: 255) == nil)
    }

    @Test func historyRoundTripsThroughCSV() throws {
        let records = [
            EpochRecord(epoch: 1, steps: 12, loss: 0.5, learningRate: 0.001, validationMIoU: 0.25, validationAccuracy: 0.5,
                        validationForegroundIoU: 0.125, stage: "easy", seconds: 3.25),
            EpochRecord(epoch: 2, steps: 24, loss: 0.375, learningRate: 0.0005, validationMIoU: nil, validationAccuracy: nil,
                        validationForegroundIoU: nil, stage: "full", seconds: 2),
        ]
        let text = ([EpochRecord.csvHeader] + records.map(\.csvRow)).joined(separator: "\n")
        #expect(try EpochRecord.parse(csv: text, source: "log.csv") == records)
        #expect(throws: CVSegError.self) { try EpochRecord.parse(csv: EpochRecord.csvHeader + "\n1,2,full,x", source: "log.csv") }
        #expect(throws: CVSegError.self) { try EpochRecord.parse(csv: "epoch,loss\n", source: "log.csv") }
    }

    /// Adam and SGD restored from their state continue exactly as the optimizer that was not
    /// stopped; a state of another optimizer or shape is refused.
    @Test(arguments: ["adam", "adamw", "sgd"])
    func optimizerStateContinuesExactly(_ kind: String) throws {
        func make(_ p: [Parameter]) throws -> Optimizer {
            switch kind {
            case "adam": try Adam(p, learningRate: 0.01, weightDecay: 0.1)
            case "adamw": try Adam.adamW(p, learningRate: 0.01)
            default: try SGD(p, learningRate: 0.01, momentum: 0.9, weightDecay: 0.1)
            }
        }
        let start: [Float] = [1, -2, 3]
        let grads: [[Float]] = [[0.5, -1, 2], [1, 1, -1], [-0.25, 0.5, 0.75]]
        let a = Parameter(Tensor(shape: [3], values: start))
        let straight = try make([a])
        for g in grads { try straight.step([Tensor(shape: [3], values: g)]) }

        let b = Parameter(Tensor(shape: [3], values: start))
        let first = try make([b])
        try first.step([Tensor(shape: [3], values: grads[0])])
        let saved = first.state
        let second = try make([b])
        try second.restore(saved)
        for g in grads.dropFirst() { try second.step([Tensor(shape: [3], values: g)]) }
        #expect(b.value.values == a.value.values)

        let other = try (kind == "sgd" ? Adam([b]) : SGD([b], learningRate: 0.1, momentum: 0.9) as Optimizer)
        #expect(throws: CVSegError.self) { try other.restore(saved) }
        let wider = try make([Parameter(Tensor.zeros([4]))])
        #expect(throws: CVSegError.self) { try wider.restore(saved) }
    }
}
