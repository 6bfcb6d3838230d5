import CVSegCore

func checkSame(_ a: Tensor, _ b: Tensor, _ op: String) throws {
    guard a.shape == b.shape else {
        throw CVSegError.invalidArgument("\(op): shapes \(a.shape) and \(b.shape) differ")
    }
}

func zipValues(_ a: [Float], _ b: [Float], _ f: (Float, Float) -> Float) -> [Float] {
    [Float](unsafeUninitializedCapacity: a.count) { out, n in
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                for i in 0..<a.count { out[i] = f(a[i], b[i]) }
            }
        }
        n = a.count
    }
}

func mapValues(_ a: [Float], _ f: (Float) -> Float) -> [Float] {
    [Float](unsafeUninitializedCapacity: a.count) { out, n in
        a.withUnsafeBufferPointer { a in for i in 0..<a.count { out[i] = f(a[i]) } }
        n = a.count
    }
}

extension Tensor {
    /// Elementwise sum of two tensors of the same shape (skip connections).
    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try add(a, b) }
    /// Elementwise difference of two tensors of the same shape.
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try sub(a, b) }
    /// Elementwise product of two tensors of the same shape.
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try mul(a, b) }
}

/// `a + b`, same shapes.
public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try checkSame(a, b, "add")
    return try result("add", shape: a.shape, values: zipValues(a.values, b.values, +), inputs: [a, b]) { g in [g, g] }
}

/// `a − b`, same shapes.
public func sub(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try checkSame(a, b, "sub")
    return try result("sub", shape: a.shape, values: zipValues(a.values, b.values, -), inputs: [a, b]) { g in
        [g, Tensor(shape: g.shape, values: mapValues(g.values) { -$0 })]
    }
}

/// `a · b` elementwise, same shapes.
public func mul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try checkSame(a, b, "mul")
    let (av, bv) = (a.values, b.values)
    return try result("mul", shape: a.shape, values: zipValues(av, bv, *), inputs: [a, b]) { g in
        [Tensor(shape: g.shape, values: zipValues(g.values, bv, *)), Tensor(shape: g.shape, values: zipValues(g.values, av, *))]
    }
}

/// `a · s` for a constant `s`.
public func scale(_ a: Tensor, by s: Float) throws -> Tensor {
    try result("scale", shape: a.shape, values: mapValues(a.values) { $0 * s }, inputs: [a]) { g in
        [Tensor(shape: g.shape, values: mapValues(g.values) { $0 * s })]
    }
}

/// The sum of all elements, as a one-element tensor of shape [].
public func sum(_ a: Tensor) throws -> Tensor {
    var total = 0.0
    for v in a.values { total += Double(v) }
    let shape = a.shape
    return try result("sum", shape: [], values: [Float(total)], inputs: [a]) { g in
        [Tensor.full(shape, g.scalarValue)]
    }
}

/// The mean of all elements, as a one-element tensor of shape [].
public func mean(_ a: Tensor) throws -> Tensor {
    guard a.count > 0 else { throw CVSegError.invalidArgument("mean of an empty tensor of shape \(a.shape)") }
    return try scale(sum(a), by: 1 / Float(a.count))
}

/// The same values in another shape with the same number of elements.
public func reshape(_ a: Tensor, _ shape: Shape) throws -> Tensor {
    guard shape.count == a.count else {
        throw CVSegError.invalidArgument("reshape: \(a.shape) has \(a.count) elements, \(shape) has \(shape.count)")
    }
    let original = a.shape
    return try result("reshape", shape: shape, values: a.values, inputs: [a]) { g in
        [Tensor(shape: original, values: g.values)]
    }
}

/// `[N, C, H, W]` (or any rank ≥ 2) as `[N, C·H·W]`.
public func flatten(_ a: Tensor) throws -> Tensor {
    guard a.shape.rank >= 1 else { throw CVSegError.invalidArgument("flatten of a scalar") }
    let n = a.shape[0]
    return try reshape(a, [n, n == 0 ? 0 : a.count / n])
}

