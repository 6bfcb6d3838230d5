import CVSegCore

/// oneDNN's errors as cvseg's, prefixed with the operation.
func onDNNL<T>(_ op: String, _ body: (DNNLEngine) throws -> T) throws -> T {
    do {
        return try body(try DNNLEngine.shared())
    } catch let error as DNNLError {
        throw CVSegError.invalidArgument("\(op): \(error)")
    }
}

/// A (height, width) pair of a convolution or pooling parameter.
public struct Size2: Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var height: Int, width: Int
    public init(_ height: Int, _ width: Int) { self.height = height; self.width = width }
    public init(integerLiteral v: Int) { self.init(v, v) }
    var pair: DNNL.Pair { DNNL.Pair(height, width) }
    var padding: DNNL.Padding { DNNL.Padding(height, width) }
    public var description: String { height == width ? "\(height)" : "(\(height), \(width))" }
}

/// 2-D convolution as PyTorch's `conv2d`: input `[N, Cin, H, W]`, weight
/// `[Cout, Cin/groups, kH, kW]`, bias `[Cout]`; stride, zero padding (rows/columns on both
/// sides), dilation (1 = dense), groups. Runs on oneDNN.
///
/// `relu: true` is `relu(conv2d(…))` in one operation (oneDNN's post-op; one tape entry, whose
/// backward masks the gradient with `y > 0` before the convolution's backward).
///
/// The weights reordered into oneDNN's layout are cached against the weight tensor's storage
/// (tensors are immutable), so repeated inference with the same weights reorders them once.
/// In inference (no input on a tape) 3×3 stride-1 convolutions with channel counts that are
/// multiples of 16 run oneDNN's Winograd kernel (see ``DNNLEngine/conv2dForward``; results differ
/// from direct summation by rounding only, ~1e-7 of the output's scale on the bench FCN).
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2 = 1, padding: Size2 = 0,
                   dilation: Size2 = 1, groups: Int = 1, relu: Bool = false) throws -> Tensor {
    guard x.shape.rank == 4, weight.shape.rank == 4 else {
        throw CVSegError.invalidArgument("conv2d: input \(x.shape) and weight \(weight.shape) must be rank 4")
    }
    guard groups >= 1, x.shape[1] == weight.shape[1] * groups, weight.shape[0] % groups == 0 else {
        throw CVSegError.invalidArgument("conv2d: input \(x.shape) does not fit weight \(weight.shape) with \(groups) groups")
    }
    if let bias, bias.shape != [weight.shape[0]] {
        throw CVSegError.invalidArgument("conv2d: bias \(bias.shape) for weight \(weight.shape)")
    }
    let c = DNNL.Conv2D(inputShape: x.shape, outChannels: weight.shape[0], kernel: DNNL.Pair(weight.shape[2], weight.shape[3]),
                        stride: stride.pair, padding: padding.padding, dilation: dilation.pair, groups: groups)
    let (xv, wv, owner) = (x.values, weight.values, weight.storage)
    let inference = !x.isRecorded && !weight.isRecorded && !(bias?.isRecorded ?? false)
    let (y, outShape) = try onDNNL("conv2d") { e in
        let shape = try c.outputShape()
        if inference && shape.count * MemoryLayout<Float>.size > ConvolutionBands.outputBytes && shape[2] >= 8 {
            return (try bandedConvolution(e, c, outputShape: shape, input: xv, weight: wv, bias: bias?.values, relu: relu, weightOwner: owner),
                    shape)
        }
        return (try e.conv2dForward(c, input: xv, weight: wv, bias: bias?.values, relu: relu, weightOwner: owner, winograd: inference),
                shape)
    }
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    let hasBias = bias != nil
    let (wantInput, wantWeights) = (x.isRecorded, weight.isRecorded || (bias?.isRecorded ?? false))
    return try result(relu ? "conv2d_relu" : "conv2d", shape: outShape, values: y, inputs: inputs) { g in
        try onDNNL("conv2d backward") { e in
            let gv = relu ? zipValues(g.values, y) { $1 > 0 ? $0 : 0 } : g.values
            let r = try e.conv2dBackward(c, input: wantWeights ? xv : nil, weight: wantInput ? wv : nil, outputGradient: gv,
                                         bias: hasBias, weightOwner: owner)
            var grads: [Tensor?] = [r.input.map { Tensor(shape: x.shape, values: $0) }, r.weight.map { Tensor(shape: weight.shape, values: $0) }]
            if hasBias { grads.append(r.bias.map { Tensor(shape: [weight.shape[0]], values: $0) }) }
            return grads
        }
    }
}

/// When an inference convolution's output exceeds ``outputBytes``, it runs in bands of output
/// rows (``bandedConvolution``): oneDNN's blocked copies of the input and output then exist for
/// one band at a time, so the peak is the plain input and output (the live activations) plus a
/// band's temporaries, instead of the input, the output and a whole blocked copy of the output
/// (FCN inference at 1024²: 419 MiB peak before, see scripts/bench/README.md).
public enum ConvolutionBands {
    /// The output size (bytes) above which inference convolutions run in bands. Settable (for
    /// measurements; set it before running networks, not while they run).
    nonisolated(unsafe) public static var outputBytes = 32 << 20
    /// The output size of one band (bytes; at least 4 rows). Settable as ``outputBytes``.
    nonisolated(unsafe) public static var bandBytes = 4 << 20
}

