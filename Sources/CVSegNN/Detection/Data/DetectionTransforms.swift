import CVSegCore

/// The resize of torchvision's `GeneralizedRCNNTransform`: the shorter side is brought to
/// `shorterSide` unless the longer side would then exceed `maxSize`, in which case the longer
/// side is brought to `maxSize`.
///
/// As torchvision computes it: `scale = min(shorterSide / min(W, H), maxSize / max(W, H))` in
/// Float32, the output sides `floor(side · scale)` (so `maxSize` itself can come out one pixel
/// short: 1000×500 with 800/1333 gives 1332×666), and boxes are multiplied by the per-axis
/// ratios `new / old` in Float32 (`resize_boxes`). Predictions go back with the inverse ratios
/// `old / new` (``toOriginal(_:)``, torchvision's `postprocess`).
public struct DetectionResize: Sendable, Equatable {
    public let originalWidth: Int
    public let originalHeight: Int
    public let width: Int
    public let height: Int

    /// The size for a `width × height` image.
    public init(width: Int, height: Int, shorterSide: Int, maxSize: Int) {
        precondition(width > 0 && height > 0 && shorterSide > 0 && maxSize > 0,
                     "image \(width)x\(height), shorter side \(shorterSide), max size \(maxSize)")
        let scale = min(Float(shorterSide) / Float(min(width, height)), Float(maxSize) / Float(max(width, height)))
        func scaled(_ side: Int) -> Int { max(1, Int((Double(side) * Double(scale)).rounded(.down))) }
        self.init(originalWidth: width, originalHeight: height, width: scaled(width), height: scaled(height))
    }

    /// A resize between two given sizes.
    public init(originalWidth: Int, originalHeight: Int, width: Int, height: Int) {
        precondition(originalWidth > 0 && originalHeight > 0 && width > 0 && height > 0,
                     "resize \(originalWidth)x\(originalHeight) → \(width)x\(height)")
        self.originalWidth = originalWidth
        self.originalHeight = originalHeight
        self.width = width
        self.height = height
    }

    /// `width / originalWidth` in Float32: the factor on x coordinates.
    public var scaleX: Float { Float(width) / Float(originalWidth) }
    /// `height / originalHeight` in Float32: the factor on y coordinates.
    public var scaleY: Float { Float(height) / Float(originalHeight) }

    /// Boxes of the original image in the resized image's coordinates.
    public func apply(_ boxes: [Box]) -> [Box] {
        let (sx, sy) = (scaleX, scaleY)
        return boxes.map { Box(x1: $0.x1 * sx, y1: $0.y1 * sy, x2: $0.x2 * sx, y2: $0.y2 * sy) }
    }

    /// Boxes of the resized image (a network's predictions) in the original image's coordinates.
    public func toOriginal(_ boxes: [Box]) -> [Box] {
        let (rx, ry) = (Float(originalWidth) / Float(width), Float(originalHeight) / Float(height))
        return boxes.map { Box(x1: $0.x1 * rx, y1: $0.y1 * ry, x2: $0.x2 * rx, y2: $0.y2 * ry) }
    }

    /// The image resized for a network at inference, and the resize that maps its predictions
    /// back (``toOriginal(_:)``). Pixels are resized as ``PlanarImage/resizedForNetwork(width:height:)``:
    /// bilinear (as torchvision) when a side grows, area averaging when both shrink.
    public static func inference(_ image: PlanarImage, shorterSide: Int, maxSize: Int) -> (image: PlanarImage, resize: DetectionResize) {
        let r = DetectionResize(width: image.width, height: image.height, shorterSide: shorterSide, maxSize: maxSize)
        return (image.resizedForNetwork(width: r.width, height: r.height), r)
    }
}

extension DetectionSample {
    /// The sample mirrored left to right: pixels, and boxes `x1' = W − x2`, `x2' = W − x1`.
    public func flippedHorizontally() -> DetectionSample {
        let w = Float(image.width)
        var out = self
        out.image = image.flippedHorizontally()
        out.boxes = boxes.map { Box(x1: w - $0.x2, y1: $0.y1, x2: w - $0.x1, y2: $0.y2) }
        return out
    }

