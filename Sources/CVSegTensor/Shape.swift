/// The dimensions of a tensor, outermost first (NCHW for images: batch, channels, height, width).
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dims: [Int]

    public init(_ dims: [Int]) {
        precondition(dims.allSatisfy { $0 >= 0 }, "negative dimension in \(dims)")
        self.dims = dims
    }

    public init(arrayLiteral elements: Int...) { self.init(elements) }

    public var rank: Int { dims.count }
    /// The number of elements (1 for a scalar of rank 0).
    public var count: Int { dims.reduce(1, *) }
    public subscript(i: Int) -> Int { dims[i] }

    /// Row-major strides in elements.
    public var strides: [Int] {
        var s = [Int](repeating: 1, count: dims.count)
        var acc = 1
        for i in stride(from: dims.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= dims[i]
        }
        return s
    }

    public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }
}
