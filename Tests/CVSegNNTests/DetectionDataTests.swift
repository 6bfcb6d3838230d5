import Foundation
import Testing
import CVSegCore
import CVSegIO
@testable import CVSegNN

/// The shared datasets: `CVSEG_DATA`, else `../shared/data` beside the repository.
private let detectionDataRoot = ProcessInfo.processInfo.environment["CVSEG_DATA"]
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    + "/../shared/data"

private func box(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> Box { Box(x1: x1, y1: y1, x2: x2, y2: y2) }

extension DataFolder {
    func text(_ relative: String, _ content: String) throws { try write(relative, Array(content.utf8)) }

    /// A VOC annotation file; `objects` are (name, xmin, ymin, xmax, ymax, difficult).
    func voc(_ relative: String, size: (Int, Int)? = nil, _ objects: [(String, Int, Int, Int, Int, Bool)]) throws {
        var xml = "<annotation><filename>ignored.jpg</filename>"
        if let size { xml += "<size><width>\(size.0)</width><height>\(size.1)</height><depth>3</depth></size>" }
        for o in objects {
            xml += "<object><name>\(o.0)</name><difficult>\(o.5 ? 1 : 0)</difficult><bndbox><xmin>\(o.1)</xmin>"
                + "<ymin>\(o.2)</ymin><xmax>\(o.3)</xmax><ymax>\(o.4)</ymax></bndbox></object>"
        }
        try text(relative, xml + "</annotation>")
    }
}

@Suite struct DetectionDataTests {
    // MARK: COCO

    @Test func cocoBoxesLabelsCrowdAndNegatives() throws {
        let d = DataFolder()
        try d.rgb("images/a.png", width: 40, height: 30)
        try d.rgb("images/sub/b.jpg", width: 20, height: 10)
        try d.rgb("images/c.png", width: 16, height: 16)
        try d.text("gt.json", """
            {"images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 30}, {"id": 2, "file_name": "sub/b.jpg"},
                        {"id": 3, "file_name": "c.png", "width": 16, "height": 16}],
             "categories": [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}],
             "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [1.5, 2, 10, 5]},
                             {"id": 2, "image_id": 1, "category_id": 7, "bbox": [30, 20, 20, 20], "iscrowd": 1},
                             {"id": 3, "image_id": 2, "category_id": 7, "bbox": [0, 0, 5, 5], "iscrowd": 0}]}
            """)
        let set = try DetectionDataset(images: d.images, groundTruth: .coco(file: d.root + "/gt.json"))
        // Labels 1...C in increasing category id: cat (3) before dog (7).
        #expect(set.categories == [DetectionCategory(label: 1, name: "cat", id: 3), DetectionCategory(label: 2, name: "dog", id: 7)])
        #expect(set.items.map(\.name) == ["a", "c", "sub/b"])
        let a = set.items[0]
        // [x, y, w, h] → xyxy; the crowd box reaching past 40x30 is clipped to the image.
        #expect(a.boxes == [box(1.5, 2, 11.5, 7), box(30, 20, 40, 30)])
        #expect(a.labels == [1, 2] && a.isCrowd == [false, true] && a.isDifficult == [false, false])
        #expect(set.clippedBoxes == 1)
        #expect(set.items[1].boxes.isEmpty) // listed without annotations: a negative
        #expect(set.items[2].boxes == [box(0, 0, 5, 5)] && set.items[2].labels == [2])
        #expect(set.objectsPerLabel == [0, 1, 2])
        #expect(set.imagesWithoutGroundTruth.isEmpty && set.droppedBoxes.isEmpty)
        let s = try set.sample(2)
        #expect(s.image.width == 20 && s.image.height == 10 && s.name == "sub/b" && s.boxes == set.items[2].boxes)
    }

    /// One COCO file with every kind of problem: all of them in one error, each naming its file.
    private func brokenCOCO(_ d: DataFolder) throws -> String {
        try d.rgb("images/a.png", width: 40, height: 30)
        try d.rgb("images/extra.png", width: 10, height: 10)
        try d.rgb("images/s.png", width: 20, height: 20)
        try d.text("gt.json", """
            {"images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 30}, {"id": 2, "file_name": "gone.png"},
                        {"id": 3, "file_name": "s.png", "width": 30, "height": 20}],
             "categories": [{"id": 1, "name": "thing"}],
             "annotations": [{"id": 10, "image_id": 1, "category_id": 99, "bbox": [1, 1, 5, 5]},
                             {"id": 11, "image_id": 5, "category_id": 1, "bbox": [1, 1, 5, 5]},
                             {"id": 12, "image_id": 1, "category_id": 1, "bbox": [50, 50, 5, 5]},
                             {"id": 13, "image_id": 1, "category_id": 1, "bbox": [5, 5, 0, 4]},
                             {"id": 14, "image_id": 1, "category_id": 1, "bbox": [5, 5, -3, 4]},
                             {"id": 15, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]},
                             {"id": 16, "image_id": 1, "category_id": 1, "bbox": [2, 3, 4, 5]},
                             {"id": 17, "image_id": 3, "category_id": 1, "bbox": [2, 3, 4, 5]}]}
            """)
        return d.root + "/gt.json"
    }

    @Test func cocoProblemsAreReportedTogether() throws {
        let d = DataFolder()
        let json = try brokenCOCO(d)
        let m = message { _ = try DetectionDataset(images: d.images, groundTruth: .coco(file: json)) }
        #expect(m.hasPrefix("\(json): 9 problems with the detection data (images in \(d.images)):\n"), "\(m)")
        for line in [
            "\(json): annotations[0] (id 10): category_id 99 is not in \"categories\"",
            "\(json): annotations[1] (id 11): image_id 5 is not in \"images\"",
            "\(json): annotations[5] (id 15): no \"bbox\" of 4 finite numbers [x, y, w, h]",
            "\(json): images[1] (file_name gone.png): no image for it in \(d.images)",
            "\(d.images)/extra.png: no ground truth for it in \(json)",
            "\(json): annotations[2] (id 12): box [50, 50, 55, 55] lies wholly outside the image (\(d.images)/a.png, 40x30)",
            "\(json): annotations[3] (id 13): box [5, 5, 5, 9] has zero area (\(d.images)/a.png, 40x30)",
            "\(json): annotations[4] (id 14): box [5, 5, 2, 9] is inverted (x2 < x1 or y2 < y1) (\(d.images)/a.png, 40x30)",
            "\(json): images[2] (file_name s.png): gives the size 30x20 but \(d.images)/s.png is 20x20",
        ] {
            #expect(m.contains("\n  " + line), "missing: \(line)\nin: \(m)")
        }
        // maxListed cuts the list and says how many more there are.
        let short = message {
            _ = try DetectionDataset(images: d.images, groundTruth: .coco(file: json), options: .init(maxListed: 2))
        }
        #expect(short.hasSuffix("\n  … and 7 more"), "\(short)")
    }

    @Test func lenientOptionsDropBoxesAndTakeNegatives() throws {
        let d = DataFolder()
        try d.rgb("images/a.png", width: 40, height: 30)
        try d.rgb("images/extra.png", width: 10, height: 10)
        try d.text("gt.json", """
            {"images": [{"id": 1, "file_name": "a.png"}], "categories": [{"id": 1, "name": "thing"}],
             "annotations": [{"id": 12, "image_id": 1, "category_id": 1, "bbox": [50, 50, 5, 5]},
                             {"id": 13, "image_id": 1, "category_id": 1, "bbox": [5, 5, 0, 4]},
                             {"id": 16, "image_id": 1, "category_id": 1, "bbox": [-2, 3, 4, 5]}]}
            """)
        let json = d.root + "/gt.json"
        let strict = message { _ = try DetectionDataset(images: d.images, groundTruth: .coco(file: json)) }
        #expect(strict.contains("3 problems"), "\(strict)")
        let set = try DetectionDataset(images: d.images, groundTruth: .coco(file: json),
                                       options: .init(invalidBoxes: .drop, imagesWithoutGroundTruth: .negatives))
        #expect(set.count == 2)
        #expect(set.items[0].boxes == [box(0, 3, 2, 8)] && set.clippedBoxes == 1)
        #expect(set.droppedBoxes == [
            "\(json): annotations[0] (id 12): box [50, 50, 55, 55] lies wholly outside the image (\(d.images)/a.png, 40x30)",
            "\(json): annotations[1] (id 13): box [5, 5, 5, 9] has zero area (\(d.images)/a.png, 40x30)",
        ])
        #expect(set.imagesWithoutGroundTruth == [d.images + "/extra.png"])
        #expect(set.items[1].name == "extra" && set.items[1].boxes.isEmpty)

        // Unknown categories stay errors whatever the options.
        try d.text("bad.json", """
            {"images": [{"id": 1, "file_name": "a.png"}], "categories": [{"id": 1, "name": "thing"}],
             "annotations": [{"id": 1, "image_id": 1, "category_id": 2, "bbox": [1, 1, 4, 4]}]}
            """)
        let m = message {
            _ = try DetectionDataset(images: d.images, groundTruth: .coco(file: d.root + "/bad.json"),
                                     options: .init(invalidBoxes: .drop, imagesWithoutGroundTruth: .negatives))
        }
        #expect(m.contains("1 problem with"), "\(m)")
        #expect(m.contains("\(d.root)/bad.json: annotations[0] (id 1): category_id 2 is not in \"categories\""), "\(m)")
    }

    @Test func cocoFileErrors() throws {
        let d = DataFolder()
        try d.rgb("images/a.png", width: 4, height: 4)
        try d.text("a.json", "{\"images\": [")
        #expect(message { _ = try DetectionDataset(images: d.images, groundTruth: .coco(file: d.root + "/a.json")) }
            .hasPrefix("\(d.root)/a.json:1:"))
        try d.text("b.json", "{\"images\": []}")
        #expect(message { _ = try DetectionDataset(images: d.images, groundTruth: .coco(file: d.root + "/b.json")) }
            == "\(d.root)/b.json: no \"annotations\" list")
        try d.text("c.json", "{\"images\": [], \"annotations\": []}")
        #expect(message { _ = try DetectionDataset(images: d.root + "/none", groundTruth: .coco(file: d.root + "/c.json")) }
            .hasPrefix("\(d.root)/none: cannot list:"))
        try d.folder("empty")
        #expect(message { _ = try DetectionDataset(images: d.root + "/empty", groundTruth: .coco(file: d.root + "/c.json")) }
            == "DetectionDataset: no image files (.png, .jpg, .jpeg) in \(d.root)/empty")
    }

    // MARK: VOC

    @Test func vocFolderConvertsCornersAndNumbersClasses() throws {
        let d = DataFolder()
        try d.rgb("images/x/a.jpg", width: 50, height: 40)
        try d.rgb("images/b.png", width: 30, height: 30)
        // VOC corners are 1-based and inclusive: pixels 1...10 are the edges 0...10.
        try d.voc("ann/x/a.xml", size: (50, 40), [("person", 1, 1, 10, 20, true), ("dog", 41, 31, 60, 45, false)])
        try d.voc("ann/b.xml", size: (30, 30), [])
        let listed = try DetectionDataset(images: d.images, groundTruth: .voc(folder: d.root + "/ann", classNames: ["person", "dog"]))
        #expect(listed.categories.map(\.name) == ["person", "dog"] && listed.categories.map(\.label) == [1, 2])
        #expect(listed.items.map(\.name) == ["b", "x/a"])
        #expect(listed.items[0].boxes.isEmpty) // a file without objects: a negative
        let a = listed.items[1]
        #expect(a.boxes == [box(0, 0, 10, 20), box(40, 30, 50, 40)]) // the dog is clipped to 50x40
        #expect(a.labels == [1, 2] && a.isDifficult == [true, false] && a.isCrowd == [false, false])
        #expect(listed.clippedBoxes == 1)
        // Without a class list: the names found, sorted.
        let found = try DetectionDataset(images: d.images, groundTruth: .voc(folder: d.root + "/ann"))
        #expect(found.categories.map(\.name) == ["dog", "person"] && found.items[1].labels == [2, 1])
    }

    @Test func vocProblemsAreReportedTogether() throws {
        let d = DataFolder()
        try d.rgb("images/a.png", width: 20, height: 20)
        try d.rgb("images/b.png", width: 20, height: 20)
        try d.rgb("images/c.png", width: 20, height: 20)
        try d.rgb("images/lonely.png", width: 20, height: 20)
        try d.voc("ann/a.xml", [("cat", 1, 1, 5, 5, false), ("dog", 2, 2, 6, 6, false)])
        try d.text("ann/b.xml", "<annotation><object><name>dog</name></object></annotation>")
        try d.voc("ann/c.xml", size: (30, 20), [("dog", 1, 1, 5, 5, false)])
        try d.voc("ann/orphan.xml", [])
        let ann = d.root + "/ann"
        let m = message { _ = try DetectionDataset(images: d.images, groundTruth: .voc(folder: ann, classNames: ["dog"])) }
        #expect(m.hasPrefix("\(ann): 5 problems with the detection data"), "\(m)")
        for line in [
            "\(ann)/a.xml: object 1 (cat): class \"cat\" is not in the class list",
            "\(ann)/b.xml: object 1 (dog) has no <bndbox>",
            "\(ann)/orphan.xml: no image for it in \(d.images)",
            "\(d.images)/lonely.png: no ground truth for it in \(ann)",
            "\(ann)/c.xml: gives the size 30x20 but \(d.images)/c.png is 20x20",
        ] {
            #expect(m.contains("\n  " + line), "missing: \(line)\nin: \(m)")
        }
        #expect(message { _ = try DetectionDataset(images: d.images, groundTruth: .voc(folder: ann, classNames: ["dog", "dog"])) }
            == "DetectionDataset: class \"dog\" appears twice in the class list")
    }

    @Test func imagesWithTheSameStemAreAProblem() throws {
        let d = DataFolder()
        try d.rgb("images/a.png", width: 8, height: 8)
        try d.rgb("images/a.jpg", width: 8, height: 8)
        try d.voc("ann/a.xml", [("dog", 1, 1, 5, 5, false)])
        let m = message { _ = try DetectionDataset(images: d.images, groundTruth: .voc(folder: d.root + "/ann")) }
        #expect(m.contains("\(d.images)/a.png: another image, \(d.images)/a.jpg, has the same name without extension"), "\(m)")
        // Two COCO entries for one file.
        try d.text("gt.json", """
            {"images": [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "a.png"}], "categories": [], "annotations": []}
            """)
        let c = message {
            _ = try DetectionDataset(images: d.images, groundTruth: .coco(file: d.root + "/gt.json"),
                                     options: .init(imagesWithoutGroundTruth: .negatives))
        }
        #expect(c == "\(d.root)/gt.json: 1 problem with the detection data (images in \(d.images)):\n  \(d.root)/gt.json: images[1] "
                + "(file_name a.png): \(d.root)/gt.json: images[0] (file_name a.png) already gives the ground truth of \(d.images)/a.png",
                "\(c)")
    }

    // MARK: Instance masks

    @Test func instanceMasksGiveTightPixelBoxes() throws {
        let d = DataFolder()
        try d.rgb("images/FudanPed1.png", width: 8, height: 6)
        try d.rgb("images/empty.png", width: 3, height: 2)
        var labels = [UInt8](repeating: 0, count: 48)
        for y in 1...3 { for x in 1...2 { labels[y * 8 + x] = 1 } }   // instance 1: pixels x 1...2, y 1...3
        for y in 0...5 { for x in 5...7 { labels[y * 8 + x] = 2 } }   // instance 2: pixels x 5...7, y 0...5
        try d.mask("masks/FudanPed1_mask.png", width: 8, height: 6, labels)
        try d.mask("masks/empty_mask.png", width: 3, height: 2, [0, 0, 0, 0, 0, 0])
        let set = try DetectionDataset(images: d.images, groundTruth: .instanceMasks(folder: d.masks))
        #expect(set.categories == [DetectionCategory(label: 1, name: "pedestrian", id: 1)])
        #expect(set.items.map(\.name) == ["FudanPed1", "empty"])
        // Pixel edges: the box of pixels 1...2 spans 1 to 3.
        #expect(set.items[0].boxes == [box(1, 1, 3, 4), box(5, 0, 8, 6)] && set.items[0].labels == [1, 1])
        #expect(set.items[1].boxes.isEmpty)
        let named = try DetectionDataset(images: d.images, groundTruth: .instanceMasks(folder: d.masks, className: "person"))
        #expect(named.categories.map(\.name) == ["person"])

        try d.rgb("images/lonely.png", width: 3, height: 2)
        try d.mask("masks/orphan_mask.png", width: 3, height: 2, [0, 1, 0, 0, 0, 0])
        try d.rgb("images/small.png", width: 9, height: 6)
        try d.mask("masks/small_mask.png", width: 8, height: 6, labels)
        let m = message { _ = try DetectionDataset(images: d.images, groundTruth: .instanceMasks(folder: d.masks)) }
        #expect(m.hasPrefix("\(d.masks): 3 problems"), "\(m)")
        for line in [
            "\(d.masks)/orphan_mask.png: no image for it in \(d.images)",
            "\(d.images)/lonely.png: no ground truth for it in \(d.masks)",
            "\(d.masks)/small_mask.png: the mask is 8x6 but its image \(d.images)/small.png is 9x6",
        ] {
            #expect(m.contains("\n  " + line), "missing: \(line)\nin: \(m)")
        }
    }

    // MARK: Transforms

    @Test func flipMirrorsBoxesAndPixels() {
        let values = (0..<(3 * 4 * 10)).map(Float.init)
        let s = DetectionSample(image: PlanarImage(width: 10, height: 4, values: values),
                                boxes: [box(1, 2, 4, 3), box(0, 0, 10, 4)], labels: [1, 2], name: "s")
        let f = s.flippedHorizontally()
        // x1' = W − x2, x2' = W − x1 with W = 10.
        #expect(f.boxes == [box(6, 2, 9, 3), box(0, 0, 10, 4)])
        #expect(f.labels == [1, 2] && f.name == "s")
        #expect(f.image.values[0] == values[9] && f.image.values[2 * 40 + 3 * 10 + 9] == values[2 * 40 + 3 * 10])
        #expect(f.flippedHorizontally() == s)
    }

    @Test func resizeFollowsGeneralizedRCNNTransform() {
        // 1000x500 with 800/1333: the cap wins, scale = Float(1333) / 1000 = 1.33299994…, and the
        // sides are floored: 1332.99994 → 1332, 666.49997 → 666 (torchvision gives the same).
        let capped = DetectionResize(width: 1000, height: 500, shorterSide: 800, maxSize: 1333)
        #expect(capped.width == 1332 && capped.height == 666)
        #expect(capped.scaleX == Float(1332) / Float(1000) && capped.scaleY == Float(666) / Float(500))
        // 400x300 to a shorter side of 600: scale 2 exactly.
        let up = DetectionResize(width: 400, height: 300, shorterSide: 600, maxSize: 1333)
        #expect(up.width == 800 && up.height == 600)
        #expect(up.apply([box(10, 20, 30, 40)]) == [box(20, 40, 60, 80)])
        #expect(up.toOriginal([box(20, 40, 60, 80)]) == [box(10, 20, 30, 40)])
        // Portrait 300x400, shorter side 600 but longer side capped at 700: scale 1.75.
        let portrait = DetectionResize(width: 300, height: 400, shorterSide: 600, maxSize: 700)
        #expect(portrait.width == 525 && portrait.height == 700)
        #expect(portrait.apply([box(4, 8, 100, 400)]) == [box(7, 14, 175, 700)])
        // Inference: the image at the network's size and the way back.
        let image = PlanarImage(width: 400, height: 300, values: [Float](repeating: 7, count: 3 * 400 * 300))
        let (resized, r) = DetectionResize.inference(image, shorterSide: 600, maxSize: 1333)
        #expect(resized.width == 800 && resized.height == 600 && r == up)
        #expect(resized.values.allSatisfy { abs($0 - 7) < 1e-4 })
        // Down: ratios back are original / resized, so a full-image box maps to the full image.
        let down = DetectionResize(width: 1000, height: 750, shorterSide: 300, maxSize: 1333)
        #expect(down.width == 400 && down.height == 300)
        #expect(down.toOriginal([box(0, 0, 400, 300)]) == [box(0, 0, 1000, 750)])
    }

    @Test func augmentationIsSeededAndMovesBoxesWithPixels() throws {
        let values = (0..<(3 * 20 * 40)).map { Float($0 % 251) }
        let s = DetectionSample(image: PlanarImage(width: 40, height: 20, values: values),
                                boxes: [box(2, 3, 12, 20), box(30, 0, 40, 10)], labels: [1, 2], name: "s")
        let aug = DetectionAugmentation(shorterSides: [10, 20, 30], maxSize: 1000, flipProbability: 0.5)
        var sides = Set<Int>(), flips = Set<Bool>()
        for seed in UInt64(0)..<40 {
            let a = aug.apply(s, seed: seed)
            #expect(a == aug.apply(s, seed: seed))
            let (side, flip) = aug.draw(seed: seed)
            sides.insert(side); flips.insert(flip)
            // The shorter side (the height) becomes `side`; the width keeps the aspect ratio.
            #expect(a.image.height == side && a.image.width == 2 * side)
            let k = Float(side) / 20
            let scaled = s.boxes.map { box($0.x1 * k, $0.y1 * k, $0.x2 * k, $0.y2 * k) }
            let w = Float(a.image.width)
            let expected = flip ? scaled.map { box(w - $0.x2, $0.y1, w - $0.x1, $0.y2) } : scaled
            for (got, want) in zip(a.boxes, expected) {
                #expect(abs(got.x1 - want.x1) < 1e-4 && abs(got.x2 - want.x2) < 1e-4
                        && abs(got.y1 - want.y1) < 1e-4 && abs(got.y2 - want.y2) < 1e-4, "seed \(seed): \(got) vs \(want)")
            }
            #expect(a.labels == s.labels)
        }
        #expect(sides == [10, 20, 30] && flips == [false, true])
        #expect(DetectionAugmentation(shorterSides: [20], flipProbability: 0).apply(s, seed: 3) == s)
        #expect(DetectionAugmentation(shorterSides: [20], flipProbability: 1).apply(s, seed: 3) == s.flippedHorizontally())
    }

    @Test func seedsAndOrderMatchTheSegmentationBatches() throws {
        let d = DataFolder()
        var images: [String] = []
        for i in 0..<7 {
            try d.rgb("images/i\(i).png", width: 12, height: 8)
            images.append("{\"id\": \(i + 1), \"file_name\": \"i\(i).png\"}")
        }
        try d.text("gt.json", """
            {"images": [\(images.joined(separator: ", "))], "categories": [{"id": 1, "name": "t"}],
             "annotations": [{"image_id": 2, "category_id": 1, "bbox": [1, 1, 4, 4]}]}
            """)
        let set = try DetectionDataset(images: d.images, groundTruth: .coco(file: d.root + "/gt.json"))
        let dummy = SampleSet(Array(repeating: SegmentationSample(image: PlanarImage(width: 1, height: 1, values: [0, 0, 0]),
                                                                  labels: LabelMap(width: 1, height: 1)), count: 7))
        for epoch in 0..<3 {
            let batches = dummy.batches(size: 1, shuffle: 42, epoch: epoch)
            #expect(set.order(shuffle: 42, epoch: epoch) == batches.order)
            for i in 0..<7 { #expect(DetectionAugmentation.seed(42, epoch: epoch, index: i) == batches.augmentationSeed(index: i)) }
        }
        #expect(set.order(shuffle: nil, epoch: 5) == Array(0..<7))
        #expect(set.order(shuffle: 42, epoch: 0) != set.order(shuffle: 42, epoch: 1))
        let aug = DetectionAugmentation(shorterSides: [8, 16], maxSize: 100)
        let a = try set.sample(1, augmentation: aug, seed: 42, epoch: 2)
        #expect(a == aug.apply(try set.sample(1), seed: DetectionAugmentation.seed(42, epoch: 2, index: 1)))
        #expect(try set.sample(1, augmentation: nil, seed: 42, epoch: 2) == set.sample(1))
    }

    // MARK: Real data

    /// PennFudan's developer part: 80 images whose instance masks give the boxes. The expected
    /// counts and boxes are computed here from the decoded masks, without the dataset's code.
    @Test func pennFudanMasks() throws {
        let root = detectionDataRoot + "/pennfudan"
        let set = try DetectionDataset(images: root + "/PNGImages", groundTruth: .instanceMasks(folder: root + "/PedMasks"))
        let maskNames = try FileManager.default.contentsOfDirectory(atPath: root + "/PedMasks")
            .filter { $0.hasSuffix("_mask.png") }.sorted()
        let imageCount = try FileManager.default.contentsOfDirectory(atPath: root + "/PNGImages").filter { $0.hasSuffix(".png") }.count
        #expect(imageCount == 80 && maskNames.count == 80)
        #expect(set.count == 80 && set.categories.map(\.name) == ["pedestrian"])
        var expectedTotal = 0
        for name in maskNames {
            guard case .image(.uint8(let mask)) = try ImageFile.read(root + "/PedMasks/" + name, options: DecodeOptions(palette: .indices)),
                  mask.layout == .gray else {
                Issue.record("\(name) is not an 8-bit gray mask"); continue
            }
            // Per id: min x, min y, max x, max y of its pixels.
            var extent = [(Int, Int, Int, Int)?](repeating: nil, count: 256)
            for y in 0..<mask.height {
                for x in 0..<mask.width {
                    let id = Int(mask.samples[y * mask.width + x])
                    guard id != 0 else { continue }
                    let e = extent[id] ?? (x, y, x, y)
                    extent[id] = (min(e.0, x), min(e.1, y), max(e.2, x), max(e.3, y))
                }
            }
            let boxes = extent.compactMap { $0 }.map { box(Float($0.0), Float($0.1), Float($0.2 + 1), Float($0.3 + 1)) }
            expectedTotal += boxes.count
            let stem = String(name.dropLast("_mask.png".count))
            guard let item = set.items.first(where: { $0.name == stem }) else { Issue.record("no item \(stem)"); continue }
            #expect(item.boxes == boxes, "\(stem)")
            #expect(item.width == mask.width && item.height == mask.height)
        }
        #expect(set.items.reduce(0) { $0 + $1.boxes.count } == expectedTotal)
        #expect(expectedTotal > 80) // at least one pedestrian per image, several in many
        #expect(set.items.allSatisfy { !$0.boxes.isEmpty && $0.labels.allSatisfy { $0 == 1 } })
        #expect(set.clippedBoxes == 0 && set.droppedBoxes.isEmpty)
        let s = try set.sample(0)
        #expect(s.image.width == set.items[0].width && s.image.height == set.items[0].height && s.boxes == set.items[0].boxes)
    }

    /// COCO128's developer part: 32 images with 226 annotations (2 crowd), 80 categories with ids
    /// up to 90; counted here from the JSON directly.
    @Test func coco128Instances() throws {
        let root = detectionDataRoot + "/coco128"
        let file = root + "/annotations/instances_train.json"
        let set = try DetectionDataset(images: root + "/images", groundTruth: .coco(file: file))
        let json = try JSON.parse(FileBytes.read(file), file: file)
        let annotations = json["annotations"]!.arrayValue!
        let categoryIds = json["categories"]!.arrayValue!.map { $0["id"]!.intValue! }.sorted()
        #expect(set.count == json["images"]!.arrayValue!.count && set.count == 32)
        #expect(set.items.reduce(0) { $0 + $1.boxes.count } == annotations.count && annotations.count == 226)
        let crowd = annotations.filter { $0["iscrowd"]?.intValue == 1 }.count
        #expect(set.items.reduce(0) { $0 + $1.isCrowd.filter { $0 }.count } == crowd && crowd == 2)
        #expect(set.categories.count == 80 && set.categories.map(\.id) == categoryIds)
        #expect(set.categories.last?.label == 80 && set.categories.last?.id == 90)
        // Per image, the labels are the annotations' categories renumbered.
        let labelOf = Dictionary(uniqueKeysWithValues: set.categories.map { ($0.id, $0.label) })
        for image in json["images"]!.arrayValue! {
            let id = image["id"]!.intValue!, name = image["file_name"]!.stringValue!
            let mine = annotations.filter { $0["image_id"]!.intValue! == id }
            guard let item = set.items.first(where: { $0.image.hasSuffix("/" + name) }) else { Issue.record("no item for \(name)"); continue }
            #expect(item.labels.sorted() == mine.map { labelOf[$0["category_id"]!.intValue!]! }.sorted(), "\(name)")
            #expect(item.width == image["width"]!.intValue! && item.height == image["height"]!.intValue!)
        }
        #expect(set.clippedBoxes == 0)
    }
}
