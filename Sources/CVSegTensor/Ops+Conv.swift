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
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2 = 1, padding: Size2 = 0,
                   dilation: Size2 = 1, groups: Int = 1) throws -> Tensor {
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
    let (xv, wv) = (x.values, weight.values)
    let (y, outShape) = try onDNNL("conv2d") { e in
        (try e.conv2dForward(c, input: xv, weight: wv, bias: bias?.values), try c.outputShape())
    }
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    let hasBias = bias != nil
    return try result("conv2d", shape: outShape, values: y, inputs: inputs) { g in
        try onDNNL("conv2d backward") { e in
            let dx = try e.conv2dBackwardData(c, weight: wv, outputGradient: g.values)
            let (dw, db) = try e.conv2dBackwardWeights(c, input: xv, outputGradient: g.values, bias: hasBias)
            var grads: [Tensor?] = [Tensor(shape: x.shape, values: dx), Tensor(shape: weight.shape, values: dw)]
            if hasBias, let db { grads.append(Tensor(shape: [weight.shape[0]], values: db)) }
            return grads
        }
    }
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
    let (xv, wv) = (x.values, weight.values)
    let (y, outShape) = try onDNNL("convTranspose2d") { e in
        (try e.convTranspose2dForward(c, input: xv, weight: wv, bias: bias?.values), try c.outputShape())
    }
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    let hasBias = bias != nil
    return try result("conv_transpose2d", shape: outShape, values: y, inputs: inputs) { g in
        try onDNNL("convTranspose2d backward") { e in
            let dx = try e.convTranspose2dBackwardData(c, weight: wv, outputGradient: g.values)
            let (dw, db) = try e.convTranspose2dBackwardWeights(c, input: xv, outputGradient: g.values, bias: hasBias)
            var grads: [Tensor?] = [Tensor(shape: x.shape, values: dx), Tensor(shape: weight.shape, values: dw)]
            if hasBias, let db { grads.append(Tensor(shape: [outChannels], values: db)) }
            return grads
        }
    }
}

/// Max pooling as PyTorch's `max_pool2d` (stride defaults to the kernel; padding counts as −∞),
/// with the flat index `h·W + w` of each maximum within its input plane when `returnIndices`
/// (for ``maxUnpool(_:indices:height:width:)``).
public func maxPool2d(_ x: Tensor, kernel: Size2, stride: Size2? = nil, padding: Size2 = 0, dilation: Size2 = 1,
                      returnIndices: Bool = false) throws -> (output: Tensor, indices: [Int32]?) {
    guard x.shape.rank == 4 else { throw CVSegError.invalidArgument("maxPool2d: needs [N, C, H, W], got \(x.shape)") }
    let p = DNNL.Pool2D(inputShape: x.shape, kernel: kernel.pair, stride: stride?.pair, padding: padding.padding, dilation: dilation.pair)
    let recorded = x.isRecorded
    let xv = x.values
    let (r, outShape) = try onDNNL("maxPool2d") { e in
        (try e.maxPool2dForward(p, input: xv, mode: recorded ? .training : .inference, indices: returnIndices), try p.outputShape())
    }
    let workspace = r.workspace
    let y = try result("max_pool2d", shape: outShape, values: r.output, inputs: [x]) { g in
        guard let workspace else { throw CVSegError.invalidArgument("maxPool2d backward: no workspace recorded") }
        return [Tensor(shape: x.shape, values: try onDNNL("maxPool2d backward") { e in
            try e.maxPool2dBackward(p, outputGradient: g.values, workspace: workspace)
        })]
    }
    return (y, r.indices)
}

/// Average pooling as PyTorch's `avg_pool2d` (`count_include_pad` = `countIncludePadding`).
public func avgPool2d(_ x: Tensor, kernel: Size2, stride: Size2? = nil, padding: Size2 = 0,
                      countIncludePadding: Bool = true) throws -> Tensor {
    guard x.shape.rank == 4 else { throw CVSegError.invalidArgument("avgPool2d: needs [N, C, H, W], got \(x.shape)") }
    let p = DNNL.Pool2D(inputShape: x.shape, kernel: kernel.pair, stride: stride?.pair, padding: padding.padding)
    let xv = x.values
    let (y, outShape) = try onDNNL("avgPool2d") { e in
        (try e.avgPool2dForward(p, input: xv, countIncludePadding: countIncludePadding), try p.outputShape())
    }
    return try result("avg_pool2d", shape: outShape, values: y, inputs: [x]) { g in
        [Tensor(shape: x.shape, values: try onDNNL("avgPool2d backward") { e in
            try e.avgPool2dBackward(p, outputGradient: g.values, countIncludePadding: countIncludePadding)
        })]
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
            return (try e.batchNormInferenceForward(b, input: xv, scale: sv, shift: hv, mean: statistics.mean,
                                                    variance: statistics.variance), statistics.mean, statistics.variance)
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
