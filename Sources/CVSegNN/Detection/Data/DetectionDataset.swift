import CVSegCore
import CVSegIO

/// An image with its ground-truth objects, as detection networks train on it.
public struct DetectionSample: Sendable, Equatable {
    /// RGB planes, 0...255.
    public var image: PlanarImage
    /// `[N]` boxes, `xyxy` in pixel edges of ``image`` (width `x2 − x1`), inside the image.
    public var boxes: [Box]
    /// `[N]` labels 1...C (0 is the background and never appears).
    public var labels: [Int32]
    /// `[N]` COCO crowd regions (`iscrowd`): training should neither match nor penalise them.
    public var isCrowd: [Bool]
    /// `[N]` VOC "difficult" objects.
    public var isDifficult: [Bool]
    /// The image's path relative to the images folder, without extension.
    public var name: String

    public init(image: PlanarImage, boxes: [Box], labels: [Int32], isCrowd: [Bool]? = nil, isDifficult: [Bool]? = nil,
                name: String = "") {
        let crowd = isCrowd ?? Array(repeating: false, count: boxes.count)
        let difficult = isDifficult ?? Array(repeating: false, count: boxes.count)
        precondition(labels.count == boxes.count && crowd.count == boxes.count && difficult.count == boxes.count,
                     "\(boxes.count) boxes, \(labels.count) labels, \(crowd.count) crowd and \(difficult.count) difficult flags")
        self.image = image
        self.boxes = boxes
        self.labels = labels
        self.isCrowd = crowd
        self.isDifficult = difficult
        self.name = name
    }
}

/// One image of a ``DetectionDataset``: its file, size and checked ground truth (no pixels).
public struct DetectionItem: Sendable, Equatable {
    /// The image file's path.
    public let image: String
    /// Its path relative to the images folder, without extension.
    public let name: String
    public let width: Int
    public let height: Int
    /// As in ``DetectionSample``: clipped to the image, never empty.
    public let boxes: [Box]
    public let labels: [Int32]
    public let isCrowd: [Bool]
    public let isDifficult: [Bool]
}

/// A folder of images and their object boxes for training a detection network.
///
/// - Ground truth (``DetectionGroundTruthSource``): a COCO instances JSON (`file_name` relative
///   to the images folder, matched with its extension), a folder of VOC XML files (matched by
///   relative path without extension), or a folder of instance-id masks in PennFudan's layout
///   (`<image>_mask.png` or `<image>.png`; one box per nonzero id).
/// - Boxes become `xyxy` pixel edges (Docs/Conventions.md): COCO `[x, y, w, h]` →
///   `(x, y, x + w, y + h)`; VOC's 1-based inclusive corners → `(xmin − 1, ymin − 1, xmax, ymax)`;
///   a mask instance → `(min x, min y, max x + 1, max y + 1)` of its pixels.
/// - Labels are 1...C (``categories``): COCO's categories in increasing id order, VOC's classes
///   in class-list order (else sorted by name), and 1 for masks.
/// - Everything is checked when the dataset is made, and every problem is reported in one error
///   naming the files (``init(images:groundTruth:options:)``). Images are decoded when asked for
///   (``sample(_:)``).
public struct DetectionDataset: Sendable {
    /// What to do with a box that lies wholly outside its image or has no area once clipped.
    public enum InvalidBoxes: Sendable, Equatable {
        /// It is an error (the default): a box that covers nothing is usually a sign of
        /// swapped coordinates or the wrong image.
        case reject
        /// It is left out and listed in ``DetectionDataset/droppedBoxes``.
        case drop
    }

    /// What to do with an image that the ground truth does not mention.
    public enum ImagesWithoutGroundTruth: Sendable, Equatable {
        /// It is an error (the default) listing every such image.
        case reject
        /// It is a negative (an image without objects) and listed in
        /// ``DetectionDataset/imagesWithoutGroundTruth``.
        case negatives
    }

    public struct Options: Sendable, Equatable {
        public var invalidBoxes: InvalidBoxes
        public var imagesWithoutGroundTruth: ImagesWithoutGroundTruth
        /// Decode every image while checking (not just its header), so a truncated file is found
        /// before training rather than in the middle of it.
        public var decodeImages: Bool
        /// At most this many problems are listed in the error (then how many more there are).
        public var maxListed: Int

        public init(invalidBoxes: InvalidBoxes = .reject, imagesWithoutGroundTruth: ImagesWithoutGroundTruth = .reject,
                    decodeImages: Bool = false, maxListed: Int = 50) {
            self.invalidBoxes = invalidBoxes
            self.imagesWithoutGroundTruth = imagesWithoutGroundTruth
            self.decodeImages = decodeImages
            self.maxListed = maxListed
        }
    }