/// `x + bias` with `bias` of shape `[C]` added to every element of channel `c` of an
/// `[N, C, …]` tensor.
public func addChannelBias(_ x: Tensor, _ bias: Tensor) throws -> Tensor {
    guard x.shape.rank >= 2, bias.shape == [x.shape[1]] else {
        throw CVSegError.invalidArgument("addChannelBias: bias \(bias.shape) for input \(x.shape) (needs [C] with C = dim 1)")
    }
    let (n, c) = (x.shape[0], x.shape[1])
    let inner = c == 0 || n == 0 ? 0 : x.count / (n * c)
    var out = x.values
    let b = bias.values
    for i in 0..<n { for j in 0..<c { for k in 0..<inner { out[(i * c + j) * inner + k] += b[j] } } }
    return try result("add_bias", shape: x.shape, values: out, inputs: [x, bias]) { g in
        var gb = [Double](repeating: 0, count: c)
        let gv = g.values
        for i in 0..<n { for j in 0..<c { for k in 0..<inner { gb[j] += Double(gv[(i * c + j) * inner + k]) } } }
        return [g, Tensor(shape: [c], values: gb.map { Float($0) })]
    }
}

/// Concatenation along dimension 1 (channels) of tensors that agree in every other dimension.
public func concatChannels(_ parts: [Tensor]) throws -> Tensor {
    guard let first = parts.first else { throw CVSegError.invalidArgument("concatChannels of nothing") }
    guard first.shape.rank >= 2 else { throw CVSegError.invalidArgument("concatChannels: rank \(first.shape.rank) < 2") }
    for p in parts where p.shape.rank != first.shape.rank || p.shape[0] != first.shape[0]
        || Array(p.shape.dims.dropFirst(2)) != Array(first.shape.dims.dropFirst(2)) {
        throw CVSegError.invalidArgument("concatChannels: shapes \(first.shape) and \(p.shape) differ outside dimension 1")
    }
    let n = first.shape[0]
    let inner = first.shape.dims.dropFirst(2).reduce(1, *)
    let channels = parts.map { $0.shape[1] }
    let total = channels.reduce(0, +)
    var dims = first.shape.dims
    dims[1] = total
    var out = [Float](repeating: 0, count: n * total * inner)
    var offset = 0
    for (p, c) in zip(parts, channels) {
        let v = p.values
        for i in 0..<n {
            for k in 0..<(c * inner) { out[(i * total + offset) * inner + k] = v[i * c * inner + k] }
        }
        offset += c
    }
    return try result("concat", shape: Shape(dims), values: out, inputs: parts) { g in
        var grads: [Tensor?] = []
        var offset = 0
        let gv = g.values
        for (p, c) in zip(parts, channels) {
            var part = [Float](repeating: 0, count: n * c * inner)
            for i in 0..<n {
                for k in 0..<(c * inner) { part[i * c * inner + k] = gv[(i * total + offset) * inner + k] }
            }
            grads.append(Tensor(shape: p.shape, values: part))
            offset += c
        }
        return grads
    }
}

// MARK: - Activations

/// max(0, x). The gradient at 0 is 0, as PyTorch's.
public func relu(_ x: Tensor) throws -> Tensor {
    let xv = x.values
    return try result("relu", shape: x.shape, values: mapValues(xv) { max($0, 0) }, inputs: [x]) { g in
        [Tensor(shape: g.shape, values: zipValues(g.values, xv) { $1 > 0 ? $0 : 0 })]
    }
}

/// x for x > 0, `slope`·x otherwise (PyTorch's default slope 0.01).
public func leakyRelu(_ x: Tensor, slope: Float = 0.01) throws -> Tensor {
    let xv = x.values
    return try result("leaky_relu", shape: x.shape, values: mapValues(xv) { $0 > 0 ? $0 : $0 * slope }, inputs: [x]) { g in
        [Tensor(shape: g.shape, values: zipValues(g.values, xv) { $1 > 0 ? $0 : $0 * slope })]
    }
}

/// 1 / (1 + e^−x), computed without overflow for large |x|.
public func sigmoid(_ x: Tensor) throws -> Tensor {
    let y = mapValues(x.values) { v in v >= 0 ? 1 / (1 + _expf(-v)) : _expf(v) / (1 + _expf(v)) }
    return try result("sigmoid", shape: x.shape, values: y, inputs: [x]) { g in
        [Tensor(shape: g.shape, values: zipValues(g.values, y) { $0 * $1 * (1 - $1) })]
    }
}

/// tanh(x).
public func tanh(_ x: Tensor) throws -> Tensor {
    let y = mapValues(x.values, _tanhf)
    return try result("tanh", shape: x.shape, values: y, inputs: [x]) { g in
        [Tensor(shape: g.shape, values: zipValues(g.values, y) { $0 * (1 - $1 * $1) })]
    }
}
