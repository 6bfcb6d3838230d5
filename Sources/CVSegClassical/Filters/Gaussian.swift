import CVSegCore
import Glibc // exp, as numpy's kernel computation

/// Gaussian smoothing of a float64 image, channel by channel, as SciPy's
/// `scipy.ndimage.gaussian_filter(values, sigma=[sigma, sigma, 0])` with its defaults
/// (`mode='reflect'`, `truncate=4.0`).
///
/// The filter is separable: a 1-D pass down the columns (axis 0), then one along the rows
/// (axis 1), each with SciPy's kernel and SciPy's summation order, so the results equal SciPy's
/// to the last bit wherever `exp` agrees. numpy's vectorised (AVX-512) `exp` and the C library's
/// differ by one ulp for a few arguments (e.g. 2 of the 7 taps at sigma 0.8, none at 0.5), which
/// leaves differences of a few ulp in the output there.
///
/// - Kernel: radius `r = Int(truncate * sigma + 0.5)`; weights `exp(-0.5 / sigma² · x²)` for
///   `x` in `-r...r`, divided by their sum (numpy's pairwise summation).
/// - Border: half-sample symmetric reflection, `d c b a | a b c d | d c b a`, repeated as often
///   as the radius needs (lines shorter than the radius work, as in SciPy).
/// - Parameters:
///   - values: `[height, width, channels]`, row-major, interleaved channels.
///   - sigma: the standard deviation in pixels, the same along both axes; `sigma <= 1e-15`
///     returns the input unchanged (SciPy skips such axes).
///   - truncate: the kernel radius in standard deviations.
/// - Returns: the smoothed values, same layout.
/// - Throws: ``CVSegError/invalidArgument(_:)`` for a negative or non-finite `sigma`, a
///   non-positive or non-finite `truncate`, or a `values.count` that does not match the shape.
/// - Complexity: O(width · height · channels · r).
///
/// References: SciPy `ndimage.gaussian_filter`, `ndimage.correlate1d` (NI_Correlate1D, symmetric
/// kernels).
public func gaussianFilter(_ values: [Double], width: Int, height: Int, channels: Int = 1,
                           sigma: Double, truncate: Double = 4) throws -> [Double] {
    guard width >= 0, height >= 0, channels >= 1, values.count == width * height * channels else {
        throw CVSegError.invalidArgument("gaussianFilter: \(values.count) values for \(width)x\(height)x\(channels)")
    }
    let kernel = try gaussianKernel(sigma: sigma, truncate: truncate)
    if kernel.count <= 1 || values.isEmpty { return values }
    var temporary = [Double](repeating: 0, count: values.count)
    var output = [Double](repeating: 0, count: values.count)
    // Axis 0: whole rows at once (row k of the output from the reflected rows k ± j).
    correlateColumns(values, into: &temporary, kernel: kernel, width: width * channels, height: height)
    // Axis 1: lines of `width` samples, `channels` apart; the interior of a row at once, where
    // the taps of sample i are i ± j·channels, the border pixels line by line with reflection.
    let r = kernel.count / 2
    let rowLength = width * channels
    for y in 0..<height {
        if width > 2 * r {
            correlateRowInterior(temporary, into: &output, kernel: kernel, from: y * rowLength + r * channels,
                                 to: y * rowLength + (width - r) * channels, step: channels)
            correlateLines(temporary, into: &output, kernel: kernel, length: width, step: channels,
                           starts: 0..<channels, offset: y * rowLength, only: [0..<r, (width - r)..<width])
        } else {
            correlateLines(temporary, into: &output, kernel: kernel, length: width, step: channels,
                           starts: 0..<channels, offset: y * rowLength)
        }
    }
    return output
}

/// SciPy's 'reflect' source index of every position `-radius..<length + radius` (half-sample
/// symmetric, period 2·length), at offset `position + radius`.
private func reflectedIndices(radius: Int, length: Int) -> [Int] {
    let period = 2 * length
    return (-radius..<(length + radius)).map { i -> Int in
        var m = i % period
        if m < 0 { m += period }
        return m < length ? m : period - 1 - m
    }
}

