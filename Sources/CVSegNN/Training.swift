import CVSegCore
import CVSegTensor

/// One optimisation step: a training forward pass (a new tape, the step's seed), the loss's
/// gradients for every parameter of the optimizer that the pass used, and the update.
/// - Parameters:
///   - step: the step's number, used in error messages and as the seed of the pass's generator
///     (dropout, stochastic pooling) together with `seed`.
///   - loss: the forward pass and loss, given the context.
/// - Returns: the loss value.
/// - Throws: ``CVSegError/nonFinite(_:)`` naming the step and the layer where NaN or infinity
///   first appeared (in the forward values or in a gradient); nothing is updated then.
@discardableResult
public func trainingStep(optimizer: Optimizer, step: Int, seed: UInt64 = 0,
                         loss: (ForwardContext) throws -> Tensor) throws -> Float {
    let context = ForwardContext.training(seed: seed &+ UInt64(truncatingIfNeeded: step) &* 0x9E37_79B9_7F4A_7C15)
    // The tape and what it recorded form a reference cycle; break it whatever happens.
    defer { context.tape?.clear() }
    do {
        let value = try loss(context)
        guard let tape = context.tape else { throw CVSegError.invalidArgument("trainingStep: the context has no tape") }
        let used = context.recorded(optimizer.parameters)
        let tracked = used.compactMap { $0 }
        let grads = try tape.gradients(of: value, for: tracked)
        // Parameters the pass did not use get zero gradients (the optimizer still decays them).
        var next = 0
        let all = zip(optimizer.parameters, used).map { p, t -> Tensor in
            guard t != nil else { return Tensor.zeros(p.value.shape) }
            next += 1
            return grads[next - 1]
        }
        try optimizer.step(all)
        return value.scalarValue
    } catch CVSegError.nonFinite(let message) {
        throw CVSegError.nonFinite("step \(step): \(message)")
    }
}
