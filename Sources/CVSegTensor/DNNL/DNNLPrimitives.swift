internal import CDNNL

/// Parameter types for the oneDNN layer (a namespace, so that names such as `Padding` stay free for
/// the tensor API).
///
/// Conventions for every operation in `DNNL/`: buffers are `Float32`, row-major; activations are
/// `[N, C, H, W]`; convolution weights are PyTorch's (`[Cout, Cin/groups, kH, kW]`, transposed:
/// `[Cin, Cout/groups, kH, kW]`); dilation is PyTorch's (1 = dense; oneDNN's value is one less).
package enum DNNL {
    /// A (height, width) pair: kernel size, stride, dilation or output padding.
    package struct Pair: Hashable, Sendable {
        package var height: Int
        package var width: Int
        package init(_ height: Int, _ width: Int) { self.height = height; self.width = width }
        package static func square(_ v: Int) -> Pair { Pair(v, v) }
    }

    /// Implicit zero (or, for max pooling, −∞) rows and columns added around the input.
    package struct Padding: Hashable, Sendable {
        package var top: Int, left: Int, bottom: Int, right: Int
        package init(top: Int, left: Int, bottom: Int, right: Int) {
            self.top = top; self.left = left; self.bottom = bottom; self.right = right
        }
        /// PyTorch's `padding=(h, w)`: `h` rows on top and bottom, `w` columns left and right.
        package init(_ height: Int, _ width: Int) { self.init(top: height, left: width, bottom: height, right: width) }
        package static func symmetric(_ v: Int) -> Padding { Padding(v, v) }
        package static let zero = Padding(0, 0)
    }

    /// Training keeps what backward needs (workspaces, batch statistics); inference does not.
    package enum Mode: Hashable, Sendable { case training, inference }

    /// Opaque bytes that a forward pass leaves for its backward pass (oneDNN's "workspace": for max
    /// pooling, the position of each maximum in oneDNN's own encoding). Pass it back unchanged, to
    /// the backward of the same configuration.
    package struct Workspace: Sendable {
        /// The bytes, stored in `Float`s so that they live in the same kind of array as the data.
        let storage: [Float]
        package var byteCount: Int { storage.count * MemoryLayout<Float>.size }
    }

    /// `[N, C, H, W]` dims of a rank-4 shape, or a thrown error naming `what`.
    static func nchw(_ shape: Shape, _ what: String, _ function: String) throws -> (n: Int, c: Int, h: Int, w: Int) {
        guard shape.rank == 4 else { throw DNNLError.invalid(function, "\(what) must be [N, C, H, W], got \(shape)") }
        guard shape.dims.allSatisfy({ $0 >= 1 }) else { throw DNNLError.invalid(function, "\(what) \(shape) has an empty dimension") }
        return (shape[0], shape[1], shape[2], shape[3])
    }
}

/// A created oneDNN primitive. Immutable; executed concurrently with per-call scratchpads.
final class DNNLPrimitive: @unchecked Sendable {
    // @unchecked: the handle is never changed after init, and oneDNN allows concurrent execution
    // of one primitive when each execution gets its own scratchpad (user scratchpad mode).
    let handle: dnnl_primitive_t
    /// Reorders between the plain layout of the caller's arrays and the layout oneDNN chose for an
    /// execution argument (`format_tag_any`), keyed by the argument: plain → chosen for inputs,
    /// chosen → plain for outputs. Arguments not listed take the plain layout directly.
    let reorders: [Int32: DNNLPrimitive]
    init(_ handle: dnnl_primitive_t, reorders: [Int32: DNNLPrimitive] = [:]) { self.handle = handle; self.reorders = reorders }
    deinit { dnnl_primitive_destroy(handle) }

    /// The primitive's descriptor (owned by the primitive).
    var descriptor: const_dnnl_primitive_desc_t? {
        var pd: const_dnnl_primitive_desc_t?
        return dnnl_primitive_get_primitive_desc(handle, &pd) == dnnl_success ? pd : nil
    }

    /// Bytes oneDNN expects for execution argument `arg` (`DNNL_ARG_*`); 0 when it takes none.
    func bytes(for arg: Int32) -> Int {
        guard let pd = descriptor, let md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg) else { return 0 }
        return dnnl_memory_desc_get_size(md)
    }
}

