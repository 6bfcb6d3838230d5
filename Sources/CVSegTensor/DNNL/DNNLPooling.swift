internal import CDNNL

extension DNNL {
    /// A 2-D pooling window with PyTorch's `max_pool2d` / `avg_pool2d` semantics.
    ///
    /// input `[N, C, H, W]`, output `[N, C, Hout, Wout]` with
    /// `Hout = ⌊(H + top + bottom − dilation·(kH − 1) − 1) / stride⌋ + 1`.
    /// PyTorch's `ceil_mode=True` is expressed by enlarging `bottom`/`right` until the floor
    /// formula gives the ceil size.
    ///
    /// Checked as PyTorch does: top and left padding at most `kernel / 2`, and the last window
    /// starts inside the input or the top/left padding, so every window sees an input element.
    package struct Pool2D: Hashable, Sendable {
        package var inputShape: Shape
        package var kernel: Pair
        package var stride: Pair
        package var padding: Padding
        package var dilation: Pair

        /// `stride` defaults to the kernel size, as in PyTorch.
        package init(inputShape: Shape, kernel: Pair, stride: Pair? = nil, padding: Padding = .zero, dilation: Pair = .square(1)) {
            self.inputShape = inputShape; self.kernel = kernel; self.stride = stride ?? kernel
            self.padding = padding; self.dilation = dilation
        }

        /// `[N, C, Hout, Wout]`. - Throws: ``DNNLError`` for an invalid configuration.
        package func outputShape() throws -> Shape { try validated("outputShape") }

        func validated(_ function: String) throws -> Shape {
            let x = try DNNL.nchw(inputShape, "input", function)
            guard kernel.height >= 1, kernel.width >= 1, stride.height >= 1, stride.width >= 1,
                  dilation.height >= 1, dilation.width >= 1 else {
                throw DNNLError.invalid(function, "kernel \(kernel), stride \(stride) and dilation \(dilation) must be ≥ 1")
            }
            guard min(padding.top, padding.left, padding.bottom, padding.right) >= 0 else {
                throw DNNLError.invalid(function, "negative padding \(padding)")
            }
            guard padding.top <= kernel.height / 2, padding.left <= kernel.width / 2 else {
                throw DNNLError.invalid(function, "top/left padding \(padding) must be at most half the kernel \(kernel)")
            }
            func extent(_ size: Int, _ before: Int, _ after: Int, _ k: Int, _ s: Int, _ d: Int, _ axis: String) throws -> Int {
                let room = size + before + after - d * (k - 1) - 1
                guard room >= 0 else {
                    throw DNNLError.invalid(function, "output \(axis) would be < 1: window \(d * (k - 1) + 1) exceeds padded input \(size + before + after)")
                }
                let out = room / s + 1
                guard (out - 1) * s < size + before else {
                    throw DNNLError.invalid(function, "the last \(axis) window starts in the bottom/right padding")
                }
                return out
            }
            let oh = try extent(x.h, padding.top, padding.bottom, kernel.height, stride.height, dilation.height, "height")
            let ow = try extent(x.w, padding.left, padding.right, kernel.width, stride.width, dilation.width, "width")
            return [x.n, x.c, oh, ow]
        }
    }

    /// What max pooling forward returns.
    package struct MaxPoolResult: Sendable {
        /// `[N, C, Hout, Wout]`.
        package var output: [Float]
        /// oneDNN's record of the maxima for ``DNNLEngine/maxPool2dBackward(_:outputGradient:workspace:)``
        /// (training mode only).
        package var workspace: Workspace?
        /// `[N, C, Hout, Wout]`: for each output, the flat index `h·W + w` of its maximum within its
        /// input plane, as PyTorch's `max_pool2d(return_indices=True)` (first maximum in window
        /// order; a NaN wins, the last one seen). nil unless requested.
        package var indices: [Int32]?
    }
}

