internal import CDNNL

extension DNNL {
    /// A 2-D convolution with PyTorch's `conv2d` semantics.
    ///
    /// - input `[N, Cin, H, W]`, weight `[Cout, Cin/groups, kH, kW]`, bias `[Cout]`,
    ///   output `[N, Cout, Hout, Wout]` with
    ///   `Hout = ⌊(H + top + bottom − dilation·(kH − 1) − 1) / stride⌋ + 1` (likewise `Wout`).
    /// - `dilation` 1 is a dense kernel (PyTorch); oneDNN is given `dilation − 1`.
    /// - Padding may differ on each side (`Padding(top:left:bottom:right:)`); PyTorch's
    ///   `padding=p` is `Padding(p, p)`. Negative padding is refused by oneDNN
    ///   (`dnnl_dilated_convolution_forward_desc_init`: invalid arguments).
    package struct Conv2D: Hashable, Sendable {
        package var inputShape: Shape
        package var outChannels: Int
        package var kernel: Pair
        package var stride: Pair
        package var padding: Padding
        package var dilation: Pair
        package var groups: Int

        package init(inputShape: Shape, outChannels: Int, kernel: Pair, stride: Pair = .square(1),
                     padding: Padding = .zero, dilation: Pair = .square(1), groups: Int = 1) {
            self.inputShape = inputShape; self.outChannels = outChannels; self.kernel = kernel
            self.stride = stride; self.padding = padding; self.dilation = dilation; self.groups = groups
        }

        /// `[N, Cout, Hout, Wout]`. - Throws: ``DNNLError`` for an invalid configuration.
        package func outputShape() throws -> Shape { try geometry("outputShape").output }
        /// `[Cout, Cin/groups, kH, kW]`. - Throws: ``DNNLError`` for an invalid configuration.
        package func weightShape() throws -> Shape { try geometry("weightShape").weight }
    }

    /// A 2-D transposed convolution with PyTorch's `conv_transpose2d` semantics.
    ///
    /// - input `[N, Cin, H, W]`, weight `[Cin, Cout/groups, kH, kW]` (PyTorch's layout), bias
    ///   `[Cout]`, output `[N, Cout, Hout, Wout]` with
    ///   `Hout = (H − 1)·stride − top − bottom + dilation·(kH − 1) + outputPadding + 1`.
    /// - `outputPadding` adds rows at the bottom and columns at the right only; as in PyTorch it
    ///   must be smaller than the stride or the dilation. oneDNN has no such parameter: its
    ///   deconvolution gets bottom/right padding `bottom − outputPadding` (negative when
    ///   `outputPadding > bottom`, which oneDNN accepts and computes as extra output rows).
    package struct ConvTranspose2D: Hashable, Sendable {
        package var inputShape: Shape
        package var outChannels: Int
        package var kernel: Pair
        package var stride: Pair
        package var padding: Padding
        package var outputPadding: Pair
        package var dilation: Pair
        package var groups: Int

        package init(inputShape: Shape, outChannels: Int, kernel: Pair, stride: Pair = .square(1), padding: Padding = .zero,
                     outputPadding: Pair = .square(0), dilation: Pair = .square(1), groups: Int = 1) {
            self.inputShape = inputShape; self.outChannels = outChannels; self.kernel = kernel; self.stride = stride
            self.padding = padding; self.outputPadding = outputPadding; self.dilation = dilation; self.groups = groups
        }

        /// `[N, Cout, Hout, Wout]`. - Throws: ``DNNLError`` for an invalid configuration.
        package func outputShape() throws -> Shape { try geometry("outputShape").output }
        /// `[Cin, Cout/groups, kH, kW]`. - Throws: ``DNNLError`` for an invalid configuration.
        package func weightShape() throws -> Shape { try geometry("weightShape").weight }
    }
}

/// Validated sizes of a convolution and the arrays oneDNN takes.
struct ConvGeometry {
    var input: Shape, output: Shape, weight: Shape
    /// oneDNN's logical weight dims (`[G, O/G, I/G, kH, kW]`, or `[O, I, kH, kW]` for one group)
    /// and the tag that maps them onto PyTorch's layout.
    var dnnlWeightDims: [Int]
    var weightTag: dnnl_format_tag_t
    var strides: [Int64], dilates: [Int64], paddingL: [Int64], paddingR: [Int64]
}

