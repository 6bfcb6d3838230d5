import Testing
import CVSegCore
@testable import CVSegClassical

/// Niblack and Sauvola against a naive float64 reference written from scikit-image's definition
/// (window sums over a mirror-padded image, m = Σ/n, s = √max(Σ²/n − m², 0)).
@Suite struct LocalThresholdTests {
    static func reflect(_ i: Int, _ n: Int) -> Int {
        if n == 1 { return 0 }
        let p = 2 * (n - 1)
        var j = i % p
        if j < 0 { j += p }
        return j < n ? j : p - j
    }

    static func naive(_ image: Image<UInt8>, window: Int, rule: LocalThreshold) -> [UInt8] {
        let half = window / 2, n = Double(window * window)
        return (0..<image.pixelCount).map { i in
            let x = i % image.width, y = i / image.width
            var s = 0.0, q = 0.0
            for dy in -half...half {
                for dx in -half...half {
                    let v = Double(image[reflect(x + dx, image.width), reflect(y + dy, image.height)])
                    s += v; q += v * v
                }
            }
            let m = s / n, sd = max(q / n - m * m, 0).squareRoot()
            let t: Double
            switch rule {
            case .niblack(let k): t = m - k * sd
            case .sauvola(let k, let r): t = m * (1 + k * ((sd / (r ?? 127.5)) - 1))
            }
            return Double(image.samples[i]) > t ? 1 : 0
        }
    }

    static func random(width: Int, height: Int, seed: UInt64) -> Image<UInt8> {
        var state = seed
        let samples = (0..<(width * height)).map { i -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let x = i % width
            return UInt8(truncatingIfNeeded: (x * 3) + Int(state >> 60) * 9)
        }
        return Image(width: width, height: height, layout: .gray, samples: samples)
    }

    @Test(arguments: [(13, 9, 3), (31, 17, 7), (8, 5, 15), (1, 12, 5), (12, 1, 3), (1, 1, 3)])
    func matchesTheNaiveDefinition(width: Int, height: Int, window: Int) throws {
        let image = Self.random(width: width, height: height, seed: UInt64(width * 100 + height))
        for rule in [LocalThreshold.niblack(k: 0.2), .niblack(k: -0.5), .sauvola(k: 0.2, r: nil), .sauvola(k: 0.5, r: 64)] {
            let fast = try localThreshold(image, window: window, rule: rule)
            #expect(fast.samples == Self.naive(image, window: window, rule: rule), "\(rule) \(width)x\(height) w\(window)")
        }
    }

    @Test func invertAndForegroundValue() throws {
        let image = Self.random(width: 20, height: 10, seed: 3)
        let plain = try localThreshold(image, window: 5, rule: .sauvola(k: 0.2, r: nil))
        let shown = try localThreshold(image, window: 5, rule: .sauvola(k: 0.2, r: nil), invert: true, foreground: 255)
        #expect(shown.samples == plain.samples.map { $0 == 1 ? 0 : 255 })
    }

    @Test func badParametersAreErrors() {
        let image = Self.random(width: 5, height: 5, seed: 1)
        for window in [0, 1, 4, -3] {
            #expect(throws: CVSegError.self) { _ = try localThreshold(image, window: window, rule: .niblack(k: 0.2)) }
        }
        #expect(throws: CVSegError.self) { _ = try localThreshold(image, window: 3, rule: .sauvola(k: 0.2, r: 0)) }
        #expect(throws: CVSegError.self) {
            _ = try localThreshold(Image<UInt8>(width: 2, height: 2, layout: .rgb), window: 3, rule: .niblack(k: 0.2))
        }
    }

    @Test func constantImageHasNoForeground() throws {
        let flat = Image<UInt8>(width: 9, height: 7, layout: .gray, repeating: 90)
        // m = 90, s = 0: Niblack t = 90, Sauvola t = 90·(1 − k) < 90 for k > 0.
        #expect(try localThreshold(flat, window: 5, rule: .niblack(k: 0.2)).samples.allSatisfy { $0 == 0 })
        #expect(try localThreshold(flat, window: 5, rule: .sauvola(k: 0.2, r: nil)).samples.allSatisfy { $0 == 1 })
    }
}

@Suite struct TriangleTests {
    @Test func handComputedHistogram() {
        // Peak 10 at value 2, tail to value 8 (longer on the right, so the histogram is flipped).
        var counts = [Int](repeating: 0, count: 256)
        counts[1] = 2; counts[2] = 10; counts[3] = 6; counts[4] = 1; counts[8] = 1
        // Span 1...8 reversed: [1, 0, 0, 0, 1, 6, 10, 2], peak at 6, width 6, norm √136.
        // length(x) = (10x − 6·h[x]) / √136 for x = 0...5: −6, 10, 20, 30, 34, 14 (÷√136): the
        // maximum at x = 4, flipped back to span index 3, value 1 + 3 = 4.
        #expect(triangleThreshold(histogram: counts) == 4)
        #expect(triangleThreshold(histogram: [Int](repeating: 0, count: 256)) == nil)
        var single = [Int](repeating: 0, count: 256); single[40] = 9
        #expect(triangleThreshold(histogram: single) == 40)
    }
}
