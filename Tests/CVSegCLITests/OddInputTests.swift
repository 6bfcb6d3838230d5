import Foundation
import Testing
import CVSegCore
import CVSegIO
import CVSegClassical
import CVSegTestSupport

/// Issue 4 item 10: every `cvseg segment` method on degenerate images (1×1, 1×N, N×1, constant,
/// alpha, 16-bit) and with bad parameters. Each case is either a written mask of the input's
/// size or a clear error naming the file and the cause; the documented results are in
/// Docs/Classical.md ("Odd images and bad parameters").
@Suite(.serialized) struct OddInputTests {
    static let methods: [(name: String, args: [String])] = [
        ("otsu", ["otsu"]),
        ("multi-otsu", ["otsu", "--classes", "3", "--format", "labels"]),
        ("triangle", ["triangle"]),
        ("niblack", ["niblack"]),
        ("sauvola", ["sauvola"]),
        ("adaptive", ["adaptive"]),
        ("canny", ["canny", "--format", "labels"]),
        ("canny-edges", ["canny", "--edges-only"]),
        ("graph", ["graph", "--format", "labels"]),
        ("merge", ["merge", "--threshold", "10", "--format", "labels"]),
        ("merge-n", ["merge", "--regions", "2", "--format", "labels"]),
        ("grow", ["grow", "--auto-seeds", "4", "--format", "labels"]),
        ("flood", ["grow", "--auto-seeds", "1", "--tolerance", "5", "--format", "labels"]),
        ("split-merge", ["split-merge", "--max-std", "5", "--format", "labels"]),
    ]

    /// Name, image. Values are seeded so that results are stable.
    static func images() -> [(String, AnyImage)] {
        var rng = SplitMix64(seed: 10)
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        return [
            ("one", .uint8(Image(width: 1, height: 1, layout: .gray, samples: [7]))),
            ("row", .uint8(Image(width: 9, height: 1, layout: .gray, samples: bytes(9)))),
            ("column", .uint8(Image(width: 1, height: 9, layout: .rgb, samples: bytes(27)))),
            ("constant", .uint8(Image(width: 9, height: 9, layout: .gray, repeating: 77))),
            ("alpha", .uint8(Image(width: 9, height: 9, layout: .rgba, samples: bytes(324)))),
            ("gray-alpha", .uint8(Image(width: 5, height: 4, layout: .grayAlpha, samples: bytes(40)))),
            ("deep", .uint16(Image(width: 6, height: 6, layout: .gray,
                                   samples: (0..<36).map { _ in UInt16(truncatingIfNeeded: rng.next()) }))),
        ]
    }

    /// The refusals, by method and image; everything else must write a mask.
    static let refusals: [String: String] = [
        "multi-otsu/one": "fewer than the 3 classes",
        "multi-otsu/constant": "fewer than the 3 classes",
        "multi-otsu/deep": "multi-level Otsu searches at most 4096",
        "adaptive/deep": "8-bit images",
        "canny/deep": "8-bit images",
        "canny-edges/deep": "8-bit images",
        "grow/one": "seed grid needs at least",
        "grow/row": "seed grid needs at least",
        "grow/column": "seed grid needs at least",
    ]