/// Checks shared by both convolutions; returns input dims.
private func checkConv(_ inputShape: Shape, _ outChannels: Int, _ kernel: DNNL.Pair, _ stride: DNNL.Pair,
                       _ padding: DNNL.Padding, _ dilation: DNNL.Pair, _ groups: Int,
                       transposed: Bool, _ function: String) throws -> (n: Int, c: Int, h: Int, w: Int) {
    let x = try DNNL.nchw(inputShape, "input", function)
    guard outChannels >= 1 else { throw DNNLError.invalid(function, "output channels \(outChannels) < 1") }
    guard kernel.height >= 1, kernel.width >= 1 else { throw DNNLError.invalid(function, "kernel \(kernel) has a size < 1") }
    guard stride.height >= 1, stride.width >= 1 else { throw DNNLError.invalid(function, "stride \(stride) has a value < 1") }
    guard dilation.height >= 1, dilation.width >= 1 else {
        throw DNNLError.invalid(function, "dilation \(dilation) has a value < 1 (1 is a dense kernel)")
    }
    // Negative padding: oneDNN's convolution refuses it (dnnl_invalid_arguments), but its
    // deconvolution accepts it as cropping, and is given negative bottom/right padding for output
    // padding, so the transposed case is checked here.
    guard !transposed || min(padding.top, padding.left, padding.bottom, padding.right) >= 0 else {
        throw DNNLError.invalid(function, "negative padding \(padding)")
    }
    guard groups >= 1, x.c % groups == 0, outChannels % groups == 0 else {
        throw DNNLError.invalid(function, "groups \(groups) must divide input channels \(x.c) and output channels \(outChannels)")
    }
    return x
}

extension DNNL.Conv2D {
    func geometry(_ function: String) throws -> ConvGeometry {
        let x = try checkConv(inputShape, outChannels, kernel, stride, padding, dilation, groups, transposed: false, function)
        func extent(_ size: Int, _ before: Int, _ after: Int, _ k: Int, _ s: Int, _ d: Int, _ axis: String) throws -> Int {
            let room = size + before + after - d * (k - 1) - 1
            guard room >= 0 else {
                throw DNNLError.invalid(function, "output \(axis) would be < 1: dilated kernel \(d * (k - 1) + 1) exceeds padded input \(size + before + after)")
            }
            return room / s + 1
        }
        let oh = try extent(x.h, padding.top, padding.bottom, kernel.height, stride.height, dilation.height, "height")
        let ow = try extent(x.w, padding.left, padding.right, kernel.width, stride.width, dilation.width, "width")
        let g = groups, o = outChannels, i = x.c
        return ConvGeometry(
            input: inputShape, output: [x.n, o, oh, ow], weight: [o, i / g, kernel.height, kernel.width],
            dnnlWeightDims: g == 1 ? [o, i, kernel.height, kernel.width] : [g, o / g, i / g, kernel.height, kernel.width],
            weightTag: g == 1 ? dnnl_oihw : dnnl_goihw,
            strides: [stride.height, stride.width].map(Int64.init),
            dilates: [dilation.height - 1, dilation.width - 1].map(Int64.init),
            paddingL: [padding.top, padding.left].map(Int64.init),
            paddingR: [padding.bottom, padding.right].map(Int64.init))
    }
}

extension DNNL.ConvTranspose2D {
    func geometry(_ function: String) throws -> ConvGeometry {
        let x = try checkConv(inputShape, outChannels, kernel, stride, padding, dilation, groups, transposed: true, function)
        func extent(_ size: Int, _ before: Int, _ after: Int, _ k: Int, _ s: Int, _ d: Int, _ extra: Int, _ axis: String) throws -> Int {
            guard extra >= 0, extra < max(s, d) else {
                throw DNNLError.invalid(function, "output padding \(extra) (\(axis)) must be ≥ 0 and smaller than the stride \(s) or the dilation \(d)")
            }
            let out = (size - 1) * s - before - after + d * (k - 1) + extra + 1
            guard out >= 1 else { throw DNNLError.invalid(function, "output \(axis) would be \(out): padding \(before)+\(after) too large") }
            return out
        }
        let oh = try extent(x.h, padding.top, padding.bottom, kernel.height, stride.height, dilation.height, outputPadding.height, "height")
        let ow = try extent(x.w, padding.left, padding.right, kernel.width, stride.width, dilation.width, outputPadding.width, "width")
        let g = groups, o = outChannels, i = x.c
        // oneDNN's deconvolution weights are logically [G, O/G, I/G, kH, kW] (O = this layer's
        // output channels); PyTorch stores [I, O/G, kH, kW] = physically (g, i, o, h, w): "giohw".
        return ConvGeometry(
            input: inputShape, output: [x.n, o, oh, ow], weight: [i, o / g, kernel.height, kernel.width],
            dnnlWeightDims: g == 1 ? [o, i, kernel.height, kernel.width] : [g, o / g, i / g, kernel.height, kernel.width],
            weightTag: g == 1 ? dnnl_iohw : dnnl_giohw,
            strides: [stride.height, stride.width].map(Int64.init),
            dilates: [dilation.height - 1, dilation.width - 1].map(Int64.init),
            paddingL: [padding.top, padding.left].map(Int64.init),
            paddingR: [padding.bottom - outputPadding.height, padding.right - outputPadding.width].map(Int64.init))
    }
}

