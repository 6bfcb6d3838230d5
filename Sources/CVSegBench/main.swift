// cvseg-bench: the Swift side of scripts/bench/nn, segnets, detnets and classical (core timings). Times the engine's
// layers and a VGG-style FCN on the same shapes as scripts/bench/nn_peers.py, or one of the
// segmentation models on a given input (--segnets), and prints one JSON object (seconds).
//
//   cvseg-bench [--runs R] [--size S]        timings (set OMP_NUM_THREADS for the thread count)
//   cvseg-bench --fcn-inference S [--band-bytes N]   one FCN inference on 1×3×S×S (for peak-memory
//       runs); --band-bytes sets ConvolutionBands.bandBytes
//   cvseg-bench --detnet --weights W --image I [--runs R] [--dump D]   scripts/bench/detnets: the
//       detector file W on image I: median seconds of the whole detection and of the network alone
//       (selective search done beforehand); --dump writes every stage's tensors (safetensors)
//   cvseg-bench --fcn-only [--runs R]        the FCN forward and training step only (profiling)
//   cvseg-bench --conv-only [--runs R]       the 3×3 64→64 convolution only (profiling)
//   cvseg-bench --classical-core METHOD --dir DIR [--seeds FILE] [--runs R]   scripts/bench/classical:
//       the segmentation call alone on the decoded PNGs of DIR (ClassicalCore.swift)
//   cvseg-bench --segnets --weights W --input X [--runs R] [--warmup N] [--output Y] [--release-buffers]
//       scripts/bench/segnets: loads the model file W (SegmentationModel.load), runs inference on
//       the tensor `x` of the safetensors file X and prints {architecture, input, output,
//       load_seconds, seconds (the median of R timed runs after N warm-ups; defaults 5 and 2),
//       min, max, times}; with --output, writes the last run's scores as tensor `y` of the
//       safetensors file Y.
import CVSegCore
import CVSegIO
import CVSegNN
import CVSegTensor
import Glibc

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

func median(_ runs: Int, warmup: Int = 2, _ body: () throws -> Void) rethrows -> Double {
    for _ in 0..<warmup { try body() }
    var times: [Double] = []
    for _ in 0..<runs {
        let t0 = now()
        try body()
        times.append(now() - t0)
    }
    times.sort()
    return times[times.count / 2]
}

/// The bench's VGG-style FCN (6.76 GFLOP at 256²): two 3×3 conv + ReLU per stage with 32, 64,
/// 128, 256 channels, 2×2 max pooling after the first three, a 1×1 classifier, ×8 bilinear.
final class BenchFCN: Layer {
    let features: Sequential
    let score: Conv2d
    init(classes: Int = 21, generator: inout SplitMix64) {
        var layers: [Layer] = []
        var c = 3
        for (i, o) in [32, 64, 128, 256].enumerated() {
            layers += [Conv2d(c, o, kernel: 3, padding: 1, generator: &generator), Activation(.relu),
                       Conv2d(o, o, kernel: 3, padding: 1, generator: &generator), Activation(.relu)]
            if i < 3 { layers.append(MaxPool2d(kernel: 2)) }
            c = o
        }
        features = Sequential(layers)
        score = Conv2d(c, classes, kernel: 1, generator: &generator)
        super.init()
        register(layer: features, as: "features")
        register(layer: score, as: "score")
    }
    override func forward(_ x: Tensor, _ context: ForwardContext) throws -> Tensor {
        let s = try score(features(x, context), context)
        return try upsampleBilinear(s, height: s.shape[2] * 8, width: s.shape[3] * 8, alignCorners: false)
    }
}