extension DNNLEngine {
    /// Max pooling forward.
    /// - Parameters:
    ///   - input: `[N, C, H, W]`.
    ///   - mode: `.training` also returns the workspace that backward needs.
    ///   - indices: also compute PyTorch-style argmax indices (for unpooling); an extra pass over
    ///     the input in Swift.
    /// - Throws: ``DNNLError`` for an invalid configuration or wrong buffer size.
    package func maxPool2dForward(_ p: DNNL.Pool2D, input: [Float], mode: DNNL.Mode, indices: Bool = false) throws -> DNNL.MaxPoolResult {
        let function = "maxPool2dForward"
        let out = try p.validated(function)
        try checkCount(input, p.inputShape.count, "input \(p.inputShape)", function)
        let prim = try poolPrimitive(p, out, .max, backward: false, mode: mode)
        let wsBytes = mode == .training ? prim.bytes(for: DNNL_ARG_WORKSPACE) : 0
        let wsCount = (wsBytes + MemoryLayout<Float>.size - 1) / MemoryLayout<Float>.size
        let results = try withBuffers([input], outputs: wsCount > 0 ? [out.count, wsCount] : [out.count]) { ins, outs in
            var args = [Argument(DNNL_ARG_SRC, ins[0]), Argument(DNNL_ARG_DST, outs[0])]
            if wsCount > 0 { args.append(Argument(DNNL_ARG_WORKSPACE, outs[1])) }
            try execute(prim, function, args)
        }
        return DNNL.MaxPoolResult(output: results[0], workspace: wsCount > 0 ? DNNL.Workspace(storage: results[1]) : nil,
                                  indices: indices ? try maxPoolIndices(p, out, input) : nil)
    }

    /// Max pooling backward: routes each output gradient to its window's maximum (summing where
    /// windows overlap).
    /// - Parameters: outputGradient `[N, C, Hout, Wout]`; workspace from the training-mode forward.
    /// - Returns: `[N, C, H, W]`.
    package func maxPool2dBackward(_ p: DNNL.Pool2D, outputGradient: [Float], workspace: DNNL.Workspace) throws -> [Float] {
        let function = "maxPool2dBackward"
        let out = try p.validated(function)
        try checkCount(outputGradient, out.count, "output gradient \(out)", function)
        let prim = try poolPrimitive(p, out, .max, backward: true, mode: .training)
        return try withBuffers([outputGradient, workspace.storage], outputs: [p.inputShape.count]) { ins, outs in
            try execute(prim, function, [Argument(DNNL_ARG_DIFF_DST, ins[0]), Argument(DNNL_ARG_WORKSPACE, ins[1]),
                                         Argument(DNNL_ARG_DIFF_SRC, outs[0])])
        }[0]
    }

    /// Average pooling forward.
    /// - Parameters:
    ///   - input: `[N, C, H, W]`.
    ///   - countIncludePadding: PyTorch's `count_include_pad`: divide by the window's size
    ///     including padding, or by the number of input elements in it. As in PyTorch, the size
    ///     including padding counts rows up to `H + top` and columns up to `W + left` only, so the
    ///     extra bottom/right padding that emulates `ceil_mode` is not counted (oneDNN always
    ///     divides by `kH·kW`; the difference is corrected here).
    /// - Returns: `[N, C, Hout, Wout]`.
    package func avgPool2dForward(_ p: DNNL.Pool2D, input: [Float], countIncludePadding: Bool) throws -> [Float] {
        let function = "avgPool2dForward"
        let out = try p.validated(function)
        try checkCount(input, p.inputShape.count, "input \(p.inputShape)", function)
        let prim = try poolPrimitive(p, out, countIncludePadding ? .averageIncludingPadding : .averageExcludingPadding,
                                     backward: false, mode: .training)
        var output = try withBuffers([input], outputs: [out.count]) { ins, outs in
            try execute(prim, function, [Argument(DNNL_ARG_SRC, ins[0]), Argument(DNNL_ARG_DST, outs[0])])
        }[0]
        if countIncludePadding { rescaleToPyTorchDivisor(p, out, &output) }
        return output
    }

    /// Average pooling backward.
    /// - Parameters: outputGradient `[N, C, Hout, Wout]`.
    /// - Returns: `[N, C, H, W]`.
    package func avgPool2dBackward(_ p: DNNL.Pool2D, outputGradient: [Float], countIncludePadding: Bool) throws -> [Float] {
        let function = "avgPool2dBackward"
        let out = try p.validated(function)
        try checkCount(outputGradient, out.count, "output gradient \(out)", function)
        let prim = try poolPrimitive(p, out, countIncludePadding ? .averageIncludingPadding : .averageExcludingPadding,
                                     backward: true, mode: .training)
        var gradient = outputGradient
        if countIncludePadding { rescaleToPyTorchDivisor(p, out, &gradient) }
        return try withBuffers([gradient], outputs: [p.inputShape.count]) { ins, outs in
            try execute(prim, function, [Argument(DNNL_ARG_DIFF_DST, ins[0]), Argument(DNNL_ARG_DIFF_SRC, outs[0])])
        }[0]
    }

