import CVSegCore
import CVSegTensor

/// Training or inference: passed to every forward call, never global.
public enum Mode: Sendable, Equatable {
    /// Batch statistics, dropout and stochastic sampling on; operations recorded on a tape.
    case training
    /// Running statistics, no dropout, probability-weighted stochastic pooling; nothing recorded.
    case inference
}

/// A learnable tensor, owned by a module and updated by an optimizer.
public final class Parameter: @unchecked Sendable {
    public var value: Tensor
    public init(_ value: Tensor) { self.value = value.detached }
}

/// What one forward pass needs besides its input: the mode, the tape (training) and a seeded
/// generator for dropout and stochastic pooling.
public final class ForwardContext: @unchecked Sendable {
    public let mode: Mode
    public let tape: Tape?
    public var generator: SplitMix64
    private var onTape: [ObjectIdentifier: Tensor] = [:]

    /// Inference: nothing is recorded.
    public static func inference(seed: UInt64 = 0) -> ForwardContext { ForwardContext(mode: .inference, tape: nil, seed: seed) }

    /// Training with a new tape (one per step).
    public static func training(seed: UInt64 = 0) -> ForwardContext { ForwardContext(mode: .training, tape: Tape(), seed: seed) }

    public init(mode: Mode, tape: Tape?, seed: UInt64) {
        self.mode = mode
        self.tape = tape
        self.generator = SplitMix64(seed: seed)
    }

    public var isTraining: Bool { mode == .training }

    /// The parameter's value as this pass sees it: on the tape (once per pass) when training.
    public func value(of parameter: Parameter, name: String) -> Tensor {
        guard let tape else { return parameter.value }
        let id = ObjectIdentifier(parameter)
        if let t = onTape[id] { return t }
        let t = tape.parameter(parameter.value, name: name)
        onTape[id] = t
        return t
    }

    /// The recorded tensors of the parameters used in this pass, for ``Tape/gradients(of:for:)``.
    public func recorded(_ parameters: [Parameter]) -> [Tensor?] { parameters.map { onTape[ObjectIdentifier($0)] } }

    /// Runs `body` inside the layer's scope, so recorded operations and errors carry its path.
    public func scope<T>(_ name: String, _ body: () throws -> T) throws -> T {
        do {
            if let tape { return try tape.withScope(name, body) }
            return try body()
        } catch let error as CVSegError {
            if case .invalidArgument(let message) = error, !message.hasPrefix("in ") {
                throw CVSegError.invalidArgument("in \(name): \(message)")
            }
            throw error
        }
    }
}

/// A node of the module tree: named parameters, buffers (state that is saved but not learned,
/// such as batch norm's running statistics) and child modules. Names follow PyTorch's
/// `state_dict`: `backbone.conv1.weight`.
open class Module {
    public private(set) var parameterSlots: [(name: String, parameter: Parameter)] = []
    public private(set) var bufferSlots: [(name: String, buffer: Parameter)] = []
    public private(set) var children: [(name: String, module: Module)] = []

    public init() {}

    /// Registers a parameter under `name` and returns it.
    @discardableResult
    public func register(parameter: Parameter, as name: String) -> Parameter {
        precondition(!parameterSlots.contains { $0.name == name }, "parameter \(name) registered twice")
        parameterSlots.append((name, parameter))
        return parameter
    }

    /// Registers a buffer under `name` and returns it.
    @discardableResult
    public func register(buffer: Parameter, as name: String) -> Parameter {
        precondition(!bufferSlots.contains { $0.name == name }, "buffer \(name) registered twice")
        bufferSlots.append((name, buffer))
        return buffer
    }

    /// Registers a child module under `name` and returns it.
    @discardableResult
    public func register<M: Module>(child: M, as name: String) -> M {
        precondition(!children.contains { $0.name == name }, "child \(name) registered twice")
        children.append((name, child))
        return child
    }

    /// Every parameter with its dotted path, depth first, in registration order.
    public func namedParameters(prefix: String = "") -> [(String, Parameter)] {
        parameterSlots.map { (prefix + $0.name, $0.parameter) }
            + children.flatMap { $0.module.namedParameters(prefix: prefix + $0.name + ".") }
    }

    /// Every buffer with its dotted path.
    public func namedBuffers(prefix: String = "") -> [(String, Parameter)] {
        bufferSlots.map { (prefix + $0.name, $0.buffer) }
            + children.flatMap { $0.module.namedBuffers(prefix: prefix + $0.name + ".") }
    }

    public var parameters: [Parameter] { namedParameters().map(\.1) }

    /// Parameters and buffers by name, as PyTorch's `state_dict()`.
    public func stateDict() -> [(String, Tensor)] {
        (namedParameters() + namedBuffers()).map { ($0.0, $0.1.value) }
    }

    /// Loads values by name. Strict loading names every missing, unexpected and mis-shaped key
    /// in one error; non-strict loading fills what matches and returns the rest.
    /// - Returns: (missing, unexpected) keys (both empty after a strict load).
    @discardableResult
    public func load(stateDict: [(String, Tensor)], strict: Bool = true, source: String = "state dict") throws
        -> (missing: [String], unexpected: [String]) {
        let slots = Dictionary(namedParameters() + namedBuffers(), uniquingKeysWith: { a, _ in a })
        var given: [String: Tensor] = [:]
        var duplicates: [String] = []
        for (k, v) in stateDict { if given.updateValue(v, forKey: k) != nil { duplicates.append(k) } }
        let missing = slots.keys.filter { given[$0] == nil }.sorted()
        let unexpected = given.keys.filter { slots[$0] == nil }.sorted()
        var misShaped: [String] = []
        for (k, slot) in slots {
            if let v = given[k], v.shape != slot.value.shape {
                misShaped.append("\(k): expected \(slot.value.shape), got \(v.shape)")
            }
        }
        misShaped.sort()
        var problems: [String] = []
        if !duplicates.isEmpty { problems.append("duplicate keys: " + duplicates.sorted().joined(separator: ", ")) }
        if !misShaped.isEmpty { problems.append("mis-shaped: " + misShaped.joined(separator: "; ")) }
        if strict && !missing.isEmpty { problems.append("missing: " + missing.joined(separator: ", ")) }
        if strict && !unexpected.isEmpty { problems.append("unexpected: " + unexpected.joined(separator: ", ")) }
        if !problems.isEmpty {
            throw CVSegError.invalidContent(file: source, reason: "cannot load weights: " + problems.joined(separator: "; "))
        }
        for (k, slot) in slots { if let v = given[k] { slot.value = v.detached } }
        return (missing, unexpected)
    }
}
