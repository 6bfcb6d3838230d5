import Foundation
import Testing
import CVSegCore
import CVSegIO

/// `cvseg segment otsu` end to end: the real binary on a folder tree with a broken file in it.
@Suite(.serialized) struct SegmentOtsuTests {
    /// in/a.png, in/sub/b.jpg, in/sub/deeper/c.png (RGB), in/sub/broken.png, in/notes.txt
    static func makeTree(_ dir: TempDir) throws {
        try dir.write("in/a.png", ImageEncoder.png(testImage(width: 40, height: 30, seed: 1)))
        try dir.write("in/sub/b.jpg", ImageEncoder.jpeg(testImage(width: 48, height: 32, seed: 2), quality: 95))
        let gray = testImage(width: 24, height: 20, seed: 3)
        let rgb = Image<UInt8>(width: 24, height: 20, layout: .rgb, samples: gray.samples.flatMap { [$0, $0 / 2, $0] })
        try dir.write("in/sub/deeper/c.png", ImageEncoder.png(rgb))
        let good = try ImageEncoder.png(testImage(width: 40, height: 30, seed: 4))
        try dir.write("in/sub/broken.png", Array(good.prefix(good.count / 2)))
        try dir.write("in/notes.txt", Array("not an image".utf8))
    }

    @Test func mirrorsTheTreeAndReportsTheBrokenFile() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeTree(dir)
        let r = try CLI.run(["segment", "otsu", dir.path + "/in", "-o", dir.path + "/out", "--json", "--jobs", "2"])
        #expect(r.status == 1)
        #expect(dir.files("out") == ["a.png", "sub/b.png", "sub/deeper/c.png"])
        let summary = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect(summary["written"] as? Int == 3)
        #expect(summary["failed"] as? Int == 1)
        let failures = summary["failures"] as! [[String: Any]]
        #expect(failures.count == 1)
        #expect((failures[0]["input"] as! String).hasSuffix("in/sub/broken.png"))
        #expect((failures[0]["error"] as! String).contains("truncated"))
        #expect(r.stderr.contains("FAILED") && r.stderr.contains("broken.png"))
        // The masks are 0/255 gray and the rectangle is found.
        guard case .image(.uint8(let mask)) = try ImageFile.read(dir.path + "/out/a.png", options: DecodeOptions(palette: .expand)) else {
            Issue.record("mask is not 8-bit"); return
        }
        #expect(mask.layout == .gray && mask.width == 40 && mask.height == 30)
        #expect(Set(mask.samples) == [0, 255])
        #expect(mask[20, 15] == 255 && mask[2, 2] == 0)
        let files = summary["files"] as! [[String: Any]]
        let details = files[0]["details"] as! [String: Any]
        #expect((details["threshold"] as! Int) > 60 && (details["threshold"] as! Int) < 180)
    }

    @Test func outputIsByteIdenticalWhateverTheJobCount() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeTree(dir)
        for jobs in ["1", "2", "5"] {
            _ = try CLI.run(["segment", "otsu", dir.path + "/in", "-o", dir.path + "/out\(jobs)", "--jobs", jobs, "--quiet"])
        }
        for name in dir.files("out1") {
            let one = try FileBytes.read(dir.path + "/out1/" + name)
            #expect(try FileBytes.read(dir.path + "/out2/" + name) == one)
            #expect(try FileBytes.read(dir.path + "/out5/" + name) == one)
        }
        #expect(dir.files("out1").count == 3 && dir.files("out1") == dir.files("out5"))
    }

    @Test func skipExistingLeavesOutputsAlone() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.makeTree(dir)
        try dir.write("out/a.png", [1, 2, 3]) // a stale file that must survive
        let r = try CLI.run(["segment", "otsu", dir.path + "/in", "-o", dir.path + "/out", "--skip-existing", "--json"])
        let summary = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect(summary["skipped"] as? Int == 1 && summary["written"] as? Int == 2)
        #expect(try FileBytes.read(dir.path + "/out/a.png") == [1, 2, 3])
    }

    @Test func shardsPartitionTheBatch() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        for i in 0..<12 { try dir.write("in/img\(i).png", ImageEncoder.png(testImage(width: 8, height: 8, seed: UInt64(i)))) }
        var seen: [String] = []
        for k in 1...3 {
            let r = try CLI.run(["segment", "otsu", dir.path + "/in", "-o", dir.path + "/s\(k)", "--shard", "\(k)/3", "--quiet"])
            #expect(r.status == 0)
            seen += dir.files("s\(k)")
        }
        #expect(seen.sorted() == (0..<12).map { "img\($0).png" }.sorted())
        // Stable: the same shard again gives the same files.
        _ = try CLI.run(["segment", "otsu", dir.path + "/in", "-o", dir.path + "/again", "--shard", "2/3", "--quiet"])
        #expect(dir.files("again") == dir.files("s2"))
    }

    @Test func formatsLabelsPaletteOverlay() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try dir.write("in/a.png", ImageEncoder.png(testImage(width: 40, height: 30, seed: 1)))
        for format in ["binary", "labels", "palette", "overlay"] {
            let r = try CLI.run(["segment", "otsu", dir.path + "/in/a.png", "-o", dir.path + "/\(format)", "--format", format])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let file = "/a.png"
        guard case .image(.uint8(let binary)) = try ImageFile.read(dir.path + "/binary" + file, options: DecodeOptions(palette: .indices)),
              case .image(.uint8(let labels)) = try ImageFile.read(dir.path + "/labels" + file, options: DecodeOptions(palette: .indices)),
              case .indexed(let palette) = try ImageFile.read(dir.path + "/palette" + file, options: DecodeOptions(palette: .indices)),
              case .image(.uint8(let overlay)) = try ImageFile.read(dir.path + "/overlay" + file, options: DecodeOptions(palette: .expand))
        else { Issue.record("unexpected mask kinds"); return }
        #expect(labels.samples == binary.samples.map { $0 / 255 })
        #expect(palette.indices.samples == labels.samples)
        #expect(palette.palette == ColorMap.pascalVOC)
        #expect(overlay.layout == .rgb && overlay.width == 40)
        // A foreground pixel is tinted towards VOC red (128, 0, 0); a background one stays gray.
        let fg = (15 * 40 + 20) * 3, bg = (2 * 40 + 2) * 3
        #expect(overlay.samples[fg] > overlay.samples[fg + 1])
        #expect(overlay.samples[bg] == overlay.samples[bg + 1])
    }

    @Test func sixteenBitInputUsesItsSixteenBitHistogram() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        // Two classes 1000 apart inside one 8-bit step: only a 16-bit threshold separates them.
        let samples: [UInt16] = (0..<64).map { $0 < 24 ? 30_000 : 30_100 }
        try dir.write("in/deep.png", ImageEncoder.png(Image(width: 8, height: 8, layout: .gray, samples: samples)))
        let r = try CLI.run(["segment", "otsu", dir.path + "/in", "-o", dir.path + "/out", "--json", "--format", "labels"])
        let summary = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let details = (summary["files"] as! [[String: Any]])[0]["details"] as! [String: Any]
        #expect(details["threshold"] as? Int == 30_000)
        guard case .image(.uint8(let mask)) = try ImageFile.read(dir.path + "/out/deep.png", options: DecodeOptions(palette: .indices)) else {
            Issue.record("no mask"); return
        }
        #expect(mask.samples == samples.map { $0 > 30_000 ? 1 : 0 })
    }

    @Test func missingInputFailsButOthersRun() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try dir.write("in/a.png", ImageEncoder.png(testImage(width: 8, height: 8, seed: 1)))
        let r = try CLI.run(["segment", "otsu", dir.path + "/nope", dir.path + "/in", "-o", dir.path + "/out"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("nope: No such file or directory"))
        #expect(dir.files("out") == ["a.png"])
        #expect(r.stdout.contains("segment otsu: 1 written, 1 failed"))
    }

    @Test func collidingOutputsAreReportedNotOverwritten() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try dir.write("in/x.png", ImageEncoder.png(testImage(width: 8, height: 8, seed: 1)))
        try dir.write("in/x.jpg", ImageEncoder.jpeg(testImage(width: 8, height: 8, seed: 2)))
        let r = try CLI.run(["segment", "otsu", dir.path + "/in", "-o", dir.path + "/out", "--quiet"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("would overwrite the output of"))
        #expect(dir.files("out") == ["x.png"])
    }

    @Test func symlinkLoopsAreReportedAndTheWalkEnds() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try dir.write("in/d/x.png", ImageEncoder.png(testImage(width: 8, height: 8, seed: 1)))
        #expect(symlink("..", dir.path + "/in/d/up") == 0)
        #expect(symlink("..", dir.path + "/in/d/up2") == 0)
        let r = try CLI.run(["segment", "otsu", dir.path + "/in", "-o", dir.path + "/out", "--quiet"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("symbolic link loop"))
        #expect(dir.files("out") == ["d/x.png"])
    }

    @Test func nonUTF8NamesAreReportedNotDropped() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try dir.write("in/good.png", ImageEncoder.png(testImage(width: 8, height: 8, seed: 1)))
        let png = try ImageEncoder.png(testImage(width: 8, height: 8, seed: 2))
        var name = Array((dir.path + "/in/bad").utf8) + [0xFF] + Array(".png".utf8) + [0]
        let fd = name.withUnsafeMutableBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { open($0, O_CREAT | O_WRONLY, 0o644) }
        }
        #expect(fd >= 0)
        _ = png.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let r = try CLI.run(["segment", "otsu", dir.path + "/in", "-o", dir.path + "/out", "--json"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("not valid UTF-8"))
        #expect(dir.files("out") == ["good.png"])
    }

    @Test func outputInsideOrEqualToTheInputIsSafe() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let original = try ImageEncoder.png(testImage(width: 8, height: 8, seed: 1))
        try dir.write("in/a.png", original)
        // -o equal to the input folder: refused per file, the image is untouched.
        let same = try CLI.run(["segment", "otsu", dir.path + "/in", "-o", dir.path + "/in", "--quiet"])
        #expect(same.status == 1)
        #expect(same.stderr.contains("is the input itself"))
        #expect(try FileBytes.read(dir.path + "/in/a.png") == original)
        // -o inside the input folder: the second run does not segment the first run's masks.
        for _ in 0..<2 {
            let r = try CLI.run(["segment", "otsu", dir.path + "/in", "-o", dir.path + "/in/masks", "--json"])
            #expect(r.status == 0)
            #expect(r.stdout.contains("\"inputs\" : 1") || r.stdout.contains("\"inputs\": 1"))
        }
        #expect(dir.files("in") == ["a.png", "masks/a.png"])
        let empty = try CLI.run(["segment", "otsu", dir.path + "/in", "-o", ""])
        #expect(empty.status == 64)
    }

    @Test func collisionsAreFoundWhateverTheShard() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try dir.write("in/a.png", ImageEncoder.png(testImage(width: 8, height: 8, seed: 1)))
        try dir.write("in/a.jpeg", ImageEncoder.jpeg(testImage(width: 8, height: 8, seed: 2)))
        var statuses: [Int32] = []
        for k in 1...2 {
            let r = try CLI.run(["segment", "otsu", dir.path + "/in", "-o", dir.path + "/out", "--shard", "\(k)/2", "--quiet"])
            statuses.append(r.status)
        }
        // Both inputs map to out/a.png, so they share a shard, and that shard reports the clash.
        #expect(statuses.sorted() == [0, 1])
        #expect(dir.files("out") == ["a.png"])
    }

    @Test func otherThresholdMethodsRunEndToEnd() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try dir.write("in/a.png", ImageEncoder.png(testImage(width: 40, height: 30, seed: 1)))
        let multi = try CLI.run(["segment", "otsu", dir.path + "/in", "-o", dir.path + "/m", "--classes", "3",
                                 "--format", "labels", "--json"])
        #expect(multi.status == 0, "\(multi.stderr)")
        let summary = try JSON.parse(Array(multi.stdout.utf8), file: "stdout")
        let thresholds = summary["files"]?.arrayValue?.first?["details"]?["thresholds"]?.arrayValue?.compactMap(\.intValue) ?? []
        #expect(thresholds.count == 2)
        guard case .image(.uint8(let labels)) = try ImageFile.read(dir.path + "/m/a.png", options: DecodeOptions(palette: .indices)) else {
            Issue.record("no label image"); return
        }
        #expect(Set(labels.samples).isSubset(of: [0, 1, 2]) && Set(labels.samples).count >= 2)
        for arguments in [["triangle"], ["niblack", "--k", "-0.2", "--window", "25"], ["sauvola", "--window", "15", "--r", "128"],
                          ["adaptive", "--method", "gaussian", "--block-size", "11", "--offset", "-5"]] {
            let r = try CLI.run(["segment"] + arguments + [dir.path + "/in", "-o", dir.path + "/" + arguments[0], "--quiet"])
            #expect(r.status == 0, "\(arguments): \(r.stderr)")
            #expect(dir.files(arguments[0]) == ["a.png"])
        }
    }

    @Test func graphSegmentationWritesLabelMaps() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try dir.write("in/a.png", ImageEncoder.png(testImage(width: 40, height: 30, seed: 1)))
        let r = try CLI.run(["segment", "graph", dir.path + "/in", "-o", dir.path + "/g", "--k", "300", "--sigma", "0.5",
                             "--min-size", "20", "--format", "labels", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let regions = try JSON.parse(Array(r.stdout.utf8), file: "stdout")["files"]?.arrayValue?.first?["details"]?["regions"]?.intValue
        guard case .image(.uint8(let labels)) = try ImageFile.read(dir.path + "/g/a.png", options: DecodeOptions(palette: .indices)) else {
            Issue.record("no label map"); return
        }
        // The bright rectangle and the background at least; labels 0..<regions, all used.
        #expect((regions ?? 0) >= 2)
        #expect(Set(labels.samples) == Set((0..<(regions ?? 0)).map { UInt8($0) }))
        let binary = try CLI.run(["segment", "graph", dir.path + "/in", "-o", dir.path + "/b"])
        #expect(binary.status == 64)
        #expect(binary.stderr.contains("makes label maps"))
    }

    /// Odd images through every method: 1×1, 1×N, N×1, constant, RGBA, 16-bit. Each gives a mask
    /// or a clear per-file error; none crashes and the batch always finishes.
    @Test func oddImagesThroughEveryMethod() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try dir.write("in/one.png", ImageEncoder.png(Image<UInt8>(width: 1, height: 1, layout: .gray, samples: [7])))
        try dir.write("in/row.png", ImageEncoder.png(Image<UInt8>(width: 9, height: 1, layout: .gray, samples: (0..<9).map { UInt8($0 * 20) })))
        try dir.write("in/column.png", ImageEncoder.png(Image<UInt8>(width: 1, height: 9, layout: .gray, samples: (0..<9).map { UInt8($0 * 20) })))
        try dir.write("in/flat.png", ImageEncoder.png(Image<UInt8>(width: 6, height: 5, layout: .gray, repeating: 128)))
        try dir.write("in/rgba.png", ImageEncoder.png(Image<UInt8>(width: 4, height: 4, layout: .rgba,
                                                                   samples: (0..<64).map { UInt8(($0 * 37) % 256) })))
        try dir.write("in/deep.png", ImageEncoder.png(Image<UInt16>(width: 5, height: 3, layout: .gray,
                                                                    samples: (0..<15).map { UInt16($0 * 4000) })))
        let methods: [[String]] = [["otsu"], ["otsu", "--classes", "3", "--format", "labels"], ["triangle"], ["niblack", "--window", "3"],
                                   ["sauvola", "--window", "5"], ["adaptive", "--block-size", "3"],
                                   ["graph", "--format", "labels", "--k", "10", "--min-size", "2"],
                                   ["canny", "--format", "labels", "--to-8bit"], ["canny", "--edges-only", "--sigma", "1", "--to-8bit"],
                                   ["grow", "--auto-seeds", "1", "--format", "labels"],
                                   ["split-merge", "--max-range", "10", "--format", "labels"],
                                   ["merge", "--regions", "2", "--format", "labels"],
                                   ["merge", "--initial", "grid", "--grid", "2", "--threshold", "30", "--format", "labels"]]
        for method in methods {
            let r = try CLI.run(["segment"] + method + [dir.path + "/in", "-o", dir.path + "/out-" + method.joined(), "--json"])
            let summary = try JSON.parse(Array(r.stdout.utf8), file: "stdout")
            let written = summary["written"]?.intValue ?? -1, failed = summary["failed"]?.intValue ?? -1
            #expect(written + failed == 6, "\(method): \(r.stdout)")
            #expect(r.status == (failed > 0 ? 1 : 0))
            // Failures are explained, never a crash: each names its file.
            for failure in summary["failures"]?.arrayValue ?? [] {
                let text = failure["error"]?.stringValue ?? ""
                #expect(!text.isEmpty, "\(method)")
            }
        }
        // Expected refusals: multi-level Otsu on images with fewer values than classes, and the
        // adaptive threshold on 16-bit input; everything else is written.
        let adaptive = try CLI.run(["segment", "adaptive", "--block-size", "3", dir.path + "/in", "-o", dir.path + "/a2", "--json"])
        #expect(adaptive.stdout.contains("this one is 16-bit"))
        let multi = try CLI.run(["segment", "otsu", "--classes", "3", "--format", "labels", dir.path + "/in", "-o", dir.path + "/m2", "--json"])
        #expect(multi.stdout.contains("fewer than the 3 classes"))
    }

    @Test func regionGrowingAndSplitMergeFromTheCommandLine() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try dir.write("in/a.png", ImageEncoder.png(testImage(width: 40, height: 30, seed: 1)))
        try dir.write("seeds.csv", Array("# x,y,label\n2,2,1\n20,15,2\n".utf8))
        let grow = try CLI.run(["segment", "grow", dir.path + "/in", "-o", dir.path + "/g", "--seeds", dir.path + "/seeds.csv",
                                "--format", "labels"])
        #expect(grow.status == 0, "\(grow.stderr)")
        guard case .image(.uint8(let labels)) = try ImageFile.read(dir.path + "/g/a.png", options: DecodeOptions(palette: .indices)) else {
            Issue.record("no label map"); return
        }
        // The seed in the bright rectangle grows over it; the other over the background.
        #expect(labels[20, 15] == 2 && labels[2, 2] == 1 && Set(labels.samples) == [1, 2])
        try dir.write("bad.csv", Array("2,2\n99,1\n".utf8))
        let outside = try CLI.run(["segment", "grow", dir.path + "/in", "-o", dir.path + "/g2", "--seeds", dir.path + "/bad.csv",
                                   "--format", "labels"])
        #expect(outside.status == 1)
        #expect(outside.stderr.contains("a.png"))
        let split = try CLI.run(["segment", "split-merge", dir.path + "/in", "-o", dir.path + "/s", "--max-range", "40",
                                 "--format", "labels", "--json"])
        #expect(split.status == 0, "\(split.stderr)")
        let regions = try JSON.parse(Array(split.stdout.utf8), file: "stdout")["files"]?.arrayValue?.first?["details"]?["regions"]?.intValue
        #expect((regions ?? 0) >= 2)
        let neither = try CLI.run(["segment", "grow", dir.path + "/in", "-o", dir.path + "/x", "--format", "labels"])
        #expect(neither.status == 64)
        // Region merging down to two regions separates the bright rectangle from the background.
        let merged = try CLI.run(["segment", "merge", dir.path + "/in", "-o", dir.path + "/m", "--initial", "grid", "--grid", "5",
                                  "--regions", "2", "--format", "labels"])
        #expect(merged.status == 0, "\(merged.stderr)")
        guard case .image(.uint8(let two)) = try ImageFile.read(dir.path + "/m/a.png", options: DecodeOptions(palette: .indices)) else {
            Issue.record("no label map"); return
        }
        #expect(Set(two.samples) == [1, 2] && two[20, 15] != two[2, 2])
    }
}

