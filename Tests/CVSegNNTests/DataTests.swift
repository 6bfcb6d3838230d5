import Foundation
import Testing
import CVSegCore
import CVSegIO
import CVSegTensor
@testable import CVSegNN

/// A temporary folder with small images and masks, removed at the end.
final class DataFolder {
    let root: String
    init() {
        root = NSTemporaryDirectory() + "cvseg-data-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: root) }

    var images: String { root + "/images" }
    var masks: String { root + "/masks" }

    func write(_ relative: String, _ bytes: [UInt8]) throws { try ImageFile.writeAtomically(bytes, to: root + "/" + relative) }
    func folder(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: root + "/" + relative, withIntermediateDirectories: true)
    }

    /// An RGB image whose pixel (x, y) is (r, g + x, b + y).
    func rgb(_ relative: String, width: Int, height: Int, _ r: UInt8 = 10, _ g: UInt8 = 20, _ b: UInt8 = 30) throws {
        var s: [UInt8] = []
        for y in 0..<height { for x in 0..<width { s += [r, g &+ UInt8(x), b &+ UInt8(y)] } }
        let image = Image(width: width, height: height, layout: .rgb, samples: s)
        try write(relative, relative.hasSuffix(".jpg") ? ImageEncoder.jpeg(image) : ImageEncoder.png(image))
    }

    func mask(_ relative: String, width: Int, height: Int, _ labels: [UInt8]) throws {
        try write(relative, ImageEncoder.png(Image(width: width, height: height, layout: .gray, samples: labels)))
    }
}

func message(_ body: () throws -> Void) -> String {
    do { try body(); return "(no error)" } catch { return "\(error)" }
}

@Suite struct DataTests {
    // MARK: pairing

    @Test func pairsNestedFoldersIgnoringExtensions() throws {
        let d = DataFolder()
        try d.rgb("images/a/x.jpg", width: 4, height: 3)
        try d.rgb("images/b.PNG", width: 4, height: 3)
        try d.rgb("images/c.png", width: 4, height: 3)
        try d.write("images/notes.txt", Array("hi".utf8))
        try d.rgb("images/.hidden.png", width: 4, height: 3)
        try d.mask("masks/a/x.png", width: 4, height: 3, Array(repeating: 0, count: 12))
        try d.mask("masks/b.png", width: 4, height: 3, Array(repeating: 1, count: 12))
        try d.mask("masks/d.png", width: 4, height: 3, Array(repeating: 1, count: 12))

        let m = message { _ = try SegmentationDataset(images: d.images, masks: d.masks, classes: 2) }
        #expect(m.contains("2 unpaired files"), "\(m)")
        #expect(m.contains("\(d.images)/c.png: no mask for it in \(d.masks)"), "\(m)")
        #expect(m.contains("\(d.masks)/d.png: no image for it in \(d.images)"), "\(m)")

        let ds = try SegmentationDataset(images: d.images, masks: d.masks, classes: 2, allowUnpaired: true)
        #expect(ds.pairs.map(\.name) == ["a/x", "b"])
        #expect(ds.pairs[0].image == d.images + "/a/x.jpg" && ds.pairs[0].mask == d.masks + "/a/x.png")
        #expect(ds.unpaired.count == 2)
        _ = try ds.validate()
    }

    @Test func pairsPennFudanMaskSuffix() throws {
        let d = DataFolder()
        try d.rgb("images/FudanPed00001.png", width: 3, height: 2)
        try d.mask("masks/FudanPed00001_mask.png", width: 3, height: 2, [0, 1, 2, 0, 0, 1])
        let ds = try SegmentationDataset(images: d.images, masks: d.masks)
        #expect(ds.count == 1)
        #expect(try ds.validate().classes == 3)
    }

    // MARK: mask kinds