/// The inference convolution computed band by band: output rows `[r0, r1)` need input rows
/// `[r0·s − top, (r1 − 1)·s − top + (kH − 1)·d + 1)`, clamped to the image, with the clamped
/// rows as the band's own top and bottom padding. The direct kernels compute each output element
/// as the same sum in the same order, so the result equals the one-piece convolution bit for
/// bit; Winograd's transforms round the tiles at a band's edges differently (within 1e-6 of
/// the output's scale; both tested in `ConvolutionBandsTests`). Bands are multiples of 4 rows.
func bandedConvolution(_ e: DNNLEngine, _ c: DNNL.Conv2D, outputShape: Shape, input: [Float], weight: [Float], bias: [Float]?,
                       relu: Bool, weightOwner: AnyObject, bandBytes: Int = ConvolutionBands.bandBytes) throws -> [Float] {
    let (n, cin, h, w) = (c.inputShape[0], c.inputShape[1], c.inputShape[2], c.inputShape[3])
    let (cout, oh, ow) = (outputShape[1], outputShape[2], outputShape[3])
    let rowBytes = n * cout * ow * MemoryLayout<Float>.size
    let rows = min(oh, max(4, bandBytes / max(rowBytes, 1) / 4 * 4))
    let (sh, dh, kh, top) = (c.stride.height, c.dilation.height, c.kernel.height, c.padding.top)
    var y = [Float](repeating: 0, count: outputShape.count)
    var r0 = 0
    while r0 < oh {
        let r1 = min(oh, r0 + rows)
        let i0 = r0 * sh - top, i1 = (r1 - 1) * sh - top + (kh - 1) * dh + 1
        let (lo, hi) = (max(0, i0), min(h, i1))
        var band = [Float](repeating: 0, count: n * cin * (hi - lo) * w)
        for p in 0..<(n * cin) {
            for r in lo..<hi {
                let (src, dst) = ((p * h + r) * w, (p * (hi - lo) + r - lo) * w)
                for k in 0..<w { band[dst + k] = input[src + k] }
            }
        }
        let b = DNNL.Conv2D(inputShape: [n, cin, hi - lo, w], outChannels: cout, kernel: c.kernel, stride: c.stride,
                            padding: DNNL.Padding(top: lo - i0, left: c.padding.left, bottom: i1 - hi, right: c.padding.right),
                            dilation: c.dilation, groups: c.groups)
        let part = try e.conv2dForward(b, input: band, weight: weight, bias: bias, relu: relu, weightOwner: weightOwner, winograd: true)
        let bandRows = r1 - r0
        for p in 0..<(n * cout) {
            for r in 0..<bandRows {
                let (src, dst) = ((p * bandRows + r) * ow, (p * oh + r0 + r) * ow)
                for k in 0..<ow { y[dst + k] = part[src + k] }
            }
        }
        r0 = r1
    }
    return y
}

/// Transposed convolution (deconvolution) as PyTorch's `conv_transpose2d`: input
/// `[N, Cin, H, W]`, weight `[Cin, Cout/groups, kH, kW]`, bias `[Cout]`; output size
/// `(H − 1)·stride − 2·padding + dilation·(k − 1) + outputPadding + 1`.
public func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2 = 1, padding: Size2 = 0,
                            outputPadding: Size2 = 0, dilation: Size2 = 1, groups: Int = 1) throws -> Tensor {
    guard x.shape.rank == 4, weight.shape.rank == 4 else {
        throw CVSegError.invalidArgument("convTranspose2d: input \(x.shape) and weight \(weight.shape) must be rank 4")
    }
    guard groups >= 1, x.shape[1] == weight.shape[0], weight.shape[0] % groups == 0 else {
        throw CVSegError.invalidArgument("convTranspose2d: input \(x.shape) does not fit weight \(weight.shape) with \(groups) groups")
    }
    let outChannels = weight.shape[1] * groups
    if let bias, bias.shape != [outChannels] {
        throw CVSegError.invalidArgument("convTranspose2d: bias \(bias.shape) for \(outChannels) output channels")
    }
    let c = DNNL.ConvTranspose2D(inputShape: x.shape, outChannels: outChannels, kernel: DNNL.Pair(weight.shape[2], weight.shape[3]),
                                 stride: stride.pair, padding: padding.padding, outputPadding: outputPadding.pair,
                                 dilation: dilation.pair, groups: groups)
    let (xv, wv, owner) = (x.values, weight.values, weight.storage)
    let (y, outShape) = try onDNNL("convTranspose2d") { e in
        (try e.convTranspose2dForward(c, input: xv, weight: wv, bias: bias?.values, weightOwner: owner), try c.outputShape())
    }
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    let hasBias = bias != nil
    let (wantInput, wantWeights) = (x.isRecorded, weight.isRecorded || (bias?.isRecorded ?? false))
    return try result("conv_transpose2d", shape: outShape, values: y, inputs: inputs) { g in
        try onDNNL("convTranspose2d backward") { e in
            let r = try e.convTranspose2dBackward(c, input: wantWeights ? xv : nil, weight: wantInput ? wv : nil, outputGradient: g.values,
                                                  bias: hasBias, weightOwner: owner)
            var grads: [Tensor?] = [r.input.map { Tensor(shape: x.shape, values: $0) }, r.weight.map { Tensor(shape: weight.shape, values: $0) }]
            if hasBias { grads.append(r.bias.map { Tensor(shape: [outChannels], values: $0) }) }
            return grads
        }
    }
}

