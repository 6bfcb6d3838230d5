import CVSegCore
import CVSegTestSupport
import Testing
#if canImport(Glibc)
import Glibc  // pow
#endif
@testable import CVSegTensor

// Every oneDNN-backed operation against a naive nested-loop reference in Double, on small seeded
// random inputs, forward and every backward.
//
// Tolerance: |actual − expected| ≤ 1e-4 · (|expected| + max|expected|). oneDNN sums in Float32 in
// its own order; the sums here have at most ~100 terms of magnitude ≤ 1, whose rounding error is
// ~1e-6 of the largest partial sums, so 1e-4 relative to the output's scale leaves a wide margin
// while still catching any wrong index (an error of one term is ~1e-1). The scale term is there
// because sums of ± terms can cancel to near zero.

private func random(_ count: Int, _ rng: inout SplitMix64, low: Float = -1, high: Float = 1) -> [Float] {
    (0..<count).map { _ in Float.random(in: low..<high, using: &rng) }
}

private func expectClose(_ actual: [Float], _ expected: [Double], rtol: Double = 1e-4, _ what: String,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    guard actual.count == expected.count else { return }
    let scale = expected.map(abs).max() ?? 0
    var worst = 0.0, at = -1
    for i in expected.indices {
        let excess = abs(Double(actual[i]) - expected[i]) - rtol * (abs(expected[i]) + scale)
        if excess > worst { worst = excess; at = i }
    }
    #expect(at < 0, "\(what): element \(at) is \(at < 0 ? 0 : actual[at]), expected \(at < 0 ? 0 : expected[at])",
            sourceLocation: sourceLocation)
}

// MARK: - Convolution references

/// Forward and all gradients of a (transposed) convolution in Double. Both are one loop over
/// (n, group, input channel, output channel, tap, position): for a convolution the position runs
/// over outputs and the tap reads the input; for a transposed convolution it runs over inputs and
/// the tap writes the output. Weight element (ci, co) is at `w[o][i/g]` for convolution and at
/// `w[i][o/g]` for transposed convolution (PyTorch layouts).
private struct ConvReference {
    let n, cin, h, w, cout, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw, groups: Int
    let transposed: Bool

    init(_ c: DNNL.Conv2D) throws {
        let o = try c.outputShape()
        (n, cin, h, w, cout, oh, ow) = (c.inputShape[0], c.inputShape[1], c.inputShape[2], c.inputShape[3], c.outChannels, o[2], o[3])
        (kh, kw, sh, sw, pt, pl) = (c.kernel.height, c.kernel.width, c.stride.height, c.stride.width, c.padding.top, c.padding.left)
        (dh, dw, groups, transposed) = (c.dilation.height, c.dilation.width, c.groups, false)
    }

    init(_ c: DNNL.ConvTranspose2D) throws {
        let o = try c.outputShape()
        (n, cin, h, w, cout, oh, ow) = (c.inputShape[0], c.inputShape[1], c.inputShape[2], c.inputShape[3], c.outChannels, o[2], o[3])
        (kh, kw, sh, sw, pt, pl) = (c.kernel.height, c.kernel.width, c.stride.height, c.stride.width, c.padding.top, c.padding.left)
        (dh, dw, groups, transposed) = (c.dilation.height, c.dilation.width, c.groups, true)
    }