    public let imagesFolder: String
    public let groundTruth: DetectionGroundTruthSource
    /// The classes, label 1 first.
    public let categories: [DetectionCategory]
    /// The images in byte order of their relative paths.
    public let items: [DetectionItem]
    /// Boxes left out under ``InvalidBoxes/drop``, one line each (file, object, box, reason).
    public let droppedBoxes: [String]
    /// How many boxes reached past the image and were clipped to it.
    public let clippedBoxes: Int
    /// Images taken as negatives under ``ImagesWithoutGroundTruth/negatives``.
    public let imagesWithoutGroundTruth: [String]

    /// Reads the ground truth, lists the images, pairs them and checks everything.
    ///
    /// Rules:
    /// - a box partly outside its image is clipped to it (torchvision's `clip_boxes_to_image`);
    /// - a box with zero area or inverted corners, or wholly outside its image, is an error, or is
    ///   dropped under ``InvalidBoxes/drop``;
    /// - an unknown category (a COCO `category_id` not in `categories`, a VOC class not in the
    ///   class list) is an error;
    /// - an image without ground truth is an error, or a negative under
    ///   ``ImagesWithoutGroundTruth/negatives``; ground truth that is there but empty (a COCO image
    ///   without annotations, a VOC file without objects, an all-zero mask) is a negative;
    /// - ground truth for an image that is not in the folder is an error;
    /// - a size the ground truth states (COCO `width`/`height`, VOC `<size>`, the mask) that differs
    ///   from the image file's is an error; so is an image that cannot be read.
    /// - Throws: `.io` for a folder or file that cannot be read; `.malformed` for a COCO file that
    ///   is not JSON; `.invalidArgument` for a folder without images or a bad class list;
    ///   `.invalidContent(file: groundTruth.path, …)` listing every problem above.
    public init(images: String, groundTruth: DetectionGroundTruthSource, options: Options = Options()) throws {
        var set = try DetectionAnnotations.read(groundTruth)
        let imageFiles = try DatasetFiles.list(images)
        if imageFiles.isEmpty { throw CVSegError.invalidArgument("DetectionDataset: no image files (.png, .jpg, .jpeg) in \(images)") }
        let pairing = Self.pair(imageFiles, &set, imagesFolder: images, groundTruth: groundTruth, options: options)
        var report = Report(problems: set.problems + pairing.problems)
        var items: [DetectionItem] = []
        for (file, annotation) in pairing.pairs {
            do {
                let size = try Self.size(of: file.path, decode: options.decodeImages)
                if let item = Self.check(file, size: size, annotation.map { set.images[$0] }, options: options, into: &report) {
                    items.append(item)
                }
            } catch {
                report.problems.append("\(error)")
            }
        }
        let problems = report.problems
        if !problems.isEmpty {
            let listed = problems.prefix(options.maxListed).map { "  " + $0 }.joined(separator: "\n")
            let more = problems.count > options.maxListed ? "\n  … and \(problems.count - options.maxListed) more" : ""
            throw CVSegError.invalidContent(
                file: groundTruth.path,
                reason: "\(problems.count) problem\(problems.count == 1 ? "" : "s") with the detection data (images in \(images)):\n\(listed)\(more)")
        }
        self.imagesFolder = images
        self.groundTruth = groundTruth
        self.categories = set.categories
        self.items = items
        self.droppedBoxes = report.dropped
        self.clippedBoxes = report.clipped
        self.imagesWithoutGroundTruth = pairing.negatives
    }

    public var count: Int { items.count }

    /// Image `i` decoded, with its ground truth.
    /// - Throws: the decoder's errors (naming the file); `.invalidContent` when the file's size
    ///   changed since the dataset was made.
    public func sample(_ i: Int) throws -> DetectionSample {
        let item = items[i]
        let image = try DatasetFiles.readImage(item.image)
        guard image.width == item.width, image.height == item.height else {
            throw CVSegError.invalidContent(file: item.image, reason: "the image is \(image.width)x\(image.height), "
                                            + "but it was \(item.width)x\(item.height) when the dataset was checked")
        }
        return DetectionSample(image: image, boxes: item.boxes, labels: item.labels, isCrowd: item.isCrowd,
                               isDifficult: item.isDifficult, name: item.name)
    }

    /// The number of objects of each label (index 0, the background, stays 0), crowd regions
    /// included.
    public var objectsPerLabel: [Int] {
        var counts = [Int](repeating: 0, count: categories.count + 1)
        for item in items { for l in item.labels { counts[Int(l)] += 1 } }
        return counts
    }

    // MARK: - Checking

    /// What checking found so far.
    struct Report {
        var problems: [String]
        var dropped: [String] = []
        var clipped = 0
    }