/// What a cached primitive computes; two calls with equal keys share one primitive.
enum PrimitiveKey: Hashable {
    enum ConvPass: Hashable { case forward, backwardData, backwardWeights }
    /// `relu`: a fused ReLU post-op (forward only).
    case convolution(DNNL.Conv2D, ConvPass, bias: Bool, relu: Bool = false, winograd: Bool = false)
    case transposedConvolution(DNNL.ConvTranspose2D, ConvPass, bias: Bool)
    case pooling(DNNL.Pool2D, PoolAlgorithm, backward: Bool, mode: DNNL.Mode)
    case batchNorm(DNNL.BatchNorm, backward: Bool, globalStats: Bool, mode: DNNL.Mode)
    case lrn(DNNL.LRN, backward: Bool, mode: DNNL.Mode)

    enum PoolAlgorithm: Hashable { case max, averageIncludingPadding, averageExcludingPadding }
}

// MARK: - Building and running primitives

extension DNNLEngine {
    /// A plain-layout `f32` memory descriptor.
    func memoryDesc(_ dims: [Int], _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let d = dims.map { Int64($0) }
        try dnnlCheck(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, dnnl_f32, tag),
                      "dnnl_memory_desc_init_by_tag", "dims \(dims)")
        return md
    }

    /// Builds a primitive from an initialised operation descriptor (`opDesc` points at a
    /// `dnnl_*_desc_t`), with user-managed scratchpad. `hint` is the forward primitive that a
    /// backward one needs.
    ///
    /// - `relu`: a ReLU post-op (`dst = max(op(…), 0)`), for convolutions.
    /// - `plain`: for operation descriptors built with `dnnl_format_tag_any`, the plain layout of
    ///   each such argument (`DNNL_ARG_*`, descriptor, whether it is an input); where oneDNN chose
    ///   another layout, the primitive gets a reorder (see ``DNNLPrimitive/reorders``).
    func makePrimitive(_ function: String, _ opDesc: UnsafeRawPointer, hint: DNNLPrimitive? = nil, relu: Bool = false,
                       plain: [(arg: Int32, md: dnnl_memory_desc_t, input: Bool)] = []) throws -> DNNLPrimitive {
        let attr = try makeAttributes()
        defer { dnnl_primitive_attr_destroy(attr) }
        if relu {
            var ops: dnnl_post_ops_t?
            try dnnlCheck(dnnl_post_ops_create(&ops), "dnnl_post_ops_create")
            defer { dnnl_post_ops_destroy(ops) }
            try dnnlCheck(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_relu, 0, 0), "dnnl_post_ops_append_eltwise")
            try dnnlCheck(dnnl_primitive_attr_set_post_ops(attr, ops), "dnnl_primitive_attr_set_post_ops")
        }
        var pd: dnnl_primitive_desc_t?
        try dnnlCheck(dnnl_primitive_desc_create(&pd, opDesc, attr, handle, hint?.descriptor), "dnnl_primitive_desc_create", function)
        defer { dnnl_primitive_desc_destroy(pd) }
        var reorders: [Int32: DNNLPrimitive] = [:]
        for var p in plain {
            guard let chosen = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, p.arg) else { continue }
            guard dnnl_memory_desc_equal(chosen, &p.md) == 0 else { continue }
            reorders[p.arg] = p.input ? try makeReorder(from: &p.md, to: chosen, function)
                                      : try makeReorder(from: chosen, to: &p.md, function)
        }
        var primitive: dnnl_primitive_t?
        try dnnlCheck(dnnl_primitive_create(&primitive, pd), "dnnl_primitive_create", function)
        guard let primitive else { throw DNNLError(function: "dnnl_primitive_create", status: .runtimeError, detail: function) }
        return DNNLPrimitive(primitive, reorders: reorders)
    }

    /// Attributes with user-managed scratchpad (the caller destroys them).
    private func makeAttributes() throws -> dnnl_primitive_attr_t? {
        var attr: dnnl_primitive_attr_t?
        try dnnlCheck(dnnl_primitive_attr_create(&attr), "dnnl_primitive_attr_create")
        do {
            try dnnlCheck(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "dnnl_primitive_attr_set_scratchpad_mode")
        } catch {
            dnnl_primitive_attr_destroy(attr)
            throw error
        }
        return attr
    }

    /// A reorder primitive between two layouts of the same data.
    private func makeReorder(from: UnsafePointer<dnnl_memory_desc_t>, to: UnsafePointer<dnnl_memory_desc_t>,
                             _ function: String) throws -> DNNLPrimitive {
        let attr = try makeAttributes()
        defer { dnnl_primitive_attr_destroy(attr) }
        var pd: dnnl_primitive_desc_t?
        try dnnlCheck(dnnl_reorder_primitive_desc_create(&pd, from, handle, to, handle, attr), "dnnl_reorder_primitive_desc_create", function)
        defer { dnnl_primitive_desc_destroy(pd) }
        var primitive: dnnl_primitive_t?
        try dnnlCheck(dnnl_primitive_create(&primitive, pd), "dnnl_primitive_create", "\(function) reorder")
        guard let primitive else { throw DNNLError(function: "dnnl_primitive_create", status: .runtimeError, detail: function) }
        return DNNLPrimitive(primitive)
    }

    /// An input of ``executeReordering(_:_:inputs:outputs:)``.
    enum LayoutInput {
        /// A plain-layout array; reordered when the primitive chose another layout. With an
        /// `owner` (the immutable storage the bytes belong to), the reordered copy is cached
        /// against it (weights: reordered once, not on every call).
        case plain(UnsafeRawBufferPointer, owner: AnyObject?)
        /// Bytes already in the layout the primitive chose.
        case chosen(UnsafeRawBufferPointer)
    }

    /// Executes `p` with plain-layout arrays, reordering inputs into the layouts it chose (into
    /// pooled temporary buffers, or the weight cache) and its outputs back into new arrays of the
    /// given element counts, returned in order.
    ///
    /// Memory: the reordered inputs are released before the reordered outputs' arrays are
    /// allocated, so that one convolution holds at most its plain input, the blocked input and
    /// output, and then the blocked output and plain output (not all four).
    func executeReordering(_ p: DNNLPrimitive, _ function: String, inputs: [(arg: Int32, input: LayoutInput)],
                           outputs: [(arg: Int32, count: Int)]) throws -> [[Float]] {
        var args: [Argument] = []
        var inputTemporaries: [UnsafeMutableRawBufferPointer] = []
        var outputTemporaries: [Int: UnsafeMutableRawBufferPointer] = [:]
        defer {
            for t in inputTemporaries { returnTemporary(t) }
            for t in outputTemporaries.values { returnTemporary(t) }
        }
        var held: [ReorderedWeights] = []
        for (arg, input) in inputs {
            switch input {
            case .chosen(let bytes):
                args.append(Argument(arg, bytes))
            case .plain(let bytes, let owner):
                guard let reorder = p.reorders[arg] else { args.append(Argument(arg, bytes)); continue }
                if let owner {
                    let cached = try reordered(bytes, owner: owner, for: p, arg: arg, reorder, function)
                    held.append(cached)
                    args.append(Argument(arg, UnsafeRawBufferPointer(cached.memory)))
                } else {
                    let t = takeTemporary(p.bytes(for: arg))
                    inputTemporaries.append(t)
                    try execute(reorder, "\(function) reorder", [Argument(DNNL_ARG_SRC, bytes), Argument(DNNL_ARG_DST, t)])
                    args.append(Argument(arg, t))
                }
            }
        }
        let direct = outputs.indices.filter { p.reorders[outputs[$0].arg] == nil }
        for i in outputs.indices where p.reorders[outputs[i].arg] != nil {
            let t = takeTemporary(p.bytes(for: outputs[i].arg))
            outputTemporaries[i] = t
            args.append(Argument(outputs[i].arg, t))
        }
        let directArrays = try withBuffers([], outputs: direct.map { outputs[$0].count }) { _, outs in
            try execute(p, function, args + zip(direct, outs).map { Argument(outputs[$0].arg, $1) })
        }
        withExtendedLifetime(held) {}
        for t in inputTemporaries { returnTemporary(t) }
        inputTemporaries = []
        var results: [[Float]] = []
        for i in outputs.indices {
            if let k = direct.firstIndex(of: i) { results.append(directArrays[k]); continue }
            guard let t = outputTemporaries[i], let reorder = p.reorders[outputs[i].arg] else { continue }
            let count = outputs[i].count
            results.append(try [Float](unsafeUninitializedCapacity: count) { buffer, n in
                try execute(reorder, "\(function) reorder", [Argument(DNNL_ARG_SRC, t), Argument(DNNL_ARG_DST, UnsafeMutableRawBufferPointer(buffer))])
                n = count
            })
            returnTemporary(t)
            outputTemporaries[i] = nil
        }
        return results
    }

    /// `bytes` (owned by `owner`) reordered for argument `arg` of `p`: from the weight cache, or
    /// reordered now and cached.
    private func reordered(_ bytes: UnsafeRawBufferPointer, owner: AnyObject, for p: DNNLPrimitive, arg: Int32,
                           _ reorder: DNNLPrimitive, _ function: String) throws -> ReorderedWeights {
        guard let pd = p.descriptor, let md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg) else {
            throw DNNLError(function: "dnnl_primitive_desc_query_md", status: .runtimeError, detail: "\(function) argument \(arg)")
        }
        if let found = cachedWeights(owner: owner, layout: md) { return found }
        let made = ReorderedWeights(owner: owner, layout: md.pointee, byteCount: dnnl_memory_desc_get_size(md))
        try execute(reorder, "\(function) reorder", [Argument(DNNL_ARG_SRC, bytes), Argument(DNNL_ARG_DST, made.memory)])
        storeWeights(made)
        return made
    }
}

