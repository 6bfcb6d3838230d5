internal import CDNNL

extension DNNL {
    /// Batch normalisation over `[N, C, H, W]` with per-channel scale (γ) and shift (β):
    /// `y = γ·(x − μ)/√(σ² + ε) + β`. Data of shape `[N, C]` (PyTorch's `BatchNorm1d`) is passed
    /// as `[N, C, 1, 1]`.
    package struct BatchNorm: Hashable, Sendable {
        package var inputShape: Shape
        /// ε; PyTorch's default is 1e-5.
        package var epsilon: Float

        package init(inputShape: Shape, epsilon: Float = 1e-5) { self.inputShape = inputShape; self.epsilon = epsilon }

        func validated(_ function: String) throws -> Int {
            let x = try DNNL.nchw(inputShape, "input", function)
            guard epsilon >= 0, epsilon.isFinite else { throw DNNLError.invalid(function, "epsilon \(epsilon) must be finite and ≥ 0") }
            return x.c
        }
    }

    /// Local response normalisation across channels with PyTorch's `LocalResponseNorm` semantics:
    /// `y_c = x_c · (k + alpha/size · Σ x_{c'}²)^(−beta)`, the sum over channels
    /// `c − size/2 … c + (size − 1)/2` that exist. oneDNN's definition divides alpha by the size
    /// too, so `alpha` is passed unchanged; its window is the same for odd sizes only, so even
    /// sizes are refused.
    package struct LRN: Hashable, Sendable {
        package var inputShape: Shape
        package var size: Int
        package var alpha: Float
        package var beta: Float
        package var k: Float

        /// Defaults are PyTorch's (`alpha` 1e-4, `beta` 0.75, `k` 1).
        package init(inputShape: Shape, size: Int, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1) {
            self.inputShape = inputShape; self.size = size; self.alpha = alpha; self.beta = beta; self.k = k
        }

        func validated(_ function: String) throws {
            _ = try DNNL.nchw(inputShape, "input", function)
            guard size >= 1, size % 2 == 1 else {
                throw DNNLError.invalid(function, "size \(size): oneDNN's window matches PyTorch's for odd sizes only")
            }
            guard alpha.isFinite, beta.isFinite, k.isFinite else {
                throw DNNLError.invalid(function, "alpha \(alpha), beta \(beta) and k \(k) must be finite")
            }
        }
    }
}

extension DNNLEngine {
    // MARK: Batch normalisation

    /// Batch normalisation in training mode: normalises with the batch statistics.
    /// - Parameters: input `[N, C, H, W]`; scale, shift `[C]`.
    /// - Returns: output `[N, C, H, W]`; the batch `mean` and `variance`, each `[C]`. The variance
    ///   is the biased one (divided by `N·H·W`), which is what normalises. PyTorch's running
    ///   variance is updated with the unbiased one: multiply by `m / (m − 1)`, `m = N·H·W`.
    package func batchNormTrainingForward(_ b: DNNL.BatchNorm, input: [Float], scale: [Float],
                                          shift: [Float]) throws -> (output: [Float], mean: [Float], variance: [Float]) {
        let function = "batchNormTrainingForward"
        let c = try b.validated(function)
        try checkCount(input, b.inputShape.count, "input \(b.inputShape)", function)
        try checkCount(scale, c, "scale", function)
        try checkCount(shift, c, "shift", function)
        let p = try batchNormPrimitive(b, backward: false, globalStats: false, mode: .training)
        let outs = try withBuffers([input, scale, shift], outputs: [input.count, c, c]) { ins, outs in
            try execute(p, function, [Argument(DNNL_ARG_SRC, ins[0]), Argument(DNNL_ARG_SCALE, ins[1]), Argument(DNNL_ARG_SHIFT, ins[2]),
                                      Argument(DNNL_ARG_DST, outs[0]), Argument(DNNL_ARG_MEAN, outs[1]),
                                      Argument(DNNL_ARG_VARIANCE, outs[2])])
        }
        return (outs[0], outs[1], outs[2])
    }

