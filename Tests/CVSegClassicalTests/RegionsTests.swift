import Testing
import CVSegCore
import CVSegIO
import CVSegTestSupport
@testable import CVSegClassical

/// Connected components (scipy.ndimage.label, OpenCV connectedComponentsWithStats) and binary
/// morphology (scikit-image 0.26 binary_*, mode='ignore') against
/// scripts/reference/regions_reference.py, plus properties.
@Suite struct RegionsTests {
    static let folder = packageRoot + "/Tests/CVSegClassicalTests/Fixtures/regions"
    static let elements: [String: StructuringElement] = [
        "square3": .square(3), "square5": .square(5), "disk1": .disk(1), "disk2": .disk(2), "disk3": .disk(3),
    ]

    static func expected() throws -> JSON {
        try JSON.parse(FileBytes.read(folder + "/expected.json"), file: "expected.json")
    }

    static func names() -> [String] {
        ((try? expected())?["masks"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    }

    static func entry(_ name: String) throws -> JSON {
        try #require(try expected()["masks"]?.arrayValue?.first { $0["name"]?.stringValue == name })
    }

    static func mask(_ entry: JSON) throws -> Image<UInt8> {
        let file = try #require(entry["file"]?.stringValue)
        guard case .image(.uint8(let image)) = try ImageFile.read(folder + "/" + file, options: DecodeOptions(palette: .expand)) else {
            throw CVSegError.invalidArgument("fixture \(file) is not 8-bit")
        }
        return image.grayscale()
    }

    static func int32Bytes(_ labels: [Int32]) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(labels.count * 4)
        for v in labels {
            let u = UInt32(bitPattern: v)
            for b in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: u >> (8 * UInt32(b)))) }
        }
        return bytes
    }

    // MARK: Reference

    @Test func fixtureHasEveryMask() {
        #expect(Self.names().count == 4)
    }

    @Test(arguments: names())
    func labelsMatchScipyAndOpenCV(name: String) throws {
        let e = try Self.entry(name)
        let mask = try Self.mask(e)
        #expect(mask.width == e["width"]?.intValue && mask.height == e["height"]?.intValue)
        #expect(SHA256.hex(mask.samples.map { $0 != 0 ? 1 : 0 }) == e["input_sha256"]?.stringValue, "\(name): input differs")
        for (key, connectivity) in [("4", Connectivity.four), ("8", Connectivity.eight)] {
            let want = try #require(e["labels"]?[key])
            let (labels, stats) = try connectedComponents(mask, connectivity: connectivity)
            #expect(stats.count == want["count"]?.intValue, "\(name) \(key)-connected: count")
            #expect(SHA256.hex(Self.int32Bytes(labels.labels)) == want["sha256"]?.stringValue, "\(name) \(key)-connected: labels")
            let components = try #require(want["components"]?.arrayValue)
            guard components.count == stats.count else { continue }
            for (i, (s, c)) in zip(stats, components).enumerated() {
                let box = (c["box"]?.arrayValue ?? []).compactMap(\.intValue)
                let centroid = (c["centroid"]?.arrayValue ?? []).compactMap(\.doubleValue)
                try #require(centroid.count == 2)
                #expect(s.label == Int32(i + 1))
                #expect(s.area == c["area"]?.intValue, "\(name) \(key) label \(i + 1): area")
                #expect([s.box.x, s.box.y, s.box.width, s.box.height] == box, "\(name) \(key) label \(i + 1): box")
                #expect(s.centroid == ComponentCentroid(x: centroid[0], y: centroid[1]), "\(name) \(key) label \(i + 1): centroid")
            }
            // Already sequential in first-appearance order.
            #expect(relabelSequential(labels) == labels)
        }
    }

    @Test(arguments: names())
    func morphologyMatchesScikitImage(name: String) throws {
        let e = try Self.entry(name)
        let mask = try Self.mask(e)
        let ops: [(String, (Image<UInt8>, StructuringElement) throws -> Image<UInt8>)] = [
            ("erosion", { try binaryErosion($0, element: $1) }), ("dilation", { try binaryDilation($0, element: $1) }),
            ("opening", { try binaryOpening($0, element: $1) }), ("closing", { try binaryClosing($0, element: $1) }),
        ]
        var checked = 0
        for (op, run) in ops {
            for (key, element) in Self.elements.sorted(by: { $0.key < $1.key }) {
                let want = try #require(e["morphology"]?[op]?[key])
                let got = try run(mask, element)
                #expect(got.width == mask.width && got.height == mask.height && got.layout == .gray)
                #expect(got.samples.filter { $0 != 0 }.count == want["foreground"]?.intValue, "\(name) \(op) \(key): foreground")
                #expect(SHA256.hex(got.samples) == want["sha256"]?.stringValue, "\(name) \(op) \(key)")
                checked += 1
            }
        }
        #expect(checked == 20)
    }

    // MARK: Connected components

    @Test func diagonalNeighboursDependOnConnectivity() throws {
        let mask = Image<UInt8>(width: 3, height: 3, layout: .gray, samples: [1, 0, 0, 0, 255, 0, 0, 0, 7])
        let (four, fourStats) = try connectedComponents(mask, connectivity: .four)
        #expect(four.labels == [1, 0, 0, 0, 2, 0, 0, 0, 3] && fourStats.count == 3)
        let (eight, eightStats) = try connectedComponents(mask)
        #expect(eight.labels == [1, 0, 0, 0, 1, 0, 0, 0, 1])
        #expect(eightStats == [ComponentStats(label: 1, area: 3, box: ComponentBox(x: 0, y: 0, width: 3, height: 3),
                                              centroid: ComponentCentroid(x: 1, y: 1))])
    }

    @Test func numberingFollowsFirstPixelAcrossLateMerges() throws {
        // A U (arms merged at the bottom) starts at (0,0); the lone pixel at (2,0) comes second
        // although the U's right arm got a larger provisional label (3, at (4,0)) before the merge.
        let rows = ["1.1.1",
                    "1...1",
                    "11111",
                    ".....",
                    "..1.."]
        let mask = Image<UInt8>(width: 5, height: 5, layout: .gray, samples: rows.flatMap { $0.map { $0 == "1" ? 1 : 0 } })
        let (labels, stats) = try connectedComponents(mask, connectivity: .four)
        #expect(labels.labels == [1, 0, 2, 0, 1,
                                  1, 0, 0, 0, 1,
                                  1, 1, 1, 1, 1,
                                  0, 0, 0, 0, 0,
                                  0, 0, 3, 0, 0])
        #expect(stats.map(\.area) == [9, 1, 1])
        #expect(stats[0].box == ComponentBox(x: 0, y: 0, width: 5, height: 3))
    }

    @Test func emptyAndDegenerateMasks() throws {
        let zero = Image<UInt8>(width: 7, height: 4, layout: .gray)
        let (labels, stats) = try connectedComponents(zero)
        #expect(stats.isEmpty && labels.labels.allSatisfy { $0 == 0 } && labels.width == 7 && labels.height == 4)
        let (none, noStats) = try connectedComponents(Image<UInt8>(width: 0, height: 0, layout: .gray))
        #expect(none.labels.isEmpty && noStats.isEmpty)
        let one = Image<UInt8>(width: 1, height: 1, layout: .gray, samples: [9])
        for c in [Connectivity.four, .eight] {
            let (l, s) = try connectedComponents(one, connectivity: c)
            #expect(l.labels == [1])
            #expect(s == [ComponentStats(label: 1, area: 1, box: ComponentBox(x: 0, y: 0, width: 1, height: 1),
                                         centroid: ComponentCentroid(x: 0, y: 0))])
        }
        let full = Image<UInt8>(width: 6, height: 3, layout: .gray, repeating: 1)
        #expect(try connectedComponents(full).stats.map(\.area) == [18])
        #expect(throws: CVSegError.self) { _ = try connectedComponents(Image<UInt8>(width: 2, height: 2, layout: .rgb)) }
    }

    @Test func randomMasksMatchFloodFill() throws {
        var rng = SplitMix64(seed: 42)
        for trial in 0..<40 {
            let w = 1 + Int(rng.next() % 23), h = 1 + Int(rng.next() % 19)
            let density = 1 + rng.next() % 7
            let mask = Image<UInt8>(width: w, height: h, layout: .gray,
                                    samples: (0..<(w * h)).map { _ in rng.next() % 8 < density ? 255 : 0 })
            for c in [Connectivity.four, .eight] {
                let (labels, stats) = try connectedComponents(mask, connectivity: c)
                let want = floodFill(mask, c)
                #expect(labels.labels == want, "trial \(trial) \(c)")
                #expect(stats.map(\.area).reduce(0, +) == mask.samples.filter { $0 != 0 }.count)
            }
        }
    }

    @Test func relabelSequentialUsesFirstAppearance() {
        let map = LabelMap(width: 4, height: 2, labels: [0, 7, 7, -3, 255, 0, 2, 7])
        #expect(relabelSequential(map).labels == [0, 1, 1, 2, 3, 0, 4, 1])
        // A span too wide for the lookup table goes through the hash table, same rule.
        let wide = LabelMap(width: 3, height: 1, labels: [Int32.max, 0, Int32.min])
        #expect(relabelSequential(wide).labels == [1, 0, 2])
        #expect(relabelSequential(LabelMap(width: 0, height: 0)).labels.isEmpty)
        #expect(relabelSequential(LabelMap(width: 2, height: 2)).labels == [0, 0, 0, 0])
    }

    // MARK: Morphology

    @Test func invalidElementsThrow() {
        let mask = Image<UInt8>(width: 3, height: 3, layout: .gray, repeating: 1)
        for element in [StructuringElement.square(2), .square(0), .square(-1), .square(4), .disk(-1)] {
            #expect(throws: CVSegError.self, "\(element)") { _ = try binaryErosion(mask, element: element) }
            #expect(throws: CVSegError.self, "\(element)") { _ = try binaryDilation(mask, element: element) }
            #expect(throws: CVSegError.self, "\(element)") { _ = try binaryOpening(mask, element: element) }
            #expect(throws: CVSegError.self, "\(element)") { _ = try binaryClosing(mask, element: element) }
        }
        #expect(throws: CVSegError.self) { _ = try binaryDilation(Image<UInt8>(width: 2, height: 2, layout: .grayAlpha), element: .square(3)) }
    }

    @Test func oneByOneAndEmptyImages() throws {
        let on = Image<UInt8>(width: 1, height: 1, layout: .gray, samples: [200])
        let off = Image<UInt8>(width: 1, height: 1, layout: .gray, samples: [0])
        for element in [StructuringElement.square(1), .square(3), .square(101), .disk(0), .disk(1), .disk(50)] {
            // Outside pixels never count: a lone foreground pixel survives erosion.
            #expect(try binaryErosion(on, element: element).samples == [1])
            #expect(try binaryDilation(on, element: element, foreground: 255).samples == [255])
            #expect(try binaryOpening(on, element: element).samples == [1])
            #expect(try binaryClosing(off, element: element).samples == [0])
            #expect(try binaryDilation(off, element: element).samples == [0])
            let empty = Image<UInt8>(width: 0, height: 5, layout: .gray)
            #expect(try binaryErosion(empty, element: element) == empty)
        }
    }

    @Test func randomMasksMatchBruteForceAndProperties() throws {
        var rng = SplitMix64(seed: 7)
        let elements: [StructuringElement] = [.square(1), .square(3), .square(5), .square(9), .square(41), .square(1_000_001),
                                              .disk(0), .disk(1), .disk(2), .disk(3), .disk(6), .disk(30), .disk(1_000_000)]
        for trial in 0..<25 {
            let w = 1 + Int(rng.next() % 29), h = 1 + Int(rng.next() % 17)
            let density = 1 + rng.next() % 7
            let mask = Image<UInt8>(width: w, height: h, layout: .gray,
                                    samples: (0..<(w * h)).map { _ in rng.next() % 8 < density ? 1 : 0 })
            for element in elements {
                let eroded = try binaryErosion(mask, element: element)
                let dilated = try binaryDilation(mask, element: element)
                #expect(dilated.samples == bruteDilate(mask.samples, w, h, element), "trial \(trial) \(element) dilation")
                #expect(eroded.samples == bruteDilate(mask.samples.map { $0 == 0 ? 1 : 0 }, w, h, element).map { $0 ^ 1 },
                        "trial \(trial) \(element) erosion")
                for i in 0..<(w * h) {
                    // erosion ⊆ mask ⊆ dilation
                    if eroded.samples[i] != 0 { #expect(mask.samples[i] != 0) }
                    if mask.samples[i] != 0 { #expect(dilated.samples[i] != 0) }
                }
                let opened = try binaryOpening(mask, element: element)
                let closed = try binaryClosing(mask, element: element)
                #expect(try binaryOpening(opened, element: element) == opened, "trial \(trial) \(element): opening idempotent")
                #expect(try binaryClosing(closed, element: element) == closed, "trial \(trial) \(element): closing idempotent")
                #expect(opened == (try binaryDilation(eroded, element: element)))
                #expect(closed == (try binaryErosion(dilated, element: element)))
                for i in 0..<(w * h) {
                    if opened.samples[i] != 0 { #expect(mask.samples[i] != 0) }
                    if mask.samples[i] != 0 { #expect(closed.samples[i] != 0) }
                }
            }
        }
    }

    @Test(arguments: names())
    func fixtureProperties(name: String) throws {
        let mask = try Self.mask(try Self.entry(name))
        for element in Self.elements.values {
            let eroded = try binaryErosion(mask, element: element), dilated = try binaryDilation(mask, element: element)
            let opened = try binaryOpening(mask, element: element)
            #expect(zip(eroded.samples, mask.samples).allSatisfy { $0 == 0 || $1 != 0 }, "\(name) \(element): erosion ⊆ mask")
            #expect(zip(mask.samples, dilated.samples).allSatisfy { $0 == 0 || $1 != 0 }, "\(name) \(element): mask ⊆ dilation")
            #expect(try binaryOpening(opened, element: element) == opened, "\(name) \(element): opening idempotent")
        }
    }
}

// MARK: - Helpers


/// Labels by flood fill from each unlabelled foreground pixel in raster order.
private func floodFill(_ mask: Image<UInt8>, _ connectivity: Connectivity) -> [Int32] {
    let w = mask.width, h = mask.height
    var labels = [Int32](repeating: 0, count: w * h)
    var next: Int32 = 0
    let offsets = connectivity == .four ? [(1, 0), (-1, 0), (0, 1), (0, -1)]
        : [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)]
    for start in 0..<(w * h) where mask.samples[start] != 0 && labels[start] == 0 {
        next += 1
        labels[start] = next
        var stack = [start]
        while let p = stack.popLast() {
            let x = p % w, y = p / w
            for (dx, dy) in offsets {
                let nx = x + dx, ny = y + dy
                guard nx >= 0, nx < w, ny >= 0, ny < h else { continue }
                let q = ny * w + nx
                if mask.samples[q] != 0 && labels[q] == 0 { labels[q] = next; stack.append(q) }
            }
        }
    }
    return labels
}

/// Dilation straight from the definition, outside pixels counting as background; 0/1 output.
private func bruteDilate(_ bits: [UInt8], _ w: Int, _ h: Int, _ element: StructuringElement) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: w * h)
    for y in 0..<h {
        for x in 0..<w {
            search: for sy in 0..<h {
                for sx in 0..<w where bits[sy * w + sx] != 0 {
                    let dx = sx - x, dy = sy - y
                    let inside: Bool
                    switch element {
                    case .square(let side): inside = abs(dx) <= side / 2 && abs(dy) <= side / 2
                    case .disk(let r): inside = dx * dx + dy * dy <= r * r
                    }
                    if inside { out[y * w + x] = 1; break search }
                }
            }
        }
    }
    return out
}
