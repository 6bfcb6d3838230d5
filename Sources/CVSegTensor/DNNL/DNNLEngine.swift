internal import CDNNL
internal import CVSegDNNLLoader
import Synchronization

/// A failed oneDNN call, or a configuration this layer refused before calling oneDNN.
///
/// `function` names the C function that returned the status (`dnnl_primitive_desc_create`, …) or,
/// for checks done in Swift, the cvseg function (`conv2dForward`, …); `detail` says which
/// argument or shape was wrong.
public struct DNNLError: Error, Equatable, Sendable, CustomStringConvertible {
    /// oneDNN's `dnnl_status_t`, without the success case.
    public enum Status: Equatable, Sendable, CustomStringConvertible {
        case outOfMemory, invalidArguments, unimplemented, iteratorEnds, runtimeError, notRequired
        /// A status this version of the layer does not know.
        case other(UInt32)

        public var description: String {
            switch self {
            case .outOfMemory: "out of memory"
            case .invalidArguments: "invalid arguments"
            case .unimplemented: "unimplemented (no implementation for this configuration)"
            case .iteratorEnds: "iterator ends"
            case .runtimeError: "runtime error"
            case .notRequired: "not required"
            case .other(let raw): "status \(raw)"
            }
        }
    }

    public let function: String
    public let status: Status
    public let detail: String

    public init(function: String, status: Status, detail: String = "") {
        self.function = function
        self.status = status
        self.detail = detail
    }

    public var description: String {
        "oneDNN: \(function) failed: \(status)" + (detail.isEmpty ? "" : " (\(detail))")
    }

    /// A configuration error found in Swift (bad shape, buffer size, parameter).
    static func invalid(_ function: String, _ detail: String) -> DNNLError {
        DNNLError(function: function, status: .invalidArguments, detail: detail)
    }
}

/// Opens oneDNN if it is not open yet (cvseg does not link it; see CVSegDNNLLoader).
/// - Throws: ``DNNLError`` naming the library and the reason when it cannot be loaded.
func dnnlLoad() throws {
    var message: UnsafePointer<CChar>?
    guard cvseg_dnnl_load(&message) == 0 else { return }
    throw DNNLError(function: "dlopen", status: .runtimeError, detail: message.map { String(cString: $0) } ?? "oneDNN is missing")
}

/// Throws a ``DNNLError`` unless `status` is `dnnl_success`.
@inline(__always)
func dnnlCheck(_ status: dnnl_status_t, _ function: String, _ detail: @autoclosure () -> String = "") throws {
    guard status != dnnl_success else { return }
    try dnnlLoad() // a missing library explains any failure
    let mapped: DNNLError.Status = switch status {
    case dnnl_out_of_memory: .outOfMemory
    case dnnl_invalid_arguments: .invalidArguments
    case dnnl_unimplemented: .unimplemented
    case dnnl_iterator_ends: .iteratorEnds
    case dnnl_runtime_error: .runtimeError
    case dnnl_not_required: .notRequired
    default: .other(status.rawValue)
    }
    throw DNNLError(function: function, status: mapped, detail: detail())
}