    /// Batch normalisation with given statistics (inference, or frozen batch norm).
    /// - Parameters: input `[N, C, H, W]`; scale, shift, mean, variance `[C]`.
    /// - Returns: `[N, C, H, W]`.
    package func batchNormInferenceForward(_ b: DNNL.BatchNorm, input: [Float], scale: [Float], shift: [Float],
                                           mean: [Float], variance: [Float]) throws -> [Float] {
        let function = "batchNormInferenceForward"
        let c = try b.validated(function)
        try checkCount(input, b.inputShape.count, "input \(b.inputShape)", function)
        for (v, name) in [(scale, "scale"), (shift, "shift"), (mean, "mean"), (variance, "variance")] {
            try checkCount(v, c, name, function)
        }
        let p = try batchNormPrimitive(b, backward: false, globalStats: true, mode: .inference)
        return try withBuffers([input, scale, shift, mean, variance], outputs: [input.count]) { ins, outs in
            try execute(p, function, [Argument(DNNL_ARG_SRC, ins[0]), Argument(DNNL_ARG_SCALE, ins[1]), Argument(DNNL_ARG_SHIFT, ins[2]),
                                      Argument(DNNL_ARG_MEAN, ins[3]), Argument(DNNL_ARG_VARIANCE, ins[4]),
                                      Argument(DNNL_ARG_DST, outs[0])])
        }[0]
    }

    /// Batch normalisation backward.
    /// - Parameters:
    ///   - input: the forward input `[N, C, H, W]`; outputGradient `[N, C, H, W]`.
    ///   - scale: γ `[C]`; mean, variance: `[C]`, those the forward normalised with.
    ///   - statistics: `.training` when the forward used batch statistics (the gradient flows
    ///     through μ and σ²), `.inference` when it used given ones (they are constants).
    /// - Returns: gradients of the input `[N, C, H, W]`, scale `[C]` and shift `[C]`.
    package func batchNormBackward(_ b: DNNL.BatchNorm, input: [Float], outputGradient: [Float], scale: [Float],
                                   mean: [Float], variance: [Float],
                                   statistics: DNNL.Mode) throws -> (input: [Float], scale: [Float], shift: [Float]) {
        let function = "batchNormBackward"
        let c = try b.validated(function)
        try checkCount(input, b.inputShape.count, "input \(b.inputShape)", function)
        try checkCount(outputGradient, b.inputShape.count, "output gradient \(b.inputShape)", function)
        for (v, name) in [(scale, "scale"), (mean, "mean"), (variance, "variance")] { try checkCount(v, c, name, function) }
        let p = try batchNormPrimitive(b, backward: true, globalStats: statistics == .inference, mode: .training)
        // oneDNN 2.6's backward also lists the shift among its inputs (execution fails without it)
        // although no gradient depends on it without a fused ReLU; it gets zeros.
        let shift = [Float](repeating: 0, count: c)
        let outs = try withBuffers([input, outputGradient, scale, mean, variance, shift], outputs: [input.count, c, c]) { ins, outs in
            try execute(p, function, [Argument(DNNL_ARG_SRC, ins[0]), Argument(DNNL_ARG_DIFF_DST, ins[1]), Argument(DNNL_ARG_SCALE, ins[2]),
                                      Argument(DNNL_ARG_MEAN, ins[3]), Argument(DNNL_ARG_VARIANCE, ins[4]), Argument(DNNL_ARG_SHIFT, ins[5]),
                                      Argument(DNNL_ARG_DIFF_SRC, outs[0]), Argument(DNNL_ARG_DIFF_SCALE, outs[1]),
                                      Argument(DNNL_ARG_DIFF_SHIFT, outs[2])])
        }
        return (outs[0], outs[1], outs[2])
    }

    private func batchNormPrimitive(_ b: DNNL.BatchNorm, backward: Bool, globalStats: Bool, mode: DNNL.Mode) throws -> DNNLPrimitive {
        try primitive(.batchNorm(b, backward: backward, globalStats: globalStats, mode: mode)) {
            var data = try memoryDesc(b.inputShape.dims, dnnl_nchw)
            var flags = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
            if globalStats { flags |= dnnl_use_global_stats.rawValue }
            var desc = dnnl_batch_normalization_desc_t()
            if backward {
                try dnnlCheck(dnnl_batch_normalization_backward_desc_init(&desc, dnnl_backward, &data, &data, b.epsilon, flags),
                              "dnnl_batch_normalization_backward_desc_init", "input \(b.inputShape)")
                let hint = try batchNormPrimitive(b, backward: false, globalStats: globalStats, mode: .training)
                return try makePrimitive("batch normalization backward", &desc, hint: hint)
            }
            let prop = mode == .training ? dnnl_forward_training : dnnl_forward_inference
            try dnnlCheck(dnnl_batch_normalization_forward_desc_init(&desc, prop, &data, b.epsilon, flags),
                          "dnnl_batch_normalization_forward_desc_init", "input \(b.inputShape)")
            return try makePrimitive("batch normalization forward", &desc)
        }
    }

