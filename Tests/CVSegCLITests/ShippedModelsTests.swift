import Foundation
import Testing
import CVSegCore
import CVSegIO
import CVSegNN

/// The models shipped in models/ (scripts/train-models): each loads, records its preprocessing,
/// and, run by `cvseg segment` without --weights on the validation part of its dataset, scores
/// what Docs/Models.md reports (the floors below are those figures rounded down to 0.01, so the
/// test fails if a shipped file or the inference path changes the results).
@Suite(.serialized) struct ShippedModelsTests {
    static let data = ProcessInfo.processInfo.environment["CVSEG_DATA"] ?? CLI.packageRoot + "/../shared/data"

    /// (dataset, architecture, metric floor): foreground IoU for the horses, mIoU for CamVid.
    static let shipped: [(String, String, Double)] = [
        ("horse", "fcn32s", 0.56), ("horse", "fcn16s", 0.72), ("horse", "fcn8s", 0.78), ("horse", "deconvnet", 0.73), ("horse", "dilated", 0.77),
        ("camvid", "fcn32s", 0.32), ("camvid", "fcn16s", 0.38), ("camvid", "fcn8s", 0.41), ("camvid", "deconvnet", 0.31), ("camvid", "dilated", 0.34),
    ]

    /// Symlinks of lines `first...last` of the dataset's train.txt into dir/images and dir/masks.
    static func split(_ folder: String, first: Int, last: Int, into dir: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/masks", withIntermediateDirectories: true)
        let lines = try String(contentsOfFile: folder + "/train.txt", encoding: .utf8).split(separator: "\n")
        for line in lines[(first - 1)..<last] {
            let parts = line.split(separator: "\t").map(String.init)
            let name = (parts[0] as NSString).lastPathComponent
            try fm.createSymbolicLink(atPath: dir + "/images/" + name, withDestinationPath: folder + "/" + parts[0])
            try fm.createSymbolicLink(atPath: dir + "/masks/" + name, withDestinationPath: folder + "/" + parts[1])
        }
    }

    @Test(arguments: 0..<10)
    func shippedModelScoresWhatTheDocsSay(_ index: Int) throws {
        let (dataset, arch, floor) = Self.shipped[index]
        let file = CLI.packageRoot + "/models/\(dataset)-\(arch).safetensors"
        let model = try SegmentationModel.load(from: file)
        let meta = try #require(try Safetensors.read(file).metadata)
        #expect(model.architecture == arch && model.classes == (dataset == "horse" ? 2 : 11))
        #expect(meta["input_size"] != nil && meta["normalization_mean"] != nil && meta["best_epoch"] != nil)
        #expect(try Safetensors.read(file).tensors.allSatisfy { $0.dtype == .f16 })

        let dir = try TempDir(); defer { dir.cleanup() }
        let horse = dataset == "horse"
        try Self.split(Self.data + (horse ? "/weizmann_horse" : "/camvid"), first: horse ? 97 : 33, last: horse ? 120 : 40,
                       into: dir.path + "/val")
        var segment = ["segment", arch, dir.path + "/val/images", "-o", dir.path + "/pred", "--format", "labels", "--quiet"]
        if !horse { segment += ["--model", "camvid"] }
        let s = try CLI.run(segment)
        #expect(s.status == 0, "\(s.stderr)")
        let e = try CLI.run(["eval", "seg", "--pred", dir.path + "/pred", "--gt", dir.path + "/val/masks",
                             "--num-classes", horse ? "2" : "11", "--ignore", horse ? "255" : "11", "--json", dir.path + "/m.json"])
        #expect(e.status == 0, "\(e.stderr)")
        let m = try JSON.parse(FileBytes.read(dir.path + "/m.json"), file: "m.json")
        let score = horse ? try #require(m["per_class"]?.arrayValue?[1]["IoU"]?.doubleValue) : try #require(m["mIoU"]?.doubleValue)
        #expect(score >= floor, "\(dataset)-\(arch): \(horse ? "foreground IoU" : "mIoU") \(score), Docs/Models.md says at least \(floor)")
    }
}