    @Test func binaryMasks0And255() throws {
        let d = DataFolder()
        try d.rgb("images/a.png", width: 2, height: 2)
        try d.mask("masks/a.png", width: 2, height: 2, [0, 255, 255, 0])
        let binary = try SegmentationDataset(images: d.images, masks: d.masks, maskMode: .binary)
        #expect(binary.classes == 2)
        #expect(try binary.labels(0).labels == [0, 1, 1, 0])
        let stats = try binary.validate()
        #expect(stats.pixels == [2, 2])
        // In .indices mode, 255 is the ignore label: skipped by the statistics.
        let indices = try SegmentationDataset(images: d.images, masks: d.masks, classes: 2)
        #expect(try indices.labels(0).labels == [0, 255, 255, 0])
        #expect(try indices.validate().pixels == [2, 0])
    }

    @Test func binaryMasks0And1() throws {
        let d = DataFolder()
        try d.rgb("images/a.png", width: 2, height: 2)
        try d.mask("masks/a.png", width: 2, height: 2, [0, 1, 1, 1])
        let ds = try SegmentationDataset(images: d.images, masks: d.masks, maskMode: .binary)
        #expect(try ds.labels(0).labels == [0, 1, 1, 1])
        #expect(try ds.validate().pixels == [1, 3])
    }

    @Test func paletteMasksByIndexNotColour() throws {
        let d = DataFolder()
        try d.rgb("images/a.png", width: 3, height: 1)
        // Colours chosen so that any colour-based reading would give other labels.
        let palette = [RGBA(200, 0, 0), RGBA(0, 0, 0), RGBA(1, 1, 1)]
        let indexed = IndexedImage(indices: Image(width: 3, height: 1, layout: .gray, samples: [2, 0, 1]), palette: palette)
        try d.write("masks/a.png", ImageEncoder.png(indexed))
        let ds = try SegmentationDataset(images: d.images, masks: d.masks, classes: 3)
        #expect(try ds.labels(0).labels == [2, 0, 1])
        #expect(try ds.validate().pixels == [1, 1, 1])
    }

    @Test func sixteenBitIndexMasks() throws {
        let d = DataFolder()
        try d.rgb("images/a.png", width: 2, height: 1)
        try d.write("masks/a.png", ImageEncoder.png(Image<UInt16>(width: 2, height: 1, layout: .gray, samples: [300, 7])))
        let ds = try SegmentationDataset(images: d.images, masks: d.masks, ignoreLabel: 1000)
        #expect(try ds.labels(0).labels == [300, 7])
        let stats = try ds.validate()
        #expect(stats.classes == 301)
        #expect(stats.pixels[300] == 1 && stats.pixels[7] == 1)
    }

    // MARK: validation errors

