import CVSegCore
import CVSegTensor

/// Applies gradients to parameters. `step` takes one gradient per parameter, in the order the
/// optimizer was created with.
public protocol Optimizer: AnyObject {
    var parameters: [Parameter] { get }
    /// The learning rate for the next step (schedules set it).
    var learningRate: Float { get set }
    func step(_ gradients: [Tensor]) throws
    /// The state besides the parameters (momentum buffers, moment estimates, step count), for
    /// checkpoints: ``restore(_:)`` on an optimizer of the same kind over the same parameters
    /// continues exactly where this one stopped.
    var state: OptimizerState { get }
    func restore(_ state: OptimizerState) throws
}

/// An optimizer's state: arrays named `<kind>.<parameter index>` and scalars as strings.
public struct OptimizerState: Sendable, Equatable {
    public var arrays: [String: FloatArray]
    public var values: [String: String]
    public init(arrays: [String: FloatArray] = [:], values: [String: String] = [:]) {
        self.arrays = arrays
        self.values = values
    }

    /// Array `name`, which must have `count` values.
    func array(_ name: String, count: Int, optimizer: String) throws -> [Float] {
        guard let a = arrays[name] else { throw CVSegError.invalidArgument("\(optimizer) state: no '\(name)'") }
        guard a.values.count == count else {
            throw CVSegError.invalidArgument("\(optimizer) state: '\(name)' has \(a.values.count) values, its parameter \(count)")
        }
        return a.values
    }
}

func checkGradients(_ parameters: [Parameter], _ gradients: [Tensor], _ name: String) throws {
    guard gradients.count == parameters.count else {
        throw CVSegError.invalidArgument("\(name): \(gradients.count) gradients for \(parameters.count) parameters")
    }
    for (i, (p, g)) in zip(parameters, gradients).enumerated() where p.value.shape != g.shape {
        throw CVSegError.invalidArgument("\(name): gradient \(i) has shape \(g.shape), its parameter \(p.value.shape)")
    }
}

/// Stochastic gradient descent exactly as `torch.optim.SGD`: with weight decay λ, momentum μ,
/// dampening τ and Nesterov,
/// `g ← g + λ·w; b ← μ·b + (1 − τ)·g (b = g on the first step); g ← g + μ·b (Nesterov) or b;
/// w ← w − lr·g`.
public final class SGD: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let momentum: Float, dampening: Float, weightDecay: Float, nesterov: Bool
    private var buffers: [[Float]?]

    public init(_ parameters: [Parameter], learningRate: Float, momentum: Float = 0, dampening: Float = 0,
                weightDecay: Float = 0, nesterov: Bool = false) throws {
        guard learningRate >= 0, momentum >= 0, weightDecay >= 0 else {
            throw CVSegError.invalidArgument("SGD: learning rate, momentum and weight decay must be >= 0")
        }
        guard !nesterov || (momentum > 0 && dampening == 0) else {
            throw CVSegError.invalidArgument("SGD: Nesterov momentum requires a momentum and zero dampening")
        }
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        buffers = Array(repeating: nil, count: parameters.count)
    }

    public func step(_ gradients: [Tensor]) throws {
        try checkGradients(parameters, gradients, "SGD")
        for (i, (p, grad)) in zip(parameters, gradients).enumerated() {
            var w = p.value.values
            var g = grad.values
            if weightDecay != 0 { for k in 0..<g.count { g[k] += weightDecay * w[k] } }
            if momentum != 0 {
                var b: [Float]
                if let old = buffers[i] {
                    b = old
                    for k in 0..<b.count { b[k] = momentum * b[k] + (1 - dampening) * g[k] }
                } else {
                    b = g
                }
                buffers[i] = b
                if nesterov { for k in 0..<g.count { g[k] += momentum * b[k] } } else { g = b }
            }
            for k in 0..<w.count { w[k] -= learningRate * g[k] }
            p.value = Tensor(shape: p.value.shape, values: w)
        }
    }

    public var state: OptimizerState {
        var arrays: [String: FloatArray] = [:]
        for (i, b) in buffers.enumerated() { if let b { arrays["momentum.\(i)"] = FloatArray(shape: [b.count], values: b) } }
        return OptimizerState(arrays: arrays, values: ["optimizer": "sgd"])
    }

    public func restore(_ state: OptimizerState) throws {
        guard state.values["optimizer"] == "sgd" else { throw CVSegError.invalidArgument("SGD state: saved by '\(state.values["optimizer"] ?? "?")'") }
        buffers = try parameters.enumerated().map { i, p in
            state.arrays["momentum.\(i)"] == nil ? nil : try state.array("momentum.\(i)", count: p.value.count, optimizer: "SGD")
        }
    }
}