/// The symmetric correlation of `count` consecutive samples, SciPy's order:
/// `out[i] = centre[i]·w[r]`, then `+= (lower[j][i] + upper[j][i])·w[r + j]` for `j = r...1`,
/// four samples at a time with the sums in registers. `lower[j]` and `upper[j]` point at the
/// samples j taps before and after `centre` (rows for axis 0, offsets for axis 1).
private func symmetricSums(_ centre: UnsafePointer<Double>, _ lower: [UnsafePointer<Double>], _ upper: [UnsafePointer<Double>],
                           kernel: [Double], count: Int, into out: UnsafeMutablePointer<Double>) {
    let radius = kernel.count / 2
    var i = 0
    while i + 4 <= count {
        var sum = UnsafeRawPointer(centre + i).loadUnaligned(as: SIMD4<Double>.self) * kernel[radius]
        for j in stride(from: radius, through: 1, by: -1) {
            let a = UnsafeRawPointer(lower[j] + i).loadUnaligned(as: SIMD4<Double>.self)
            let b = UnsafeRawPointer(upper[j] + i).loadUnaligned(as: SIMD4<Double>.self)
            sum += (a + b) * kernel[radius + j]
        }
        UnsafeMutableRawPointer(out + i).storeBytes(of: sum, as: SIMD4<Double>.self)
        i += 4
    }
    while i < count {
        var sum = centre[i] * kernel[radius]
        for j in stride(from: radius, through: 1, by: -1) { sum += (lower[j][i] + upper[j][i]) * kernel[radius + j] }
        out[i] = sum
        i += 1
    }
}

/// Axis 0 of ``gaussianFilter(_:width:height:channels:sigma:truncate:)``: output row k from the
/// rows k ± j (reflected at the borders), whole rows at a time.
private func correlateColumns(_ input: [Double], into output: inout [Double], kernel: [Double], width: Int, height: Int) {
    let radius = kernel.count / 2
    let source = reflectedIndices(radius: radius, length: height)
    input.withUnsafeBufferPointer { xb in
        output.withUnsafeMutableBufferPointer { ob in
            guard let x = xb.baseAddress, let out = ob.baseAddress else { return }
            var lower = [UnsafePointer<Double>](repeating: x, count: radius + 1)
            var upper = [UnsafePointer<Double>](repeating: x, count: radius + 1)
            for k in 0..<height {
                for j in 1...max(radius, 1) where j <= radius {
                    lower[j] = x + source[k + radius - j] * width
                    upper[j] = x + source[k + radius + j] * width
                }
                symmetricSums(x + source[k + radius] * width, lower, upper, kernel: kernel, count: width, into: out + k * width)
            }
        }
    }
}

/// Axis 1 away from the borders: samples `from..<to` of the flat array, whose taps are
/// `i ± j·step`, all inside the row.
private func correlateRowInterior(_ input: [Double], into output: inout [Double], kernel: [Double],
                                  from: Int, to: Int, step: Int) {
    let radius = kernel.count / 2
    input.withUnsafeBufferPointer { xb in
        output.withUnsafeMutableBufferPointer { ob in
            guard let x = xb.baseAddress, let out = ob.baseAddress, to > from else { return }
            let centre = x + from
            let lower = (0...radius).map { centre - $0 * step }, upper = (0...radius).map { centre + $0 * step }
            symmetricSums(centre, lower, upper, kernel: kernel, count: to - from, into: out + from)
        }
    }
}