    /// Multiplies each output by `kH·kW / divisor`, PyTorch's divisor counting window rows below
    /// `H + top` and columns right of `W + left` only. A no-op unless the bottom or right padding
    /// exceeds the top or left (ceil mode), the only case where a window reaches past that line.
    private func rescaleToPyTorchDivisor(_ p: DNNL.Pool2D, _ out: Shape, _ values: inout [Float]) {
        func factors(_ count: Int, _ size: Int, _ before: Int, _ k: Int, _ s: Int, _ d: Int) -> [Float] {
            (0..<count).map { o in
                let start = o * s - before
                let counted = (0..<k).count { start + $0 * d < size + before }
                return Float(k) / Float(counted)  // counted ≥ 1: each window starts before size + before
            }
        }
        guard p.padding.bottom > p.padding.top || p.padding.right > p.padding.left else { return }
        let rows = factors(out[2], p.inputShape[2], p.padding.top, p.kernel.height, p.stride.height, p.dilation.height)
        let cols = factors(out[3], p.inputShape[3], p.padding.left, p.kernel.width, p.stride.width, p.dilation.width)
        guard rows.contains(where: { $0 != 1 }) || cols.contains(where: { $0 != 1 }) else { return }
        for i in values.indices { values[i] *= rows[(i / out[3]) % out[2]] * cols[i % out[3]] }
    }

    private func poolPrimitive(_ p: DNNL.Pool2D, _ out: Shape, _ algorithm: PrimitiveKey.PoolAlgorithm,
                               backward: Bool, mode: DNNL.Mode) throws -> DNNLPrimitive {
        try primitive(.pooling(p, algorithm, backward: backward, mode: mode)) {
            var src = try memoryDesc(p.inputShape.dims, dnnl_nchw)
            var dst = try memoryDesc(out.dims, dnnl_nchw)
            let alg = switch algorithm {
            case .max: dnnl_pooling_max
            case .averageIncludingPadding: dnnl_pooling_avg_include_padding
            case .averageExcludingPadding: dnnl_pooling_avg_exclude_padding
            }
            let strides = [p.stride.height, p.stride.width].map(Int64.init)
            let kernel = [p.kernel.height, p.kernel.width].map(Int64.init)
            let dilates = [p.dilation.height - 1, p.dilation.width - 1].map(Int64.init)  // oneDNN: 0 = dense
            let padL = [p.padding.top, p.padding.left].map(Int64.init)
            let padR = [p.padding.bottom, p.padding.right].map(Int64.init)
            var desc = dnnl_pooling_v2_desc_t()
            if backward {
                try dnnlCheck(dnnl_pooling_v2_backward_desc_init(&desc, alg, &src, &dst, strides, kernel, dilates, padL, padR),
                              "dnnl_pooling_v2_backward_desc_init", "input \(p.inputShape), output \(out)")
                let hint = try poolPrimitive(p, out, algorithm, backward: false, mode: .training)
                return try makePrimitive("pooling backward", &desc, hint: hint)
            }
            let prop = mode == .training ? dnnl_forward_training : dnnl_forward_inference
            try dnnlCheck(dnnl_pooling_v2_forward_desc_init(&desc, prop, alg, &src, &dst, strides, kernel, dilates, padL, padR),
                          "dnnl_pooling_v2_forward_desc_init", "input \(p.inputShape), output \(out)")
            return try makePrimitive("pooling forward", &desc)
        }
    }

    /// PyTorch's max-pool indices (flat `h·W + w` per plane), computed directly: oneDNN's
    /// workspace encodes the kernel offset in an implementation-defined way.
    private func maxPoolIndices(_ p: DNNL.Pool2D, _ out: Shape, _ input: [Float]) throws -> [Int32] {
        let h = p.inputShape[2], w = p.inputShape[3], oh = out[2], ow = out[3]
        guard h * w <= Int(Int32.max) else { throw DNNLError.invalid("maxPool2dForward", "input plane too large for Int32 indices") }
        var indices = [Int32](repeating: 0, count: out.count)
        input.withUnsafeBufferPointer { x in
            for plane in 0..<(out[0] * out[1]) {
                let base = plane * h * w
                for y in 0..<oh {
                    for xo in 0..<ow {
                        var best = -Float.infinity, bestIndex = -1
                        for ky in 0..<p.kernel.height {
                            let iy = y * p.stride.height - p.padding.top + ky * p.dilation.height
                            guard iy >= 0, iy < h else { continue }
                            for kx in 0..<p.kernel.width {
                                let ix = xo * p.stride.width - p.padding.left + kx * p.dilation.width
                                guard ix >= 0, ix < w else { continue }
                                let v = x[base + iy * w + ix]
                                if bestIndex < 0 || v > best || v.isNaN { best = v; bestIndex = iy * w + ix }
                            }
                        }
                        indices[(plane * oh + y) * ow + xo] = Int32(max(bestIndex, 0))
                    }
                }
            }
        }
        return indices
    }
}