/// A oneDNN CPU engine with its streams and a cache of primitives.
///
/// All work runs on `Float32` arrays in plain row-major layouts (NCHW activations, PyTorch weight
/// layouts); see the extensions in `DNNL/` for the operations. Each call borrows its input arrays
/// (no copy) and returns new output arrays; primitives are cached per configuration (kind, shapes,
/// parameters), so repeated calls with the same shapes only bind memory and execute.
///
/// Memory held between calls: the cached primitives (at most `cacheCapacity`, least recently used
/// dropped first), one stream per concurrently running call, and one scratchpad per concurrently
/// running call, as large as the largest one needed so far (38 MB for a GEMM-based 3×3 64→64
/// convolution on 128×128).
///
/// Thread safety: every method may be called from any thread, concurrently.
/// - Primitives are created with `dnnl_scratchpad_mode_user` and each running call has a
///   scratchpad of its own (taken from a pool, see `withScratchpad`), which is what oneDNN requires
///   for executing one primitive from several threads at once (its default "library" scratchpad is
///   shared and ties a primitive to its creating thread).
/// - Streams are never shared between two running calls: a call takes one from a small pool (or
///   creates one) and puts it back afterwards. CPU streams execute synchronously.
/// - The primitive cache is behind a `Mutex`; two threads that miss on the same key both build the
///   primitive and the first one stored wins (building is pure, so nothing is lost but time).
///
/// Threads inside one call: Debian's libdnnl 2.6 is built with the OpenMP CPU runtime
/// (`DNNL_CPU_RUNTIME_OMP`), so each primitive runs on `omp_get_max_threads()` threads: all cores
/// unless `OMP_NUM_THREADS` says otherwise. Calling from several threads at once starts one OpenMP
/// team per calling thread, which oversubscribes the cores; batch runners that parallelise over
/// images should set `OMP_NUM_THREADS=1`.
package final class DNNLEngine: @unchecked Sendable {
    // @unchecked: `handle` is set once and only read; oneDNN engines are thread-safe. Streams and
    // the cache are only reached through their mutexes.
    let handle: dnnl_engine_t
    private let streams = Mutex<[StreamHandle]>([])
    private let scratchpads = Mutex<[Scratchpad]>([])
    private let cache: Mutex<PrimitiveCache>
    private let temporaries = Mutex<[Scratchpad]>([])
    private let weights = Mutex<WeightCache>(WeightCache())
    private let unavailable = Mutex<Set<PrimitiveKey>>([])

    /// Reordered weight arrays kept (least recently used dropped first).
    package static let weightCacheCapacity = 32

    /// The number of cached primitives kept before the least recently used one is dropped.
    package let cacheCapacity: Int

    /// Creates a CPU engine (index 0) with an empty primitive cache.
    /// - Throws: ``DNNLError`` when oneDNN cannot create the engine.
    package init(cacheCapacity: Int = 512) throws {
        try dnnlLoad()
        var engine: dnnl_engine_t?
        try dnnlCheck(dnnl_engine_create(&engine, dnnl_cpu, 0), "dnnl_engine_create")
        guard let engine else { throw DNNLError(function: "dnnl_engine_create", status: .runtimeError, detail: "null engine") }
        handle = engine
        self.cacheCapacity = max(1, cacheCapacity)
        cache = Mutex(PrimitiveCache())
    }

    deinit {
        // Primitives and streams first: they refer to the engine.
        cache.withLock { $0.entries.removeAll() }
        streams.withLock { list in
            for s in list { dnnl_stream_destroy(s.raw) }
            list.removeAll()
        }
        scratchpads.withLock { list in
            for s in list { s.memory.deallocate() }
            list.removeAll()
        }
        temporaries.withLock { list in
            for s in list { s.memory.deallocate() }
            list.removeAll()
        }
        dnnl_engine_destroy(handle)
    }

    /// The process-wide engine, created on first use (Swift runs a static initialiser once,
    /// thread-safely). An engine is a resource, like a thread pool, not a mode: it holds no
    /// settings that change results.
    /// - Throws: the ``DNNLError`` of the first (and only) creation attempt.
    package static func shared() throws -> DNNLEngine { try sharedEngine.get() }
    private static let sharedEngine = Result { try DNNLEngine() }

    // MARK: - Streams

    /// A stream pointer that may cross threads: a stream is used by one call at a time (it is
    /// out of the pool meanwhile), and the pool is behind a mutex.
    private struct StreamHandle: @unchecked Sendable { let raw: dnnl_stream_t }

    /// Runs `body` with a stream no other call is using.
    func withStream<R>(_ body: (dnnl_stream_t) throws -> R) throws -> R {
        var stream = streams.withLock { $0.popLast() }
        if stream == nil {
            var created: dnnl_stream_t?
            try dnnlCheck(dnnl_stream_create(&created, handle, dnnl_stream_default_flags.rawValue), "dnnl_stream_create")
            stream = created.map(StreamHandle.init)
        }
        guard let stream else { throw DNNLError(function: "dnnl_stream_create", status: .runtimeError, detail: "null stream") }
        defer { streams.withLock { $0.append(stream) } }
        return try body(stream.raw)
    }

    // MARK: - Scratchpads

    /// A scratchpad buffer, owned by the pool or by the one call that took it.
    private struct Scratchpad: @unchecked Sendable { let memory: UnsafeMutableRawBufferPointer }

    /// Runs `body` with at least `byteCount` bytes (64-byte aligned) that no other call is using.
    ///
    /// Buffers are kept for reuse: a GEMM-based convolution on `[1, 64, 128, 128]` wants 38 MB of
    /// im2col scratchpad, and a fresh allocation of that size is a fresh `mmap` whose page faults
    /// made the backward passes 1.5× slower. The pool holds at most one buffer per concurrent call.
    func withScratchpad<R>(_ byteCount: Int, _ body: (UnsafeMutableRawPointer) throws -> R) throws -> R {
        let reused = scratchpads.withLock { pool -> Scratchpad? in
            guard let i = pool.indices.max(by: { pool[$0].memory.count < pool[$1].memory.count }) else { return nil }
            return pool.remove(at: i)  // the largest: it fits, or it is the one to replace
        }
        var buffer: Scratchpad
        if let reused, reused.memory.count >= byteCount {
            buffer = reused
        } else {
            reused?.memory.deallocate()
            buffer = Scratchpad(memory: .allocate(byteCount: byteCount, alignment: 64))
        }
        defer { scratchpads.withLock { $0.append(buffer) } }
        return try body(buffer.memory.baseAddress!)
    }

    // MARK: - Temporary buffers

    /// A 64-byte aligned buffer of at least `byteCount` bytes for activations in oneDNN's chosen
    /// layout during one call (the smallest pooled one that fits, or a new one). Give it back with
    /// ``returnTemporary(_:)``. Pooled so that a multi-megabyte buffer is not a fresh `mmap` (and
    /// its page faults) on every call.
    func takeTemporary(_ byteCount: Int) -> UnsafeMutableRawBufferPointer {
        let found = temporaries.withLock { pool -> Scratchpad? in
            guard let i = pool.indices.filter({ pool[$0].memory.count >= byteCount })
                .min(by: { pool[$0].memory.count < pool[$1].memory.count }) else { return nil }
            return pool.remove(at: i)
        }
        return found?.memory ?? .allocate(byteCount: max(byteCount, 1), alignment: 64)
    }

    /// Puts a buffer from ``takeTemporary(_:)`` back. The pool holds at most
    /// ``temporaryPoolBytes``; a buffer that does not fit is freed (activations of 32×1024×1024
    /// are 128 MiB: keeping those would add to the peak memory of every later layer).
    func returnTemporary(_ buffer: UnsafeMutableRawBufferPointer) {
        let kept = temporaries.withLock { pool -> Bool in
            guard pool.reduce(buffer.count, { $0 + $1.memory.count }) <= Self.temporaryPoolBytes else { return false }
            pool.append(Scratchpad(memory: buffer))
            return true
        }
        if !kept { buffer.deallocate() }
    }

    /// The most bytes the temporary-buffer pool keeps between calls.
    package static let temporaryPoolBytes = 16 << 20

    // MARK: - Weight cache

    private struct WeightCache {
        var entries: [ReorderedWeights] = []
        var clock: UInt64 = 0
    }

    func cachedWeights(owner: AnyObject, layout: UnsafePointer<dnnl_memory_desc_t>) -> ReorderedWeights? {
        weights.withLock { cache in
            guard let found = cache.entries.first(where: { $0.matches(owner, layout) }) else { return nil }
            cache.clock += 1
            found.lastUse = cache.clock
            return found
        }
    }

    func storeWeights(_ entry: ReorderedWeights) {
        weights.withLock { cache in
            cache.clock += 1
            entry.lastUse = cache.clock
            cache.entries.removeAll { $0.owner == nil }  // their storage is gone: they can never match
            if cache.entries.count >= Self.weightCacheCapacity, let i = cache.entries.indices.min(by: {
                cache.entries[$0].lastUse < cache.entries[$1].lastUse
            }) {
                cache.entries.remove(at: i)
            }
            cache.entries.append(entry)
        }
    }

    /// The number of reordered weight arrays cached.
    package var cachedWeightCount: Int { weights.withLock { $0.entries.count } }

    // MARK: - Optional implementations

    /// Whether building `key` failed before (an optional algorithm such as Winograd that this
    /// machine's oneDNN lacks), so that callers fall back at once instead of retrying each call.
    func isUnavailable(_ key: PrimitiveKey) -> Bool { unavailable.withLock { $0.contains(key) } }
    func markUnavailable(_ key: PrimitiveKey) { unavailable.withLock { _ = $0.insert(key) } }

    // MARK: - Primitive cache

    /// Cache statistics: primitives built (`misses`) and calls that reused one (`hits`).
    package struct CacheStatistics: Equatable, Sendable {
        package var hits = 0
        package var misses = 0
        package var count = 0
    }

    package var cacheStatistics: CacheStatistics {
        cache.withLock { CacheStatistics(hits: $0.hits, misses: $0.misses, count: $0.entries.count) }
    }

    /// The cached primitive for `key`, or a new one from `make` (called without the lock held).
    func primitive(_ key: PrimitiveKey, make: () throws -> DNNLPrimitive) throws -> DNNLPrimitive {
        if let found = cache.withLock({ $0.lookup(key) }) { return found }
        let made = try make()
        return cache.withLock { $0.insert(made, for: key, capacity: cacheCapacity) }
    }
}

/// Least-recently-used map from primitive keys to primitives (eviction scans, which is fine for a
/// few hundred entries and happens only when the cache is full).
struct PrimitiveCache {
    var entries: [PrimitiveKey: (primitive: DNNLPrimitive, lastUse: UInt64)] = [:]
    var clock: UInt64 = 0
    var hits = 0
    var misses = 0

    mutating func lookup(_ key: PrimitiveKey) -> DNNLPrimitive? {
        guard let entry = entries[key] else { return nil }
        clock += 1
        hits += 1
        entries[key] = (entry.primitive, clock)
        return entry.primitive
    }

    mutating func insert(_ p: DNNLPrimitive, for key: PrimitiveKey, capacity: Int) -> DNNLPrimitive {
        clock += 1
        if let raced = entries[key] {  // another thread built it meanwhile: keep one
            hits += 1
            entries[key] = (raced.primitive, clock)
            return raced.primitive
        }
        misses += 1
        if entries.count >= capacity, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
            entries[oldest] = nil
        }
        entries[key] = (p, clock)
        return p
    }
}