/// SciPy's 1-D Gaussian kernel, `-r...r`, normalised (see ``gaussianFilter(_:width:height:channels:sigma:truncate:)``);
/// `[1]` when `sigma <= 1e-15`.
func gaussianKernel(sigma: Double, truncate: Double = 4) throws -> [Double] {
    guard sigma.isFinite, sigma >= 0 else {
        throw CVSegError.invalidArgument("Gaussian sigma must be finite and >= 0, got \(sigma)")
    }
    guard truncate.isFinite, truncate > 0 else {
        throw CVSegError.invalidArgument("Gaussian truncate must be finite and > 0, got \(truncate)")
    }
    if sigma <= 1e-15 { return [1] }
    let radius = Int(truncate * sigma + 0.5)
    let factor = -0.5 / (sigma * sigma)
    let phi = (-radius...radius).map { x in exp(factor * Double(x * x)) }
    let total = pairwiseSum(phi[...])
    return phi.map { $0 / total }
}

/// numpy's pairwise summation of float64 (`pairwise_sum_DOUBLE`: eight accumulators in blocks
/// of up to 128, halves above), so that the kernel normalisation matches `phi.sum()` exactly.
func pairwiseSum(_ a: ArraySlice<Double>) -> Double {
    let n = a.count, s = a.startIndex
    if n < 8 {
        var sum = 0.0
        for v in a { sum += v }
        return sum
    }
    if n <= 128 {
        var r = Array(a[s..<(s + 8)])
        var i = 8
        while i < n - n % 8 {
            for j in 0..<8 { r[j] += a[s + i + j] }
            i += 8
        }
        var sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n { sum += a[s + i]; i += 1 }
        return sum
    }
    var half = n / 2
    half -= half % 8
    return pairwiseSum(a[s..<(s + half)]) + pairwiseSum(a[(s + half)...])
}

/// Correlates every line `offset + start + k * step` (`k` in `0..<length`, or in `only`) with the symmetric
/// `kernel`, summing as SciPy does: `x[0]·w[0]`, then `+= (x[-j] + x[j])·w[j]` for `j = r...1`.
private func correlateLines(_ input: [Double], into output: inout [Double], kernel: [Double], length: Int,
                            step: Int, starts: Range<Int>, offset: Int = 0, only: [Range<Int>]? = nil) {
    let radius = kernel.count / 2
    let source = reflectedIndices(radius: radius, length: length)
    input.withUnsafeBufferPointer { x in
        kernel.withUnsafeBufferPointer { w in
            source.withUnsafeBufferPointer { src in
                output.withUnsafeMutableBufferPointer { out in
                    let ranges = only ?? [0..<length]
                    for start in starts {
                        let base = offset + start
                        for k in ranges.joined() {
                            let centre = k + radius // index into src
                            var sum = x[base + src[centre] * step] * w[radius]
                            for j in stride(from: radius, through: 1, by: -1) {
                                sum += (x[base + src[centre - j] * step] + x[base + src[centre + j] * step]) * w[radius + j]
                            }
                            out[base + k * step] = sum
                        }
                    }
                }
            }
        }
    }
}

/// The rows of ``gaussianFilter(_:width:height:channels:sigma:truncate:)``'s output one at a
/// time, computed on demand from an image's first `channels` channels as `Double(v) · (1/max)`
/// (scikit-image's `img_as_float`), bit for bit what the whole-image filter gives on those
/// floats: the same kernel, passes and summation order, on one row. For callers that cannot
/// keep a float64 copy of a large image; a sequential sweep converts each source row once.
struct GaussianRows<Sample: PixelSample> {
    let width: Int, height: Int, channels: Int
    private let samples: [Sample], stride: Int, unit: Double
    private let kernel: [Double], radius: Int, rowSources: [Int], columnSources: [Int]
    /// Converted source rows, `slots` of them, row `r` in slot `r % slots`.
    private var cache: [Double], cached: [Int]
    private let slots: Int
    private var vertical: [Double]

