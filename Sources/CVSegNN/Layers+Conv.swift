import CVSegCore
import CVSegTensor

/// `nn.Conv2d`: weight `[Cout, Cin/groups, kH, kW]`, bias `[Cout]`, PyTorch's initialisation
/// bounds (uniform ±1/√fan_in, fan_in = Cin/groups·kH·kW).
public final class Conv2d: Layer {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Size2, padding: Size2, dilation: Size2, groups: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Size2, stride: Size2 = 1, padding: Size2 = 0,
                dilation: Size2 = 1, groups: Int = 1, bias: Bool = true, generator: inout SplitMix64) {
        precondition(groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0, "Conv2d: channels not divisible by groups")
        let fanIn = inChannels / groups * kernel.height * kernel.width
        let bound = 1 / Float(max(fanIn, 1)).squareRoot()
        weight = Parameter(uniformInit([outChannels, inChannels / groups, kernel.height, kernel.width], bound: bound, &generator))
        self.bias = bias ? Parameter(uniformInit([outChannels], bound: bound, &generator)) : nil
        self.stride = stride; self.padding = padding; self.dilation = dilation; self.groups = groups
        super.init()
        register(parameter: weight, as: "weight")
        if let b = self.bias { register(parameter: b, as: "bias") }
    }

    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        try forward(x, context, relu: false)
    }

    /// The convolution, followed by a ReLU fused into it when `relu` (what ``Sequential`` runs for
    /// a `Conv2d` directly followed by `Activation(.relu)`).
    public func forward(_ x: Tensor, _ context: ForwardContext, relu: Bool) throws -> Tensor {
        try conv2d(x, weight: value(weight, context), bias: bias.map { value($0, context) }, stride: stride,
                   padding: padding, dilation: dilation, groups: groups, relu: relu)
    }
}

/// `nn.ConvTranspose2d`: weight `[Cin, Cout/groups, kH, kW]`, bias `[Cout]`; initialisation
/// bound 1/√(Cout/groups·kH·kW) as PyTorch computes fan_in from the weight's second dimension.
public final class ConvTranspose2d: Layer {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Size2, padding: Size2, outputPadding: Size2, dilation: Size2, groups: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Size2, stride: Size2 = 1, padding: Size2 = 0,
                outputPadding: Size2 = 0, dilation: Size2 = 1, groups: Int = 1, bias: Bool = true, generator: inout SplitMix64) {
        precondition(groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0, "ConvTranspose2d: channels not divisible by groups")
        let fanIn = outChannels / groups * kernel.height * kernel.width
        let bound = 1 / Float(max(fanIn, 1)).squareRoot()
        weight = Parameter(uniformInit([inChannels, outChannels / groups, kernel.height, kernel.width], bound: bound, &generator))
        self.bias = bias ? Parameter(uniformInit([outChannels], bound: bound, &generator)) : nil
        self.stride = stride; self.padding = padding; self.outputPadding = outputPadding
        self.dilation = dilation; self.groups = groups
        super.init()
        register(parameter: weight, as: "weight")
        if let b = self.bias { register(parameter: b, as: "bias") }
    }

    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        try convTranspose2d(x, weight: value(weight, context), bias: bias.map { value($0, context) }, stride: stride,
                            padding: padding, outputPadding: outputPadding, dilation: dilation, groups: groups)
    }
}

/// `nn.MaxPool2d`. The indices of the last forward pass are kept for ``MaxUnpool2d`` (DeconvNet
/// pairs each pooling with an unpooling).
public final class MaxPool2d: Layer {
    public let kernel: Size2, stride: Size2?, padding: Size2
    public let keepIndices: Bool
    public private(set) var lastIndices: [Int32]?
    public private(set) var lastInputSize: (height: Int, width: Int)?

    public init(kernel: Size2, stride: Size2? = nil, padding: Size2 = 0, keepIndices: Bool = false) {
        self.kernel = kernel; self.stride = stride; self.padding = padding; self.keepIndices = keepIndices
        super.init()
    }

    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        let (y, indices) = try maxPool2d(x, kernel: kernel, stride: stride, padding: padding, returnIndices: keepIndices)
        if keepIndices { lastIndices = indices; lastInputSize = (x.shape[2], x.shape[3]) }
        return y
    }
}