/// Adam and AdamW exactly as `torch.optim.Adam` / `AdamW` (no amsgrad):
/// `m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²; w ← w − lr·(m / (1 − β1^t)) /
/// (√(v / (1 − β2^t)) + ε)`. Adam adds `λ·w` to the gradient; AdamW (`decoupled`) multiplies
/// `w` by `1 − lr·λ` first.
public final class Adam: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float, decoupled: Bool
    private var m: [[Float]], v: [[Float]]
    private var t = 0

    public init(_ parameters: [Parameter], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0, decoupled: Bool = false) throws {
        guard learningRate >= 0, (0..<1).contains(beta1), (0..<1).contains(beta2), epsilon >= 0, weightDecay >= 0 else {
            throw CVSegError.invalidArgument("Adam: need lr >= 0, 0 <= betas < 1, eps >= 0, weight decay >= 0")
        }
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupled = decoupled
        m = parameters.map { [Float](repeating: 0, count: $0.value.count) }
        v = m
    }

    /// AdamW with PyTorch's default weight decay 0.01.
    public static func adamW(_ parameters: [Parameter], learningRate: Float = 1e-3, weightDecay: Float = 0.01) throws -> Adam {
        try Adam(parameters, learningRate: learningRate, weightDecay: weightDecay, decoupled: true)
    }

    public func step(_ gradients: [Tensor]) throws {
        try checkGradients(parameters, gradients, decoupled ? "AdamW" : "Adam")
        t += 1
        // Bias corrections in double, as PyTorch computes them in Python floats.
        let c1 = 1 - pow(Double(beta1), Double(t)), c2 = 1 - pow(Double(beta2), Double(t))
        let stepSize = Float(Double(learningRate) / c1)
        let c2Root = Float(c2.squareRoot())
        for (i, (p, grad)) in zip(parameters, gradients).enumerated() {
            var w = p.value.values
            var g = grad.values
            if decoupled {
                for k in 0..<w.count { w[k] *= 1 - learningRate * weightDecay }
            } else if weightDecay != 0 {
                for k in 0..<g.count { g[k] += weightDecay * w[k] }
            }
            for k in 0..<w.count {
                m[i][k] += (1 - beta1) * (g[k] - m[i][k]) // PyTorch's lerp_(grad, 1 − β1)
                v[i][k] = beta2 * v[i][k] + (1 - beta2) * g[k] * g[k]
                let denominator = v[i][k].squareRoot() / c2Root + epsilon
                w[k] -= stepSize * m[i][k] / denominator
            }
            p.value = Tensor(shape: p.value.shape, values: w)
        }
    }

    public var state: OptimizerState {
        var arrays: [String: FloatArray] = [:]
        for i in parameters.indices {
            arrays["exp_avg.\(i)"] = FloatArray(shape: [m[i].count], values: m[i])
            arrays["exp_avg_sq.\(i)"] = FloatArray(shape: [v[i].count], values: v[i])
        }
        return OptimizerState(arrays: arrays, values: ["optimizer": decoupled ? "adamw" : "adam", "step": String(t)])
    }

    public func restore(_ state: OptimizerState) throws {
        let kind = decoupled ? "adamw" : "adam"
        guard state.values["optimizer"] == kind else {
            throw CVSegError.invalidArgument("\(kind) state: saved by '\(state.values["optimizer"] ?? "?")'")
        }
        guard let steps = state.values["step"].flatMap(Int.init), steps >= 0 else { throw CVSegError.invalidArgument("\(kind) state: no step count") }
        let name = decoupled ? "AdamW" : "Adam"
        m = try parameters.indices.map { try state.array("exp_avg.\($0)", count: parameters[$0].value.count, optimizer: name) }
        v = try parameters.indices.map { try state.array("exp_avg_sq.\($0)", count: parameters[$0].value.count, optimizer: name) }
        t = steps
    }
}

