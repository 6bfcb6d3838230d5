import CVSegCore

/// The record of a computation for reverse-mode differentiation (a Wengert list).
///
/// Put the tensors to differentiate for on the tape with ``parameter(_:)``; every operation with
/// an input on the tape appends an entry holding its inputs and a backward function; then
/// ``gradients(of:for:)`` walks the entries backwards once. A tape is used by one thread at a time
/// and thrown away after the backward pass (make a new one per training step). Nothing is
/// recorded for tensors on no tape: inference needs no switch.
public final class Tape: @unchecked Sendable {
    struct Entry {
        let name: String
        let shape: Shape
        let inputs: [Int]
        /// Output gradient → one gradient per input (nil: none flows there). Nil for parameters.
        let backward: ((Tensor) throws -> [Tensor?])?
        /// The recorded output (kept by reference: the backward closures keep most of them alive
        /// anyway), read only when a NaN or infinity has to be traced to where it appeared.
        var output: TensorStorage? = nil
    }

    private(set) var entries: [Entry] = []
    private var scopes: [String] = []
    /// The path of the first recorded operation whose output held NaN or infinity (searched when
    /// asked, so that recording costs no pass over the values).
    public var firstNonFinite: String? {
        entries.first { entry in entry.output.map { !allFinite($0.values) } ?? false }?.name
    }

    public init() {}

    /// The number of recorded entries.
    public var count: Int { entries.count }

    /// Drops every entry. The backward closures hold their input tensors, and tensors hold
    /// their tape, so a tape and everything recorded on it form a reference cycle that only
    /// this breaks: call it when the step is done (`trainingStep` does).
    /// Tensors recorded earlier keep their values but can no longer be differentiated.
    public func clear() {
        entries.removeAll()
        scopes.removeAll()
    }

    /// `tensor`'s values as a leaf on this tape (a parameter or an input to differentiate for).
    public func parameter(_ tensor: Tensor, name: String = "parameter") -> Tensor {
        entries.append(Entry(name: path(name), shape: tensor.shape, inputs: [], backward: nil))
        return Tensor(shape: tensor.shape, storage: tensor.storage, tape: self, entry: entries.count - 1)
    }

