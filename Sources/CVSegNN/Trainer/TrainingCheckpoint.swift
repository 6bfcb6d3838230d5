import CVSegCore
import CVSegTensor

/// A training checkpoint as one safetensors file: the model's tensors (`model/…`), the
/// optimizer's state (`optimizer/…` tensors, `optimizer.…` metadata), the model's and the
/// training's settings (`model.…`, `train.…` metadata, compared on resume), the history (CSV
/// text) and the early-stopping state. Shared by the segmentation and detection trainers.
struct TrainingCheckpoint {
    static let key = "cvseg_checkpoint"

    var version: String
    var steps: Int
    var history: String
    var stopped: Bool
    var stopping: EarlyStopping

    /// Writes the checkpoint atomically.
    func write(to path: String, model: Module, modelMetadata: [String: String], trainingMetadata: [String: String],
               optimizer: Optimizer) throws {
        var arrays: [(name: String, array: FloatArray)] = model.stateDict().map {
            ("model/" + $0.0, FloatArray(shape: $0.1.shape.dims, values: $0.1.values))
        }
        let state = optimizer.state
        for key in state.arrays.keys.sorted() { arrays.append(("optimizer/" + key, state.arrays[key]!)) }
        var meta: [String: String] = [Self.key: version, "steps": String(steps), "history": history,
                                      "stopped": String(stopped), "waited": String(stopping.waited)]
        if let b = stopping.best, let e = stopping.bestStep { meta["best"] = String(b.bitPattern); meta["best_epoch"] = String(e) }
        for (k, v) in modelMetadata { meta["model." + k] = v }
        for (k, v) in trainingMetadata { meta["train." + k] = v }
        for (k, v) in state.values { meta["optimizer." + k] = v }
        try Safetensors.write(arrays, metadata: meta, to: path)
    }

    /// Reads a checkpoint of `version` made with the same model and training settings (the
    /// number of epochs and the patience may differ), loads the model's weights and the
    /// optimizer's state, and returns the rest.
    /// - Throws: `invalidContent` naming the file and the first setting that differs, or what
    ///   is missing or unexpected.
    static func read(_ path: String, version: String, model: Module, modelMetadata: [String: String],
                     trainingMetadata: [String: String], optimizer: Optimizer) throws -> TrainingCheckpoint {
        let file = try Safetensors.read(path)
        guard let meta = file.metadata, meta[key] == version else {
            throw CVSegError.invalidContent(file: path, reason: "not a cvseg training checkpoint (metadata '\(key)' is not '\(version)')")
        }
        func differ(_ prefix: String, _ mine: [String: String], except: Set<String> = []) throws {
            for (k, v) in mine.sorted(by: { $0.key < $1.key }) where !except.contains(k) && meta[prefix + k] != v {
                throw CVSegError.invalidContent(
                    file: path, reason: "the checkpoint was made with \(k) = '\(meta[prefix + k] ?? "missing")', this run has '\(v)'")
            }
        }
        try differ("model.", modelMetadata)
        try differ("train.", trainingMetadata, except: ["epochs", "patience"])
        guard let steps = meta["steps"].flatMap(Int.init), let waited = meta["waited"].flatMap(Int.init), let history = meta["history"] else {
            throw CVSegError.invalidContent(file: path, reason: "the checkpoint lacks its step count, history or stopping state")
        }
        var modelState: [(String, Tensor)] = []
        var optimizerState = OptimizerState()
        for t in file.tensors {
            if t.name.hasPrefix("model/") {
                modelState.append((String(t.name.dropFirst(6)), Tensor(shape: Shape(t.array.shape), values: t.array.values)))
            } else if t.name.hasPrefix("optimizer/") {
                optimizerState.arrays[String(t.name.dropFirst(10))] = t.array
            } else {
                throw CVSegError.invalidContent(file: path, reason: "unexpected tensor '\(t.name)' in a training checkpoint")
            }
        }
        for (k, v) in meta where k.hasPrefix("optimizer.") { optimizerState.values[String(k.dropFirst(10))] = v }
        try model.load(stateDict: modelState, strict: true, source: path)
        do {
            try optimizer.restore(optimizerState)
        } catch CVSegError.invalidArgument(let message) {
            throw CVSegError.invalidContent(file: path, reason: message)
        }
        let best = meta["best"].flatMap(UInt32.init).map(Float.init(bitPattern:))
        let stopping = EarlyStopping(patience: 1, goal: .minimize, best: best, bestStep: meta["best_epoch"].flatMap(Int.init), waited: waited)
        return TrainingCheckpoint(version: version, steps: steps, history: history, stopped: meta["stopped"] == "true", stopping: stopping)
    }
}