/// Batch normalisation of `[N, C, H, W]` with scale γ and shift β `[C]`.
/// - Parameters:
///   - statistics: nil in training (batch statistics are used and returned); the running
///     `(mean, variance)` in inference.
/// - Returns: the output, and in training the batch mean and the *biased* batch variance (PyTorch
///   updates its running variance with the unbiased one: multiply by m/(m − 1), m = N·H·W).
public func batchNorm(_ x: Tensor, scale: Tensor, shift: Tensor, statistics: (mean: [Float], variance: [Float])?,
                      epsilon: Float = 1e-5) throws -> (output: Tensor, mean: [Float], variance: [Float]) {
    guard x.shape.rank == 4, scale.shape == [x.shape[1]], shift.shape == [x.shape[1]] else {
        throw CVSegError.invalidArgument("batchNorm: input \(x.shape), scale \(scale.shape), shift \(shift.shape) (need [N, C, H, W], [C], [C])")
    }
    let b = DNNL.BatchNorm(inputShape: x.shape, epsilon: epsilon)
    let (xv, sv, hv) = (x.values, scale.values, shift.values)
    let (y, mean, variance): ([Float], [Float], [Float]) = try onDNNL("batchNorm") { e in
        if let statistics {
            // y = γ·(x − μ)/√(σ² + ε) + β per channel: a pass over memory, faster in Swift than
            // oneDNN's plain-layout batch norm (1.1 ms against 0.1 ms on 1×64×128×128).
            let c = try b.validated("batchNormInferenceForward")
            for (v, name) in [(statistics.mean, "mean"), (statistics.variance, "variance")] where v.count != c {
                throw DNNLError.invalid("batchNormInferenceForward", "\(name) has \(v.count) elements, expected \(c)")
            }
            return (batchNormInference(xv, shape: x.shape, scale: sv, shift: hv, mean: statistics.mean,
                                       variance: statistics.variance, epsilon: epsilon), statistics.mean, statistics.variance)
        }
        return try e.batchNormTrainingForward(b, input: xv, scale: sv, shift: hv)
    }
    let mode: DNNL.Mode = statistics == nil ? .training : .inference
    let out = try result("batch_norm", shape: x.shape, values: y, inputs: [x, scale, shift]) { g in
        let (dx, ds, dh) = try onDNNL("batchNorm backward") { e in
            try e.batchNormBackward(b, input: xv, outputGradient: g.values, scale: sv, mean: mean, variance: variance, statistics: mode)
        }
        return [Tensor(shape: x.shape, values: dx), Tensor(shape: scale.shape, values: ds), Tensor(shape: shift.shape, values: dh)]
    }
    return (out, mean, variance)
}

/// Local response normalisation across channels as PyTorch's `local_response_norm`
/// (`b = a / (k + α/size · Σ a²)^β` over `size` neighbouring channels; `size` odd).
public func localResponseNorm(_ x: Tensor, size: Int, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1) throws -> Tensor {
    let l = DNNL.LRN(inputShape: x.shape, size: size, alpha: alpha, beta: beta, k: k)
    let xv = x.values
    let recorded = x.isRecorded
    let (y, workspace) = try onDNNL("localResponseNorm") { e in try e.lrnForward(l, input: xv, mode: recorded ? .training : .inference) }
    return try result("local_response_norm", shape: x.shape, values: y, inputs: [x]) { g in
        [Tensor(shape: x.shape, values: try onDNNL("localResponseNorm backward") { e in
            try e.lrnBackward(l, input: xv, outputGradient: g.values, workspace: workspace)
        })]
    }
}

/// `y = (x − μ_c)·γ_c/√(σ²_c + ε) + β_c` on `[N, C, H, W]` (oneDNN's formula, in Swift).
func batchNormInference(_ x: [Float], shape: Shape, scale: [Float], shift: [Float], mean: [Float], variance: [Float],
                        epsilon: Float) -> [Float] {
    let (n, c) = (shape[0], shape[1])
    let hw = shape[2] * shape[3]
    return [Float](unsafeUninitializedCapacity: x.count) { yb, count in
        x.withUnsafeBufferPointer { xb in
            for i in 0..<n {
                for j in 0..<c {
                    let a = scale[j] / (variance[j] + epsilon).squareRoot(), m = mean[j], b = shift[j]
                    let px = xb.baseAddress! + (i * c + j) * hw, py = yb.baseAddress! + (i * c + j) * hw
                    for k in 0..<hw { py[k] = (px[k] - m) * a + b }
                }
            }
        }
        count = x.count
    }
}