/// `nn.MaxUnpool2d` fed by a ``MaxPool2d`` with `keepIndices` (its last pass's indices and size).
public final class MaxUnpool2d: Layer {
    public let pool: MaxPool2d
    public init(_ pool: MaxPool2d) { self.pool = pool; super.init() }

    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        guard let indices = pool.lastIndices, let size = pool.lastInputSize else {
            throw CVSegError.invalidArgument("MaxUnpool2d: its pooling layer has not run (or keeps no indices)")
        }
        return try maxUnpool(x, indices: indices, height: size.height, width: size.width)
    }
}

/// `nn.AvgPool2d`.
public final class AvgPool2d: Layer {
    public let kernel: Size2, stride: Size2?, padding: Size2, countIncludePadding: Bool
    public init(kernel: Size2, stride: Size2? = nil, padding: Size2 = 0, countIncludePadding: Bool = true) {
        self.kernel = kernel; self.stride = stride; self.padding = padding; self.countIncludePadding = countIncludePadding
        super.init()
    }
    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        try avgPool2d(x, kernel: kernel, stride: stride, padding: padding, countIncludePadding: countIncludePadding)
    }
}

/// `nn.BatchNorm2d` (affine, tracking running statistics): training normalises with the batch
/// statistics and updates `running_mean`/`running_var` with `momentum` (the running variance with
/// the unbiased batch variance, as PyTorch); inference uses the running statistics.
/// `num_batches_tracked` is kept as PyTorch does (a Float here).
public final class BatchNorm2d: Layer {
    public let weight: Parameter, bias: Parameter
    public let runningMean: Parameter, runningVar: Parameter, batchesTracked: Parameter
    public let momentum: Float, epsilon: Float
    /// Frozen statistics (torchvision's `FrozenBatchNorm2d` use in detection models): the
    /// running statistics normalise in training too and are never updated, while the scale and
    /// shift still learn. Training then does not depend on what else is in the batch.
    public var frozen = false

    public init(_ channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        weight = Parameter(Tensor.ones([channels]))
        bias = Parameter(Tensor.zeros([channels]))
        runningMean = Parameter(Tensor.zeros([channels]))
        runningVar = Parameter(Tensor.ones([channels]))
        batchesTracked = Parameter(Tensor.zeros([]))
        self.momentum = momentum
        self.epsilon = epsilon
        super.init()
        register(parameter: weight, as: "weight")
        register(parameter: bias, as: "bias")
        register(buffer: runningMean, as: "running_mean")
        register(buffer: runningVar, as: "running_var")
        register(buffer: batchesTracked, as: "num_batches_tracked")
    }

    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        let (gamma, beta) = (value(weight, context), value(bias, context))
        guard context.isTraining && !frozen else {
            return try batchNorm(x, scale: gamma, shift: beta, statistics: (runningMean.value.values, runningVar.value.values),
                                 epsilon: epsilon).output
        }
        let (y, mean, variance) = try batchNorm(x, scale: gamma, shift: beta, statistics: nil, epsilon: epsilon)
        let m = Float(x.count / max(x.shape[1], 1))
        let unbiased = m > 1 ? m / (m - 1) : 1
        let rm = runningMean.value.values, rv = runningVar.value.values
        runningMean.value = Tensor(shape: runningMean.value.shape, values: (0..<rm.count).map { (1 - momentum) * rm[$0] + momentum * mean[$0] })
        runningVar.value = Tensor(shape: runningVar.value.shape,
                                  values: (0..<rv.count).map { (1 - momentum) * rv[$0] + momentum * variance[$0] * unbiased })
        batchesTracked.value = Tensor.scalar(batchesTracked.value.scalarValue + 1)
        return y
    }
}

/// `nn.LocalResponseNorm` (odd sizes).
public final class LocalResponseNorm: Layer {
    public let size: Int, alpha: Float, beta: Float, k: Float
    public init(size: Int, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1) {
        self.size = size; self.alpha = alpha; self.beta = beta; self.k = k
        super.init()
    }
    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        try localResponseNorm(x, size: size, alpha: alpha, beta: beta, k: k)
    }
}

/// Global average pooling to `[N, C, 1, 1]`.
public final class GlobalAvgPool: Layer {
    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor { try globalAveragePool(x) }
}
