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
    // |v − mean| <= 255, so offsets beyond ±256 act alike (and cannot overflow Int).
    let delta = Int(min(max(c, -256), 256).rounded(.up))
    let above: UInt8 = invert ? 0 : foreground, below: UInt8 = invert ? foreground : 0
    if image.pixelCount == 0 { return image }
    if method == .mean {
        return Image(width: image.width, height: image.height, layout: .gray,
                     samples: boxMeanThreshold(image, b, delta: delta, above: above, below: below))
    }
    let mean = gaussianMean(image, b)
    let out = [UInt8](unsafeUninitializedCapacity: image.pixelCount) { o, initialized in
        image.samples.withUnsafeBufferPointer { px in
            mean.withUnsafeBufferPointer { m in
                for i in 0..<o.count { o[i] = Int(px[i]) - Int(m[i]) > -delta ? above : below }
            }
        }
        initialized = image.pixelCount
    }
    return Image(width: image.width, height: image.height, layout: .gray, samples: out)
}

/// Replicated border: clamp into 0..<n.
@inline(__always) private func clamp(_ i: Int, _ n: Int) -> Int { min(max(i, 0), n - 1) }

/// The mean variant in one pass: the window mean is round(Σ / b²) = ⌊(2Σ + b²) / 2b²⌋ (b² is
/// odd: no ties), and `v − mean > −δ` ⟺ `mean < v + δ` ⟺ `2Σ + b² < 2b²·(v + δ)` (⌊x⌋ < k ⟺
/// x < k for an integer k), so no mean image and no division are needed. Column sums over the
/// window's rows are kept for the image's columns, the replicated border columns are added per
/// row (O(b) a row), and each row's window sums run along it.
private func boxMeanThreshold(_ image: Image<UInt8>, _ b: Int, delta: Int, above: UInt8, below: UInt8) -> [UInt8] {
    let w = image.width, h = image.height, r = b / 2
    let area = b * b, twoArea = 2 * area
    let colSum = UnsafeMutablePointer<Int32>.allocate(capacity: w + 2 * r)
    defer { colSum.deallocate() }
    colSum.initialize(repeating: 0, count: w + 2 * r)
    let cs = colSum + r // cs[-r ..< w + r]
    // |2Σ + b² − 2b²δ − 2b²v| <= 1023·b² (δ within ±256) fits Int32 for b <= 1023: the vectorised row pass.
    let narrow = b <= 1023
    let prefix = UnsafeMutablePointer<Int32>.allocate(capacity: narrow ? w + 2 * r + 1 : 1)
    defer { prefix.deallocate() }
    return [UInt8](unsafeUninitializedCapacity: w * h) { out, initialized in
        image.samples.withUnsafeBufferPointer { pb in
            let px = pb.baseAddress!
            for y in -r...r {
                let row = px + clamp(y, h) * w
                for x in 0..<w { cs[x] &+= Int32(row[x]) }
            }
            for y in 0..<h {
                if y > 0 {
                    let add = px + clamp(y + r, h) * w, sub = px + clamp(y - r - 1, h) * w
                    for x in 0..<w { cs[x] &+= Int32(add[x]) &- Int32(sub[x]) }
                }
                let first = cs[0], last = cs[w - 1]
                for x in 1...r { cs[-x] = first; cs[w - 1 + x] = last }
                let row = px + y * w, o = out.baseAddress! + y * w
                let c0 = area &- twoArea &* delta, flip = above ^ below
                if narrow {
                    // Window sums from a prefix sum of the column sums (wrapping Int32: each
                    // difference is a true window sum, below 2^31), then the comparison without
                    // a branch, vectorised: the sign of 2Σ + c0 − 2b²·v selects the byte.
                    var run: Int32 = 0
                    prefix[0] = 0
                    let extended = cs - r, next = prefix + 1
                    for x in 0..<(w &+ 2 &* r) { run &+= extended[x]; next[x] = run }
                    let c032 = Int32(c0), twoArea32 = Int32(twoArea), high = prefix + (2 &* r &+ 1)
                    let (lo8, flip8) = (below, flip)
                    for x in 0..<w {
                        let sum = high[x] &- prefix[x]
                        let sign = (2 &* sum &+ c032 &- twoArea32 &* Int32(row[x])) &>> 31 // -1: foreground
                        o[x] = lo8 ^ (flip8 & UInt8(truncatingIfNeeded: sign))
                    }
                    continue
                }
                var s = 0
                for x in -r...r { s += Int(cs[x]) }
                // Foreground ⟺ 2Σ + b² − 2b²δ < 2b²·v; the byte is chosen without a branch.
                @inline(__always) func pick(_ fg: Bool) -> UInt8 { below ^ (flip & (0 &- UInt8(fg ? 1 : 0))) }
                o[0] = pick(2 &* s &+ c0 < twoArea &* Int(row[0]))
                if w > 1 {
                    for x in 1..<w {
                        s = s &+ Int(cs[x + r]) &- Int(cs[x - r - 1])
                        o[x] = pick(2 &* s &+ c0 < twoArea &* Int(row[x]))
                    }
                }
            }
        }
        initialized = w * h
    }
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