/// A weight array reordered into a primitive's layout, cached against the storage it came from.
/// The owner is held weakly: once that storage is freed the entry can never match again (a new
/// storage at the same address is another object, and `===` on a nil weak reference fails).
final class ReorderedWeights: @unchecked Sendable {
    // @unchecked: `memory` is written once, before the entry is shared; `owner` is a weak
    // reference (atomic in Swift) and `lastUse` is only touched under the cache's mutex.
    weak var owner: AnyObject?
    var layout: dnnl_memory_desc_t
    let memory: UnsafeMutableRawBufferPointer
    var lastUse: UInt64 = 0

    init(owner: AnyObject, layout: dnnl_memory_desc_t, byteCount: Int) {
        self.owner = owner
        self.layout = layout
        memory = .allocate(byteCount: max(byteCount, 1), alignment: 64)
    }

    deinit { memory.deallocate() }

    func matches(_ owner: AnyObject, _ md: UnsafePointer<dnnl_memory_desc_t>) -> Bool {
        self.owner === owner && dnnl_memory_desc_equal(&layout, md) != 0
    }
}

extension DNNLEngine {

    /// One execution argument: `DNNL_ARG_*` and the buffer bound to it.
    struct Argument {
        let arg: Int32
        let buffer: UnsafeMutableRawBufferPointer
        init(_ arg: Int32, _ buffer: UnsafeMutableRawBufferPointer) { self.arg = arg; self.buffer = buffer }
        init(_ arg: Int32, _ buffer: UnsafeRawBufferPointer) { self.init(arg, UnsafeMutableRawBufferPointer(mutating: buffer)) }
    }

