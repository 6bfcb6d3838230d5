import CVSegCore
import CVSegTensor

extension Module {
    /// Loads parameters and buffers from a safetensors file (F32, F16 or BF16), by
    /// ``stateDict()`` name. Strict loading names every missing, unexpected and mis-shaped key.
    /// - Returns: the keys left out (missing, unexpected), empty after a strict load.
    @discardableResult
    public func loadWeights(from path: String, strict: Bool = true) throws -> (missing: [String], unexpected: [String]) {
        let file = try Safetensors.read(path)
        let state = file.tensors.map { ($0.name, Tensor(shape: Shape($0.array.shape), values: $0.array.values)) }
        return try load(stateDict: state, strict: strict, source: path)
    }

    /// Writes parameters and buffers as an F32 (or F16) safetensors file (atomically).
    public func saveWeights(to path: String, metadata: [String: String]? = nil, dtype: SafetensorsDType = .f32) throws {
        let arrays = stateDict().map { (name: $0.0, array: FloatArray(shape: $0.1.shape.dims, values: $0.1.values)) }
        try Safetensors.write(arrays, metadata: metadata, dtype: dtype, to: path)
    }
}
