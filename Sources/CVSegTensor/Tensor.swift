import CVSegCore

/// Float32 elements in row-major order (NCHW for images). Immutable once a tensor owns it: every
/// operation writes a new storage, so tensors can be shared between threads and kept by the
/// tape without copies.
public final class TensorStorage: @unchecked Sendable {
    public let values: [Float]
    init(_ values: [Float]) { self.values = values }
}

/// An n-dimensional array of Float32 with an optional place on an autodiff ``Tape``.
///
/// Tensors on a tape (made by ``Tape/parameter(_:)`` or computed from such tensors) record the
/// operations applied to them; ``Tape/gradients(of:for:)`` then runs reverse-mode
/// differentiation. Tensors not on a tape record nothing: that is inference mode, and
/// intermediate results are freed as soon as nothing refers to them.
public struct Tensor: Sendable, CustomStringConvertible {
    public let shape: Shape
    public let storage: TensorStorage
    /// The tape this tensor was recorded on, and its entry there.
    public let tape: Tape?
    let entry: Int

    /// A constant tensor (on no tape).
    public init(shape: Shape, values: [Float]) {
        precondition(values.count == shape.count, "\(values.count) values for shape \(shape)")
        self.shape = shape
        self.storage = TensorStorage(values)
        self.tape = nil
        self.entry = -1
    }

    init(shape: Shape, storage: TensorStorage, tape: Tape?, entry: Int) {
        self.shape = shape
        self.storage = storage
        self.tape = tape
        self.entry = entry
    }

    public static func zeros(_ shape: Shape) -> Tensor { Tensor(shape: shape, values: [Float](repeating: 0, count: shape.count)) }
    public static func ones(_ shape: Shape) -> Tensor { Tensor(shape: shape, values: [Float](repeating: 1, count: shape.count)) }
    public static func full(_ shape: Shape, _ value: Float) -> Tensor {
        Tensor(shape: shape, values: [Float](repeating: value, count: shape.count))
    }
    public static func scalar(_ value: Float) -> Tensor { Tensor(shape: [], values: [value]) }

    /// Normally distributed values (Box–Muller on a seeded ``SplitMix64``), mean 0, given deviation.
    public static func randomNormal(_ shape: Shape, std: Float = 1, generator: inout SplitMix64) -> Tensor {
        var out = [Float](repeating: 0, count: shape.count)
        var i = 0
        while i < out.count {
            let u1 = max(Double(generator.next() >> 11) * 0x1p-53, 0x1p-60)
            let u2 = Double(generator.next() >> 11) * 0x1p-53
            let r = (-2 * _log(u1)).squareRoot()
            out[i] = Float(r * _cos(2 * Double.pi * u2)) * std
            if i + 1 < out.count { out[i + 1] = Float(r * _sin(2 * Double.pi * u2)) * std }
            i += 2
        }
        return Tensor(shape: shape, values: out)
    }

    /// Uniform values in [low, high) from a seeded ``SplitMix64``.
    public static func randomUniform(_ shape: Shape, low: Float, high: Float, generator: inout SplitMix64) -> Tensor {
        let values = (0..<shape.count).map { _ in low + (high - low) * Float(Double(generator.next() >> 11) * 0x1p-53) }
        return Tensor(shape: shape, values: values)
    }

    public var values: [Float] { storage.values }
    public var count: Int { shape.count }
    /// Whether operations on this tensor are recorded.
    public var isRecorded: Bool { tape != nil }

    /// The value of a one-element tensor.
    public var scalarValue: Float {
        precondition(count == 1, "scalarValue of a tensor of shape \(shape)")
        return storage.values[0]
    }

    /// The same values, off the tape (no gradient flows through it).
    public var detached: Tensor { Tensor(shape: shape, storage: storage, tape: nil, entry: -1) }

    public var description: String {
        let head = values.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor\(shape)[\(head)\(count > 8 ? ", …" : "")]"
    }
}

// Elementary functions without Foundation.
#if canImport(Glibc)
import Glibc
@usableFromInline func _log(_ x: Double) -> Double { Glibc.log(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Glibc.cos(x) }
@usableFromInline func _sin(_ x: Double) -> Double { Glibc.sin(x) }
@usableFromInline func _expf(_ x: Float) -> Float { Glibc.expf(x) }
@usableFromInline func _logf(_ x: Float) -> Float { Glibc.logf(x) }
@usableFromInline func _tanhf(_ x: Float) -> Float { Glibc.tanhf(x) }
@usableFromInline func _log1pf(_ x: Float) -> Float { Glibc.log1pf(x) }
#endif