    /// Executes `p` on the given buffers. Each buffer must hold at least the bytes oneDNN's
    /// descriptor for that argument needs (checked: a short buffer throws, it is never overrun).
    /// Inputs are passed as mutable pointers because the C API takes `void *`; oneDNN only reads them.
    func execute(_ p: DNNLPrimitive, _ function: String, _ arguments: [Argument]) throws {
        guard let pd = p.descriptor else { throw DNNLError(function: "dnnl_primitive_get_primitive_desc", status: .runtimeError, detail: function) }
        var args: [dnnl_exec_arg_t] = []
        defer { for a in args { dnnl_memory_destroy(a.memory) } }
        func bind(_ arg: Int32, _ md: UnsafePointer<dnnl_memory_desc_t>, _ pointer: UnsafeMutableRawPointer?) throws {
            var memory: dnnl_memory_t?
            try dnnlCheck(dnnl_memory_create(&memory, md, handle, pointer), "dnnl_memory_create", "\(function) argument \(arg)")
            args.append(dnnl_exec_arg_t(arg: arg, memory: memory))
        }
        for a in arguments {
            guard let md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, a.arg) else {
                throw DNNLError(function: "dnnl_primitive_desc_query_md", status: .runtimeError, detail: "\(function) argument \(a.arg)")
            }
            let needed = dnnl_memory_desc_get_size(md)
            guard needed <= a.buffer.count else {
                throw DNNLError.invalid(function, "argument \(a.arg) needs \(needed) bytes, buffer has \(a.buffer.count)")
            }
            guard needed > 0 else { continue }  // an argument this primitive does not take
            try bind(a.arg, md, a.buffer.baseAddress)
        }
        func run() throws {
            try withStream { stream in
                try dnnlCheck(dnnl_primitive_execute(p.handle, stream, Int32(args.count), args), "dnnl_primitive_execute", function)
                try dnnlCheck(dnnl_stream_wait(stream), "dnnl_stream_wait", function)
            }
        }
        guard let md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0), case let size = dnnl_memory_desc_get_size(md),
              size > 0 else { return try run() }
        try withScratchpad(size) { scratchpad in
            try bind(DNNL_ARG_SCRATCHPAD, md, scratchpad)
            try run()
        }
    }
}