extension DNNLEngine {
    // MARK: Convolution

    /// Convolution forward: `output = conv(input, weight) + bias`, and `max(·, 0)` of that when
    /// `relu` (a fused post-op).
    /// - Parameters: input `[N, Cin, H, W]`; weight `[Cout, Cin/groups, kH, kW]`; bias `[Cout]` or nil;
    ///   `weightOwner`: the immutable object that owns `weight`'s elements (a tensor's storage);
    ///   when given, the weights reordered into oneDNN's layout are cached against it.
    ///   `winograd`: use oneDNN's Winograd F(4×4, 3×3) (or F(2×2, 3×3)) kernel for inference where
    ///   it applies (3×3, stride 1, no dilation, one group, channels multiples of 16), with the
    ///   weights pre-transformed once (cached with `weightOwner`); 2–2.5× faster than the direct
    ///   kernel on 64–256 channels. Its transforms round differently from direct summation: on
    ///   the bench's FCN the output moves by 4e-7 of its scale; see `winogradConvolutionMatchesReference`.
    /// - Returns: `[N, Cout, Hout, Wout]` (see ``DNNL/Conv2D``).
    /// - Throws: ``DNNLError`` for an invalid configuration or wrong buffer sizes.
    package func conv2dForward(_ c: DNNL.Conv2D, input: [Float], weight: [Float], bias: [Float]? = nil, relu: Bool = false,
                               weightOwner: AnyObject? = nil, winograd: Bool = false) throws -> [Float] {
        let g = try c.geometry("conv2dForward")
        // Winograd where oneDNN has it (3×3, stride 1, dense, one group; channels in whole
        // 16-lane blocks: with 3 input channels it is 8× slower than the direct kernel).
        if winograd && c.kernel == .square(3) && c.stride == .square(1) && c.dilation == .square(1) && c.groups == 1
            && c.inputShape[1] % 16 == 0 && c.outChannels % 16 == 0 {
            let key: ConvKey = { .convolution(c, $0, bias: $1, relu: $0 == .forward && relu, winograd: $0 == .forward) }
            let built: Bool
            if isUnavailable(key(.forward, bias != nil)) {
                built = false
            } else {
                do {
                    _ = try convPrimitive(g, transposed: false, key, .forward, bias: bias != nil, relu: relu, winograd: true)
                    built = true
                } catch {  // no Winograd implementation here (no AVX-512, …): remember, use the direct one
                    markUnavailable(key(.forward, bias != nil))
                    built = false
                }
            }
            if built {
                return try convForward(g, transposed: false, key, input: input, weight: weight, bias: bias, relu: relu,
                                       weightOwner: weightOwner, winograd: true, "conv2dForward")
            }
        }
        return try convForward(g, transposed: false, { .convolution(c, $0, bias: $1, relu: $0 == .forward && relu) },
                               input: input, weight: weight, bias: bias, relu: relu, weightOwner: weightOwner, "conv2dForward")
    }

    /// Gradient of the convolution's input.
    /// - Parameters: weight `[Cout, Cin/groups, kH, kW]`; outputGradient `[N, Cout, Hout, Wout]`.
    /// - Returns: `[N, Cin, H, W]`.
    package func conv2dBackwardData(_ c: DNNL.Conv2D, weight: [Float], outputGradient: [Float]) throws -> [Float] {
        try conv2dBackward(c, input: nil, weight: weight, outputGradient: outputGradient, bias: false).input!
    }

