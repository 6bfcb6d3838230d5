import CVSegCore
import CVSegEval
import CVSegIO
import CVSegNN
#if canImport(Glibc)
import Glibc
#endif

/// Loads detection ground truth from a COCO JSON file, a VOC XML folder or an instance-mask folder.
enum GroundTruthLoader {
    static func load(_ path: String, classNames: [String]?) throws -> DetectionGroundTruth {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw CVSegError.io(path: path, operation: "read", reason: String(cString: strerror(errno)))
        }
        if (st.st_mode & S_IFMT) != S_IFDIR {
            return try COCOFormat.groundTruth(FileBytes.read(path), file: path)
        }
        let xml = try VOCFolder.xmlFiles(path)
        if !xml.isEmpty { return try loadVOC(xml, classNames: classNames) }
        let (masks, problems) = Inputs.collect([path])
        if let problem = problems.first { throw CVSegError.io(path: problem.input, operation: "read", reason: problem.reason) }
        guard !masks.isEmpty else {
            throw CVSegError.invalidContent(file: path, reason: "no VOC .xml files and no mask images in this folder")
        }
        return try loadMasks(masks, classNames: classNames)
    }

    private static func categories(_ found: Set<String>, classNames: [String]?, source: String) throws -> [(id: Int, name: String)] {
        let (names, unknown) = VOCFolder.classes(found: found, classNames: classNames)
        if !unknown.isEmpty {
            throw CVSegError.invalidContent(file: source, reason: "classes not in --class-names: \(unknown.joined(separator: ", "))")
        }
        return names.enumerated().map { ($0 + 1, $1) }
    }

    /// VOC: images are numbered 1... in sorted file order; categories 1... in --class-names order,
    /// else in sorted name order.
    private static func loadVOC(_ files: [(path: String, relative: String)], classNames: [String]?) throws -> DetectionGroundTruth {
        var annotations: [(String, VOCFormat.Annotation)] = []
        for file in files { annotations.append((file.relative, try VOCFormat.annotation(FileBytes.read(file.path), file: file.path))) }
        let found = Set(annotations.flatMap { $0.1.objects.map(\.name) })
        let cats = try categories(found, classNames: classNames, source: files[0].path)
        let idOf = Dictionary(uniqueKeysWithValues: cats.map { ($0.name, $0.id) })
        var images: [EvalImage] = [], objects: [GroundTruthObject] = []
        for (n, (relative, a)) in annotations.enumerated() {
            let imageId = n + 1
            let stem = Self.stem(relative)
            let dir = relative.contains("/") ? String(relative[..<relative.lastIndex(of: "/")!]) + "/" : ""
            images.append(EvalImage(id: imageId, fileName: a.fileName.map { dir + $0 } ?? stem, width: a.width, height: a.height))
            for o in a.objects {
                objects.append(GroundTruthObject(
                    id: objects.count + 1, imageId: imageId, categoryId: idOf[o.name]!,
                    box: EvalBox(x: o.xmin, y: o.ymin, width: o.xmax - o.xmin, height: o.ymax - o.ymin),
                    isDifficult: o.difficult))
            }
        }
        return DetectionGroundTruth(images: images, categories: cats, objects: objects)
    }

    /// Instance masks: one category (the first --class-names entry, else "object"); images
    /// numbered 1... in sorted order, named by their relative path without a "_mask" suffix.
    private static func loadMasks(_ files: [(path: String, relative: String)], classNames: [String]?) throws -> DetectionGroundTruth {
        var images: [EvalImage] = [], objects: [GroundTruthObject] = []
        for (n, file) in files.enumerated() {
            let labels = try EvalSeg.readLabels(file.path, binary: false).labels
            var name = stem(file.relative)
            if name.hasSuffix("_mask") { name.removeLast(5) }
            images.append(EvalImage(id: n + 1, fileName: name, width: labels.width, height: labels.height))
            for instance in instanceBoxes(labels) {
                objects.append(GroundTruthObject(id: objects.count + 1, imageId: n + 1, categoryId: 1, box: instance.box,
                                                 area: instance.area))
            }
        }
        return DetectionGroundTruth(images: images, categories: [(1, classNames?.first ?? "object")], objects: objects)
    }

    static func stem(_ relative: String) -> String {
        if let dot = relative.lastIndex(of: "."), !relative[dot...].contains("/") { return String(relative[..<dot]) }
        return relative
    }

    /// A lookup from an image's file name to its ground-truth image id: compared without
    /// extension, the whole relative path first, else the base name when it is unique.
    static func imageResolver(_ truth: DetectionGroundTruth) -> (String) -> Int? {
        var byPath: [String: Int] = [:], byBase: [String: [Int]] = [:]
        for image in truth.images {
            guard let name = image.fileName else { continue }
            let s = stem(name)
            byPath[s] = image.id
            byBase[String(s.split(separator: "/").last ?? Substring(s)), default: []].append(image.id)
        }
        return { name in
            let s = stem(name)
            if let id = byPath[s] { return id }
            if let ids = byBase[String(s.split(separator: "/").last ?? Substring(s))], ids.count == 1 { return ids[0] }
            return nil
        }
    }

    /// Detections that carry `file_name` are assigned to the ground-truth image of that name
    /// (see ``imageResolver(_:)``); the others keep their `image_id`.
    static func matchImages(_ detections: [DetectedObject], predictionsFile: String,
                            truth: DetectionGroundTruth) throws -> [DetectedObject] {
        guard detections.contains(where: { $0.fileName != nil }) else { return detections }
        let resolve = imageResolver(truth)
        return try detections.enumerated().map { n, d in
            guard let name = d.fileName else { return d }
            guard let id = resolve(name) else {
                throw CVSegError.invalidContent(file: predictionsFile, reason: "detection [\(n)]: file_name \(name) matches no ground-truth image")
            }
            var copy = d
            copy.imageId = id
            return copy
        }
    }
}
