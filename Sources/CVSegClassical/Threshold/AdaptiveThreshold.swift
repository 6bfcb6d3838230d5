import CVSegCore
#if canImport(Glibc)
import Glibc // exp, as OpenCV's kernel computation
#endif

/// How `adaptiveThreshold` computes the local mean.
public enum AdaptiveMethod: String, Sendable, CaseIterable {
    /// The window's plain mean (OpenCV `ADAPTIVE_THRESH_MEAN_C`).
    case mean
    /// A Gaussian-weighted mean, sigma = 0.3·((b − 1)/2 − 1) + 0.8 (OpenCV `ADAPTIVE_THRESH_GAUSSIAN_C`).
    case gaussian
}

/// OpenCV's `adaptiveThreshold(src, 255, method, THRESH_BINARY, blockSize, C)` on an 8-bit gray
/// image: foreground where `value > mean − ⌈C⌉`, the mean rounded to 8 bits over a `blockSize`²
/// window with replicated borders.
///
/// The mean variant is exact (`round(Σ / b²)` in integers). The Gaussian variant follows
/// OpenCV's float32 filtering order (row pass, then column pass, with fused multiply-adds in the
/// vectorised columns), which reproduces OpenCV on the reference fixtures; in a few leftover
/// columns of some widths OpenCV's last float bit can differ (scripts/reference/THRESHOLDS.md).
///
/// - Throws: ``CVSegError/invalidArgument(_:)`` for an even block size or one below 3, or a
///   colour image.
/// - Complexity: mean O(pixels) independent of the block; Gaussian O(pixels · b).
public func adaptiveThreshold(_ image: Image<UInt8>, method: AdaptiveMethod, blockSize b: Int, offset c: Double,
                              invert: Bool = false, foreground: UInt8 = 1) throws -> Image<UInt8> {
    guard image.layout == .gray else {
        throw CVSegError.invalidArgument("an adaptive threshold needs a gray image, got \(image.layout); convert it first")
    }
    guard b >= 3, b % 2 == 1 else { throw CVSegError.invalidArgument("the block size must be odd and at least 3, not \(b)") }
    guard c.isFinite else { throw CVSegError.invalidArgument("the offset must be finite") }
    let mean = method == .mean ? boxMean(image, b) : gaussianMean(image, b)
    let delta = Int(c.rounded(.up))
    let above: UInt8 = invert ? 0 : foreground, below: UInt8 = invert ? foreground : 0
    var out = [UInt8](repeating: 0, count: image.pixelCount)
    for i in 0..<out.count { out[i] = Int(image.samples[i]) - Int(mean[i]) > -delta ? above : below }
    return Image(width: image.width, height: image.height, layout: .gray, samples: out)
}

/// Replicated border: clamp into 0..<n.
@inline(__always) private func clamp(_ i: Int, _ n: Int) -> Int { min(max(i, 0), n - 1) }

/// round(Σ / b²) over each window, as `(2Σ + b²) / 2b²` in integers (b² is odd: no ties).
private func boxMean(_ image: Image<UInt8>, _ b: Int) -> [UInt8] {
    let w = image.width, h = image.height, r = b / 2
    var colSum = [Int](repeating: 0, count: w)
    var out = [UInt8](repeating: 0, count: w * h)
    let area = b * b
    image.samples.withUnsafeBufferPointer { px in
        for y in -r...r { for x in 0..<w { colSum[x] += Int(px[clamp(y, h) * w + x]) } }
        for y in 0..<h {
            if y > 0 {
                for x in 0..<w { colSum[x] += Int(px[clamp(y + r, h) * w + x]) - Int(px[clamp(y - r - 1, h) * w + x]) }
            }
            var s = 0
            for x in -r...r { s += colSum[clamp(x, w)] }
            for x in 0..<w {
                if x > 0 { s += colSum[clamp(x + r, w)] - colSum[clamp(x - r - 1, w)] }
                out[y * w + x] = UInt8((2 * s + area) / (2 * area))
            }
        }
    }
    return out
}

/// OpenCV's `getGaussianKernel(b, 0, CV_32F)`.
func gaussianKernel(_ b: Int) -> [Float] {
    switch b {
    case 3: return [1, 2, 1].map { Float($0 / 4.0) }
    case 5: return [1, 4, 6, 4, 1].map { Float($0 / 16.0) }
    case 7: return [1, 4, 7, 9, 7, 4, 1].map { Float($0 / 32.0) }
    case 9: return [1, 3.25, 7.5, 12.75, 15, 12.75, 7.5, 3.25, 1].map { Float($0 / 64.0) }
    default:
        let r = b / 2
        let sigma = (0.35 as Double).addingProduct(Double(b), 0.15) // fma(b, 0.15, 0.35): one rounding
        let scale = -0.125 / (sigma * sigma)
        var v = [Double](repeating: 0, count: r)
        var sum = 0.0
        for i in 0..<r {
            let x = Double(1 - b + 2 * i)
            v[i] = exp(x * x * scale)
            sum += v[i]
        }
        sum = sum * 2 + 1
        var k = [Double](repeating: 0, count: b)
        for i in 0..<r { k[i] = v[i] / sum; k[b - 1 - i] = v[i] / sum }
        k[r] = 1 / sum
        return k.map { Float($0) }
    }
}

/// The Gaussian-weighted mean, in OpenCV's float32 order, rounded half to even.
private func gaussianMean(_ image: Image<UInt8>, _ b: Int) -> [UInt8] {
    let w = image.width, h = image.height, r = b / 2
    let k = gaussianKernel(b)
    var rows = [Float](repeating: 0, count: w * h)
    let simdRow = 4 * (w / 4), simdColumn = 8 * (w / 8)
    image.samples.withUnsafeBufferPointer { px in
        for y in 0..<h {
            for x in 0..<w {
                let base = y * w
                var s: Float
                if x < simdRow {
                    s = 0
                    for i in 0..<b { s = s.addingProduct(k[i], Float(px[base + clamp(x - r + i, w)])) } // fma
                } else {
                    s = k[0] * Float(px[base + clamp(x - r, w)])
                    for i in 1..<b { s = s + k[i] * Float(px[base + clamp(x - r + i, w)]) }
                }
                rows[base + x] = s
            }
        }
    }
    var out = [UInt8](repeating: 0, count: w * h)
    for y in 0..<h {
        for x in 0..<w {
            var s = k[r] * rows[y * w + x]
            for j in 1...r {
                let pair = rows[clamp(y - j, h) * w + x] + rows[clamp(y + j, h) * w + x]
                s = x < simdColumn ? s.addingProduct(k[r - j], pair) : s + k[r - j] * pair
            }
            out[y * w + x] = UInt8(min(max(s.rounded(.toNearestOrEven), 0), 255))
        }
    }
    return out
}
