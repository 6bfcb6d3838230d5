import CVSegCore
import CVSegEval
import CVSegIO
#if canImport(Glibc)
import Glibc
#endif

/// Where a detection dataset's ground truth comes from.
public enum DetectionGroundTruthSource: Sendable, Equatable {
    /// A COCO instances JSON file: `images` (`id`, `file_name` relative to the images folder,
    /// optional `width`/`height`), `categories` (`id`, `name`) and `annotations` (`image_id`,
    /// `category_id`, `bbox` `[x, y, w, h]`, `iscrowd`).
    case coco(file: String)
    /// A folder of PASCAL VOC XML files, paired with images by relative path without extension
    /// (`Annotations/a/x.xml` ↔ `images/a/x.jpg`). Classes are numbered 1... in `classNames`
    /// order; without a list, in sorted order of the names found.
    case voc(folder: String, classNames: [String]? = nil)
    /// A folder of instance-id masks (PennFudan's `PedMasks/<image>_mask.png`): 0 background,
    /// each other value one object, all of the one class `className`.
    case instanceMasks(folder: String, className: String = "pedestrian")

    /// The file or folder named in error messages.
    public var path: String {
        switch self {
        case .coco(let file): file
        case .voc(let folder, _), .instanceMasks(let folder, _): folder
        }
    }
}

/// A class of a detection dataset.
public struct DetectionCategory: Sendable, Equatable {
    /// The training label, 1...C (0 is the background).
    public let label: Int32
    public let name: String
    /// The id in the ground-truth source: COCO's `category_id`; for VOC and masks the label
    /// itself (as `cvseg eval det` numbers them).
    public let id: Int

    public init(label: Int32, name: String, id: Int) {
        self.label = label; self.name = name; self.id = id
    }
}

/// A ground-truth object as its file gives it, before it is checked against its image.
struct AnnotatedObject: Sendable {
    /// `xyxy`, pixel edges, not clipped.
    var box: Box
    var label: Int32
    var isCrowd = false
    var isDifficult = false
    /// How messages name the object: `annotations[4] (id 17)`, `object 2 (dog)`, `instance 3`.
    var origin: String
}

/// One image's ground truth as its source describes it.
struct AnnotatedImage: Sendable {
    /// Pairing keys, tried in order against the images' keys (COCO: `file_name`; VOC: the XML's
    /// relative path without extension; masks: that, then without a `_mask` suffix).
    var keys: [String]
    /// The file that holds it (the JSON, XML or mask file).
    var file: String
    /// How messages name it: the XML or mask file, or `<json>: images[3] (file_name x.jpg)`.
    var origin: String
    /// The size the source states (COCO `width`/`height`, VOC `<size>`, the mask's size).
    var size: (width: Int, height: Int)?
    /// Whether ``size`` is a mask's (whose messages differ).
    var sizeIsMask = false
    var objects: [AnnotatedObject]
    /// The file could not be read (a problem already says why): it still claims its image, so
    /// that the image is not reported again as having no ground truth.
    var failed = false
}

/// The ground truth of a source, read and numbered, with every problem found on the way.
struct AnnotationSet: Sendable {
    var categories: [DetectionCategory]
    var images: [AnnotatedImage]
    /// One line per problem, each naming its file.
    var problems: [String]
    /// Whether images are keyed by relative path with extension (COCO) or without (VOC, masks).
    var keysKeepExtension: Bool
}

/// Walking a VOC annotation folder and numbering its classes; shared by ``DetectionDataset``
/// and `cvseg eval det`.
public enum VOCFolder {
    /// The `.xml` files (any case) under `folder`, recursively, in byte order of their relative
    /// paths; hidden entries (names starting with ".") are skipped.
    /// - Throws: `.io` when `folder` or a folder inside it cannot be listed, or an `.xml` entry
    ///   cannot be examined.
    public static func xmlFiles(_ folder: String) throws -> [(path: String, relative: String)] {
        try DatasetFiles.list(folder) { $0.lowercased().hasSuffix(".xml") }
    }

    /// The class names in label order (label = position + 1) and the names found that the list
    /// lacks (sorted): with `classNames`, that list; without, the names found, sorted.
    public static func classes(found: Set<String>, classNames: [String]?) -> (names: [String], unknown: [String]) {
        guard let classNames else { return (found.sorted(), []) }
        return (classNames, found.subtracting(classNames).sorted())
    }
}