    /// Gradients of the convolution's weight and (when `bias`) bias.
    /// - Parameters: input `[N, Cin, H, W]`; outputGradient `[N, Cout, Hout, Wout]`.
    /// - Returns: weight gradient `[Cout, Cin/groups, kH, kW]`; bias gradient `[Cout]` or nil.
    package func conv2dBackwardWeights(_ c: DNNL.Conv2D, input: [Float], outputGradient: [Float],
                                       bias: Bool) throws -> (weight: [Float], bias: [Float]?) {
        let g = try conv2dBackward(c, input: input, weight: nil, outputGradient: outputGradient, bias: bias)
        return (g.weight!, g.bias)
    }

    /// The convolution's gradients in one call: the input's when `weight` is given, the weight's
    /// (and the bias's when `bias`) when `input` is given. The output gradient is reordered into
    /// oneDNN's layout once for both.
    package func conv2dBackward(_ c: DNNL.Conv2D, input: [Float]?, weight: [Float]?, outputGradient: [Float], bias: Bool,
                                weightOwner: AnyObject? = nil) throws -> (input: [Float]?, weight: [Float]?, bias: [Float]?) {
        try convBackward(try c.geometry("conv2dBackward"), transposed: false, { .convolution(c, $0, bias: $1) }, input: input,
                         weight: weight, outputGradient: outputGradient, bias: bias, weightOwner: weightOwner, "conv2dBackward")
    }

    // MARK: Transposed convolution

    /// Transposed convolution forward (PyTorch `conv_transpose2d`).
    /// - Parameters: input `[N, Cin, H, W]`; weight `[Cin, Cout/groups, kH, kW]`; bias `[Cout]` or nil;
    ///   `weightOwner` as for ``conv2dForward(_:input:weight:bias:relu:weightOwner:)``.
    /// - Returns: `[N, Cout, Hout, Wout]` (see ``DNNL/ConvTranspose2D``).
    package func convTranspose2dForward(_ c: DNNL.ConvTranspose2D, input: [Float], weight: [Float], bias: [Float]? = nil,
                                        weightOwner: AnyObject? = nil) throws -> [Float] {
        try convForward(try c.geometry("convTranspose2dForward"), transposed: true, { .transposedConvolution(c, $0, bias: $1) },
                        input: input, weight: weight, bias: bias, relu: false, weightOwner: weightOwner, "convTranspose2dForward")
    }

    /// Gradient of the transposed convolution's input.
    /// - Parameters: weight `[Cin, Cout/groups, kH, kW]`; outputGradient `[N, Cout, Hout, Wout]`.
    /// - Returns: `[N, Cin, H, W]`.
    package func convTranspose2dBackwardData(_ c: DNNL.ConvTranspose2D, weight: [Float], outputGradient: [Float]) throws -> [Float] {
        try convTranspose2dBackward(c, input: nil, weight: weight, outputGradient: outputGradient, bias: false).input!
    }

    /// Gradients of the transposed convolution's weight and (when `bias`) bias.
    /// - Returns: weight gradient `[Cin, Cout/groups, kH, kW]`; bias gradient `[Cout]` or nil.
    package func convTranspose2dBackwardWeights(_ c: DNNL.ConvTranspose2D, input: [Float], outputGradient: [Float],
                                                bias: Bool) throws -> (weight: [Float], bias: [Float]?) {
        let g = try convTranspose2dBackward(c, input: input, weight: nil, outputGradient: outputGradient, bias: bias)
        return (g.weight!, g.bias)
    }

    /// The transposed convolution's gradients in one call (see ``conv2dBackward(_:input:weight:outputGradient:bias:weightOwner:)``).
    package func convTranspose2dBackward(_ c: DNNL.ConvTranspose2D, input: [Float]?, weight: [Float]?, outputGradient: [Float],
                                         bias: Bool, weightOwner: AnyObject? = nil) throws -> (input: [Float]?, weight: [Float]?, bias: [Float]?) {
        try convBackward(try c.geometry("convTranspose2dBackward"), transposed: true, { .transposedConvolution(c, $0, bias: $1) },
                         input: input, weight: weight, outputGradient: outputGradient, bias: bias, weightOwner: weightOwner,
                         "convTranspose2dBackward")
    }

    // MARK: Shared

    private typealias ConvKey = (PrimitiveKey.ConvPass, Bool) -> PrimitiveKey