    /// The sample resized by `resize` (which must start from this image's size): pixels as
    /// ``PlanarImage/resizedForNetwork(width:height:)``, boxes by ``DetectionResize/apply(_:)``
    /// and then clamped to the new image (Float32 rounding can put an edge on the border an ulp
    /// past it).
    public func resized(_ resize: DetectionResize) -> DetectionSample {
        precondition(resize.originalWidth == image.width && resize.originalHeight == image.height,
                     "resize from \(resize.originalWidth)x\(resize.originalHeight), image \(image.width)x\(image.height)")
        let (w, h) = (Float(resize.width), Float(resize.height))
        var out = self
        out.image = image.resizedForNetwork(width: resize.width, height: resize.height)
        out.boxes = resize.apply(boxes).map { Box(x1: min($0.x1, w), y1: min($0.y1, h), x2: min($0.x2, w), y2: min($0.y2, h)) }
        return out
    }
}

/// Seeded training augmentation for detection:
///
/// 1. random scale: the shorter side is brought to a size drawn uniformly from ``shorterSides``,
///    the longer side capped at ``maxSize`` (``DetectionResize``; torchvision's
///    `GeneralizedRCNNTransform` in training, `min_size` / `max_size`);
/// 2. horizontal flip with probability ``flipProbability`` (torchvision's detection reference
///    `RandomHorizontalFlip`).
///
/// Scaling and flipping commute (`W' − x·s = (W − x)·s` with `W' = W·s`), so the order only
/// matters to rounding. The two draws come from one ``SplitMix64`` in a fixed order (scale,
/// flip), both drawn even when a step is off. The seed of a sample is a function of the run's
/// seed, the epoch and the sample's index only (``seed(_:epoch:index:)``, the same mix as
/// ``DatasetBatches/augmentationSeed(index:)``).
public struct DetectionAugmentation: Sendable, Equatable {
    /// The shorter-side sizes to draw from; torchvision's default is `[800]`, its multi-scale
    /// training references use `480, 512, ..., 800`.
    public var shorterSides: [Int]
    /// The cap on the longer side (torchvision: 1333).
    public var maxSize: Int
    /// Probability of a horizontal flip (torchvision's references: 0.5).
    public var flipProbability: Float

    public init(shorterSides: [Int] = [800], maxSize: Int = 1333, flipProbability: Float = 0.5) {
        precondition(!shorterSides.isEmpty && shorterSides.allSatisfy { $0 > 0 } && maxSize > 0,
                     "shorter sides \(shorterSides), max size \(maxSize)")
        self.shorterSides = shorterSides
        self.maxSize = maxSize
        self.flipProbability = flipProbability
    }

    /// The augmentation seed of sample `index` in `epoch` of a run seeded with `seed`.
    public static func seed(_ seed: UInt64, epoch: Int, index: Int) -> UInt64 {
        DatasetBatches.mix(seed, UInt64(truncatingIfNeeded: epoch), UInt64(truncatingIfNeeded: index))
    }

    /// What a seed draws: the shorter side and whether to flip.
    public func draw(seed: UInt64) -> (shorterSide: Int, flip: Bool) {
        var g = SplitMix64(seed: seed)
        let uScale = Double(g.next() >> 11) * 0x1p-53, uFlip = Float(Double(g.next() >> 11) * 0x1p-53)
        return (shorterSides[min(Int(uScale * Double(shorterSides.count)), shorterSides.count - 1)], uFlip < flipProbability)
    }

    /// The augmented sample for `seed` (same seed, same result). Boxes stay inside the image.
    public func apply(_ sample: DetectionSample, seed: UInt64) -> DetectionSample {
        let (side, flip) = draw(seed: seed)
        var out = sample.resized(DetectionResize(width: sample.image.width, height: sample.image.height,
                                                 shorterSide: side, maxSize: maxSize))
        if flip { out = out.flippedHorizontally() }
        return out
    }
}

extension DetectionDataset {
    /// The sample order of `epoch`: the dataset's order without a seed, else a Fisher–Yates
    /// shuffle on (seed, epoch), the same shuffle as ``DatasetBatches`` (a new order each epoch,
    /// the same for the same seed and epoch).
    public func order(shuffle seed: UInt64?, epoch: Int) -> [Int] {
        var order = Array(0..<count)
        guard let seed else { return order }
        var g = SplitMix64(seed: DatasetBatches.mix(seed, UInt64(truncatingIfNeeded: epoch), 0x5348_5546))
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(g.next() % UInt64(i + 1))) }
        return order
    }

    /// Sample `i` decoded and, with an augmentation, augmented with the seed of (`seed`,
    /// `epoch`, `i`), so it does not depend on the order or on which other samples were read.
    public func sample(_ i: Int, augmentation: DetectionAugmentation?, seed: UInt64, epoch: Int) throws -> DetectionSample {
        let s = try sample(i)
        guard let augmentation else { return s }
        return augmentation.apply(s, seed: DetectionAugmentation.seed(seed, epoch: epoch, index: i))
    }
}
