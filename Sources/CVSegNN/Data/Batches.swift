import CVSegCore
import CVSegTensor

/// Per-channel normalisation of RGB images: `(x / 255 − mean) / std`.
public struct Normalization: Sendable, Equatable {
    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == 3 && std.count == 3 && std.allSatisfy { $0 > 0 }, "mean and std need 3 values, std > 0")
        self.mean = mean
        self.std = std
    }

    /// torchvision's ImageNet statistics, which pretrained backbones expect.
    public static let imageNet = Normalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    /// `x / 255`.
    public static let unit = Normalization(mean: [0, 0, 0], std: [1, 1, 1])

    /// The images as one tensor `[N, 3, H, W]`; all must have the same size.
    public func tensor(_ images: [PlanarImage]) throws -> Tensor {
        guard let first = images.first else { throw CVSegError.invalidArgument("Normalization.tensor: no images") }
        let (w, h) = (first.width, first.height)
        let plane = w * h
        var out = [Float](repeating: 0, count: images.count * 3 * plane)
        for (n, image) in images.enumerated() {
            guard image.width == w, image.height == h else {
                throw CVSegError.invalidArgument("Normalization.tensor: image \(n) is \(image.width)x\(image.height), image 0 is \(w)x\(h)")
            }
            for c in 0..<3 {
                let (scale, offset) = (1 / (255 * std[c]), -mean[c] / std[c])
                let base = (n * 3 + c) * plane
                for i in 0..<plane { out[base + i] = image.values[c * plane + i] * scale + offset }
            }
        }
        return Tensor(shape: [images.count, 3, h, w], values: out)
    }
}

/// A mini-batch: images `[N, 3, H, W]` (normalised) and targets (`N·H·W` labels, row-major
/// per image, the ignore label on pixels the loss skips), for `Loss.crossEntropy(_:targets:ignoreIndex:)`.
public struct Batch: Sendable {
    public let images: Tensor
    public let targets: [Int32]
    /// The indices of the pairs in the dataset, in batch order.
    public let indices: [Int]
    public let names: [String]
}

/// An epoch's mini-batches, decoded one batch at a time (``next()``) or by number (``batch(_:)``),
/// from a dataset's files (``SegmentationDataset/batches(size:shuffle:epoch:augmentation:normalization:dropLast:)``)
/// or from samples held in memory (``SampleSet/batches(size:shuffle:epoch:augmentation:normalization:dropLast:)``).
public struct DatasetBatches: Sendable {
    /// The sample indices in this epoch's order.
    public let order: [Int]
    public let size: Int
    public let augmentation: Augmentation?
    public let normalization: Normalization
    let seed: UInt64
    let epoch: Int
    let ignoreLabel: Int32
    /// Sample `i`, decoded.
    let load: @Sendable (Int) throws -> SegmentationSample
    /// Sample `i`'s name in error messages (its image file).
    let describe: @Sendable (Int) -> String
    private var position = 0

    init(count: Int, size: Int, seed: UInt64?, epoch: Int, augmentation: Augmentation?, normalization: Normalization,
         dropLast: Bool, ignoreLabel: Int32, load: @escaping @Sendable (Int) throws -> SegmentationSample,
         describe: @escaping @Sendable (Int) -> String) {
        precondition(size > 0, "batch size \(size)")
        var order = Array(0..<count)
        if let seed {
            // Fisher–Yates on a generator of (seed, epoch): a new order each epoch, the same for a seed.
            var g = SplitMix64(seed: Self.mix(seed, UInt64(truncatingIfNeeded: epoch), 0x5348_5546))
            for i in stride(from: order.count - 1, to: 0, by: -1) {
                order.swapAt(i, Int(g.next() % UInt64(i + 1)))
            }
        }
        if dropLast { order.removeLast(order.count % size) }
        self.order = order
        self.size = size
        self.augmentation = augmentation
        self.normalization = normalization
        self.seed = seed ?? 0
        self.epoch = epoch
        self.ignoreLabel = ignoreLabel
        self.load = load
        self.describe = describe
    }

    static func mix(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        var g = SplitMix64(seed: a)
        var h = g.next() ^ b
        g = SplitMix64(seed: h)
        h = g.next() ^ c
        g = SplitMix64(seed: h)
        return g.next()
    }

    /// The number of batches.
    public var count: Int { (order.count + size - 1) / size }

    /// The augmentation seed of a sample: a function of the seed, the epoch and the sample's
    /// index only, so it does not depend on the batch size or the order.
    public func augmentationSeed(index: Int) -> UInt64 {
        Self.mix(seed, UInt64(truncatingIfNeeded: epoch), UInt64(index))
    }

    /// Batch `b` (0-based): its samples decoded, augmented (when an augmentation is given) and
    /// stacked. Without augmentation, the images of a batch must have the same size.
    public func batch(_ b: Int) throws -> Batch {
        precondition(b >= 0 && b < count, "batch \(b) of \(count)")
        let indices = Array(order[(b * size)..<min(order.count, (b + 1) * size)])
        var images: [PlanarImage] = [], targets: [Int32] = [], names: [String] = []
        for i in indices {
            var s = try load(i)
            if let augmentation { s = augmentation.apply(s, seed: augmentationSeed(index: i), ignoreLabel: ignoreLabel) }
            if let first = images.first, first.width != s.image.width || first.height != s.image.height {
                throw CVSegError.invalidArgument(
                    "batch \(b): \(describe(i)) is \(s.image.width)x\(s.image.height) but \(describe(indices[0])) "
                        + "is \(first.width)x\(first.height); give an augmentation (crop) or batch size 1")
            }
            images.append(s.image)
            targets += s.labels.labels
            names.append(s.name)
        }
        return Batch(images: try normalization.tensor(images), targets: targets, indices: indices, names: names)
    }

