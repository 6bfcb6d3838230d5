import Foundation
import Testing
import CVSegCore
import CVSegTestSupport
@testable import CVSegTensor

/// `roiPool` and `roiAlign` against torchvision's `roi_pool` / `roi_align`
/// (scripts/reference/roi_reference.py → Fixtures/roi.json): outputs and feature-map gradients
/// within 1e-4 (relative above magnitude 1), plus argument errors and central differences.
@Suite struct RoITests {
    static let fixture: JSON? = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/roi.json"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSON.parse([UInt8](data), file: path)
    }()

    static func floats(_ json: JSON?) -> [Float] { json?.arrayValue?.compactMap { $0.doubleValue.map(Float.init) } ?? [] }
    static func tensor(_ json: JSON?) -> Tensor {
        Tensor(shape: Shape(json?["shape"]?.arrayValue?.compactMap(\.intValue) ?? []), values: floats(json?["values"]))
    }

    /// The largest `|a − b|`, and the first element where `|a − b| > tol·max(1, |b|)`.
    static func compare(_ a: [Float], _ b: [Float], tol: Float = 1e-4) -> (maxDiff: Float, failure: String?) {
        guard a.count == b.count else { return (.infinity, "\(a.count) values, expected \(b.count)") }
        var worst: Float = 0, failure: String?
        for i in 0..<a.count {
            let d = abs(a[i] - b[i])
            worst = max(worst, d.isNaN ? .infinity : d)
            if failure == nil, !(d <= tol * max(1, abs(b[i]))) { failure = "element \(i): \(a[i]) vs \(b[i])" }
        }
        return (worst, failure)
    }

    @Test func matchesTorchvision() throws {
        let fixture = try #require(Self.fixture, "Fixtures/roi.json missing (scripts/reference/roi_reference.py)")
        let cases = try #require(fixture["cases"]?.arrayValue)
        #expect(cases.count == 19)
        var maxForward: Float = 0, maxBackward: Float = 0, pools = 0, aligns = 0
        for c in cases {
            let name = c["name"]?.stringValue ?? "?"
            let map = Self.tensor(fixture["maps"]?[c["map"]?.stringValue ?? ""])
            let boxValues = Self.floats(c["boxes"])
            let boxes = Tensor(shape: [boxValues.count / 5, 5], values: boxValues)
            let size = c["output_size"]?.arrayValue?.compactMap(\.intValue) ?? []
            let scale = Float(c["spatial_scale"]?.doubleValue ?? 0)
            let tape = Tape()
            let x = tape.parameter(map)
            let y: Tensor
            if c["op"]?.stringValue == "roi_pool" {
                y = try roiPool(x, boxes: boxes, outputHeight: size[0], outputWidth: size[1], spatialScale: scale)
                pools += 1
            } else {
                y = try roiAlign(x, boxes: boxes, outputHeight: size[0], outputWidth: size[1], spatialScale: scale,
                                 samplingRatio: c["sampling_ratio"]?.intValue ?? -1, aligned: c["aligned"]?.boolValue ?? false)
                aligns += 1
            }
            let expected = Self.tensor(c["output"])
            #expect(y.shape == expected.shape, "\(name): shape \(y.shape) vs \(expected.shape)")
            let forward = Self.compare(y.values, expected.values)
            #expect(forward.failure == nil, "\(name) forward: \(forward.failure ?? "")")
            let r = Tensor(shape: y.shape, values: Self.floats(c["weights"]))
            let grad = try tape.gradients(of: sum(mul(y, r)), for: [x])[0]
            let backward = Self.compare(grad.values, Self.floats(c["grad"]))
            #expect(backward.failure == nil, "\(name) gradient: \(backward.failure ?? "")")
            maxForward = max(maxForward, forward.maxDiff)
            maxBackward = max(maxBackward, backward.maxDiff)
        }
        #expect(pools == 7 && aligns == 12)
        print("RoITests: \(cases.count) torchvision cases (\(pools) roi_pool, \(aligns) roi_align), "
              + "max |Δ| forward \(maxForward), backward \(maxBackward)")
    }

    static func map(seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor.randomUniform([2, 3, 6, 7], low: -2, high: 2, generator: &rng)
    }

    static let someBoxes = Tensor(shape: [4, 5], values: [
        0, 0.5, 0.25, 5.5, 4.75,
        1, -1.5, -0.5, 3.2, 2.1,
        1, 4.3, 3.1, 8.9, 7.6,
        0, 2.2, 1.4, 2.3, 1.5,
    ])

    @Test func alignGradientMatchesCentralDifferences() throws {
        let x = Self.map(seed: 11)
        for (ratio, aligned) in [(-1, false), (-1, true), (2, false), (3, true)] {
            let check = try gradientCheck([x]) {
                try roiAlign($0[0], boxes: Self.someBoxes, outputHeight: 3, outputWidth: 2, spatialScale: 1,
                             samplingRatio: ratio, aligned: aligned)
            }
            #expect(check.passed, "roiAlign ratio \(ratio) aligned \(aligned): \(check.at) (excess \(check.worst))")
        }
    }

    @Test func poolGradientMatchesCentralDifferences() throws {
        // Distinct values 0.1 apart (a shuffled ramp), so a step of 1e-2 never changes a maximum.
        var rng = SplitMix64(seed: 5)
        var order = Array(0..<(2 * 3 * 6 * 7))
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let x = Tensor(shape: [2, 3, 6, 7], values: order.map { Float($0) * 0.1 - 12 })
        let check = try gradientCheck([x]) {
            try roiPool($0[0], boxes: Self.someBoxes, outputHeight: 2, outputWidth: 3, spatialScale: 1)
        }
        #expect(check.passed, "roiPool: \(check.at) (excess \(check.worst))")
    }

    @Test func noBoxesGiveAnEmptyResult() throws {
        let tape = Tape()
        let x = tape.parameter(Self.map(seed: 3))
        let none = Tensor(shape: [0, 5], values: [])
        let a = try roiAlign(x, boxes: none, outputHeight: 7, outputWidth: 7, spatialScale: 0.25)
        let p = try roiPool(x, boxes: none, outputHeight: 2, outputWidth: 2, spatialScale: 0.25)
        #expect(a.shape == [0, 3, 7, 7] && p.shape == [0, 3, 2, 2])
        let g = try tape.gradients(of: sum(add(sum(a), sum(p))), for: [x])[0]
        #expect(g.values.allSatisfy { $0 == 0 })
    }

    @Test func alignedInvertedRegionsOutputZero() throws {
        // Inverted along y only, by more than a bin: the adaptive grid is 3 columns by -2 rows.
        // torchvision fails to allocate its sample table there; cvseg outputs 0.
        let tape = Tape()
        let x = tape.parameter(Self.map(seed: 9))
        let y = try roiAlign(x, boxes: Tensor(shape: [1, 5], values: [0, 1.5, 5.5, 6.0, 0.5]), outputHeight: 2, outputWidth: 2,
                             spatialScale: 1, samplingRatio: -1, aligned: true)
        #expect(y.values == [Float](repeating: 0, count: 12))
        #expect(try tape.gradients(of: sum(y), for: [x])[0].values.allSatisfy { $0 == 0 })
    }

    @Test func poolTiesGoToTheFirstMaximum() throws {
        // One plane, all equal: every bin's maximum is its top-left cell.
        let x = Tensor.full([1, 1, 4, 4], 1)
        let tape = Tape()
        let t = tape.parameter(x)
        let y = try roiPool(t, boxes: Tensor(shape: [1, 5], values: [0, 0, 0, 3, 3]), outputHeight: 2, outputWidth: 2, spatialScale: 1)
        let g = try tape.gradients(of: sum(y), for: [t])[0]
        #expect(y.values == [1, 1, 1, 1])
        #expect(g.values == [1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0])
    }

    @Test func badArgumentsAreRefused() throws {
        let x = Self.map(seed: 7)
        func box(_ v: [Float]) -> Tensor { Tensor(shape: [1, 5], values: v) }
        let good = box([1, 0, 0, 4, 4])
        let calls: [(String, () throws -> Tensor)] = [
            ("batch index past N", { try roiAlign(x, boxes: box([2, 0, 0, 4, 4]), outputHeight: 2, outputWidth: 2, spatialScale: 1) }),
            ("negative batch index", { try roiPool(x, boxes: box([-1, 0, 0, 4, 4]), outputHeight: 2, outputWidth: 2, spatialScale: 1) }),
            ("fractional batch index", { try roiPool(x, boxes: box([0.5, 0, 0, 4, 4]), outputHeight: 2, outputWidth: 2, spatialScale: 1) }),
            ("NaN batch index", { try roiAlign(x, boxes: box([.nan, 0, 0, 4, 4]), outputHeight: 2, outputWidth: 2, spatialScale: 1) }),
            ("NaN coordinate", { try roiAlign(x, boxes: box([0, 0, .nan, 4, 4]), outputHeight: 2, outputWidth: 2, spatialScale: 1) }),
            ("infinite coordinate", { try roiPool(x, boxes: box([0, 0, 0, .infinity, 4]), outputHeight: 2, outputWidth: 2, spatialScale: 1) }),
            ("huge coordinate", { try roiPool(x, boxes: box([0, 0, 0, 1e30, 4]), outputHeight: 2, outputWidth: 2, spatialScale: 1) }),
            ("output height 0", { try roiAlign(x, boxes: good, outputHeight: 0, outputWidth: 2, spatialScale: 1) }),
            ("output width 0", { try roiPool(x, boxes: good, outputHeight: 2, outputWidth: 0, spatialScale: 1) }),
            ("rank 3 input", {
                try roiAlign(Tensor.zeros([3, 6, 7]), boxes: good, outputHeight: 2, outputWidth: 2, spatialScale: 1)
            }),
            ("boxes [1, 4]", {
                try roiPool(x, boxes: Tensor(shape: [1, 4], values: [0, 0, 4, 4]), outputHeight: 2, outputWidth: 2, spatialScale: 1)
            }),
            ("boxes of rank 1", {
                try roiAlign(x, boxes: Tensor(shape: [5], values: [0, 0, 0, 4, 4]), outputHeight: 2, outputWidth: 2, spatialScale: 1)
            }),
            ("zero scale", { try roiAlign(x, boxes: good, outputHeight: 2, outputWidth: 2, spatialScale: 0) }),
            ("NaN scale", { try roiPool(x, boxes: good, outputHeight: 2, outputWidth: 2, spatialScale: .nan) }),
            ("empty plane", {
                try roiAlign(Tensor.zeros([2, 3, 0, 7]), boxes: good, outputHeight: 2, outputWidth: 2, spatialScale: 1)
            }),
        ]
        for (what, call) in calls {
            #expect(throws: CVSegError.self, "\(what)") { _ = try call() }
            do { _ = try call() } catch let error as CVSegError {
                guard case .invalidArgument = error else { Issue.record("\(what): \(error)"); continue }
            }
        }
        // The same box with a valid index works.
        #expect(try roiAlign(x, boxes: good, outputHeight: 2, outputWidth: 2, spatialScale: 1).shape == [1, 3, 2, 2])
    }
}