enum DetectionAnnotations {
    static func read(_ source: DetectionGroundTruthSource) throws -> AnnotationSet {
        switch source {
        case .coco(let file): try coco(file)
        case .voc(let folder, let classNames): try voc(folder, classNames: classNames)
        case .instanceMasks(let folder, let className): try masks(folder, className: className)
        }
    }

    // MARK: COCO

    /// Reads a COCO instances file. A file that is not JSON or lacks the `images` or
    /// `annotations` list throws at once; problems with single entries are collected.
    static func coco(_ file: String) throws -> AnnotationSet {
        let root = try JSON.parse(FileBytes.read(file), file: file)
        guard root.objectValue != nil else {
            throw CVSegError.invalidContent(file: file, reason: "expected a COCO instances object at the top level")
        }
        guard let imageList = root["images"]?.arrayValue else { throw CVSegError.invalidContent(file: file, reason: "no \"images\" list") }
        guard let annotations = root["annotations"]?.arrayValue else {
            throw CVSegError.invalidContent(file: file, reason: "no \"annotations\" list")
        }
        var problems: [String] = []
        let categories = cocoCategories(root["categories"]?.arrayValue ?? [], file: file, problems: &problems)
        let labelOf = Dictionary(uniqueKeysWithValues: categories.map { ($0.id, $0.label) })

        var images: [AnnotatedImage] = []
        var slot: [Int: Int] = [:]
        for (i, item) in imageList.enumerated() {
            guard let id = item["id"]?.intValue else { problems.append("\(file): images[\(i)] has no integer \"id\""); continue }
            guard slot[id] == nil else { problems.append("\(file): images[\(i)]: image id \(id) appears twice"); continue }
            guard let name = item["file_name"]?.stringValue, !name.isEmpty else {
                problems.append("\(file): images[\(i)] (id \(id)) has no \"file_name\"")
                continue
            }
            var size: (Int, Int)?
            if let w = item["width"]?.intValue, let h = item["height"]?.intValue, w > 0, h > 0 { size = (w, h) }
            slot[id] = images.count
            images.append(AnnotatedImage(keys: [name.hasPrefix("./") ? String(name.dropFirst(2)) : name], file: file,
                                         origin: "\(file): images[\(i)] (file_name \(name))", size: size, objects: []))
        }
        for (i, a) in annotations.enumerated() {
            let what = "\(file): annotations[\(i)]" + (a["id"]?.intValue.map { " (id \($0))" } ?? "")
            var reasons: [String] = []
            let imageId = a["image_id"]?.intValue, categoryId = a["category_id"]?.intValue
            if let imageId { if slot[imageId] == nil { reasons.append("image_id \(imageId) is not in \"images\"") } }
            else { reasons.append("no integer \"image_id\"") }
            if let categoryId { if labelOf[categoryId] == nil { reasons.append("category_id \(categoryId) is not in \"categories\"") } }
            else { reasons.append("no integer \"category_id\"") }
            let b = a["bbox"]?.arrayValue?.compactMap(\.doubleValue).filter(\.isFinite) ?? []
            if b.count != 4 || a["bbox"]?.arrayValue?.count != 4 { reasons.append("no \"bbox\" of 4 finite numbers [x, y, w, h]") }
            guard reasons.isEmpty, let imageId, let categoryId, let image = slot[imageId], let label = labelOf[categoryId] else {
                problems.append("\(what): " + reasons.joined(separator: "; "))
                continue
            }
            let crowd = (a["iscrowd"]?.intValue ?? 0) != 0 || a["iscrowd"]?.boolValue == true
            images[image].objects.append(AnnotatedObject(
                box: Box(x1: Float(b[0]), y1: Float(b[1]), x2: Float(b[0] + b[2]), y2: Float(b[1] + b[3])),
                label: label, isCrowd: crowd, origin: String(what.dropFirst(file.count + 2))))
        }
        return AnnotationSet(categories: categories, images: images, problems: problems, keysKeepExtension: true)
    }

    /// COCO's categories numbered 1...C in increasing id order (COCO's ids have gaps: 1...90
    /// for 80 classes); a name defaults to the id.
    static func cocoCategories(_ list: [JSON], file: String, problems: inout [String]) -> [DetectionCategory] {
        var declared: [(id: Int, name: String)] = []
        for (i, c) in list.enumerated() {
            guard let id = c["id"]?.intValue else { problems.append("\(file): categories[\(i)] has no integer \"id\""); continue }
            if declared.contains(where: { $0.id == id }) {
                problems.append("\(file): categories[\(i)]: category id \(id) appears twice")
                continue
            }
            declared.append((id, c["name"]?.stringValue ?? String(id)))
        }
        return declared.sorted { $0.id < $1.id }.enumerated().map {
            DetectionCategory(label: Int32($0.offset + 1), name: $0.element.name, id: $0.element.id)
        }
    }

