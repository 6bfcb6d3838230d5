import CVSegCore

/// Reading PASCAL VOC annotation XML files (`<annotation>` with `<object>`s).
public enum VOCFormat {
    public struct Object: Sendable, Equatable {
        public var name: String
        public var difficult: Bool
        /// `xmin, ymin, xmax, ymax` as written (VOC: 1-based, inclusive pixels).
        public var xmin: Double, ymin: Double, xmax: Double, ymax: Double
    }

    public struct Annotation: Sendable, Equatable {
        public var fileName: String?
        public var width: Int?
        public var height: Int?
        public var objects: [Object]
    }

    /// Parses one annotation file. Only the elements VOC uses are read; the XML is not
    /// validated beyond them.
    /// - Throws: ``CVSegError/invalidContent(file:reason:)`` naming the object and the missing
    ///   or non-numeric field.
    public static func annotation(_ bytes: [UInt8], file: String) throws -> Annotation {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let root = elements("annotation", in: Substring(text)).first else {
            throw CVSegError.invalidContent(file: file, reason: "no <annotation> element")
        }
        let size = elements("size", in: root).first
        var objects: [Object] = []
        for (i, o) in elements("object", in: root).enumerated() {
            guard let name = elements("name", in: o).first.map(trim), !name.isEmpty else {
                throw CVSegError.invalidContent(file: file, reason: "object \(i + 1) has no <name>")
            }
            guard let box = elements("bndbox", in: o).first else {
                throw CVSegError.invalidContent(file: file, reason: "object \(i + 1) (\(name)) has no <bndbox>")
            }
            func coordinate(_ tag: String) throws -> Double {
                guard let v = elements(tag, in: box).first.flatMap({ Double(trim($0)) }), v.isFinite else {
                    throw CVSegError.invalidContent(file: file, reason: "object \(i + 1) (\(name)): <\(tag)> is missing or not a number")
                }
                return v
            }
            let difficult = elements("difficult", in: o).first.map { trim($0) == "1" } ?? false
            objects.append(Object(name: name, difficult: difficult, xmin: try coordinate("xmin"), ymin: try coordinate("ymin"),
                                  xmax: try coordinate("xmax"), ymax: try coordinate("ymax")))
        }
        return Annotation(fileName: elements("filename", in: root).first.map(trim),
                          width: size.flatMap { elements("width", in: $0).first }.flatMap { Int(trim($0)) },
                          height: size.flatMap { elements("height", in: $0).first }.flatMap { Int(trim($0)) },
                          objects: objects)
    }

    static func trim(_ s: Substring) -> String {
        String(s.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    /// The contents of each top-level `<tag …>…</tag>` inside `text` (not nested in another `<tag>`).
    static func elements(_ tag: String, in text: Substring) -> [Substring] {
        var found: [Substring] = []
        var rest = text[...]
        let open = "<" + tag, close = "</" + tag + ">"
        while let start = rest.range(of: open) {
            let after = rest[start.upperBound...]
            guard let next = after.first, next == ">" || next == " " || next == "\t" || next == "\n" || next == "\r" || next == "/" else {
                rest = after
                continue
            }
            guard let tagEnd = after.firstIndex(of: ">") else { break }
            if tagEnd > after.startIndex && after[after.index(before: tagEnd)] == "/" { // <tag/>
                found.append(after[tagEnd..<tagEnd])
                rest = after[after.index(after: tagEnd)...]
                continue
            }
            let body = after[after.index(after: tagEnd)...]
            guard let end = body.range(of: close) else { break }
            found.append(body[..<end.lowerBound])
            rest = body[end.upperBound...]
        }
        return found
    }
}

extension Substring {
    func range(of needle: String) -> Range<Index>? {
        guard let first = needle.first else { return nil }
        var i = startIndex
        while let j = self[i...].firstIndex(of: first) {
            if self[j...].hasPrefix(needle) { return j..<self.index(j, offsetBy: needle.count) }
            i = self.index(after: j)
        }
        return nil
    }
}

/// Boxes of the objects in an instance-id mask (0 background, 1...N one object each, as
/// PennFudan's PedMasks): the tight box around each id's pixels, COCO style (`x = min column`,
/// `width = max column - min column + 1`), and its pixel count as area, in increasing id order.
public func instanceBoxes(_ mask: LabelMap) -> [(id: Int32, box: EvalBox, area: Double)] {
    var extents: [Int32: (minX: Int, minY: Int, maxX: Int, maxY: Int, count: Int)] = [:]
    for y in 0..<mask.height {
        for x in 0..<mask.width {
            let id = mask.labels[y * mask.width + x]
            if id == 0 { continue }
            if var e = extents[id] {
                e.minX = min(e.minX, x); e.maxX = max(e.maxX, x); e.maxY = y; e.count += 1
                extents[id] = e
            } else {
                extents[id] = (x, y, x, y, 1)
            }
        }
    }
    return extents.keys.sorted().map { id in
        let e = extents[id]!
        return (id, EvalBox(x: Double(e.minX), y: Double(e.minY), width: Double(e.maxX - e.minX + 1),
                            height: Double(e.maxY - e.minY + 1)), Double(e.count))
    }
}
