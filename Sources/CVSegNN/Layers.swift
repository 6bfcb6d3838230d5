import CVSegCore
import CVSegTensor

/// A module with a forward pass. Subclasses override ``forward(_:_:)``; call a layer as a
/// function, which runs the forward pass inside the layer's scope (so errors and recorded
/// operations carry its path).
open class Layer: Module {
    /// The name used in error messages and tape entries (set by the parent when registered).
    public var scopeName: String = ""

    public override init() { super.init() }

    open func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor { x }

    public func callAsFunction(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        try scoped(context) { try forward(x, context) }
    }

    /// Runs `body` inside this layer's scope (as calling the layer does).
    func scoped(_ context: ForwardContext, _ body: () throws -> Tensor) throws -> Tensor {
        guard !scopeName.isEmpty else { return try body() }
        return try context.scope(scopeName, body)
    }

    /// Registers `child` as `name` and names its scope after it.
    @discardableResult
    public func register<L: Layer>(layer child: L, as name: String) -> L {
        child.scopeName = name
        return register(child: child, as: name)
    }

    /// The parameter's value for this pass (on the tape when training), named by its slot.
    public func value(_ parameter: Parameter, _ context: ForwardContext) -> Tensor {
        let name = parameterSlots.first { $0.parameter === parameter }?.name ?? "parameter"
        return context.value(of: parameter, name: name)
    }
}

/// Layers applied in order, named "0", "1", … as PyTorch's `nn.Sequential`.
public final class Sequential: Layer {
    public private(set) var layers: [Layer] = []

    public init(_ layers: [Layer]) {
        super.init()
        for layer in layers { append(layer) }
    }

    public func append(_ layer: Layer) {
        register(layer: layer, as: String(layers.count))
        layers.append(layer)
    }

    /// Runs the layers in order. A ``Conv2d`` directly followed by `Activation(.relu)` runs as one
    /// convolution with a fused ReLU (in the convolution's scope; same parameters and names, one
    /// pass over the output less).
    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        var y = x
        var i = 0
        while i < layers.count {
            if let conv = layers[i] as? Conv2d, i + 1 < layers.count, let act = layers[i + 1] as? Activation, case .relu = act.kind {
                y = try conv.scoped(context) { try conv.forward(y, context, relu: true) }
                i += 2
            } else {
                y = try layers[i](y, context)
                i += 1
            }
        }
        return y
    }
}

/// Uniform values in [−bound, bound) from a seeded generator: PyTorch's default initialisation
/// of linear and convolution layers (kaiming_uniform with a = √5) has bound 1/√fan_in for the
/// weights and the bias.
func uniformInit(_ shape: Shape, bound: Float, _ generator: inout SplitMix64) -> Tensor {
    Tensor.randomUniform(shape, low: -bound, high: bound, generator: &generator)
}

/// `y = x·Wᵀ + b` (PyTorch's `nn.Linear`: weight `[out, in]`, bias `[out]`).
public final class Linear: Layer {
    public let weight: Parameter
    public let bias: Parameter?

    public init(inputs: Int, outputs: Int, bias: Bool = true, generator: inout SplitMix64) {
        let bound = 1 / Float(max(inputs, 1)).squareRoot()
        weight = Parameter(uniformInit([outputs, inputs], bound: bound, &generator))
        self.bias = bias ? Parameter(uniformInit([outputs], bound: bound, &generator)) : nil
        super.init()
        register(parameter: weight, as: "weight")
        if let b = self.bias { register(parameter: b, as: "bias") }
    }

    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        try linear(x, weight: value(weight, context), bias: bias.map { value($0, context) })
    }
}

/// An activation function as a layer.
public final class Activation: Layer {
    public enum Kind: Sendable { case relu, leakyRelu(Float), sigmoid, tanh }
    public let kind: Kind
    public init(_ kind: Kind) { self.kind = kind; super.init() }
    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        switch kind {
        case .relu: try relu(x)
        case .leakyRelu(let slope): try leakyRelu(x, slope: slope)
        case .sigmoid: try sigmoid(x)
        case .tanh: try CVSegTensor.tanh(x)
        }
    }
}

/// Inverted dropout in training (the context's generator), the identity in inference.
public final class Dropout: Layer {
    public let probability: Float
    public init(_ probability: Float = 0.5) { self.probability = probability; super.init() }
    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        try dropout(x, probability: probability, training: context.isTraining, generator: &context.generator)
    }
}

/// `[N, …]` to `[N, rest]`.
public final class Flatten: Layer {
    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor { try flatten(x) }
}

/// Bilinear resizing by an integer factor (FCN's upsampling when not learned).
public final class UpsampleBilinear: Layer {
    public let factor: Int
    public let alignCorners: Bool
    public init(factor: Int, alignCorners: Bool = false) {
        self.factor = factor
        self.alignCorners = alignCorners
        super.init()
    }
    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        guard x.shape.rank == 4 else { throw CVSegError.invalidArgument("upsample: needs [N, C, H, W], got \(x.shape)") }
        return try upsampleBilinear(x, height: x.shape[2] * factor, width: x.shape[3] * factor, alignCorners: alignCorners)
    }
}

/// Stochastic pooling as a layer (the mode decides sampling or weighting).
public final class StochasticPool: Layer {
    public let kernel: Int
    public init(kernel: Int = 2) { self.kernel = kernel; super.init() }
    public override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        try stochasticPool(x, kernel: kernel, training: context.isTraining, generator: &context.generator)
    }
}