/// The words of the command line: help, usage errors and their exit codes.
@Suite struct CLIWordsTests {
    @Test func helpListsEveryOptionWithItsDefault() throws {
        let r = try CLI.run(["segment", "otsu", "--help"])
        #expect(r.status == 0)
        for option in ["--output", "--jobs", "--skip-existing", "--shard <K/N>", "--json", "--quiet", "--lenient",
                       "--format <format>", "--png-compression <level>", "--gray <weights>", "--invert",
                       "default: binary)", "default: bt601)", "(default: 1)"] {
            #expect(r.stdout.contains(option), "help lacks \(option)")
        }
    }

    @Test(arguments: [
        (["segment", "otsu", "x", "-o", "y", "--jobs", "0"], "--jobs must be at least 1"),
        (["segment", "otsu", "x", "-o", "y", "--shard", "4/3"], "--shard"),
        (["segment", "otsu", "x", "-o", "y", "--format", "jpeg"], "--format"),
        (["segment", "otsu", "x", "-o", "y", "--png-compression", "12"], "--png-compression must be 0...9"),
        (["segment", "otsu", "x"], "--output"),
        (["eval", "seg", "--pred", "a", "--gt", "b"], "Give --binary or --num-classes K"),
        (["segment", "otsu", "x", "-o", "y", "--classes", "3"], "--classes 3 makes labels"),
        (["segment", "sauvola", "x", "-o", "y", "--window", "4"], "--window must be odd"),
        (["segment", "adaptive", "x", "-o", "y", "--block-size", "1"], "--block-size must be odd"),
        (["eval", "seg", "--pred", "a", "--gt", "b", "--num-classes", "65536"], "--num-classes must be 1...1024"),
    ])
    func usageErrorsExit64(arguments: [String], message: String) throws {
        let r = try CLI.run(arguments)
        #expect(r.status == 64)
        #expect(r.stderr.contains(message), "stderr: \(r.stderr)")
    }
}

