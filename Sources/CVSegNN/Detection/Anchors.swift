import CVSegCore

/// Anchor boxes for a region proposal network: at every cell of a feature map, one box per
/// (aspect ratio, size) pair, centred on the cell's top-left corner in image coordinates.
/// Exactly torchvision's `AnchorGenerator` (`torchvision.models.detection.anchor_utils`), in
/// `Float`:
///
/// - **Cell anchors** (one set per feature level): for aspect ratio `r` (height / width) and
///   size `s`, `h = √r`, `w = 1 / h`, the box `(−w·s, −h·s, w·s, h·s) / 2` with every
///   coordinate rounded to a whole number, halves to even (`torch.round`: size 5 at ratio 1
///   gives ±2, size 7 gives ±4). The area stays about `s²`. Order: ratio-major, then size
///   (`ratio₀·size₀, ratio₀·size₁, …`).
/// - **Grid anchors**: the cell anchors shifted by `(x · strideX, y · strideY)` for every cell,
///   location-major (rows top to bottom, cells left to right), then anchor: anchor `a` of cell
///   `(y, x)` is at index `(y · width + x) · A + a`, the order in which an RPN head's
///   `[A, H, W]` outputs are flattened after moving the anchor axis last.
/// - **Strides** are `imageSize / featureSize` rounded down, per axis (torchvision uses the
///   size of the padded batch tensor, not of each image). A stride that does not divide the
///   image leaves a margin at the right and bottom that no anchor centre reaches.
///
/// Anchors are not clipped to the image; boxes partly outside are normal.
public struct AnchorGenerator: Sendable {
    /// Anchor sizes (about the square root of the area) per feature level, in image pixels.
    public let sizes: [[Float]]
    /// Aspect ratios (height / width) per feature level.
    public let aspectRatios: [[Float]]
    /// The zero-centred anchors of one cell, per level.
    public let cellAnchors: [[Box]]

    /// - Parameters:
    ///   - sizes: per level, e.g. `[[128, 256, 512]]` (Faster R-CNN on one stride-16 map, the
    ///     default) or `[[32], [64], [128], [256], [512]]` (a feature pyramid).
    ///   - aspectRatios: per level, or one list used for every level; default `[[0.5, 1, 2]]`.
    /// - Throws: `invalidArgument` for no levels, a level without sizes or ratios, a ratio list
    ///   count that is neither 1 nor the number of levels, or a size or ratio that is not
    ///   finite and positive.
    public init(sizes: [[Float]] = [[128, 256, 512]], aspectRatios: [[Float]] = [[0.5, 1, 2]]) throws {
        guard !sizes.isEmpty else { throw CVSegError.invalidArgument("AnchorGenerator: no feature levels") }
        let ratios = aspectRatios.count == 1 ? Array(repeating: aspectRatios[0], count: sizes.count) : aspectRatios
        guard ratios.count == sizes.count else {
            throw CVSegError.invalidArgument(
                "AnchorGenerator: \(sizes.count) levels of sizes but \(aspectRatios.count) of aspect ratios")
        }
        for (level, (s, r)) in zip(sizes, ratios).enumerated() {
            guard !s.isEmpty, !r.isEmpty else {
                throw CVSegError.invalidArgument("AnchorGenerator: level \(level) has \(s.count) sizes and \(r.count) aspect ratios")
            }
            for v in s + r where !(v.isFinite && v > 0) {
                throw CVSegError.invalidArgument("AnchorGenerator: level \(level): sizes \(s) and ratios \(r) must be finite and positive")
            }
        }
        self.sizes = sizes
        self.aspectRatios = ratios
        cellAnchors = zip(sizes, ratios).map { Self.cellAnchors(sizes: $0, aspectRatios: $1) }
    }

    /// A single-level generator (one feature map).
    public init(sizes: [Float], aspectRatios: [Float]) throws {
        try self.init(sizes: [sizes], aspectRatios: [aspectRatios])
    }

    /// Anchors per feature-map cell, per level (`sizes × ratios`).
    public var anchorsPerLocation: [Int] { cellAnchors.map(\.count) }

    /// The zero-centred anchors for every (ratio, size) pair, ratio-major, coordinates rounded
    /// half to even (see the type's documentation).
    public static func cellAnchors(sizes: [Float], aspectRatios: [Float]) -> [Box] {
        var out: [Box] = []
        for r in aspectRatios {
            let h = r.squareRoot(), w = 1 / h
            for s in sizes {
                let ws = w * s, hs = h * s
                func half(_ v: Float) -> Float { (v / 2).rounded(.toNearestOrEven) }
                out.append(Box(x1: half(-ws), y1: half(-hs), x2: half(ws), y2: half(hs)))
            }
        }
        return out
    }

    /// The anchors of one level over a `height × width` feature map, location-major then anchor.
    /// - Returns: `height · width · anchorsPerLocation[level]` boxes.
    /// - Precondition: `level` is a level of this generator; sizes and strides are not negative.
    public func gridAnchors(level: Int, height: Int, width: Int, strideY: Int, strideX: Int) -> [Box] {
        precondition(cellAnchors.indices.contains(level), "AnchorGenerator: no level \(level)")
        precondition(height >= 0 && width >= 0 && strideY >= 0 && strideX >= 0,
                     "AnchorGenerator.gridAnchors: negative size or stride")
        let cell = cellAnchors[level]
        var out: [Box] = []
        out.reserveCapacity(height * width * cell.count)
        for y in 0..<height {
            let sy = Float(y * strideY)
            for x in 0..<width {
                let sx = Float(x * strideX)
                for a in cell { out.append(Box(x1: sx + a.x1, y1: sy + a.y1, x2: sx + a.x2, y2: sy + a.y2)) }
            }
        }
        return out
    }

    /// The anchors of all levels for an image batch of `imageHeight × imageWidth` pixels with
    /// one feature map per level, concatenated level after level (torchvision's `forward`
    /// for one image); the stride of level `l` is `imageSize / featureSizes[l]`, rounded down.
    /// - Throws: `invalidArgument` unless there is one feature size per level and every size,
    ///   of the image and the maps, is positive.
    public func anchors(imageHeight: Int, imageWidth: Int, featureSizes: [(height: Int, width: Int)]) throws -> [Box] {
        guard featureSizes.count == cellAnchors.count else {
            throw CVSegError.invalidArgument("AnchorGenerator: \(featureSizes.count) feature maps for \(cellAnchors.count) levels")
        }
        guard imageHeight > 0, imageWidth > 0, featureSizes.allSatisfy({ $0.height > 0 && $0.width > 0 }) else {
            throw CVSegError.invalidArgument(
                "AnchorGenerator: sizes must be positive: image \(imageHeight)×\(imageWidth), maps \(featureSizes.map { "\($0.height)×\($0.width)" })")
        }
        var out: [Box] = []
        for (level, f) in featureSizes.enumerated() {
            out += gridAnchors(level: level, height: f.height, width: f.width,
                               strideY: imageHeight / f.height, strideX: imageWidth / f.width)
        }
        return out
    }
}