// MARK: - Arrays as buffers

/// Calls `body` with the bytes of each input and of zero-filled outputs of the given element
/// counts, and returns the outputs. Inputs are borrowed, never copied.
func withBuffers(_ inputs: [[Float]], outputs counts: [Int],
                 _ body: ([UnsafeRawBufferPointer], [UnsafeMutableRawBufferPointer]) throws -> Void) throws -> [[Float]] {
    func outputs(_ rest: ArraySlice<Int>, _ ins: [UnsafeRawBufferPointer], _ outs: [UnsafeMutableRawBufferPointer]) throws -> [[Float]] {
        guard let n = rest.first else { try body(ins, outs); return [] }
        // Uninitialised: oneDNN writes every element of its outputs (any bit pattern is a Float).
        var array = [Float](unsafeUninitializedCapacity: n) { _, count in count = n }
        let later = try array.withUnsafeMutableBytes { try outputs(rest.dropFirst(), ins, outs + [$0]) }
        return [array] + later
    }
    func borrow(_ rest: ArraySlice<[Float]>, _ ins: [UnsafeRawBufferPointer]) throws -> [[Float]] {
        guard let first = rest.first else { return try outputs(counts[...], ins, []) }
        return try first.withUnsafeBytes { try borrow(rest.dropFirst(), ins + [$0]) }
    }
    return try borrow(inputs[...], [])
}

/// Throws unless `buffer` has exactly `expected` elements.
func checkCount(_ buffer: [Float], _ expected: Int, _ what: String, _ function: String) throws {
    guard buffer.count == expected else {
        throw DNNLError.invalid(function, "\(what) has \(buffer.count) elements, expected \(expected)")
    }
}

// MARK: - GEMM

extension DNNLEngine {
    /// Row-major single-precision GEMM: `C ← alpha · op(A) · op(B) + beta · C` (`dnnl_sgemm`).
    ///
    /// `op(A)` is `[m, k]` and `op(B)` is `[k, n]`; A is stored `[m, k]`, or `[k, m]` when
    /// `transposeA`; B is stored `[k, n]`, or `[n, k]` when `transposeB`; C is `[m, n]`. All are
    /// dense (leading dimension = row length). A linear layer `y = x Wᵀ + b` with `x: [N, in]`,
    /// `W: [out, in]` is `sgemm(transposeB: true, m: N, n: out, k: in, a: x, b: W, c: &y)` with `y`
    /// holding the broadcast bias and `beta = 1`.
    ///
    /// Threads: as for primitives (OpenMP, `OMP_NUM_THREADS`). The engine is not used.
    /// - Throws: ``DNNLError`` for negative sizes, wrong buffer sizes, or a failing `dnnl_sgemm`.
    package static func sgemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
                              alpha: Float = 1, a: [Float], b: [Float], beta: Float = 0, c: inout [Float]) throws {
        let function = "sgemm"
        guard m >= 0, n >= 0, k >= 0 else { throw DNNLError.invalid(function, "negative size m \(m), n \(n), k \(k)") }
        try checkCount(a, m * k, "A", function)
        try checkCount(b, k * n, "B", function)
        try checkCount(c, m * n, "C", function)
        guard m > 0, n > 0 else { return }
        let lda = transposeA ? m : k, ldb = transposeB ? k : n
        if k == 0 {  // BLAS semantics: C ← beta · C (oneDNN would be handed empty A and B)
            for i in c.indices { c[i] = beta == 0 ? 0 : beta * c[i] }
            return
        }
        let status = a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    dnnl_sgemm(CChar(UInt8(ascii: transposeA ? "T" : "N")), CChar(UInt8(ascii: transposeB ? "T" : "N")),
                               Int64(m), Int64(n), Int64(k), alpha, pa.baseAddress, Int64(lda),
                               pb.baseAddress, Int64(ldb), beta, pc.baseAddress, Int64(n))
                }
            }
        }
        try dnnlCheck(status, "dnnl_sgemm", "m \(m), n \(n), k \(k)")
    }
}