    // MARK: VOC

    /// Reads every XML file of `folder`; a file that does not parse or names an unknown class is
    /// a problem, and the others are still read.
    static func voc(_ folder: String, classNames: [String]?) throws -> AnnotationSet {
        if let classNames {
            var seen = Set<String>()
            for name in classNames where !seen.insert(name).inserted {
                throw CVSegError.invalidArgument("DetectionDataset: class \"\(name)\" appears twice in the class list")
            }
            if classNames.isEmpty { throw CVSegError.invalidArgument("DetectionDataset: the class list is empty") }
        }
        let files = try VOCFolder.xmlFiles(folder)
        if files.isEmpty { throw CVSegError.invalidArgument("DetectionDataset: no VOC .xml files in \(folder)") }
        var problems: [String] = []
        var parsed: [(file: (path: String, relative: String), annotation: VOCFormat.Annotation)] = []
        var images: [AnnotatedImage] = []
        for file in files {
            do { parsed.append((file, try VOCFormat.annotation(FileBytes.read(file.path), file: file.path))) }
            catch {
                problems.append("\(error)")
                images.append(AnnotatedImage(keys: [DatasetFiles.stem(file.relative)], file: file.path, origin: file.path,
                                             objects: [], failed: true))
            }
        }
        let (names, _) = VOCFolder.classes(found: Set(parsed.flatMap { $0.annotation.objects.map(\.name) }), classNames: classNames)
        let labelOf = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, Int32($0 + 1)) })
        for (file, a) in parsed {
            var objects: [AnnotatedObject] = []
            for (k, o) in a.objects.enumerated() {
                let origin = "object \(k + 1) (\(o.name))"
                guard let label = labelOf[o.name] else {
                    problems.append("\(file.path): \(origin): class \"\(o.name)\" is not in the class list")
                    continue
                }
                // VOC corners are 1-based inclusive pixels: pixels xmin...xmax span the edges
                // xmin − 1 ... xmax (detectron2's conversion).
                objects.append(AnnotatedObject(box: Box(x1: Float(o.xmin - 1), y1: Float(o.ymin - 1), x2: Float(o.xmax), y2: Float(o.ymax)),
                                               label: label, isDifficult: o.difficult, origin: origin))
            }
            var size: (Int, Int)?
            if let w = a.width, let h = a.height, w > 0, h > 0 { size = (w, h) }
            images.append(AnnotatedImage(keys: [DatasetFiles.stem(file.relative)], file: file.path, origin: file.path, size: size, objects: objects))
        }
        let categories = names.enumerated().map { DetectionCategory(label: Int32($0 + 1), name: $1, id: $0 + 1) }
        return AnnotationSet(categories: categories, images: images, problems: problems, keysKeepExtension: false)
    }

    // MARK: Instance masks

    /// Reads every mask of `folder` (gray 8- or 16-bit values or palette indices): one object per
    /// nonzero id, its tight pixel box (``instanceBoxes(_:)``) in pixel edges.
    static func masks(_ folder: String, className: String) throws -> AnnotationSet {
        let files = try DatasetFiles.list(folder)
        if files.isEmpty { throw CVSegError.invalidArgument("DetectionDataset: no mask files (.png, .jpg, .jpeg) in \(folder)") }
        var problems: [String] = []
        var images: [AnnotatedImage] = []
        for file in files {
            var keys = [DatasetFiles.stem(file.relative)]
            if keys[0].hasSuffix("_mask") { keys.append(String(keys[0].dropLast(5))) }
            let map: LabelMap
            do { map = try DatasetFiles.readMask(file.path) } catch {
                problems.append("\(error)")
                images.append(AnnotatedImage(keys: keys, file: file.path, origin: file.path, objects: [], failed: true))
                continue
            }
            let objects = instanceBoxes(map).map {
                AnnotatedObject(box: $0.box.box, label: 1, origin: "instance \($0.id)")
            }
            images.append(AnnotatedImage(keys: keys, file: file.path, origin: file.path, size: (map.width, map.height), sizeIsMask: true, objects: objects))
        }
        return AnnotationSet(categories: [DetectionCategory(label: 1, name: className, id: 1)], images: images,
                             problems: problems, keysKeepExtension: false)
    }
}