    @Test func everyMethodOnEveryOddImage() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        for (name, image) in Self.images() { try dir.write("in/\(name).png", ImageEncoder.png(image)) }
        for method in Self.methods {
            for (name, image) in Self.images() {
                let out = dir.path + "/out-\(method.name)"
                let r = try CLI.run(["segment"] + method.args + [dir.path + "/in/\(name).png", "-o", out])
                let key = "\(method.name)/\(name)"
                if let reason = Self.refusals[key] {
                    #expect(r.status == 1, "\(key): exit \(r.status)")
                    #expect(r.stderr.contains("\(name).png") && r.stderr.contains(reason), "\(key): \(r.stderr)")
                    #expect(!FileManager.default.fileExists(atPath: out + "/\(name).png"), "\(key) wrote a file")
                    continue
                }
                #expect(r.status == 0, "\(key): exit \(r.status) \(r.stderr)")
                let written = try ImageFile.read(out + "/\(name).png", options: DecodeOptions(palette: .indices))
                guard case .image(let mask) = written else { Issue.record("\(key): not an image"); continue }
                #expect(mask.width == image.width && mask.height == image.height && mask.layout == .gray, "\(key)")
                if name == "constant" { try Self.checkConstant(key, mask) }
            }
        }
    }

    /// A constant image has no structure: global thresholds and Niblack mark nothing (t is the
    /// value itself), Sauvola and adaptive mark everything (t below the value); region methods give one region, except seeded
    /// growing, whose 4 seeds split the flat image by queue order (every pixel labelled).
    static func checkConstant(_ key: String, _ mask: AnyImage) throws {
        let values: [Int] = switch mask {
        case .uint8(let m): m.samples.map(Int.init)
        case .uint16(let m): m.samples.map(Int.init)
        }
        switch key {
        case "otsu/constant", "triangle/constant", "niblack/constant", "canny-edges/constant":
            #expect(Set(values) == [0], "\(key): \(Set(values))")
        case "sauvola/constant", "adaptive/constant":
            // Sauvola's t = m·(1 − k) and adaptive's t = m − C (C = 2) sit below a flat value:
            // everything is foreground, as in scikit-image and OpenCV.
            #expect(Set(values) == [255], "\(key): \(Set(values))")
        case "grow/constant":
            #expect(!values.contains(0) && Set(values).count <= 4, "\(key): \(Set(values))")
        default:
            #expect(Set(values).count == 1, "\(key): \(Set(values))")
        }
    }

    /// Bad parameters are refused before any image is read (exit 64, the message names the
    /// option; an unreadable or malformed seed file exit 1 with file:line:column), or, for
    /// per-image problems such as seeds outside the image, per file (exit 1).
    @Test func badParameters() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try dir.write("in/a.png", ImageEncoder.png(Image<UInt8>(width: 9, height: 9, layout: .gray, repeating: 77)))
        try dir.write("seeds_out.csv", Array("100,100\n".utf8))
        try dir.write("seeds_zero.csv", Array("1,1,0\n".utf8))
        try dir.write("seeds_bad.csv", Array("1,1\n3,x\n".utf8))
        let cases: [([String], Int32, String)] = [
            (["niblack", "--window", "4"], 64, "--window must be odd and at least 3, not 4"),
            (["niblack", "--window", "1"], 64, "--window must be odd and at least 3, not 1"),
            (["niblack", "--window", "-3"], 64, "--window must be odd and at least 3, not -3"),
            (["niblack", "--k", "nan"], 64, "--k must be a finite number"),
            (["sauvola", "--r", "0"], 64, "--r must be a positive number"),
            (["sauvola", "--k", "inf"], 64, "--k must be a finite number"),
            (["adaptive", "--block-size", "2"], 64, "--block-size must be odd and at least 3, not 2"),
            (["adaptive", "--block-size", "-5"], 64, "--block-size must be odd and at least 3, not -5"),
            (["adaptive", "--offset", "inf"], 64, "--offset must be a finite number"),
            (["adaptive", "--method", "median"], 64, "'median' is invalid for '--method"),
            (["canny", "--edges-only", "--low", "5", "--high", "2"], 64, "0 <= low <= high"),
            (["canny", "--edges-only", "--low", "-1"], 64, "0 <= low <= high"),
            (["canny", "--edges-only", "--quantiles", "--low", "0.5", "--high", "1.5"], 64, "with --quantiles, --low and --high are 0...1"),
            (["canny", "--edges-only", "--sigma", "-1"], 64, "--sigma must be 0 or more, not -1"),
            (["graph", "--format", "labels", "--k", "0"], 64, "--k must be a positive number"),
            (["graph", "--format", "labels", "--k", "-300"], 64, "--k must be a positive number"),
            (["graph", "--format", "labels", "--sigma", "nan"], 64, "--sigma must be 0 or more"),
            (["graph", "--format", "labels", "--min-size", "-1"], 64, "--min-size must be 0 or more, not -1"),
            (["graph"], 64, "segment graph makes label maps"),
            (["merge", "--format", "labels", "--threshold", "-1"], 64, "--threshold must be 0 or more"),
            (["merge", "--format", "labels", "--regions", "0"], 64, "--regions must be at least 1"),
            (["merge", "--format", "labels"], 64, "Give either --threshold D or --regions N"),
            (["merge", "--format", "labels", "--regions", "2", "--grid", "0", "--initial", "grid"], 64, "--grid must be at least 1"),
            (["grow", "--format", "labels", "--auto-seeds", "0"], 64, "--auto-seeds must be at least 1"),
            (["grow", "--format", "labels", "--auto-seeds", "2", "--tolerance", "-1"], 64, "--tolerance must be 0 or more"),
            (["grow", "--format", "labels", "--seeds", dir.path + "/seeds_bad.csv"], 1, "seeds_bad.csv:2:1: expected x,y or x,y,label"),
            (["grow", "--format", "labels", "--seeds", dir.path + "/missing.csv"], 1, "missing.csv: cannot read"),
            (["grow", "--format", "labels", "--seeds", dir.path + "/seeds_out.csv"], 1, "seed 0 at (100, 100) is outside the 9x9 image"),
            (["grow", "--format", "labels", "--seeds", dir.path + "/seeds_zero.csv"], 1, "has label 0; labels must be > 0"),
            (["split-merge", "--format", "labels", "--max-std", "-1"], 64, "--max-std must be 0 or more"),
            (["split-merge", "--format", "labels", "--max-std", "5", "--min-block", "0"], 64, "--min-block must be at least 1"),
            (["otsu", "--classes", "1", "--format", "labels"], 64, "--classes must be 2...8, not 1"),
            (["otsu", "--classes", "9", "--format", "labels"], 64, "--classes must be 2...8, not 9"),
            (["otsu", "--foreground-from", "1"], 64, "--foreground-from needs --classes 3 or more"),
            (["otsu", "--classes", "3", "--foreground-from", "3"], 64, "--foreground-from must be 1...2, not 3"),
            (["otsu", "--classes", "3"], 64, "or --foreground-from I"),
            (["otsu", "--classes", "3", "--foreground-from", "1"], 1, "fewer than the 3 classes"),
        ]
        for (args, status, message) in cases {
            let r = try CLI.run(["segment"] + args + [dir.path + "/in/a.png", "-o", dir.path + "/out"])
            #expect(r.status == status, "\(args): exit \(r.status), \(r.stderr)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
            if status == 1 && !message.contains(".csv") { #expect(r.stderr.contains("a.png"), "\(args) does not name the image") }
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/out/a.png"))
    }

    /// `--format color|mean|boundaries` write RGB pictures of the input's size whose pixels follow
    /// the label map written with `--format labels`.
    @Test func pictureFormats() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        var samples = [UInt8](repeating: 20, count: 12 * 10)
        for y in 0..<10 { for x in 6..<12 { samples[y * 12 + x] = 200 } }
        try dir.write("in/a.png", ImageEncoder.png(Image<UInt8>(width: 12, height: 10, layout: .gray, samples: samples)))
        func read(_ format: String) throws -> Image<UInt8> {
            let r = try CLI.run(["segment", "graph", "--sigma", "0", "--format", format, dir.path + "/in/a.png", "-o", dir.path + "/\(format)"])
            #expect(r.status == 0, "\(format): \(r.stderr)")
            guard case .image(.uint8(let image)) = try ImageFile.read(dir.path + "/\(format)/a.png", options: DecodeOptions(palette: .indices)) else {
                throw CVSegError.invalidArgument("\(format): not an 8-bit image")
            }
            return image
        }
        let labels = try read("labels")
        #expect(Set(labels.samples).count == 2)
        let (color, mean, bounds) = (try read("color"), try read("mean"), try read("boundaries"))
        for picture in [color, mean, bounds] { #expect(picture.layout == .rgb && picture.width == 12 && picture.height == 10) }
        for i in 0..<120 {
            let c = ColorMap.color(forLabel: Int32(labels.samples[i]))
            #expect(Array(color.samples[3 * i..<3 * i + 3]) == [c.r, c.g, c.b])
            let v = samples[i]
            #expect(Array(mean.samples[3 * i..<3 * i + 3]) == [v, v, v])
            let x = i % 12
            #expect(Array(bounds.samples[3 * i..<3 * i + 3]) == (x == 5 || x == 6 ? [255, 255, 0] : [v, v, v]))
        }
    }

    /// More labels than a 16-bit PNG holds: a 24-bit RGB PNG of ids in the COCO panoptic
    /// encoding (id = R + 256·G + 65536·B), never a silent clamp; `eval partition` reads it back.
    @Test func labelsPastSixteenBitsAreRGBIds() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        var rng = SplitMix64(seed: 4)
        let noise = (0..<300 * 300).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let image = Image<UInt8>(width: 300, height: 300, layout: .gray, samples: noise)
        try dir.write("in/noise.png", ImageEncoder.png(image))
        let r = try CLI.run(["segment", "graph", "--k", "0.001", "--sigma", "0", "--min-size", "0", "--format", "labels",
                             dir.path + "/in/noise.png", "-o", dir.path + "/out"])
        #expect(r.status == 0, "\(r.stderr)")
        let expected = try felzenszwalb(image, scale: 0.001, sigma: 0, minSize: 0)
        #expect((expected.labels.max() ?? 0) > 65535)
        let decoded: DecodedImage = try ImageFile.read(dir.path + "/out/noise.png", options: DecodeOptions(palette: .indices))
        guard case .image(.uint8(let written)) = decoded, written.layout == ColorLayout.rgb else {
            Issue.record("expected an 8-bit RGB label PNG"); return
        }
        var ids = [Int32](repeating: 0, count: 300 * 300)
        for i in 0..<ids.count {
            let r = Int32(written.samples[3 * i]), g = Int32(written.samples[3 * i + 1]), b = Int32(written.samples[3 * i + 2])
            ids[i] = r | g << 8 | b << 16
        }
        #expect(ids == expected.labels)
        // The partition evaluator reads the ids: the map against itself is a perfect match.
        let e = try CLI.run(["eval", "partition", "--pred", dir.path + "/out", "--gt", dir.path + "/out", "--json", dir.path + "/p.json"])
        #expect(e.status == 0, "\(e.stderr)")
        let j = try JSON.parse(FileBytes.read(dir.path + "/p.json"), file: dir.path + "/p.json")
        #expect(j["VI"]?.doubleValue == 0 && j["covering"]?.doubleValue == 1, "\(j)")
    }
}