    /// The next batch, or nil after the last.
    public mutating func next() throws -> Batch? {
        guard position < count else { return nil }
        position += 1
        return try batch(position - 1)
    }
}

extension SegmentationDataset {
    /// The mini-batches of one epoch, decoding each pair's files when its batch is asked for.
    /// - Parameters:
    ///   - size: samples per batch (the last batch may be smaller unless `dropLast`).
    ///   - seed: shuffles the order (a new order for each `epoch`, the same for the same seed and
    ///     epoch); nil keeps the dataset's order. It also seeds the augmentation (0 when nil).
    ///   - augmentation: nil for none (the batch's images must then have the same size).
    public func batches(size: Int, shuffle seed: UInt64?, epoch: Int = 0, augmentation: Augmentation? = nil,
                        normalization: Normalization = .imageNet, dropLast: Bool = false) -> DatasetBatches {
        let dataset = self
        return DatasetBatches(count: count, size: size, seed: seed, epoch: epoch, augmentation: augmentation,
                              normalization: normalization, dropLast: dropLast, ignoreLabel: ignoreLabel,
                              load: { try dataset.sample($0) }, describe: { dataset.pairs[$0].image })
    }
}

/// Decoded samples held in memory (a training set decoded once, at its training scale), batched
/// as a dataset's files are.
public struct SampleSet: Sendable {
    public let samples: [SegmentationSample]
    /// The label of pixels the loss skips (also used for augmentation padding).
    public let ignoreLabel: Int32

    public init(_ samples: [SegmentationSample], ignoreLabel: Int32 = LabelMap.ignoreLabel) {
        self.samples = samples
        self.ignoreLabel = ignoreLabel
    }

    public var count: Int { samples.count }

    /// The mini-batches of one epoch (as ``SegmentationDataset/batches(size:shuffle:epoch:augmentation:normalization:dropLast:)``).
    public func batches(size: Int, shuffle seed: UInt64?, epoch: Int = 0, augmentation: Augmentation? = nil,
                        normalization: Normalization = .imageNet, dropLast: Bool = false) -> DatasetBatches {
        let samples = self.samples
        return DatasetBatches(count: samples.count, size: size, seed: seed, epoch: epoch, augmentation: augmentation,
                              normalization: normalization, dropLast: dropLast, ignoreLabel: ignoreLabel,
                              load: { samples[$0] }, describe: { samples[$0].name })
    }
}

/// Full-resolution inference for a network trained at a fixed size: the image is resized to the
/// training size, and the network's scores are resized back to the original size (bilinearly,
/// PyTorch's `align_corners=False`) before the argmax, so the labels cover the original pixels.
public enum InferenceResize {
    /// The image resized to `width × height` (area averaging when shrinking, else bilinear:
    /// ``PlanarImage/resizedForNetwork(width:height:)``, as training resizes) and normalised, as
    /// `[1, 3, height, width]`.
    public static func input(_ image: PlanarImage, width: Int, height: Int,
                             normalization: Normalization = .imageNet) throws -> Tensor {
        guard width > 0, height > 0 else { throw CVSegError.invalidArgument("InferenceResize.input: size \(width)x\(height)") }
        return try normalization.tensor([image.resizedForNetwork(width: width, height: height)])
    }

    /// Scores `[N, C, h, w]` resized bilinearly to `[N, C, height, width]`.
    public static func scores(_ scores: Tensor, width: Int, height: Int) throws -> Tensor {
        guard scores.shape.rank == 4 else { throw CVSegError.invalidArgument("InferenceResize.scores: needs [N, C, H, W], got \(scores.shape)") }
        if scores.shape[2] == height && scores.shape[3] == width { return scores }
        return try upsampleBilinear(scores.detached, height: height, width: width, alignCorners: false)
    }

    /// The class of the largest score at each pixel of `[N, C, H, W]`, one map per image (the
    /// lowest class among equal scores).
    public static func argmax(_ scores: Tensor) throws -> [LabelMap] {
        guard scores.shape.rank == 4, scores.shape[1] > 0 else {
            throw CVSegError.invalidArgument("InferenceResize.argmax: needs [N, C, H, W] with C ≥ 1, got \(scores.shape)")
        }
        let (n, c, h, w) = (scores.shape[0], scores.shape[1], scores.shape[2], scores.shape[3])
        let v = scores.values, plane = h * w
        return (0..<n).map { i in
            var labels = [Int32](repeating: 0, count: plane)
            for p in 0..<plane {
                var best = v[i * c * plane + p], k = 0
                for j in 1..<max(c, 1) where v[(i * c + j) * plane + p] > best {
                    best = v[(i * c + j) * plane + p]
                    k = j
                }
                labels[p] = Int32(k)
            }
            return LabelMap(width: w, height: h, labels: labels)
        }
    }

    /// The labels at the original size: ``scores(_:width:height:)`` then ``argmax(_:)``.
    public static func labels(_ scores: Tensor, width: Int, height: Int) throws -> [LabelMap] {
        try argmax(Self.scores(scores, width: width, height: height))
    }
}