    /// The item of an image of `size` with its ground truth (nil: a negative), or nil when the
    /// ground truth cannot be used (the problems are added to `report`).
    static func check(_ file: (path: String, relative: String), size: (width: Int, height: Int), _ annotation: AnnotatedImage?,
                      options: Options, into report: inout Report) -> DetectionItem? {
        let name = DatasetFiles.stem(file.relative)
        guard let annotation else {
            return DetectionItem(image: file.path, name: name, width: size.width, height: size.height,
                                 boxes: [], labels: [], isCrowd: [], isDifficult: [])
        }
        if annotation.failed { return nil }
        if let stated = annotation.size, stated != size {
            let (s, i) = ("\(stated.width)x\(stated.height)", "\(size.width)x\(size.height)")
            report.problems.append(annotation.sizeIsMask
                ? "\(annotation.origin): the mask is \(s) but its image \(file.path) is \(i)"
                : "\(annotation.origin): gives the size \(s) but \(file.path) is \(i)")
            return nil
        }
        var kept: [AnnotatedObject] = []
        for var object in annotation.objects {
            switch clip(object.box, width: size.width, height: size.height) {
            case .inside(let box, let wasClipped):
                object.box = box
                if wasClipped { report.clipped += 1 }
                kept.append(object)
            case .invalid(let reason):
                let line = "\(annotation.file): \(object.origin): box \(describe(object.box)) \(reason) "
                    + "(\(file.path), \(size.width)x\(size.height))"
                if options.invalidBoxes == .drop { report.dropped.append(line) } else { report.problems.append(line) }
            }
        }
        return DetectionItem(image: file.path, name: name, width: size.width, height: size.height,
                             boxes: kept.map(\.box), labels: kept.map(\.label), isCrowd: kept.map(\.isCrowd),
                             isDifficult: kept.map(\.isDifficult))
    }

    enum Clipped: Equatable {
        case inside(Box, clipped: Bool)
        case invalid(String)
    }

    /// `box` clipped to the `width × height` image, or why it cannot be used.
    static func clip(_ box: Box, width: Int, height: Int) -> Clipped {
        if box.x2 < box.x1 || box.y2 < box.y1 { return .invalid("is inverted (x2 < x1 or y2 < y1)") }
        if box.x2 == box.x1 || box.y2 == box.y1 { return .invalid("has zero area") }
        let (w, h) = (Float(width), Float(height))
        let c = Box(x1: min(max(box.x1, 0), w), y1: min(max(box.y1, 0), h), x2: min(max(box.x2, 0), w), y2: min(max(box.y2, 0), h))
        if c.x2 <= c.x1 || c.y2 <= c.y1 { return .invalid("lies wholly outside the image") }
        return .inside(c, clipped: c != box)
    }

    static func describe(_ b: Box) -> String {
        func f(_ v: Float) -> String { v == v.rounded() && abs(v) < 1e7 ? String(Int(v)) : "\(v)" }
        return "[\(f(b.x1)), \(f(b.y1)), \(f(b.x2)), \(f(b.y2))]"
    }

    static func size(of path: String, decode: Bool) throws -> (width: Int, height: Int) {
        if decode {
            let image = try DatasetFiles.readImage(path)
            return (image.width, image.height)
        }
        return try DatasetFiles.imageSize(path)
    }

    struct Pairing {
        /// Each image with the index of its ground truth in the annotation set (nil: a negative).
        var pairs: [(file: (path: String, relative: String), annotation: Int?)]
        var problems: [String]
        var negatives: [String]
    }

    /// Matches images with their ground truth; the problems are files without a partner (or with
    /// a rival for the same key).
    static func pair(_ files: [(path: String, relative: String)], _ set: inout AnnotationSet, imagesFolder: String,
                     groundTruth: DetectionGroundTruthSource, options: Options) -> Pairing {
        var problems: [String] = []
        var imageOf: [String: Int] = [:]
        var usable: [Bool] = []
        for (i, file) in files.enumerated() {
            let key = set.keysKeepExtension ? file.relative : DatasetFiles.stem(file.relative)
            if let other = imageOf[key] {
                problems.append("\(file.path): another image, \(files[other].path), has the same name without extension")
                usable.append(false)
                continue
            }
            imageOf[key] = i
            usable.append(true)
        }
        var truthOf = [Int?](repeating: nil, count: files.count)
        for (a, annotation) in set.images.enumerated() {
            guard let i = annotation.keys.lazy.compactMap({ imageOf[$0] }).first else {
                problems.append("\(annotation.origin): no image for it in \(imagesFolder)")
                continue
            }
            if let other = truthOf[i] {
                problems.append("\(annotation.origin): \(set.images[other].origin) already gives the ground truth of \(files[i].path)")
                continue
            }
            truthOf[i] = a
        }
        var pairs: [(file: (path: String, relative: String), annotation: Int?)] = []
        var negatives: [String] = []
        for (i, file) in files.enumerated() where usable[i] {
            if truthOf[i] == nil {
                if options.imagesWithoutGroundTruth == .negatives {
                    negatives.append(file.path)
                } else {
                    problems.append("\(file.path): no ground truth for it in \(groundTruth.path)")
                    continue
                }
            }
            pairs.append((file, truthOf[i]))
        }
        return Pairing(pairs: pairs, problems: problems, negatives: negatives)
    }
}
