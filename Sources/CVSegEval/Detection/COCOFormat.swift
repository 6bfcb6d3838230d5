import CVSegCore

/// Reading COCO instances JSON (ground truth) and COCO results JSON (detections).
public enum COCOFormat {
    /// Parses a COCO instances file (`images`, `categories`, `annotations` with `bbox`).
    ///
    /// - Throws: ``CVSegError/malformed(file:line:column:reason:)`` for invalid JSON and
    ///   ``CVSegError/invalidContent(file:reason:)`` naming the missing or wrong field (with the
    ///   annotation's index) or an annotation whose image or category is not declared.
    public static func groundTruth(_ bytes: [UInt8], file: String) throws -> DetectionGroundTruth {
        let root = try JSON.parse(bytes, file: file)
        func bad(_ reason: String) -> CVSegError { .invalidContent(file: file, reason: reason) }
        guard root.objectValue != nil else { throw bad("expected a COCO instances object at the top level") }
        guard let imageList = root["images"]?.arrayValue else { throw bad("no \"images\" list") }
        var images: [EvalImage] = []
        var imageIds = Set<Int>()
        for (i, item) in imageList.enumerated() {
            guard let id = item["id"]?.intValue else { throw bad("images[\(i)] has no integer \"id\"") }
            guard imageIds.insert(id).inserted else { throw bad("images[\(i)]: image id \(id) appears twice") }
            images.append(EvalImage(id: id, fileName: item["file_name"]?.stringValue,
                                    width: item["width"]?.intValue, height: item["height"]?.intValue))
        }
        var categories: [(id: Int, name: String)] = []
        var categoryIds = Set<Int>()
        for (i, item) in (root["categories"]?.arrayValue ?? []).enumerated() {
            guard let id = item["id"]?.intValue else { throw bad("categories[\(i)] has no integer \"id\"") }
            guard categoryIds.insert(id).inserted else { throw bad("categories[\(i)]: category id \(id) appears twice") }
            categories.append((id, item["name"]?.stringValue ?? String(id)))
        }
        guard let annotations = root["annotations"]?.arrayValue else { throw bad("no \"annotations\" list") }
        var objects: [GroundTruthObject] = []
        objects.reserveCapacity(annotations.count)
        for (i, a) in annotations.enumerated() {
            guard let imageId = a["image_id"]?.intValue else { throw bad("annotations[\(i)] has no integer \"image_id\"") }
            guard imageIds.contains(imageId) else { throw bad("annotations[\(i)]: image_id \(imageId) is not in \"images\"") }
            guard let categoryId = a["category_id"]?.intValue else { throw bad("annotations[\(i)] has no integer \"category_id\"") }
            guard categoryIds.contains(categoryId) else {
                throw bad("annotations[\(i)]: category_id \(categoryId) is not in \"categories\"")
            }
            let box = try parseBox(a["bbox"], what: "annotations[\(i)]", file: file)
            let id = a["id"]?.intValue ?? (i + 1)
            objects.append(GroundTruthObject(
                id: id, imageId: imageId, categoryId: categoryId, box: box, area: a["area"]?.doubleValue,
                isCrowd: (a["iscrowd"]?.intValue ?? 0) != 0 || a["iscrowd"]?.boolValue == true,
                isDifficult: a["difficult"]?.boolValue == true || (a["difficult"]?.intValue ?? 0) != 0))
        }
        return DetectionGroundTruth(images: images, categories: categories, objects: objects)
    }

    /// Parses a COCO results file: a list of `{"image_id", "category_id", "bbox", "score"}`.
    /// Other fields (such as cvseg's `file_name`) are ignored.
    public static func detections(_ bytes: [UInt8], file: String) throws -> [DetectedObject] {
        let root = try JSON.parse(bytes, file: file)
        func bad(_ reason: String) -> CVSegError { .invalidContent(file: file, reason: reason) }
        guard let list = root.arrayValue else { throw bad("expected a list of detections at the top level") }
        var out: [DetectedObject] = []
        out.reserveCapacity(list.count)
        for (i, d) in list.enumerated() {
            guard let imageId = d["image_id"]?.intValue else { throw bad("[\(i)] has no integer \"image_id\"") }
            guard let categoryId = d["category_id"]?.intValue else { throw bad("[\(i)] has no integer \"category_id\"") }
            guard let score = d["score"]?.doubleValue, score.isFinite else { throw bad("[\(i)] has no finite \"score\"") }
            out.append(DetectedObject(imageId: imageId, categoryId: categoryId,
                                      box: try parseBox(d["bbox"], what: "[\(i)]", file: file), score: score,
                                      fileName: d["file_name"]?.stringValue))
        }
        return out
    }

    static func parseBox(_ value: JSON?, what: String, file: String) throws -> EvalBox {
        try parseBox(value as JSON?, what: what, file: file, field: "bbox")
    }

    static func parseBox(_ value: JSON, what: String, file: String) throws -> EvalBox {
        try parseBox(Optional(value), what: what, file: file, field: "box")
    }

    private static func parseBox(_ value: JSON?, what: String, file: String, field: String) throws -> EvalBox {
        guard let list = value?.arrayValue, list.count == 4,
              let x = list[0].doubleValue, let y = list[1].doubleValue,
              let w = list[2].doubleValue, let h = list[3].doubleValue,
              x.isFinite, y.isFinite, w.isFinite, h.isFinite else {
            throw CVSegError.invalidContent(file: file, reason: "\(what) has no \"\(field)\" of 4 finite numbers [x, y, w, h]")
        }
        return EvalBox(x: x, y: y, width: w, height: h)
    }
}