    /// Runs `body` with `name` added to the path that recorded entries are named by
    /// (`backbone.conv1.conv2d`), so errors can name the layer.
    public func withScope<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        scopes.append(name)
        defer { scopes.removeLast() }
        return try body()
    }

    func path(_ name: String) -> String { (scopes + [name]).joined(separator: ".") }

    func record(_ name: String, shape: Shape, values: [Float], inputs: [Tensor],
                backward: @escaping (Tensor) throws -> [Tensor?]) -> Tensor {
        let storage = TensorStorage(values)
        entries.append(Entry(name: path(name), shape: shape, inputs: inputs.map { $0.tape === self ? $0.entry : -1 },
                             backward: backward, output: storage))
        return Tensor(shape: shape, storage: storage, tape: self, entry: entries.count - 1)
    }

    /// d`loss`/d`tensor` for each of `tensors` (zeros for those the loss does not depend on).
    /// - Parameters:
    ///   - loss: a one-element tensor recorded on this tape.
    ///   - tensors: tensors on this tape, usually those from ``parameter(_:)``.
    /// - Throws: ``CVSegError/invalidArgument(_:)`` for a loss that is not a scalar or not on
    ///   this tape; ``CVSegError/nonFinite(_:)`` when a gradient becomes NaN or infinite,
    ///   naming the entry (its layer path) where it appeared.
    public func gradients(of loss: Tensor, for tensors: [Tensor]) throws -> [Tensor] {
        guard loss.tape === self else { throw CVSegError.invalidArgument("gradients: the loss is not recorded on this tape") }
        guard loss.entry < entries.count, tensors.allSatisfy({ $0.tape !== self || $0.entry < entries.count }) else {
            throw CVSegError.invalidArgument("gradients: the tape was cleared after these tensors were recorded")
        }
        guard loss.count == 1 else { throw CVSegError.invalidArgument("gradients: the loss has shape \(loss.shape), not one element") }
        guard loss.scalarValue.isFinite else {
            let origin = firstNonFinite ?? entries[loss.entry].name
            throw CVSegError.nonFinite("the loss is \(loss.scalarValue); non-finite values first appeared in \(origin)")
        }
        for t in tensors where t.tape !== self {
            throw CVSegError.invalidArgument("gradients: a tensor of shape \(t.shape) is not on this tape")
        }
        let wanted = Set(tensors.map(\.entry))
        var grads = [[Float]?](repeating: nil, count: entries.count)
        grads[loss.entry] = [1]
        // Only entries that lead to a wanted tensor need their backward function.
        for i in stride(from: loss.entry, through: 0, by: -1) {
            guard let g = grads[i], let backward = entries[i].backward else { continue }
            let entry = entries[i]
            guard g.allSatisfy({ $0.isFinite }) else {
                throw CVSegError.nonFinite("non-finite gradient flowing into \(entry.name) (shape \(entry.shape))")
            }
            let inputGrads = try backward(Tensor(shape: entry.shape, values: g))
            precondition(inputGrads.count == entry.inputs.count, "\(entry.name): backward returned \(inputGrads.count) gradients for \(entry.inputs.count) inputs")
            for (input, grad) in zip(entry.inputs, inputGrads) {
                guard input >= 0, let grad else { continue }
                precondition(grad.shape == entries[input].shape,
                             "\(entry.name): gradient of shape \(grad.shape) for an input of shape \(entries[input].shape)")
                if grads[input] != nil {
                    // In place: the stored array is uniquely referenced, so no copy is made.
                    grad.values.withUnsafeBufferPointer { src in
                        grads[input]!.withUnsafeMutableBufferPointer { acc in
                            for k in 0..<acc.count { acc[k] += src[k] }
                        }
                    }
                } else {
                    grads[input] = grad.values
                }
            }
            if i != loss.entry && !wanted.contains(i) { grads[i] = nil } // free as we go
        }
        return try tensors.map { t in
            let g = grads[t.entry] ?? [Float](repeating: 0, count: t.count)
            guard g.allSatisfy({ $0.isFinite }) else {
                throw CVSegError.nonFinite("non-finite gradient for \(entries[t.entry].name) (shape \(t.shape))")
            }
            return Tensor(shape: t.shape, values: g)
        }
    }
}

/// Whether every value is finite: Σ v·0 is NaN exactly when some v is NaN or infinite (a
/// branch-free loop the compiler vectorises).
func allFinite(_ values: [Float]) -> Bool {
    var acc: Float = 0
    values.withUnsafeBufferPointer { p in for v in p { acc += v * 0 } }
    return acc == 0
}

/// The tape shared by `inputs`, or nil when none is recorded.
/// - Throws: when two inputs are on different tapes.
func commonTape(_ inputs: [Tensor], op: String) throws -> Tape? {
    var tape: Tape?
    for t in inputs {
        guard let other = t.tape else { continue }
        if let tape, tape !== other { throw CVSegError.invalidArgument("\(op): inputs recorded on different tapes") }
        tape = other
    }
    return tape
}

/// The result of an operation: recorded on the inputs' tape with `backward`, or a constant.
func result(_ op: String, shape: Shape, values: [Float], inputs: [Tensor],
            backward: @escaping (Tensor) throws -> [Tensor?]) throws -> Tensor {
    guard let tape = try commonTape(inputs, op: op) else { return Tensor(shape: shape, values: values) }
    return tape.record(op, shape: shape, values: values, inputs: inputs, backward: backward)
}

/// An operation defined outside this module (losses, fused layers): `values` of `shape`
/// computed from `inputs`, and `backward` mapping the output's gradient to one gradient per
/// input (nil where none flows). Recorded when an input is on a tape; a constant otherwise.
public func customOperation(_ name: String, shape: Shape, values: [Float], inputs: [Tensor],
                            backward: @escaping (Tensor) throws -> [Tensor?]) throws -> Tensor {
    guard values.count == shape.count else {
        throw CVSegError.invalidArgument("\(name): \(values.count) values for shape \(shape)")
    }
    return try result(name, shape: shape, values: values, inputs: inputs, backward: backward)
}