let args = Array(CommandLine.arguments.dropFirst())
@MainActor func option(_ name: String) -> Int? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) else { return nil }
    return v
}
@MainActor func stringOption(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}
// Timings keep freed buffers in the heap (fewer page faults between layers); the peak-memory
// run does not, as `cvseg segment <network>` does not: retained buffers would count in the peak.
// --release-buffers: time as `cvseg segment <network>` runs (freed large buffers go back to the
// kernel).
if !args.contains("--fcn-inference") && !args.contains("--release-buffers") { BatchMemory.keepBuffersInHeap() }
var rng = SplitMix64(seed: 1)
do {
    if args.contains("--classical-core") { // scripts/bench/classical: the segmentation call alone
        guard let method = stringOption("--classical-core"), let folder = stringOption("--dir") else {
            print("cvseg-bench: --classical-core needs a METHOD and --dir DIR")
            exit(2)
        }
        try classicalCore(method: method, folder: folder, seedsFile: stringOption("--seeds"), runs: option("--runs") ?? 3)
        exit(0)
    }
    if args.contains("--segnets") { // scripts/bench/segnets: one model file on one input
        guard let weights = stringOption("--weights"), let inputPath = stringOption("--input") else {
            print("cvseg-bench: --segnets needs --weights FILE and --input FILE")
            exit(2)
        }
        let runs = max(option("--runs") ?? 5, 1), warmup = max(option("--warmup") ?? 2, 0)
        let t0 = now()
        let model = try SegmentationModel.load(from: weights)
        let loadSeconds = now() - t0
        let file = try Safetensors.read(inputPath)
        guard let stored = file.tensors.first(where: { $0.name == "x" }) else {
            print("cvseg-bench: \(inputPath) has no tensor 'x'")
            exit(1)
        }
        let x = Tensor(shape: Shape(stored.array.shape), values: stored.array.values)
        let context = ForwardContext.inference()
        var y = x
        for _ in 0..<warmup { y = try model(x, context) }
        var times: [Double] = []
        for _ in 0..<runs {
            let start = now()
            y = try model(x, context)
            times.append(now() - start)
        }
        if let output = stringOption("--output") {
            try Safetensors.write([(name: "y", array: FloatArray(shape: y.shape.dims, values: y.values))], to: output)
        }
        let sorted = times.sorted(), middle = sorted.count / 2
        let median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        print(JSON.object([
            ("architecture", .string(model.architecture)), ("input", .array(x.shape.dims.map { .int($0) })),
            ("output", .array(y.shape.dims.map { .int($0) })), ("load_seconds", .number(loadSeconds)),
            ("seconds", .number(median)), ("min", .number(sorted[0])), ("max", .number(sorted[sorted.count - 1])),
            ("times", .array(times.map { .number($0) })),
        ]).text(indent: 0))
        exit(0)
    }
    if args.contains("--detnet") { // scripts/bench/detnets: one detector file on one image
        guard let weights = stringOption("--weights"), let imagePath = stringOption("--image") else {
            print("cvseg-bench: --detnet needs --weights FILE and --image FILE")
            exit(2)
        }
        let runs = max(option("--runs") ?? 5, 1), warmup = max(option("--warmup") ?? 2, 0)
        let detector = try Detector.load(from: weights)
        let image = PlanarImage(try ImageFile.read(imagePath, options: DecodeOptions(palette: .expand)).expanded().to8Bit())
        // Whole detection as `cvseg detect` runs it (resize, selective search where used, network, post-processing).
        var detections = Detections()
        let total = try median(runs, warmup: warmup) { detections = try detector.detect(image) }
        // The network alone on the prepared input (selective search done once beforehand).
        let input = try detector.prepare(image)
        let proposals = detector.architecture.usesSelectiveSearch ? try detector.selectiveSearch(input.image) : nil
        var trace = try detector.trace(input, proposals: proposals)
        let network = try median(runs, warmup: warmup) { trace = try detector.trace(input, proposals: proposals) }
        if let dump = stringOption("--dump") {
            func array(_ name: String, _ t: Tensor) -> (name: String, array: FloatArray) { (name, FloatArray(shape: t.shape.dims, values: t.values)) }
            func boxes(_ b: [Box]) -> Tensor { Tensor(shape: [b.count, 4], values: b.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] }) }
            var arrays = [array("input", input.tensor)]
            if let f = trace.features { arrays.append(array("features", f)) }
            if let (o, d) = trace.rpn { arrays += [array("rpn_objectness", o), array("rpn_deltas", d)] }
            if detector.architecture == .rcnn {
                // The first 64 proposals: their warped crops and head rows (rows are independent).
                let part = Array(trace.proposals.prefix(64))
                let head = try detector.rcnnHead(input, boxes: part, .inference())
                arrays += [array("proposals", boxes(part)), array("crops", try detector.warp(input, boxes: part)),
                           array("class_logits", head.logits), array("box_deltas", head.deltas)]
            } else {
                arrays += [array("proposals", boxes(trace.proposals)), array("class_logits", trace.head.logits),
                           array("box_deltas", trace.head.deltas)]
            }
            let d = trace.detections
            arrays.append(("detections", FloatArray(shape: [d.count, 6], values: (0..<d.count).flatMap { k in
                [d.boxes[k].x1, d.boxes[k].y1, d.boxes[k].x2, d.boxes[k].y2, d.scores[k], Float(d.labels[k])] })))
            try Safetensors.write(arrays, metadata: ["image_height": String(input.height), "image_width": String(input.width)], to: dump)
        }
        print(JSON.object([
            ("architecture", .string(detector.architecture.rawValue)), ("image", .string(imagePath)),
            ("input", .array(input.tensor.shape.dims.map { .int($0) })), ("proposals", .int(trace.proposals.count)),
            ("detections", .int(detections.count)), ("seconds_detect", .number(total)), ("seconds_network", .number(network)),
        ]).text(indent: 0))
        exit(0)
    }
    if let bytes = option("--band-bytes") { ConvolutionBands.bandBytes = bytes }
    if let size = option("--fcn-inference") {
        let net = BenchFCN(generator: &rng)
        let x = Tensor.randomNormal([1, 3, size, size], generator: &rng)
        let t0 = now()
        let y = try net(x, .inference())
        print("{\"shape\": \"\(y.shape)\", \"seconds\": \(now() - t0)}")
        exit(0)
    }
    if args.contains("--conv-only") { // for profiling one convolution
        let conv = Conv2d(64, 64, kernel: 3, padding: 1, generator: &rng)
        let x = Tensor.randomNormal([1, 64, 128, 128], generator: &rng)
        let t = try median(option("--runs") ?? 20) { _ = try conv(x, .inference()) }
        print("{\"conv3x3\": \(t)}")
        exit(0)
    }
    if args.contains("--fcn-only") { // for profiling: the FCN forward and training step alone
        let size = option("--size") ?? 256, runs = option("--runs") ?? 10
        let net = BenchFCN(generator: &rng)
        let image = Tensor.randomNormal([1, 3, size, size], generator: &rng)
        let forward = try median(runs) { _ = try net(image, .inference()) }
        let targets = (0..<(size * size)).map { _ in Int32(rng.next() % 21) }
        let optimizer = try SGD(net.parameters, learningRate: 0.01, momentum: 0.9)
        let train = try median(runs) {
            let context = ForwardContext.training()
            defer { context.tape?.clear() }  // breaks the tape's reference cycle
            let loss = try Loss.crossEntropy(net(image, context), targets: targets)
            try optimizer.step(try context.tape!.gradients(of: loss, for: context.recorded(net.parameters).compactMap { $0 }))
        }
        print("{\"fcn_forward\": \(forward), \"fcn_train_step\": \(train)}")
        exit(0)
    }
    let runs = option("--runs") ?? 5
    let size = option("--size") ?? 256
    var out: [(String, JSON)] = []
    let inference = ForwardContext.inference()
    func input(_ shape: Shape) -> Tensor { Tensor.randomNormal(shape, generator: &rng) }
    let x128 = input([1, 64, 128, 128]), x64 = input([1, 64, 64, 64])
    let conv = Conv2d(64, 64, kernel: 3, padding: 1, generator: &rng)
    out.append(("conv3x3", .number(try median(runs) { _ = try conv(x128, inference) })))
    let dilated = Conv2d(64, 64, kernel: 3, padding: 2, dilation: 2, generator: &rng)
    out.append(("conv3x3_dilation2", .number(try median(runs) { _ = try dilated(x128, inference) })))
    let deconv = ConvTranspose2d(64, 64, kernel: 4, stride: 2, padding: 1, generator: &rng)
    out.append(("deconv_k4s2", .number(try median(runs) { _ = try deconv(x64, inference) })))
    let pool = MaxPool2d(kernel: 2)
    out.append(("maxpool2x2", .number(try median(runs) { _ = try pool(x128, inference) })))
    let bn = BatchNorm2d(64)
    out.append(("batchnorm_eval", .number(try median(runs) { _ = try bn(x128, inference) })))
    let fcn = BenchFCN(generator: &rng)
    let image = input([1, 3, size, size])
    out.append(("fcn_forward", .number(try median(runs) { _ = try fcn(image, inference) })))
    let targets = (0..<(size * size)).map { _ in Int32(rng.next() % 21) }
    let optimizer = try SGD(fcn.parameters, learningRate: 0.01, momentum: 0.9)
    out.append(("fcn_train_step", .number(try median(runs) {
        let context = ForwardContext.training()
        defer { context.tape?.clear() }  // breaks the tape's reference cycle
        let loss = try Loss.crossEntropy(fcn(image, context), targets: targets)
        let tracked = context.recorded(fcn.parameters).compactMap { $0 }
        try optimizer.step(try context.tape!.gradients(of: loss, for: tracked))
    })))
    // The machine's sgemm peak (oneDNN's sgemm, 1024³), for scale.
    let a = input([1024, 1024]), b = input([1024, 1024])
    let gemm = try median(runs) { _ = try linear(a, weight: b, bias: nil) }
    out.append(("sgemm_1024_gflops", .number(2 * 1024 * 1024 * 1024 / gemm / 1e9)))
    print(JSON.object(out).text(indent: 0))
} catch {
    print("cvseg-bench: \(error)")
    exit(1)
}
