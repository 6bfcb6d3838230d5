import CVSegCore
import CVSegIO

/// A folder of images and a folder of masks for training a segmentation network.
///
/// - Pairing: files are paired by their path relative to their folder without extension, so
///   `images/a/x.jpg` goes with `masks/a/x.png`; a mask named `<image>_mask` also pairs
///   (PennFudan). Folders are walked recursively in byte order; hidden entries are skipped; only
///   `.png`, `.jpg`, `.jpeg` (any case) are listed. A file without a partner is an error that lists
///   every such file, unless `allowUnpaired` (then they are left out and listed in ``unpaired``).
/// - Masks are read as indices, never colours: 8- or 16-bit gray values, palette PNGs by index.
///   In ``MaskMode/indices`` mode the values are the labels and ``ignoreLabel`` (255) marks pixels
///   the loss skips; in ``MaskMode/binary`` mode any nonzero value is foreground (1), so 0/1 and
///   0/255 masks both work, and nothing in the files is ignored.
/// - Images become RGB (``PlanarImage``, 0...255): gray is repeated into three channels, alpha is
///   dropped, 16-bit samples keep their high byte (`v >> 8`), palette images are expanded.
/// - Loading is lazy: the dataset keeps paths and decodes a pair when asked
///   (``sample(_:)``). ``validate(decodeImages:)`` reads every mask and every image header up front
///   and reports every problem at once; training calls it before the first step.
public struct SegmentationDataset: Sendable {
    public enum MaskMode: Sendable, Equatable {
        /// Mask values are class indices; ``SegmentationDataset/ignoreLabel`` is skipped.
        case indices
        /// Nonzero is foreground (1), zero background (0): two classes, nothing ignored in the files.
        case binary
    }

    public let imagesFolder: String
    public let masksFolder: String
    public let pairs: [SegmentationPair]
    /// Files left out for want of a partner (only with `allowUnpaired`).
    public let unpaired: [String]
    /// The class count given (2 in binary mode), or nil to take it from the masks in ``validate(decodeImages:)``.
    public let classes: Int?
    public let maskMode: MaskMode
    /// The label of pixels that the loss skips; also the label of padding added by augmentation.
    public let ignoreLabel: Int32

    /// Lists and pairs the files (nothing is decoded yet).
    /// - Throws: `.io` for a missing or unlistable folder; `.invalidArgument` for an empty folder,
    ///   no pairs, unpaired files (each listed, unless `allowUnpaired`), or inconsistent settings.
    public init(images: String, masks: String, classes: Int? = nil, maskMode: MaskMode = .indices,
                ignoreLabel: Int32 = LabelMap.ignoreLabel, allowUnpaired: Bool = false) throws {
        if maskMode == .binary, let classes, classes != 2 {
            throw CVSegError.invalidArgument("SegmentationDataset: binary masks have 2 classes, not \(classes)")
        }
        if let classes, classes < 1 {
            throw CVSegError.invalidArgument("SegmentationDataset: classes must be at least 1, not \(classes)")
        }
        if maskMode == .indices, let classes, (0..<Int32(clamping: classes)).contains(ignoreLabel) {
            throw CVSegError.invalidArgument(
                "SegmentationDataset: the ignore label \(ignoreLabel) is one of the \(classes) classes (0..<\(classes))")
        }
        let imageFiles = try DatasetFiles.list(images), maskFiles = try DatasetFiles.list(masks)
        if imageFiles.isEmpty { throw CVSegError.invalidArgument("SegmentationDataset: no image files (.png, .jpg, .jpeg) in \(images)") }
        if maskFiles.isEmpty { throw CVSegError.invalidArgument("SegmentationDataset: no mask files (.png, .jpg, .jpeg) in \(masks)") }
        let (pairs, unpaired) = DatasetFiles.pair(images: imageFiles, masks: maskFiles, imagesFolder: images, masksFolder: masks)
        if pairs.isEmpty {
            throw CVSegError.invalidArgument("SegmentationDataset: no image in \(images) has a mask in \(masks) "
                                             + "(\(imageFiles.count) images, \(maskFiles.count) masks; pairs need the same "
                                             + "relative path without extension)")
        }
        if !unpaired.isEmpty && !allowUnpaired {
            throw CVSegError.invalidArgument("SegmentationDataset: \(unpaired.count) unpaired file\(unpaired.count == 1 ? "" : "s"):\n"
                                             + unpaired.map { "  " + $0 }.joined(separator: "\n"))
        }
        self.imagesFolder = images
        self.masksFolder = masks
        self.pairs = pairs
        self.unpaired = unpaired
        self.classes = maskMode == .binary ? 2 : classes
        self.maskMode = maskMode
        self.ignoreLabel = ignoreLabel
    }

    public var count: Int { pairs.count }

    /// The labels of pair `i`'s mask, in the dataset's mode (binary: nonzero → 1).
    public func labels(_ i: Int) throws -> LabelMap {
        var map = try DatasetFiles.readMask(pairs[i].mask)
        if maskMode == .binary { for k in map.labels.indices where map.labels[k] != 0 { map.labels[k] = 1 } }
        return map
    }

    /// Pair `i` decoded: the image as RGB planes and its labels.
    /// - Throws: the decoder's errors (naming the file); `.invalidContent` when the sizes differ.
    public func sample(_ i: Int) throws -> SegmentationSample {
        let image = try DatasetFiles.readImage(pairs[i].image)
        let labels = try labels(i)
        guard image.width == labels.width, image.height == labels.height else {
            throw sizeMismatch(i, image: (image.width, image.height), mask: (labels.width, labels.height))
        }
        return SegmentationSample(image: image, labels: labels, name: pairs[i].name)
    }