    init(_ image: Image<Sample>, channels: Int, sigma: Double) throws {
        width = image.width; height = image.height; self.channels = channels
        samples = image.samples; stride = image.channels; unit = 1 / Double(Sample.max)
        kernel = try gaussianKernel(sigma: sigma)
        radius = kernel.count / 2
        rowSources = reflectedIndices(radius: radius, length: height)
        columnSources = reflectedIndices(radius: radius, length: width)
        // The rows one output row needs lie within 2r + 1 consecutive source rows.
        slots = 2 * radius + 2
        cache = [Double](repeating: 0, count: kernel.count > 1 ? slots * width * channels : 0)
        cached = [Int](repeating: -1, count: slots)
        vertical = [Double](repeating: 0, count: width * channels)
    }

    private static func convert(_ s: UnsafeBufferPointer<Sample>, row y: Int, width: Int, channels: Int, stride: Int,
                                unit: Double, into out: UnsafeMutablePointer<Double>) {
        let base = y * width * stride
        if channels == stride {
            for i in 0..<(width * channels) { out[i] = Double(s[base + i]) * unit }
        } else {
            for x in 0..<width { for c in 0..<channels { out[x * channels + c] = Double(s[base + x * stride + c]) * unit } }
        }
    }

    /// Writes smoothed row `y` (`width · channels` values, interleaved) into `out`, which holds
    /// at least that many.
    mutating func row(_ y: Int, into out: UnsafeMutablePointer<Double>) {
        let length = width * channels
        let (width, channels, stride, unit, r, slots) = (width, channels, stride, unit, radius, slots)
        if kernel.count <= 1 {
            samples.withUnsafeBufferPointer { s in
                Self.convert(s, row: y, width: width, channels: channels, stride: stride, unit: unit, into: out)
            }
            return
        }
        let (kernel, rowSources, columnSources) = (kernel, rowSources, columnSources)
        samples.withUnsafeBufferPointer { s in
            cache.withUnsafeMutableBufferPointer { c in
                cached.withUnsafeMutableBufferPointer { held in
                    vertical.withUnsafeMutableBufferPointer { v in
                        guard let base = c.baseAddress, let tmp = v.baseAddress else { return }
                        for j in -r...r {
                            let src = rowSources[y + r + j], slot = src % slots
                            if held[slot] != src {
                                Self.convert(s, row: src, width: width, channels: channels, stride: stride, unit: unit,
                                             into: base + slot * length)
                                held[slot] = src
                            }
                        }
                        // Axis 0, then axis 1, as gaussianFilter sums them.
                        func rowStart(_ j: Int) -> UnsafePointer<Double> { UnsafePointer(base + (rowSources[y + r + j] % slots) * length) }
                        let lower = (0...r).map { rowStart(-$0) }, upper = (0...r).map { rowStart($0) }
                        symmetricSums(rowStart(0), lower, upper, kernel: kernel, count: length, into: tmp)
                        let interior = width > 2 * r
                        if interior {
                            let centre = UnsafePointer(tmp + r * channels)
                            let left = (0...r).map { centre - $0 * channels }, right = (0...r).map { centre + $0 * channels }
                            symmetricSums(centre, left, right, kernel: kernel, count: (width - 2 * r) * channels, into: out + r * channels)
                        }
                        // The border pixels (all of them for a narrow row) with reflection,
                        // as correlateLines sums them.
                        kernel.withUnsafeBufferPointer { w in
                            columnSources.withUnsafeBufferPointer { src in
                                func border(_ x: Int) {
                                    let centre = x + r
                                    for ch in 0..<channels {
                                        var sum = tmp[src[centre] * channels + ch] * w[r]
                                        for j in Swift.stride(from: r, through: 1, by: -1) {
                                            sum += (tmp[src[centre - j] * channels + ch] + tmp[src[centre + j] * channels + ch]) * w[r + j]
                                        }
                                        out[x * channels + ch] = sum
                                    }
                                }
                                if interior {
                                    for x in 0..<r { border(x) }
                                    for x in (width - r)..<width { border(x) }
                                } else {
                                    for x in 0..<width { border(x) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