    /// Calls `body(inputIndex, weightIndex, outputIndex, outputChannel)` for every multiply.
    func forEachTap(_ body: (Int, Int, Int, Int) -> Void) {
        let cig = cin / groups, cog = cout / groups
        for b in 0..<n {
            for g in 0..<groups {
                for ci in 0..<cig {
                    for co in 0..<cog {
                        let i = g * cig + ci, o = g * cog + co
                        let wBase = transposed ? (i * cog + co) * kh * kw : (o * cig + ci) * kh * kw
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                let wi = wBase + ky * kw + kx
                                if transposed {
                                    for iy in 0..<h {
                                        let y = iy * sh - pt + ky * dh
                                        guard y >= 0, y < oh else { continue }
                                        for ix in 0..<w {
                                            let x = ix * sw - pl + kx * dw
                                            guard x >= 0, x < ow else { continue }
                                            body(((b * cin + i) * h + iy) * w + ix, wi, ((b * cout + o) * oh + y) * ow + x, o)
                                        }
                                    }
                                } else {
                                    for y in 0..<oh {
                                        let iy = y * sh - pt + ky * dh
                                        guard iy >= 0, iy < h else { continue }
                                        for x in 0..<ow {
                                            let ix = x * sw - pl + kx * dw
                                            guard ix >= 0, ix < w else { continue }
                                            body(((b * cin + i) * h + iy) * w + ix, wi, ((b * cout + o) * oh + y) * ow + x, o)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    func forward(_ x: [Float], _ wt: [Float], _ bias: [Float]?) -> [Double] {
        var y = [Double](repeating: 0, count: n * cout * oh * ow)
        if let bias { for i in y.indices { y[i] = Double(bias[(i / (oh * ow)) % cout]) } }
        forEachTap { xi, wi, yi, _ in y[yi] += Double(x[xi]) * Double(wt[wi]) }
        return y
    }

    func backward(_ x: [Float], _ wt: [Float], _ dy: [Float]) -> (dx: [Double], dw: [Double], db: [Double]) {
        var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: wt.count)
        var db = [Double](repeating: 0, count: cout)
        forEachTap { xi, wi, yi, _ in
            dx[xi] += Double(dy[yi]) * Double(wt[wi])
            dw[wi] += Double(dy[yi]) * Double(x[xi])
        }
        for i in dy.indices { db[(i / (oh * ow)) % cout] += Double(dy[i]) }
        return (dx, dw, db)
    }
}

@Suite struct DNNLTests {
    let engine: DNNLEngine
    init() throws { engine = try DNNLEngine() }

    static let convolutions: [DNNL.Conv2D] = [
        // batch 2, odd sizes, stride 2×1, asymmetric padding, dilation 2×1, groups 2
        DNNL.Conv2D(inputShape: [2, 4, 7, 6], outChannels: 6, kernel: DNNL.Pair(3, 2), stride: DNNL.Pair(2, 1),
                    padding: DNNL.Padding(top: 1, left: 0, bottom: 2, right: 1), dilation: DNNL.Pair(2, 1), groups: 2),
        // plain 3×3, padding 1
        DNNL.Conv2D(inputShape: [1, 3, 5, 5], outChannels: 2, kernel: .square(3), padding: .symmetric(1)),
        // dilation 2 and stride 2 on both axes, 1×1 output channel groups
        DNNL.Conv2D(inputShape: [2, 2, 9, 8], outChannels: 4, kernel: .square(3), stride: .square(2),
                    padding: DNNL.Padding(2, 1), dilation: .square(2)),
    ]

    @Test(arguments: convolutions.indices)
    func convolutionMatchesReference(_ index: Int) throws {
        let c = Self.convolutions[index]
        var rng = SplitMix64(seed: 11 + UInt64(index))
        let ref = try ConvReference(c)
        let x = random(c.inputShape.count, &rng), w = random(try c.weightShape().count, &rng)
        let bias = random(c.outChannels, &rng)
        let dy = random(try c.outputShape().count, &rng)
        for useBias in [true, false] {
            let y = try engine.conv2dForward(c, input: x, weight: w, bias: useBias ? bias : nil)
            expectClose(y, ref.forward(x, w, useBias ? bias : nil), "conv \(index) forward, bias \(useBias)")
        }
        let expected = ref.backward(x, w, dy)
        expectClose(try engine.conv2dBackwardData(c, weight: w, outputGradient: dy), expected.dx, "conv \(index) input gradient")
        let grads = try engine.conv2dBackwardWeights(c, input: x, outputGradient: dy, bias: true)
        expectClose(grads.weight, expected.dw, "conv \(index) weight gradient")
        expectClose(grads.bias ?? [], expected.db, "conv \(index) bias gradient")
        let noBias = try engine.conv2dBackwardWeights(c, input: x, outputGradient: dy, bias: false)
        #expect(noBias.bias == nil)
        expectClose(noBias.weight, expected.dw, "conv \(index) weight gradient without bias")
    }

    static let transposedConvolutions: [DNNL.ConvTranspose2D] = [
        // batch 2, stride 2, padding 1, output padding 1, groups 2, odd sizes
        DNNL.ConvTranspose2D(inputShape: [2, 4, 5, 3], outChannels: 6, kernel: DNNL.Pair(3, 2), stride: .square(2),
                             padding: .symmetric(1), outputPadding: .square(1), groups: 2),
        // output padding larger than the padding (oneDNN gets bottom/right padding −1), dilation 2
        DNNL.ConvTranspose2D(inputShape: [1, 3, 4, 5], outChannels: 2, kernel: .square(3), stride: .square(2),
                             padding: .zero, outputPadding: DNNL.Pair(1, 0), dilation: .square(2)),
        // stride 1, asymmetric padding, dilation 2×1
        DNNL.ConvTranspose2D(inputShape: [2, 2, 5, 5], outChannels: 3, kernel: .square(3),
                             padding: DNNL.Padding(top: 2, left: 1, bottom: 0, right: 1), dilation: DNNL.Pair(2, 1)),
    ]

    @Test(arguments: transposedConvolutions.indices)
    func transposedConvolutionMatchesReference(_ index: Int) throws {
        let c = Self.transposedConvolutions[index]
        var rng = SplitMix64(seed: 21 + UInt64(index))
        let ref = try ConvReference(c)
        let x = random(c.inputShape.count, &rng), w = random(try c.weightShape().count, &rng)
        let bias = random(c.outChannels, &rng)
        let dy = random(try c.outputShape().count, &rng)
        for useBias in [true, false] {
            let y = try engine.convTranspose2dForward(c, input: x, weight: w, bias: useBias ? bias : nil)
            expectClose(y, ref.forward(x, w, useBias ? bias : nil), "deconv \(index) forward, bias \(useBias)")
        }
        let expected = ref.backward(x, w, dy)
        expectClose(try engine.convTranspose2dBackwardData(c, weight: w, outputGradient: dy), expected.dx, "deconv \(index) input gradient")
        let grads = try engine.convTranspose2dBackwardWeights(c, input: x, outputGradient: dy, bias: true)
        expectClose(grads.weight, expected.dw, "deconv \(index) weight gradient")
        expectClose(grads.bias ?? [], expected.db, "deconv \(index) bias gradient")
    }

    @Test func transposedConvolutionOutputSizeIsPyTorchs() throws {
        // PyTorch: (H − 1)·s − 2p + d·(k − 1) + output_padding + 1 = 4·2 − 2 + 2 + 1 + 1 = 10.
        let c = DNNL.ConvTranspose2D(inputShape: [1, 1, 5, 5], outChannels: 1, kernel: .square(3), stride: .square(2),
                                     padding: .symmetric(1), outputPadding: .square(1))
        #expect(try c.outputShape() == [1, 1, 10, 10])
        #expect(try c.weightShape() == [1, 1, 3, 3])
        // Conv: ⌊(7 + 1 + 2 − 2·2 − 1) / 2⌋ + 1 = 3 rows; (6 + 0 + 1 − 1 − 1) / 1 + 1 = 6 columns.
        #expect(try Self.convolutions[0].outputShape() == [2, 6, 3, 6])
    }
}

// MARK: - Pooling

/// Max and average pooling in Double; `divisor` nil means exclude padding.
private struct PoolReference {
    let p: DNNL.Pool2D, oh: Int, ow: Int

    init(_ p: DNNL.Pool2D) throws {
        self.p = p
        let o = try p.outputShape()
        (oh, ow) = (o[2], o[3])
    }

    /// Calls `body(outputIndex, inputIndices, planeIndices)` for every output window.
    func forEachWindow(_ body: (Int, [Int], [Int]) -> Void) {
        let h = p.inputShape[2], w = p.inputShape[3]
        for plane in 0..<(p.inputShape[0] * p.inputShape[1]) {
            for y in 0..<oh {
                for x in 0..<ow {
                    var taps: [Int] = []
                    for ky in 0..<p.kernel.height {
                        let iy = y * p.stride.height - p.padding.top + ky * p.dilation.height
                        guard iy >= 0, iy < h else { continue }
                        for kx in 0..<p.kernel.width {
                            let ix = x * p.stride.width - p.padding.left + kx * p.dilation.width
                            if ix >= 0, ix < w { taps.append(iy * w + ix) }
                        }
                    }
                    body((plane * oh + y) * ow + x, taps.map { plane * h * w + $0 }, taps)
                }
            }
        }
    }

    func max(_ input: [Float], _ dy: [Float]) -> (y: [Double], indices: [Int32], dx: [Double]) {
        var y = [Double](repeating: 0, count: dy.count), indices = [Int32](repeating: -1, count: dy.count)
        var dx = [Double](repeating: 0, count: input.count)
        forEachWindow { o, taps, plane in
            let k = taps.indices.max { input[taps[$0]] < input[taps[$1]] }!  // distinct random values: no ties
            y[o] = Double(input[taps[k]])
            indices[o] = Int32(plane[k])
            dx[taps[k]] += Double(dy[o])
        }
        return (y, indices, dx)
    }

    /// PyTorch's divisors: with padding counted, the window clipped at `H + top`, `W + left`
    /// (`avg_pool2d`'s `hend = min(hstart + kH, H + pad)`), else the input elements in it.
    func average(_ input: [Float], _ dy: [Float], includePadding: Bool) -> (y: [Double], dx: [Double]) {
        var y = [Double](repeating: 0, count: dy.count), dx = [Double](repeating: 0, count: input.count)
        forEachWindow { o, taps, _ in
            let (oy, ox) = ((o / ow) % oh, o % ow)
            let rows = (0..<p.kernel.height).count { oy * p.stride.height - p.padding.top + $0 * p.dilation.height < p.inputShape[2] + p.padding.top }
            let cols = (0..<p.kernel.width).count { ox * p.stride.width - p.padding.left + $0 * p.dilation.width < p.inputShape[3] + p.padding.left }
            let divisor = Double(includePadding ? rows * cols : taps.count)
            y[o] = taps.reduce(0) { $0 + Double(input[$1]) } / divisor
            for t in taps { dx[t] += Double(dy[o]) / divisor }
        }
        return (y, dx)
    }
}

extension DNNLTests {
    static let pools: [DNNL.Pool2D] = [
        // batch 2, odd sizes, kernel 3, stride 2, padding 1
        DNNL.Pool2D(inputShape: [2, 3, 7, 6], kernel: .square(3), stride: .square(2), padding: .symmetric(1)),
        // PyTorch ceil_mode on 7×5 with kernel 2: one extra bottom row and right column
        DNNL.Pool2D(inputShape: [1, 2, 7, 5], kernel: .square(2), padding: DNNL.Padding(top: 0, left: 0, bottom: 1, right: 1)),
        // dilation 2, stride 1, kernel 3×2, padding 1×0
        DNNL.Pool2D(inputShape: [2, 2, 8, 7], kernel: DNNL.Pair(3, 2), stride: .square(1), padding: DNNL.Padding(1, 0),
                    dilation: .square(2)),
    ]

    @Test(arguments: pools.indices)
    func maxPoolingMatchesReference(_ index: Int) throws {
        let p = Self.pools[index]
        var rng = SplitMix64(seed: 31 + UInt64(index))
        let ref = try PoolReference(p)
        let x = random(p.inputShape.count, &rng), dy = random(try p.outputShape().count, &rng)
        let expected = ref.max(x, dy)
        let forward = try engine.maxPool2dForward(p, input: x, mode: .training, indices: true)
        expectClose(forward.output, expected.y, "max pool \(index) forward")
        #expect(forward.indices == expected.indices, "max pool \(index) indices")
        let workspace = try #require(forward.workspace)
        expectClose(try engine.maxPool2dBackward(p, outputGradient: dy, workspace: workspace), expected.dx, "max pool \(index) backward")
        let inference = try engine.maxPool2dForward(p, input: x, mode: .inference)
        #expect(inference.workspace == nil && inference.indices == nil)
        expectClose(inference.output, expected.y, "max pool \(index) inference forward")
    }

    @Test(arguments: pools.indices, [true, false])
    func averagePoolingMatchesReference(_ index: Int, includePadding: Bool) throws {
        let p = Self.pools[index]
        var rng = SplitMix64(seed: 41 + UInt64(index))
        let ref = try PoolReference(p)
        let x = random(p.inputShape.count, &rng), dy = random(try p.outputShape().count, &rng)
        let expected = ref.average(x, dy, includePadding: includePadding)
        expectClose(try engine.avgPool2dForward(p, input: x, countIncludePadding: includePadding), expected.y,
                    "avg pool \(index) forward, include padding \(includePadding)")
        expectClose(try engine.avgPool2dBackward(p, outputGradient: dy, countIncludePadding: includePadding), expected.dx,
                    "avg pool \(index) backward, include padding \(includePadding)")
    }

    @Test func maxPoolIndicesFollowPyTorchOnTies() throws {
        // A constant plane: every window ties; PyTorch keeps the first element in window order.
        let p = DNNL.Pool2D(inputShape: [1, 1, 4, 4], kernel: .square(2), stride: .square(2))
        let r = try engine.maxPool2dForward(p, input: [Float](repeating: 3, count: 16), mode: .inference, indices: true)
        #expect(r.indices == [0, 2, 8, 10])
        #expect(r.output == [3, 3, 3, 3])
    }
}

// MARK: - Normalisation

extension DNNLTests {
    @Test(arguments: [DNNL.Mode.training, .inference])
    func batchNormMatchesReference(_ mode: DNNL.Mode) throws {
        let b = DNNL.BatchNorm(inputShape: [2, 3, 4, 5], epsilon: 1e-3)
        let (n, c, hw) = (2, 3, 20)
        var rng = SplitMix64(seed: 51)
        let x = random(b.inputShape.count, &rng, low: -2, high: 3), dy = random(b.inputShape.count, &rng)
        let scale = random(c, &rng, low: 0.5, high: 2), shift = random(c, &rng)
        let given = (mean: random(c, &rng), variance: random(c, &rng, low: 0.5, high: 2))
        func at(_ i: Int, _ ch: Int, _ j: Int) -> Int { (i * c + ch) * hw + j }
        let m = Double(n * hw)
        var mean = [Double](repeating: 0, count: c), variance = mean, y = [Double](repeating: 0, count: x.count), dx = y
        var dScale = mean, dShift = mean
        for ch in 0..<c {
            var points: [Int] = []
            for i in 0..<n { for j in 0..<hw { points.append(at(i, ch, j)) } }
            if mode == .training {
                mean[ch] = points.reduce(0) { $0 + Double(x[$1]) } / m
                variance[ch] = points.reduce(0) { $0 + (Double(x[$1]) - mean[ch]) * (Double(x[$1]) - mean[ch]) } / m  // biased
            } else {
                (mean[ch], variance[ch]) = (Double(given.mean[ch]), Double(given.variance[ch]))
            }
            let inv = 1 / (variance[ch] + Double(b.epsilon)).squareRoot()
            var sumDy = 0.0, sumDyXhat = 0.0
            for p in points {
                let xhat = (Double(x[p]) - mean[ch]) * inv
                y[p] = Double(scale[ch]) * xhat + Double(shift[ch])
                sumDy += Double(dy[p]); sumDyXhat += Double(dy[p]) * xhat
            }
            (dScale[ch], dShift[ch]) = (sumDyXhat, sumDy)
            for p in points {
                let xhat = (Double(x[p]) - mean[ch]) * inv
                // Batch statistics: the gradient also flows through μ and σ².
                let centred = mode == .training ? Double(dy[p]) - sumDy / m - xhat * sumDyXhat / m : Double(dy[p])
                dx[p] = Double(scale[ch]) * inv * centred
            }
        }
        let stats: (mean: [Float], variance: [Float])
        if mode == .training {
            let r = try engine.batchNormTrainingForward(b, input: x, scale: scale, shift: shift)
            expectClose(r.output, y, "batch norm training forward")
            expectClose(r.mean, mean, "batch mean")
            expectClose(r.variance, variance, "batch variance (biased)")
            stats = (r.mean, r.variance)
        } else {
            let r = try engine.batchNormInferenceForward(b, input: x, scale: scale, shift: shift, mean: given.mean, variance: given.variance)
            expectClose(r, y, "batch norm inference forward")
            stats = given
        }
        let g = try engine.batchNormBackward(b, input: x, outputGradient: dy, scale: scale, mean: stats.mean,
                                             variance: stats.variance, statistics: mode)
        expectClose(g.input, dx, "batch norm \(mode) input gradient")
        expectClose(g.scale, dScale, "batch norm \(mode) scale gradient")
        expectClose(g.shift, dShift, "batch norm \(mode) shift gradient")
    }

    @Test(arguments: [3, 5])
    func localResponseNormMatchesPyTorchDefinition(_ size: Int) throws {
        let l = DNNL.LRN(inputShape: [2, 7, 3, 4], size: size, alpha: 0.5, beta: 0.75, k: 2)
        let (n, c, hw) = (2, 7, 12)
        var rng = SplitMix64(seed: 61 + UInt64(size))
        let x = random(l.inputShape.count, &rng, low: -2, high: 2), dy = random(l.inputShape.count, &rng)
        // PyTorch: channels c − size/2 … c + (size − 1)/2, alpha divided by size.
        func window(_ ch: Int) -> ClosedRange<Int> { max(0, ch - size / 2)...min(c - 1, ch + (size - 1) / 2) }
        var y = [Double](repeating: 0, count: x.count), dx = y
        for i in 0..<n {
            for j in 0..<hw {
                func at(_ ch: Int) -> Int { (i * c + ch) * hw + j }
                let d = (0..<c).map { ch in
                    Double(l.k) + Double(l.alpha) / Double(size) * window(ch).reduce(0) { $0 + Double(x[at($1)]) * Double(x[at($1)]) }
                }
                let beta = Double(l.beta)
                for ch in 0..<c {
                    y[at(ch)] = Double(x[at(ch)]) * pow(d[ch], -beta)
                    dx[at(ch)] += Double(dy[at(ch)]) * pow(d[ch], -beta)
                    // ∂y_ch/∂x_j = −β·x_ch·d_ch^(−β−1)·(α/size)·2x_j for j in the window of ch.
                    let common = Double(dy[at(ch)]) * Double(x[at(ch)]) * -beta * pow(d[ch], -beta - 1) * Double(l.alpha) / Double(size) * 2
                    for j2 in window(ch) { dx[at(j2)] += common * Double(x[at(j2)]) }
                }
            }
        }
        let forward = try engine.lrnForward(l, input: x, mode: .training)
        expectClose(forward.output, y, "LRN size \(size) forward")
        expectClose(try engine.lrnBackward(l, input: x, outputGradient: dy, workspace: forward.workspace), dx, "LRN size \(size) backward")
        expectClose(try engine.lrnForward(l, input: x, mode: .inference).output, y, "LRN size \(size) inference forward")
    }
}

// MARK: - GEMM

extension DNNLTests {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func sgemmMatchesReference(_ transposeA: Bool, _ transposeB: Bool) throws {
        let (m, n, k) = (5, 3, 7)
        var rng = SplitMix64(seed: 71)
        let a = random(m * k, &rng), b = random(k * n, &rng), c0 = random(m * n, &rng)
        var expected = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for l in 0..<k {
                    let av = transposeA ? a[l * m + i] : a[i * k + l], bv = transposeB ? b[j * k + l] : b[l * n + j]
                    sum += Double(av) * Double(bv)
                }
                expected[i * n + j] = 2 * sum + 0.5 * Double(c0[i * n + j])
            }
        }
        var c = c0
        try DNNLEngine.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 2, a: a, b: b, beta: 0.5, c: &c)
        expectClose(c, expected, "sgemm transA \(transposeA) transB \(transposeB)")
        #expect(throws: DNNLError.self) {
            try DNNLEngine.sgemm(m: m, n: n, k: k, a: a, b: Array(b.dropLast()), c: &c)
        }
    }
}

// MARK: - Errors and the cache

extension DNNLTests {
    @Test func impossibleConfigurationsThrowInsteadOfCrashing() throws {
        // 5×5 kernel on an unpadded 3×3 input: the output size would be negative.
        let tooBig = DNNL.Conv2D(inputShape: [1, 1, 3, 3], outChannels: 1, kernel: .square(5))
        let error = #expect(throws: DNNLError.self) {
            _ = try engine.conv2dForward(tooBig, input: [Float](repeating: 0, count: 9), weight: [Float](repeating: 0, count: 25))
        }
        #expect(error?.function == "conv2dForward" && error?.status == .invalidArguments)
        // Padding that removes the whole transposed-convolution output.
        let cropped = DNNL.ConvTranspose2D(inputShape: [1, 1, 2, 2], outChannels: 1, kernel: .square(2), padding: .symmetric(2))
        #expect(throws: DNNLError.self) { try cropped.outputShape() }
        // PyTorch's rule: output padding smaller than stride or dilation.
        let extra = DNNL.ConvTranspose2D(inputShape: [1, 1, 2, 2], outChannels: 1, kernel: .square(2), outputPadding: .square(1))
        #expect(throws: DNNLError.self) { try extra.outputShape() }
        // Channels not divisible by groups; a zero stride; a window larger than the padded input.
        #expect(throws: DNNLError.self) {
            try DNNL.Conv2D(inputShape: [1, 3, 4, 4], outChannels: 2, kernel: .square(1), groups: 2).outputShape()
        }
        #expect(throws: DNNLError.self) {
            try DNNL.Conv2D(inputShape: [1, 1, 4, 4], outChannels: 1, kernel: .square(1), stride: .square(0)).outputShape()
        }
        #expect(throws: DNNLError.self) { try DNNL.Pool2D(inputShape: [1, 1, 2, 2], kernel: .square(3)).outputShape() }
        // Wrong buffer sizes are refused before oneDNN sees them.
        let ok = DNNL.Conv2D(inputShape: [1, 1, 3, 3], outChannels: 1, kernel: .square(3))
        #expect(throws: DNNLError.self) {
            _ = try engine.conv2dForward(ok, input: [Float](repeating: 0, count: 8), weight: [Float](repeating: 0, count: 9))
        }
        // An even LRN size (oneDNN's window differs from PyTorch's).
        #expect(throws: DNNLError.self) {
            _ = try engine.lrnForward(DNNL.LRN(inputShape: [1, 4, 1, 1], size: 4), input: [1, 2, 3, 4], mode: .inference)
        }
    }

    @Test func oneDNNStatusBecomesAnError() throws {
        // Negative padding passes the Swift checks (the output size is positive) and oneDNN's
        // convolution descriptor refuses it: the status comes back as a DNNLError naming the call.
        let c = DNNL.Conv2D(inputShape: [1, 1, 5, 5], outChannels: 1, kernel: .square(3), padding: .symmetric(-1))
        #expect(try c.outputShape() == [1, 1, 1, 1])
        let error = #expect(throws: DNNLError.self) {
            _ = try engine.conv2dForward(c, input: [Float](repeating: 1, count: 25), weight: [Float](repeating: 1, count: 9))
        }
        #expect(error?.function == "dnnl_dilated_convolution_forward_desc_init")
        #expect(error?.status == .invalidArguments)
        #expect(error?.description.contains("invalid arguments") == true)
        #expect(engine.cacheStatistics.count == 0, "a failed build caches nothing")
    }

    @Test func primitivesAreCachedPerConfiguration() throws {
        let c = DNNL.Conv2D(inputShape: [1, 2, 5, 5], outChannels: 3, kernel: .square(3), padding: .symmetric(1))
        var rng = SplitMix64(seed: 81)
        let x = random(50, &rng), w = random(54, &rng)
        let first = try engine.conv2dForward(c, input: x, weight: w)
        #expect(engine.cacheStatistics == DNNLEngine.CacheStatistics(hits: 0, misses: 1, count: 1))
        let again = try engine.conv2dForward(c, input: x, weight: w)
        #expect(again == first)
        #expect(engine.cacheStatistics == DNNLEngine.CacheStatistics(hits: 1, misses: 1, count: 1))
        // Backward data builds its own primitive and reuses the forward one as its hint.
        _ = try engine.conv2dBackwardData(c, weight: w, outputGradient: first)
        #expect(engine.cacheStatistics == DNNLEngine.CacheStatistics(hits: 2, misses: 2, count: 2))
        // Another shape, or a bias, is another primitive.
        _ = try engine.conv2dForward(c, input: x, weight: w, bias: [0, 0, 0])
        var wider = c
        wider.inputShape = [1, 2, 5, 6]
        _ = try engine.conv2dForward(wider, input: x + random(10, &rng), weight: w)
        #expect(engine.cacheStatistics.misses == 4 && engine.cacheStatistics.count == 4)
    }

    @Test func leastRecentlyUsedPrimitiveIsEvicted() throws {
        let small = try DNNLEngine(cacheCapacity: 2)
        func pool(_ h: Int) -> DNNL.Pool2D { DNNL.Pool2D(inputShape: [1, 1, h, 4], kernel: .square(2)) }
        for h in [2, 4, 2, 6, 2] {  // 2 stays in use; 4 is evicted by 6
            _ = try small.avgPool2dForward(pool(h), input: [Float](repeating: 1, count: h * 4), countIncludePadding: true)
        }
        #expect(small.cacheStatistics == DNNLEngine.CacheStatistics(hits: 2, misses: 3, count: 2))
        _ = try small.avgPool2dForward(pool(4), input: [Float](repeating: 1, count: 16), countIncludePadding: true)
        #expect(small.cacheStatistics.misses == 4)
    }

    @Test func concurrentCallsShareOnePrimitive() async throws {
        let c = DNNL.Conv2D(inputShape: [2, 4, 9, 9], outChannels: 4, kernel: .square(3), padding: .symmetric(1), groups: 2)
        var rng = SplitMix64(seed: 91)
        let x = random(c.inputShape.count, &rng), w = random(try c.weightShape().count, &rng)
        let expected = try engine.conv2dForward(c, input: x, weight: w)
        let engine = self.engine
        let results = try await withThrowingTaskGroup(of: [Float].self) { group in
            for _ in 0..<8 { group.addTask { try engine.conv2dForward(c, input: x, weight: w) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 8 && results.allSatisfy { $0 == expected })
        #expect(engine.cacheStatistics.misses == 1)
    }
}

// MARK: - Blocked layouts, fused ReLU, weight cache, Winograd

extension DNNLTests {
    /// 32 channels: oneDNN picks its blocked layouts (nChw16c, OIhw16i16o) and the primitive
    /// reorders from and to the plain arrays.
    static let blocked = DNNL.Conv2D(inputShape: [2, 32, 9, 11], outChannels: 48, kernel: .square(3), padding: .symmetric(1))

    @Test func blockedConvolutionMatchesReference() throws {
        let c = Self.blocked
        var rng = SplitMix64(seed: 101)
        let ref = try ConvReference(c)
        let x = random(c.inputShape.count, &rng), w = random(try c.weightShape().count, &rng)
        let bias = random(c.outChannels, &rng), dy = random(try c.outputShape().count, &rng)
        let expected = ref.forward(x, w, bias)
        expectClose(try engine.conv2dForward(c, input: x, weight: w, bias: bias), expected, "blocked forward")
        expectClose(try engine.conv2dForward(c, input: x, weight: w, bias: bias, relu: true), expected.map { Swift.max($0, 0) },
                    "blocked forward with ReLU")
        let back = ref.backward(x, w, dy)
        let g = try engine.conv2dBackward(c, input: x, weight: w, outputGradient: dy, bias: true)
        expectClose(try #require(g.input), back.dx, "blocked input gradient")
        expectClose(try #require(g.weight), back.dw, "blocked weight gradient")
        expectClose(try #require(g.bias), back.db, "blocked bias gradient")
        let onlyData = try engine.conv2dBackward(c, input: nil, weight: w, outputGradient: dy, bias: false)
        #expect(onlyData.weight == nil && onlyData.bias == nil && onlyData.input == g.input)
    }

    @Test func reorderedWeightsAreCachedPerOwner() throws {
        let c = Self.blocked
        var rng = SplitMix64(seed: 103)
        let ref = try ConvReference(c)
        let x = random(c.inputShape.count, &rng)
        final class Owner {}
        var owner: Owner? = Owner()
        let w1 = random(try c.weightShape().count, &rng)
        let first = try engine.conv2dForward(c, input: x, weight: w1, weightOwner: owner)
        #expect(engine.cachedWeightCount == 1)
        #expect(try engine.conv2dForward(c, input: x, weight: w1, weightOwner: owner) == first)
        #expect(engine.cachedWeightCount == 1, "the second call reuses the reordered weights")
        // Other weights with another owner (possibly at the freed owner's address) are reordered anew.
        owner = nil
        let w2 = random(w1.count, &rng)
        let other = Owner()
        expectClose(try engine.conv2dForward(c, input: x, weight: w2, weightOwner: other), ref.forward(x, w2, nil), "new owner")
        #expect(engine.cachedWeightCount == 1, "the dead owner's entry is dropped")
    }

    /// Winograd F(4×4, 3×3) for inference: its transforms round differently from direct
    /// summation; the error stays within the suite's tolerance (1e-4 of the output's scale).
    @Test func winogradConvolutionMatchesReference() throws {
        let c = DNNL.Conv2D(inputShape: [1, 64, 20, 18], outChannels: 64, kernel: .square(3), padding: .symmetric(1))
        var rng = SplitMix64(seed: 107)
        let ref = try ConvReference(c)
        let x = random(c.inputShape.count, &rng), w = random(try c.weightShape().count, &rng), bias = random(64, &rng)
        let expected = ref.forward(x, w, bias)
        let y = try engine.conv2dForward(c, input: x, weight: w, bias: bias, relu: true, winograd: true)
        expectClose(y, expected.map { Swift.max($0, 0) }, "winograd forward")
        let scale = expected.map(abs).max() ?? 1
        let worst = zip(y, expected).map { abs(Double($0) - Swift.max($1, 0)) }.max() ?? 0
        #expect(worst / scale < 1e-5, "winograd error \(worst / scale) of the output scale")
    }
}

// MARK: - Pooling in Swift

extension DNNLTests {
    @Test(arguments: pools.indices)
    func swiftMaxPoolingMatchesReference(_ index: Int) throws {
        let p = Self.pools[index]
        var rng = SplitMix64(seed: 131 + UInt64(index))
        let x = random(p.inputShape.count, &rng), dy = random(try p.outputShape().count, &rng)
        let expected = try PoolReference(p).max(x, dy)
        let plan = PoolPlan(p, output: try p.outputShape())
        let r = plan.maxForward(x, indices: true)
        expectClose(r.output, expected.y, "swift max pool \(index)")
        #expect(r.indices == expected.indices)
        #expect(plan.maxForward(x, indices: false).output == r.output)
        expectClose(plan.maxBackward(dy, indices: try #require(r.indices)), expected.dx, "swift max pool \(index) backward")
    }

    @Test(arguments: pools.indices, [true, false])
    func swiftAveragePoolingMatchesReference(_ index: Int, includePadding: Bool) throws {
        let p = Self.pools[index]
        var rng = SplitMix64(seed: 141 + UInt64(index))
        let x = random(p.inputShape.count, &rng), dy = random(try p.outputShape().count, &rng)
        let expected = try PoolReference(p).average(x, dy, includePadding: includePadding)
        let plan = PoolPlan(p, output: try p.outputShape())
        expectClose(plan.averageForward(x, includePadding: includePadding), expected.y, "swift avg pool \(index)")
        expectClose(plan.averageBackward(dy, includePadding: includePadding), expected.dx, "swift avg pool \(index) backward")
    }

    /// The 2×2 / stride 2 path: odd sizes (last row and column dropped), ties, NaN.
    @Test func swiftTwoByTwoPooling() throws {
        let p = DNNL.Pool2D(inputShape: [2, 3, 7, 9], kernel: .square(2))
        var rng = SplitMix64(seed: 151)
        var x = random(p.inputShape.count, &rng)
        let dy = random(try p.outputShape().count, &rng)
        x[0] = 5; x[1] = 5; x[9] = 5; x[10] = 5  // a tie in the first window: index 0 wins
        let plan = PoolPlan(p, output: try p.outputShape())
        #expect(plan.isTwoByTwo)
        let ref = try PoolReference(p)
        let r = plan.maxForward(x, indices: true)
        #expect(r.indices?[0] == 0)
        expectClose(r.output, ref.max(x, dy).y, "2×2 max")
        expectClose(plan.averageForward(x, includePadding: true), ref.average(x, dy, includePadding: true).y, "2×2 average")
        expectClose(plan.averageBackward(dy, includePadding: true), ref.average(x, dy, includePadding: true).dx, "2×2 average backward")
        // NaN wins and propagates, in either path; its index is the last NaN's.
        x[2] = .nan; x[12] = .nan  // window (0, 1): rows 0–1, columns 2–3
        var general = plan
        general.isTwoByTwo = false
        for q in [plan, general] {
            let n = q.maxForward(x, indices: true)
            #expect(n.output[1].isNaN && n.indices?[1] == 12, "two by two \(q.isTwoByTwo)")
            #expect(q.maxForward(x, indices: false).output[1].isNaN)
        }
        let fast = plan.maxForward(x, indices: true), slow = general.maxForward(x, indices: true)
        #expect(fast.indices == slow.indices)
        #expect(zip(fast.output, slow.output).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) })
    }
}