@Suite struct EvalSegCLITests {
    @Test func binaryEvaluationOfSamples() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        // Ground truth 0/255, prediction 0/1 for the same picture with one wrong pixel.
        var truth = Image<UInt8>(width: 4, height: 2, layout: .gray, samples: [0, 255, 255, 0, 0, 255, 255, 0])
        try dir.write("gt/img.png", ImageEncoder.png(truth))
        truth.samples[0] = 255
        try dir.write("pred/img.png", ImageEncoder.png(Image(width: 4, height: 2, layout: .gray, samples: truth.samples.map { $0 / 255 })))
        let r = try CLI.run(["eval", "seg", "--pred", dir.path + "/pred", "--gt", dir.path + "/gt", "--binary",
                             "--json", dir.path + "/m.json"])
        #expect(r.status == 0, "\(r.stderr)")
        // TP 4, FP 1, FN 0: IoU 0.8, F1 8/9.
        #expect(r.stdout.contains("IoU 0.8000"))
        let m = try JSON.parse(FileBytes.read(dir.path + "/m.json"), file: "m.json")
        #expect(abs((m["foreground"]?["F1"]?.doubleValue ?? 0) - 8.0 / 9.0) < 1e-12)
        #expect(m["per_class"]?.arrayValue?.count == 2)
        #expect(m["confusion"]?.arrayValue?[0].arrayValue?.compactMap(\.intValue) == [3, 1])
    }
}