    func sizeMismatch(_ i: Int, image: (Int, Int), mask: (Int, Int)) -> CVSegError {
        .invalidContent(file: pairs[i].mask, reason: "the mask is \(mask.0)x\(mask.1) but its image \(pairs[i].image) is \(image.0)x\(image.1)")
    }

    /// Reads every mask (fully) and every image (its header; the whole image when `decodeImages`)
    /// and checks them, reporting every problem in one error: files that cannot be read or
    /// decoded (the decoder's message, which names the file), image/mask size mismatches (both
    /// files and sizes), and labels ≥ the class count that are not the ignore label (the file,
    /// the labels, the class count). Also counts pixels per class (``ClassStatistics``).
    /// - Returns: the statistics, whose ``ClassStatistics/classes`` is the class count given or,
    ///   without one, the largest label that is not the ignore label + 1.
    /// - Throws: `.invalidContent(file: masksFolder, …)` listing at most `maxListed` problems (and
    ///   how many more there are).
    public func validate(decodeImages: Bool = false, maxListed: Int = 50) throws -> ClassStatistics {
        var problems: [String] = []
        var perImage: [(counts: [Int: Int], labelled: Int)] = []
        for i in pairs.indices {
            do {
                let size: (width: Int, height: Int)
                if decodeImages {
                    let image = try DatasetFiles.readImage(pairs[i].image)
                    size = (image.width, image.height)
                } else {
                    size = try DatasetFiles.imageSize(pairs[i].image)
                }
                let map = try labels(i)
                guard size.width == map.width, size.height == map.height else {
                    throw sizeMismatch(i, image: size, mask: (map.width, map.height))
                }
                var counts: [Int: Int] = [:]
                var labelled = 0
                for l in map.labels where l != ignoreLabel || maskMode == .binary {
                    counts[Int(l), default: 0] += 1
                    labelled += 1
                }
                if let classes {
                    let bad = counts.keys.filter { $0 >= classes }.sorted()
                    if !bad.isEmpty {
                        let shown = bad.prefix(10).map(String.init).joined(separator: ", ") + (bad.count > 10 ? ", …" : "")
                        throw CVSegError.invalidContent(
                            file: pairs[i].mask,
                            reason: "label\(bad.count == 1 ? "" : "s") \(shown) outside the \(classes) classes (0..<\(classes))"
                                + (maskMode == .indices ? " and not the ignore label \(ignoreLabel)" : ""))
                    }
                }
                perImage.append((counts, labelled))
            } catch {
                problems.append("\(error)")
            }
        }
        if !problems.isEmpty {
            let listed = problems.prefix(maxListed).map { "  " + $0 }.joined(separator: "\n")
            let more = problems.count > maxListed ? "\n  … and \(problems.count - maxListed) more" : ""
            throw CVSegError.invalidContent(
                file: masksFolder,
                reason: "\(problems.count) of \(pairs.count) pairs cannot be used for training:\n\(listed)\(more)")
        }
        let k = classes ?? ((perImage.flatMap { $0.counts.keys }.max() ?? -1) + 1)
        var stats = ClassStatistics(classes: max(k, 1))
        for (counts, labelled) in perImage {
            for (c, n) in counts {
                stats.pixels[c] += n
                stats.images[c] += 1
                stats.pixelsOfImagesWith[c] += labelled
            }
            stats.labelledPixels += labelled
        }
        return stats
    }
}

/// Pixel counts per class over a dataset, and class weights for the loss.
public struct ClassStatistics: Sendable, Equatable {
    public let classes: Int
    /// Pixels of each class (ignored pixels are not counted).
    public var pixels: [Int]
    /// The number of images in which each class appears.
    public var images: [Int]
    /// For each class, the labelled (not ignored) pixels of the images in which it appears.
    public var pixelsOfImagesWith: [Int]
    /// Labelled pixels in all.
    public var labelledPixels = 0

    public init(classes: Int) {
        self.classes = classes
        pixels = Array(repeating: 0, count: classes)
        images = Array(repeating: 0, count: classes)
        pixelsOfImagesWith = Array(repeating: 0, count: classes)
    }

    /// Each class's frequency as median-frequency balancing defines it: its pixels divided by
    /// the labelled pixels of the images in which it appears (0 for a class that never appears).
    public var frequencies: [Double] {
        (0..<classes).map { pixelsOfImagesWith[$0] > 0 ? Double(pixels[$0]) / Double(pixelsOfImagesWith[$0]) : 0 }
    }

    /// Median-frequency balancing (D. Eigen, R. Fergus, "Predicting depth, surface normals and
    /// semantic labels with a common multi-scale convolutional architecture", ICCV 2015; used by
    /// SegNet): `w_c = median(freq) / freq_c`, with `freq_c` = pixels of class c / labelled pixels
    /// of the images where c appears (``frequencies``). The median is over the classes that
    /// appear (the mean of the two middle values for an even count, as `numpy.median`); a class
    /// that never appears gets weight 0. The result goes to `Loss.crossEntropy(classWeights:)`.
    public var medianFrequencyWeights: [Float] {
        let f = frequencies
        let present = f.filter { $0 > 0 }.sorted()
        guard !present.isEmpty else { return Array(repeating: 0, count: classes) }
        let m = present.count
        let median = m % 2 == 1 ? present[m / 2] : (present[m / 2 - 1] + present[m / 2]) / 2
        return f.map { $0 > 0 ? Float(median / $0) : 0 }
    }
}