    // MARK: Local response normalisation

    /// LRN forward (see ``DNNL/LRN``).
    /// - Parameters: input `[N, C, H, W]`; `.training` also returns the workspace for backward
    ///   (nil when the implementation needs none).
    /// - Returns: `[N, C, H, W]`.
    package func lrnForward(_ l: DNNL.LRN, input: [Float], mode: DNNL.Mode) throws -> (output: [Float], workspace: DNNL.Workspace?) {
        let function = "lrnForward"
        try l.validated(function)
        try checkCount(input, l.inputShape.count, "input \(l.inputShape)", function)
        let p = try lrnPrimitive(l, backward: false, mode: mode)
        let wsBytes = mode == .training ? p.bytes(for: DNNL_ARG_WORKSPACE) : 0
        let wsCount = (wsBytes + MemoryLayout<Float>.size - 1) / MemoryLayout<Float>.size
        let outs = try withBuffers([input], outputs: wsCount > 0 ? [input.count, wsCount] : [input.count]) { ins, outs in
            var args = [Argument(DNNL_ARG_SRC, ins[0]), Argument(DNNL_ARG_DST, outs[0])]
            if wsCount > 0 { args.append(Argument(DNNL_ARG_WORKSPACE, outs[1])) }
            try execute(p, function, args)
        }
        return (outs[0], wsCount > 0 ? DNNL.Workspace(storage: outs[1]) : nil)
    }

    /// LRN backward.
    /// - Parameters: input and outputGradient `[N, C, H, W]`; the training forward's workspace.
    /// - Returns: `[N, C, H, W]`.
    package func lrnBackward(_ l: DNNL.LRN, input: [Float], outputGradient: [Float], workspace: DNNL.Workspace?) throws -> [Float] {
        let function = "lrnBackward"
        try l.validated(function)
        try checkCount(input, l.inputShape.count, "input \(l.inputShape)", function)
        try checkCount(outputGradient, l.inputShape.count, "output gradient \(l.inputShape)", function)
        let p = try lrnPrimitive(l, backward: true, mode: .training)
        let needed = p.bytes(for: DNNL_ARG_WORKSPACE)
        guard needed == 0 || workspace != nil else { throw DNNLError.invalid(function, "missing the training forward's workspace") }
        return try withBuffers([input, outputGradient, workspace?.storage ?? []], outputs: [input.count]) { ins, outs in
            var args = [Argument(DNNL_ARG_SRC, ins[0]), Argument(DNNL_ARG_DIFF_DST, ins[1]), Argument(DNNL_ARG_DIFF_SRC, outs[0])]
            if needed > 0 { args.append(Argument(DNNL_ARG_WORKSPACE, ins[2])) }
            try execute(p, function, args)
        }[0]
    }

    private func lrnPrimitive(_ l: DNNL.LRN, backward: Bool, mode: DNNL.Mode) throws -> DNNLPrimitive {
        try primitive(.lrn(l, backward: backward, mode: mode)) {
            var data = try memoryDesc(l.inputShape.dims, dnnl_nchw)
            var desc = dnnl_lrn_desc_t()
            if backward {
                try dnnlCheck(dnnl_lrn_backward_desc_init(&desc, dnnl_lrn_across_channels, &data, &data, Int64(l.size), l.alpha, l.beta, l.k),
                              "dnnl_lrn_backward_desc_init", "input \(l.inputShape), size \(l.size)")
                let hint = try lrnPrimitive(l, backward: false, mode: .training)
                return try makePrimitive("lrn backward", &desc, hint: hint)
            }
            let prop = mode == .training ? dnnl_forward_training : dnnl_forward_inference
            try dnnlCheck(dnnl_lrn_forward_desc_init(&desc, prop, dnnl_lrn_across_channels, &data, Int64(l.size), l.alpha, l.beta, l.k),
                          "dnnl_lrn_forward_desc_init", "input \(l.inputShape), size \(l.size)")
            return try makePrimitive("lrn forward", &desc)
        }
    }
}