/// Learning-rate schedules: the rate for a 0-based step (or epoch) from the base rate.
public enum LearningRateSchedule: Sendable {
    /// `torch.optim.lr_scheduler.StepLR`: `base · γ^⌊t / size⌋`.
    case step(size: Int, gamma: Float)
    /// Polynomial decay (DeepLab's "poly"): `base · (1 − t / total)^power`, 0 from `total` on.
    case poly(total: Int, power: Float)
    /// `CosineAnnealingLR` (closed form): `minimum + (base − minimum)·(1 + cos(π·t / total)) / 2`.
    case cosine(total: Int, minimum: Float)

    public func rate(base: Float, at t: Int) -> Float {
        switch self {
        case let .step(size, gamma):
            return base * powf(gamma, Float(t / max(size, 1)))
        case let .poly(total, power):
            guard t < total else { return 0 }
            return base * powf(1 - Float(t) / Float(total), power)
        case let .cosine(total, minimum):
            let phase = Double.pi * Double(min(t, total)) / Double(max(total, 1))
            return minimum + (base - minimum) * Float((1 + cos(phase)) / 2)
        }
    }
}

/// Scales the gradients so that their joint L2 norm is at most `maxNorm`, as
/// `torch.nn.utils.clip_grad_norm_` (factor `maxNorm / (norm + 1e-6)`, applied only when < 1).
/// - Returns: the clipped gradients and the norm before clipping.
public func clipGradientNorm(_ gradients: [Tensor], maxNorm: Float) -> (gradients: [Tensor], norm: Float) {
    var total = 0.0
    for g in gradients { for v in g.values { total += Double(v) * Double(v) } }
    let norm = Float(total.squareRoot())
    let factor = maxNorm / (norm + 1e-6)
    guard factor < 1 else { return (gradients, norm) }
    return (gradients.map { Tensor(shape: $0.shape, values: $0.values.map { $0 * factor }) }, norm)
}

/// Stops training when a validation metric has not improved for `patience` evaluations.
public struct EarlyStopping: Sendable {
    public enum Goal: Sendable { case minimize, maximize }
    public let patience: Int
    public let minDelta: Float
    public let goal: Goal
    public private(set) var best: Float?
    public private(set) var bestStep: Int?
    public private(set) var waited = 0

    public init(patience: Int, minDelta: Float = 0, goal: Goal) {
        self.patience = patience
        self.minDelta = minDelta
        self.goal = goal
    }

    /// The state after earlier evaluations (a resumed run).
    public init(patience: Int, minDelta: Float = 0, goal: Goal, best: Float?, bestStep: Int?, waited: Int) {
        self.init(patience: patience, minDelta: minDelta, goal: goal)
        self.best = best
        self.bestStep = bestStep
        self.waited = waited
    }

    /// Records the metric of evaluation `step`; returns true when training should stop.
    public mutating func update(_ value: Float, step: Int) -> Bool {
        let improved: Bool
        if let best {
            improved = goal == .minimize ? value < best - minDelta : value > best + minDelta
        } else {
            improved = !value.isNaN
        }
        if improved {
            best = value
            bestStep = step
            waited = 0
            return false
        }
        waited += 1
        return waited >= patience
    }
}

#if canImport(Glibc)
import Glibc
#endif
