import CVSegCore

/// A box as the evaluation files store it, COCO's `[x, y, width, height]` in pixels, kept in
/// Double: pycocotools computes IoU in double precision from the JSON values, and a Float box
/// could flip a match that sits exactly on an IoU threshold.
public struct EvalBox: Sendable, Equatable {
    public var x: Double, y: Double, width: Double, height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }

    /// The library's `xyxy` Float box.
    public var box: Box { Box(x1: Float(x), y1: Float(y), x2: Float(x + width), y2: Float(y + height)) }
}

/// One image of a detection dataset.
public struct EvalImage: Sendable, Equatable {
    public var id: Int
    public var fileName: String?
    public var width: Int?
    public var height: Int?

    public init(id: Int, fileName: String? = nil, width: Int? = nil, height: Int? = nil) {
        self.id = id; self.fileName = fileName; self.width = width; self.height = height
    }
}

/// A ground-truth object.
public struct GroundTruthObject: Sendable, Equatable {
    /// Annotation id. COCO ids start at 1; pycocotools records a match by this id, so an id of 0
    /// counts as unmatched there, and here too (kept for identical numbers).
    public var id: Int
    public var imageId: Int
    public var categoryId: Int
    public var box: EvalBox
    /// The area COCO's size ranges (small, medium, large) use: the annotation's `area` field
    /// (the segment's area in COCO), else `width * height`.
    public var area: Double
    /// A crowd region: matched by any number of detections, never a miss, never a false positive.
    public var isCrowd: Bool
    /// A VOC "difficult" object: neither a hit nor a miss in VOC AP.
    public var isDifficult: Bool

    public init(id: Int, imageId: Int, categoryId: Int, box: EvalBox, area: Double? = nil,
                isCrowd: Bool = false, isDifficult: Bool = false) {
        self.id = id; self.imageId = imageId; self.categoryId = categoryId; self.box = box
        self.area = area ?? box.width * box.height
        self.isCrowd = isCrowd; self.isDifficult = isDifficult
    }
}

/// A detection with its confidence.
public struct DetectedObject: Sendable, Equatable {
    public var imageId: Int
    public var categoryId: Int
    public var box: EvalBox
    public var score: Double
    /// The image's path relative to its input root, when the file gives it (cvseg's results do).
    public var fileName: String?

    public init(imageId: Int, categoryId: Int, box: EvalBox, score: Double, fileName: String? = nil) {
        self.imageId = imageId; self.categoryId = categoryId; self.box = box; self.score = score
        self.fileName = fileName
    }
}

/// Ground truth for detection: images, categories (id and name) and objects, in file order.
public struct DetectionGroundTruth: Sendable {
    public var images: [EvalImage]
    public var categories: [(id: Int, name: String)]
    public var objects: [GroundTruthObject]

    public init(images: [EvalImage], categories: [(id: Int, name: String)], objects: [GroundTruthObject]) {
        self.images = images; self.categories = categories; self.objects = objects
    }
}