    @Test func emptyAndMissingFolders() throws {
        let d = DataFolder()
        try d.folder("images")
        try d.mask("masks/a.png", width: 1, height: 1, [0])
        #expect(message { _ = try SegmentationDataset(images: d.images, masks: d.masks) }
            == "SegmentationDataset: no image files (.png, .jpg, .jpeg) in \(d.images)")
        try d.rgb("images/a.png", width: 1, height: 1)
        try FileManager.default.removeItem(atPath: d.masks + "/a.png")
        #expect(message { _ = try SegmentationDataset(images: d.images, masks: d.masks) }
            == "SegmentationDataset: no mask files (.png, .jpg, .jpeg) in \(d.masks)")
        let missing = message { _ = try SegmentationDataset(images: d.root + "/nope", masks: d.masks) }
        #expect(missing.hasPrefix("\(d.root)/nope: cannot list: "), "\(missing)")
    }

    @Test func noPairs() throws {
        let d = DataFolder()
        try d.rgb("images/a.png", width: 1, height: 1)
        try d.mask("masks/b.png", width: 1, height: 1, [0])
        let m = message { _ = try SegmentationDataset(images: d.images, masks: d.masks) }
        #expect(m.hasPrefix("SegmentationDataset: no image in \(d.images) has a mask in \(d.masks) (1 images, 1 masks"), "\(m)")
    }

    @Test func sizeMismatchNamesBothFilesAndSizes() throws {
        let d = DataFolder()
        try d.rgb("images/a.jpg", width: 4, height: 3)
        try d.mask("masks/a.png", width: 4, height: 4, Array(repeating: 0, count: 16))
        let ds = try SegmentationDataset(images: d.images, masks: d.masks, classes: 2)
        let m = message { _ = try ds.validate() }
        #expect(m.contains("1 of 1 pairs cannot be used for training"), "\(m)")
        #expect(m.contains("\(d.masks)/a.png: the mask is 4x4 but its image \(d.images)/a.jpg is 4x3"), "\(m)")
        #expect(message { _ = try ds.validate(decodeImages: true) }.contains("the mask is 4x4 but its image"))
        #expect(message { _ = try ds.sample(0) } == "\(d.masks)/a.png: the mask is 4x4 but its image \(d.images)/a.jpg is 4x3")
    }

    @Test func labelsOutsideTheClasses() throws {
        let d = DataFolder()
        try d.rgb("images/a.png", width: 2, height: 2)
        try d.rgb("images/b.png", width: 2, height: 2)
        try d.mask("masks/a.png", width: 2, height: 2, [0, 1, 255, 2])
        try d.mask("masks/b.png", width: 2, height: 2, [0, 1, 5, 7])
        let ds = try SegmentationDataset(images: d.images, masks: d.masks, classes: 3)
        let m = message { _ = try ds.validate() }
        #expect(m.contains("1 of 2 pairs"), "\(m)")
        #expect(m.contains("\(d.masks)/b.png: labels 5, 7 outside the 3 classes (0..<3) and not the ignore label 255"), "\(m)")
        #expect(!m.contains("a.png"), "\(m)")
        // Settings that contradict each other.
        #expect(message { _ = try SegmentationDataset(images: d.images, masks: d.masks, classes: 300) }
            == "SegmentationDataset: the ignore label 255 is one of the 300 classes (0..<300)")
        #expect(message { _ = try SegmentationDataset(images: d.images, masks: d.masks, classes: 3, maskMode: .binary) }
            == "SegmentationDataset: binary masks have 2 classes, not 3")
    }

    @Test func unreadableFilesGiveTheDecodersError() throws {
        let d = DataFolder()
        try d.rgb("images/a.png", width: 2, height: 2)
        try d.write("images/b.png", Array("not a png at all".utf8))
        try d.mask("masks/a.png", width: 2, height: 2, [0, 1, 1, 0])
        try d.write("masks/b.png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0])
        let rgbMask = Image(width: 2, height: 2, layout: .rgb, samples: [UInt8](repeating: 0, count: 12))
        try d.rgb("images/c.png", width: 2, height: 2)
        try d.write("masks/c.png", ImageEncoder.png(rgbMask))
        let ds = try SegmentationDataset(images: d.images, masks: d.masks, classes: 2)
        let m = message { _ = try ds.validate() }
        #expect(m.contains("2 of 3 pairs"), "\(m)")
        #expect(m.contains("\(d.images)/b.png: invalid PNG file"), "\(m)")
        #expect(m.contains("\(d.masks)/c.png: a mask must be gray (8 or 16 bits) or palette, not"), "\(m)")
        #expect(message { _ = try ds.sample(1) }.hasPrefix("\(d.images)/b.png: invalid PNG file"))
    }

    @Test func truncatedImagesNeedAFullDecodeToBeCaught() throws {
        let d = DataFolder()
        let png = try ImageEncoder.png(Image(width: 8, height: 8, layout: .rgb, samples: [UInt8](repeating: 7, count: 192)))
        try d.write("images/a.png", Array(png.prefix(40)))
        try d.mask("masks/a.png", width: 8, height: 8, [UInt8](repeating: 0, count: 64))
        let ds = try SegmentationDataset(images: d.images, masks: d.masks, classes: 1)
        _ = try ds.validate()  // the header is intact
        let m = message { _ = try ds.validate(decodeImages: true) }
        #expect(m.contains("1 of 1 pairs") && m.contains("\(d.images)/a.png: "), "\(m)")
    }

    // MARK: image conversion

    @Test func imagesBecomeRGB() throws {
        let d = DataFolder()
        try d.write("images/g.png", ImageEncoder.png(Image(width: 1, height: 1, layout: .gray, samples: [UInt8(100)])))
        try d.write("images/r.png", ImageEncoder.png(Image(width: 1, height: 1, layout: .rgba, samples: [UInt8(1), 2, 3, 4])))
        try d.write("images/w.png", ImageEncoder.png(Image(width: 1, height: 1, layout: .rgb, samples: [UInt16(0x1234), 0xFF00, 0x00FF])))
        for name in ["g", "r", "w"] { try d.mask("masks/\(name).png", width: 1, height: 1, [0]) }
        let ds = try SegmentationDataset(images: d.images, masks: d.masks, classes: 1)
        #expect(try ds.sample(0).image.values == [100, 100, 100])
        #expect(try ds.sample(1).image.values == [1, 2, 3])
        #expect(try ds.sample(2).image.values == [0x12, 0xFF, 0])
    }

    // MARK: augmentation

    static func sample(width: Int = 7, height: Int = 5) -> SegmentationSample {
        var g = SplitMix64(seed: 9)
        let values = (0..<(3 * width * height)).map { _ in Float(g.next() % 256) }
        let labels = (0..<(width * height)).map { Int32($0 % 3) }
        return SegmentationSample(image: PlanarImage(width: width, height: height, values: values),
                                  labels: LabelMap(width: width, height: height, labels: labels), name: "s")
    }

    @Test func augmentationIsDeterministic() {
        let aug = Augmentation(cropWidth: 6, cropHeight: 4, scale: 0.5...2, brightness: 0.3, contrast: 0.3, saturation: 0.3)
        let s = Self.sample()
        #expect(aug.apply(s, seed: 42) == aug.apply(s, seed: 42))
        let outputs = (0..<8).map { aug.apply(s, seed: UInt64($0)) }
        #expect(Set(outputs.map(\.image.values)).count > 1)
        for o in outputs {
            #expect(o.image.width == 6 && o.image.height == 4 && o.labels.width == 6 && o.labels.height == 4)
            #expect(Set(o.labels.labels).isSubset(of: [0, 1, 2, 255]))
            #expect(o.image.values.allSatisfy { (0...255).contains($0) })
        }
    }

    @Test func flipIsInvolutive() {
        let s = Self.sample()
        #expect(s.image.flippedHorizontally().flippedHorizontally() == s.image)
        #expect(s.labels.flippedHorizontally().flippedHorizontally() == s.labels)
        #expect(s.labels.flippedHorizontally()[0, 0] == s.labels[6, 0])
        // Flip only (probability 1), no scale, crop = whole image: image and labels move together.
        let aug = Augmentation(cropWidth: 7, cropHeight: 5, scale: 1...1, flipProbability: 1)
        let f = aug.apply(s, seed: 1)
        #expect(f.image == s.image.flippedHorizontally() && f.labels == s.labels.flippedHorizontally())
    }

    @Test func cropPadsSmallImagesWithIgnore() {
        let s = Self.sample(width: 3, height: 2)
        let aug = Augmentation(cropWidth: 5, cropHeight: 4, scale: 1...1, flipProbability: 0, padValue: [1, 2, 3])
        let o = aug.apply(s, seed: 3)
        #expect(o.image.width == 5 && o.image.height == 4)
        for y in 0..<4 {
            for x in 0..<5 {
                let inside = x < 3 && y < 2
                #expect(o.labels[x, y] == (inside ? s.labels[x, y] : 255))
                for c in 0..<3 {
                    let v = o.image.values[(c * 4 + y) * 5 + x]
                    #expect(v == (inside ? s.image.values[(c * 2 + y) * 3 + x] : Float(c + 1)))
                }
            }
        }
        // A larger image is cropped inside its bounds.
        let big = Self.sample(width: 9, height: 8)
        let c = Augmentation(cropWidth: 4, cropHeight: 3, scale: 1...1, flipProbability: 0).apply(big, seed: 5)
        #expect(c.image.width == 4 && c.image.height == 3 && !c.labels.labels.contains(255))
    }

    @Test func nearestResizeKeepsLabels() {
        let m = LabelMap(width: 2, height: 2, labels: [0, 1, 2, 255])
        let up = m.resizedNearest(width: 4, height: 4)
        #expect(up.labels == [0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 255, 255, 2, 2, 255, 255])
        #expect(up.resizedNearest(width: 2, height: 2) == m)
    }

    @Test func colourJitterFormulas() {
        let image = PlanarImage(width: 2, height: 1, values: [100, 200, 50, 50, 0, 250])
        #expect(Augmentation.jitter(image, brightness: 1.5, contrast: 1, saturation: 1).values == [150, 255, 75, 75, 0, 255])
        // Saturation 0 gives the BT.601 gray in every channel.
        let gray = Augmentation.jitter(image, brightness: 1, contrast: 1, saturation: 0).values
        #expect(abs(gray[0] - (0.299 * 100 + 0.587 * 50 + 0.114 * 0)) < 1e-3)
        #expect(gray[0] == gray[2] && gray[2] == gray[4])
    }

    // MARK: statistics

    @Test func medianFrequencyWeightsByHand() throws {
        let d = DataFolder()
        try d.rgb("images/a.png", width: 2, height: 2)
        try d.rgb("images/b.png", width: 2, height: 2)
        try d.mask("masks/a.png", width: 2, height: 2, [0, 0, 0, 1])
        try d.mask("masks/b.png", width: 2, height: 2, [0, 2, 2, 255])
        let stats = try SegmentationDataset(images: d.images, masks: d.masks, classes: 4).validate()
        #expect(stats.pixels == [4, 1, 2, 0])
        #expect(stats.images == [2, 1, 1, 0])
        #expect(stats.pixelsOfImagesWith == [7, 4, 3, 0])
        #expect(stats.labelledPixels == 7)
        // freq = 4/7, 1/4, 2/3; median 4/7; weights 1, 16/7, 6/7, 0.
        let w = stats.medianFrequencyWeights
        let expected: [Float] = [1, 16.0 / 7, 6.0 / 7, 0]
        for (a, b) in zip(w, expected) { #expect(abs(a - b) < 1e-6, "\(w)") }
        // An even count of present classes takes the mean of the two middle frequencies.
        var even = ClassStatistics(classes: 2)
        even.pixels = [1, 3]; even.pixelsOfImagesWith = [4, 4]
        #expect(even.medianFrequencyWeights == [2, 2.0 / 3])
    }

    // MARK: batches

    func batchFolder() throws -> DataFolder {
        let d = DataFolder()
        for (k, name) in ["a", "b", "c"].enumerated() {
            try d.write("images/\(name).png", ImageEncoder.png(Image(width: 4, height: 3, layout: .rgb,
                                                                     samples: [UInt8](repeating: UInt8(k * 100), count: 36))))
            try d.mask("masks/\(name).png", width: 4, height: 3, [UInt8](repeating: UInt8(k), count: 12))
        }
        return d
    }

    @Test func batchShapesAndNormalisation() throws {
        let d = try batchFolder()
        let ds = try SegmentationDataset(images: d.images, masks: d.masks, classes: 3)
        var batches = ds.batches(size: 2, shuffle: nil)
        #expect(batches.count == 2)
        let first = try #require(try batches.next())
        #expect(first.images.shape == [2, 3, 3, 4])
        #expect(first.targets == [Int32](repeating: 0, count: 12) + [Int32](repeating: 1, count: 12))
        #expect(first.names == ["a", "b"])
        let n = Normalization.imageNet
        let v = first.images.values
        for c in 0..<3 {
            #expect(abs(v[c * 12] - (0 - n.mean[c]) / n.std[c]) < 1e-5)
            #expect(abs(v[(3 + c) * 12 + 5] - (100 / 255 - n.mean[c]) / n.std[c]) < 1e-5)
        }
        let last = try #require(try batches.next())
        #expect(last.images.shape == [1, 3, 3, 4] && last.targets.count == 12)
        #expect(try batches.next() == nil)
        #expect(ds.batches(size: 2, shuffle: nil, dropLast: true).count == 1)
        // Unit normalisation: x / 255.
        let unit = try ds.batches(size: 3, shuffle: nil, normalization: .unit).batch(0)
        #expect(abs(unit.images.values[2 * 36] - 200 / 255) < 1e-6)
    }

    @Test func shuffleAndAugmentationAreSeeded() throws {
        let d = try batchFolder()
        let ds = try SegmentationDataset(images: d.images, masks: d.masks, classes: 3)
        let orders = (0..<6).map { ds.batches(size: 1, shuffle: 7, epoch: $0).order }
        for o in orders { #expect(o.sorted() == [0, 1, 2]) }
        #expect(Set(orders).count > 1)
        #expect(ds.batches(size: 1, shuffle: 7, epoch: 2).order == orders[2])
        let aug = Augmentation(cropWidth: 3, cropHeight: 2, scale: 0.5...1.5, brightness: 0.2)
        let a = try ds.batches(size: 3, shuffle: 7, epoch: 1, augmentation: aug).batch(0)
        let b = try ds.batches(size: 3, shuffle: 7, epoch: 1, augmentation: aug).batch(0)
        #expect(a.images.shape == [3, 3, 2, 3] && a.targets.count == 18)
        #expect(a.images.values == b.images.values && a.targets == b.targets)
        // A sample's augmentation does not depend on the batch size.
        let single = ds.batches(size: 1, shuffle: 7, epoch: 1, augmentation: aug)
        let k = try #require(single.order.firstIndex(of: a.indices[0]))
        #expect(try single.batch(k).images.values == Array(a.images.values[0..<18]))
    }

    @Test func differentSizesNeedAnAugmentation() throws {
        let d = DataFolder()
        try d.rgb("images/a.png", width: 2, height: 2)
        try d.rgb("images/b.png", width: 3, height: 2)
        try d.mask("masks/a.png", width: 2, height: 2, [0, 0, 0, 0])
        try d.mask("masks/b.png", width: 3, height: 2, [0, 0, 0, 0, 0, 0])
        let ds = try SegmentationDataset(images: d.images, masks: d.masks, classes: 1)
        let m = message { _ = try ds.batches(size: 2, shuffle: nil).batch(0) }
        #expect(m == "batch 0: \(d.images)/b.png is 3x2 but \(d.images)/a.png is 2x2; give an augmentation (crop) or batch size 1")
    }

    // MARK: inference

    @Test func predictionsMapBackToTheOriginalSize() throws {
        let image = PlanarImage(width: 10, height: 7, values: [Float](repeating: 128, count: 210))
        let input = try InferenceResize.input(image, width: 4, height: 4)
        #expect(input.shape == [1, 3, 4, 4])
        // Scores at 2×2: class 1 wins on the left column, class 0 on the right.
        let scores = Tensor(shape: [1, 2, 2, 2], values: [0, 1, 0, 1, 1, 0, 1, 0])
        let up = try InferenceResize.scores(scores, width: 10, height: 7)
        #expect(up.shape == [1, 2, 7, 10])
        let labels = try InferenceResize.labels(scores, width: 10, height: 7)
        #expect(labels.count == 1 && labels[0].width == 10 && labels[0].height == 7)
        for y in 0..<7 {
            for x in 0..<10 { #expect(labels[0][x, y] == (x < 5 ? 1 : 0), "(\(x), \(y))") }
        }
        // Same size: argmax only.
        #expect(try InferenceResize.labels(scores, width: 2, height: 2)[0].labels == [1, 0, 1, 0])
    }
}