    /// The cached primitive for one pass; backward passes build (or reuse) their forward hint.
    ///
    /// Source, weights and destination are given to oneDNN as `format_tag_any`, so that it picks
    /// its blocked layouts (`nChw16c`, `OIhw16i16o`, … and the direct `jit:avx512_core` kernels)
    /// instead of im2col + GEMM on plain NCHW; the primitive carries the reorders from and to the
    /// plain layouts (see ``DNNLPrimitive/reorders``).
    private func convPrimitive(_ g: ConvGeometry, transposed: Bool, _ key: ConvKey,
                               _ pass: PrimitiveKey.ConvPass, bias: Bool, relu: Bool = false, winograd: Bool = false) throws -> DNNLPrimitive {
        try primitive(key(pass, bias)) {
            let plainSrc = try memoryDesc(g.input.dims, dnnl_nchw)
            let plainDst = try memoryDesc(g.output.dims, dnnl_nchw)
            let plainWei = try memoryDesc(g.dnnlWeightDims, g.weightTag)
            var src = try memoryDesc(g.input.dims, dnnl_format_tag_any)
            var dst = try memoryDesc(g.output.dims, dnnl_format_tag_any)
            var wei = try memoryDesc(g.dnnlWeightDims, dnnl_format_tag_any)
            var b = try memoryDesc([g.output[1]], dnnl_a)
            var desc = dnnl_convolution_desc_t()
            let kind = transposed ? "deconvolution" : "convolution"
            let name = switch pass {
            case .forward: "dnnl_dilated_\(kind)_forward_desc_init"
            case .backwardData: "dnnl_dilated_\(kind)_backward_data_desc_init"
            case .backwardWeights: "dnnl_dilated_\(kind)_backward_weights_desc_init"
            }
            let status = withUnsafePointer(to: &b) { pb in
                let biasDesc = bias ? pb : nil
                switch (transposed, pass) {
                case (false, .forward):
                    return dnnl_dilated_convolution_forward_desc_init(&desc, winograd ? dnnl_forward_inference : dnnl_forward_training,
                                                                      winograd ? dnnl_convolution_winograd : dnnl_convolution_direct, &src, &wei,
                                                                      biasDesc, &dst, g.strides, g.dilates, g.paddingL, g.paddingR)
                case (false, .backwardData):
                    return dnnl_dilated_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct, &src, &wei, &dst,
                                                                            g.strides, g.dilates, g.paddingL, g.paddingR)
                case (false, .backwardWeights):
                    return dnnl_dilated_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct, &src, &wei, biasDesc,
                                                                               &dst, g.strides, g.dilates, g.paddingL, g.paddingR)
                case (true, .forward):
                    return dnnl_dilated_deconvolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_deconvolution_direct, &src,
                                                                        &wei, biasDesc, &dst, g.strides, g.dilates, g.paddingL, g.paddingR)
                case (true, .backwardData):
                    return dnnl_dilated_deconvolution_backward_data_desc_init(&desc, dnnl_deconvolution_direct, &src, &wei, &dst,
                                                                              g.strides, g.dilates, g.paddingL, g.paddingR)
                case (true, .backwardWeights):
                    return dnnl_dilated_deconvolution_backward_weights_desc_init(&desc, dnnl_deconvolution_direct, &src, &wei, biasDesc,
                                                                                 &dst, g.strides, g.dilates, g.paddingL, g.paddingR)
                }
            }
            try dnnlCheck(status, name, "input \(g.input), output \(g.output), weight \(g.weight)")
            let hint = pass == .forward ? nil
                : try convPrimitive(g, transposed: transposed, key, .forward, bias: pass == .backwardWeights && bias)
            let plain: [(arg: Int32, md: dnnl_memory_desc_t, input: Bool)] = switch pass {
            case .forward: [(DNNL_ARG_SRC, plainSrc, true), (DNNL_ARG_WEIGHTS, plainWei, true), (DNNL_ARG_DST, plainDst, false)]
            case .backwardData: [(DNNL_ARG_DIFF_SRC, plainSrc, false), (DNNL_ARG_WEIGHTS, plainWei, true), (DNNL_ARG_DIFF_DST, plainDst, true)]
            case .backwardWeights: [(DNNL_ARG_SRC, plainSrc, true), (DNNL_ARG_DIFF_WEIGHTS, plainWei, false), (DNNL_ARG_DIFF_DST, plainDst, true)]
            }
            return try makePrimitive(kind, &desc, hint: hint, relu: relu, plain: plain)
        }
    }

    private func convForward(_ g: ConvGeometry, transposed: Bool, _ key: ConvKey, input: [Float], weight: [Float],
                             bias: [Float]?, relu: Bool, weightOwner: AnyObject?, winograd: Bool = false, _ function: String) throws -> [Float] {
        try checkCount(input, g.input.count, "input \(g.input)", function)
        try checkCount(weight, g.weight.count, "weight \(g.weight)", function)
        if let bias { try checkCount(bias, g.output[1], "bias", function) }
        let p = try convPrimitive(g, transposed: transposed, key, .forward, bias: bias != nil, relu: relu, winograd: winograd)
        let inputs = bias.map { [input, weight, $0] } ?? [input, weight]
        var y: [Float] = []
        _ = try withBuffers(inputs, outputs: []) { ins, _ in
            var args: [(arg: Int32, input: LayoutInput)] = [(DNNL_ARG_SRC, .plain(ins[0], owner: nil)),
                                                           (DNNL_ARG_WEIGHTS, .plain(ins[1], owner: weightOwner))]
            if bias != nil { args.append((DNNL_ARG_BIAS, .plain(ins[2], owner: nil))) }
            y = try executeReordering(p, function, inputs: args, outputs: [(DNNL_ARG_DST, g.output.count)])[0]
        }
        return y
    }

    private func convBackward(_ g: ConvGeometry, transposed: Bool, _ key: ConvKey, input: [Float]?, weight: [Float]?,
                              outputGradient: [Float], bias: Bool, weightOwner: AnyObject?,
                              _ function: String) throws -> (input: [Float]?, weight: [Float]?, bias: [Float]?) {
        if let input { try checkCount(input, g.input.count, "input \(g.input)", function) }
        if let weight { try checkCount(weight, g.weight.count, "weight \(g.weight)", function) }
        try checkCount(outputGradient, g.output.count, "output gradient \(g.output)", function)
        let data = weight == nil ? nil : try convPrimitive(g, transposed: transposed, key, .backwardData, bias: false)
        let weights = input == nil ? nil : try convPrimitive(g, transposed: transposed, key, .backwardWeights, bias: bias)
        var dx: [Float]?, dw: [Float]?, db: [Float]?
        try outputGradient.withUnsafeBytes { gb in
            // The output gradient in oneDNN's layout once, when both passes chose the same one.
            var shared: UnsafeMutableRawBufferPointer?
            defer { if let shared { returnTemporary(shared) } }
            if let data, let weights, let r = data.reorders[DNNL_ARG_DIFF_DST], weights.reorders[DNNL_ARG_DIFF_DST] != nil,
               let pd = data.descriptor, let pw = weights.descriptor,
               let a = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, DNNL_ARG_DIFF_DST),
               let b = dnnl_primitive_desc_query_md(pw, dnnl_query_exec_arg_md, DNNL_ARG_DIFF_DST), dnnl_memory_desc_equal(a, b) != 0 {
                let t = takeTemporary(dnnl_memory_desc_get_size(a))
                shared = t
                try execute(r, "\(function) reorder", [Argument(DNNL_ARG_SRC, gb), Argument(DNNL_ARG_DST, t)])
            }
            let diffDst: LayoutInput = shared.map { .chosen(UnsafeRawBufferPointer($0)) } ?? .plain(gb, owner: nil)
            if let data, let weight {
                dx = try weight.withUnsafeBytes { wb in
                    try executeReordering(data, function, inputs: [(DNNL_ARG_WEIGHTS, .plain(wb, owner: weightOwner)),
                                                                   (DNNL_ARG_DIFF_DST, diffDst)],
                                          outputs: [(DNNL_ARG_DIFF_SRC, g.input.count)])[0]
                }
            }
            if let weights, let input {
                var results = [(arg: DNNL_ARG_DIFF_WEIGHTS, count: g.weight.count)]
                if bias { results.append((DNNL_ARG_DIFF_BIAS, g.output[1])) }
                let outs = try input.withUnsafeBytes { xb in
                    try executeReordering(weights, function, inputs: [(DNNL_ARG_SRC, .plain(xb, owner: nil)), (DNNL_ARG_DIFF_DST, diffDst)],
                                          outputs: results)
                }
                dw = outs[0]
                db = bias ? outs[1] : nil
            }
        }
        return (dx, dw, db)
    }
}
