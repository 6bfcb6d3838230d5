import Foundation
import Testing
import CVSegCore
import CVSegIO
import CVSegNN

/// The pedestrian detectors shipped in models/ (scripts/train-detectors): each loads with its
/// settings, and `cvseg detect METHOD` without --weights, on PennFudan's validation part
/// (train.txt lines 65–80), scores at least what Docs/Models.md reports (floors: those figures
/// rounded down to 0.01), so a change to a shipped file or to the inference path that lowers
/// the results fails here. R-CNN runs on the first 4 validation images only (a debug build
/// takes about 27 s an image for its 500 warped proposals); Docs/Models.md gives that figure too.
@Suite(.serialized) struct ShippedDetectorsTests {
    /// (method, validation images, COCO AP50 floor, COCO AP floor).
    static let shipped: [(String, Int, Double, Double)] = [
        ("faster-rcnn", 16, 0.79, 0.31), ("fast-rcnn", 16, 0.66, 0.28), ("rcnn", 4, 0.47, 0.21),
    ]

    /// Symlinks of the first `count` of PennFudan's validation images and their masks into
    /// dir/images and dir/masks.
    static func validation(into dir: String, count: Int) throws {
        let folder = ShippedModelsTests.data + "/pennfudan"
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/masks", withIntermediateDirectories: true)
        let lines = try String(contentsOfFile: folder + "/train.txt", encoding: .utf8).split(separator: "\n")
        for line in lines[64..<(64 + count)] {
            let parts = line.split(separator: "\t").map(String.init)
            try fm.createSymbolicLink(atPath: dir + "/images/" + (parts[0] as NSString).lastPathComponent, withDestinationPath: folder + "/" + parts[0])
            try fm.createSymbolicLink(atPath: dir + "/masks/" + (parts[1] as NSString).lastPathComponent, withDestinationPath: folder + "/" + parts[1])
        }
    }

    @Test(arguments: 0..<3)
    func shippedDetectorScoresWhatTheDocsSay(_ index: Int) throws {
        let (method, count, ap50Floor, apFloor) = Self.shipped[index]
        let file = CLI.packageRoot + "/models/pedestrian-\(method).safetensors"
        let detector = try Detector.load(from: file)
        #expect(detector.architecture.rawValue == method && detector.config.classes == 1)
        let meta = try #require(try Safetensors.read(file).metadata)
        #expect(meta["class_names"] == #"["pedestrian"]"# && meta["best_epoch"] != nil && meta["min_size"] == "320")
        #expect(try Safetensors.read(file).tensors.allSatisfy { $0.dtype == .f16 })

        let dir = try TempDir(); defer { dir.cleanup() }
        try Self.validation(into: dir.path + "/val", count: count)
        let d = try CLI.run(["detect", method, dir.path + "/val/images", "-o", dir.path + "/det.json", "--quiet"])
        #expect(d.status == 0, "\(d.stderr)")
        let e = try CLI.run(["eval", "det", "--pred", dir.path + "/det.json", "--gt", dir.path + "/val/masks", "--metric", "coco",
                             "--json", dir.path + "/m.json"])
        #expect(e.status == 0, "\(e.stderr)")
        let m = try JSON.parse(FileBytes.read(dir.path + "/m.json"), file: "m.json")
        let ap50 = try #require(m["AP50"]?.doubleValue), ap = try #require(m["AP"]?.doubleValue)
        #expect(ap50 >= ap50Floor && ap >= apFloor, "\(method): AP50 \(ap50), AP \(ap); Docs/Models.md says at least \(ap50Floor), \(apFloor)")
    }
}
