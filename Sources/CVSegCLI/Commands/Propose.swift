import ArgumentParser
import CVSegClassical
import CVSegCore
import CVSegIO
import Synchronization

struct Propose: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "propose",
        abstract: "Selective search region proposals (Uijlings et al. 2013) for a batch of images, as one JSON.",
        discussion: """
            Writes a JSON list with one entry per image: {"file": path relative to its input \
            root, "width", "height", "boxes": [[x, y, w, h], …]}, boxes best first (the paper's \
            ranking: hierarchy position times a seeded random number; duplicates removed). \
            --mode picks the paper's settings (single: HSV, k 100, C+T+S+F; fast: HSV and Lab, \
            k 50 and 100, C+T+S+F and T+S+F; quality: HSV, Lab, rgI, H, I, k 50/100/150/300, \
            C+T+S+F, T+S+F, F, S); --color-spaces, --ks and --similarities replace the mode's \
            lists. Images are processed one after another; the strategies of each image run on \
            --jobs threads. Results depend only on the inputs, the settings and --seed. A file \
            that cannot be read is reported and the others go on; the exit status is then 1. \
            See Docs/Proposals.md.
            """)

    @Argument(help: ArgumentHelp("Image files or folders (searched recursively for .png, .jpg, .jpeg).", valueName: "input"))
    var inputs: [String]

    @Option(name: .shortAndLong, help: ArgumentHelp("The proposals JSON to write.", valueName: "file"))
    var output: String

    @Option(help: ArgumentHelp("single, fast or quality (the paper's settings).", valueName: "mode"))
    var mode: SelectiveSearch.Mode = .fast

    @Option(help: ArgumentHelp("Colour spaces, comma-separated: rgb, hsv, lab, rgI, I, H.", valueName: "list"))
    var colorSpaces: String?

    @Option(help: ArgumentHelp("Felzenszwalb k values (also the minimum segment size), comma-separated.", valueName: "list"))
    var ks: String?

    @Option(help: ArgumentHelp("Similarity sets, comma-separated, in the paper's notation: C+T+S+F,T+S+F,F,S.", valueName: "list"))
    var similarities: String?

    @Option(help: ArgumentHelp("Seed of the ranking's random numbers.", valueName: "n"))
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: ArgumentHelp("Keep at most N boxes per image (default: all).", valueName: "N"))
    var maxBoxes: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Drop boxes narrower or lower than S pixels.", valueName: "S"))
    var minSize: Int = 0

    @Option(parsing: .unconditional, help: ArgumentHelp("Gaussian sigma of the initial graph segmentation.", valueName: "sigma"))
    var sigma: Double = 0.8

    @Option(parsing: .unconditional, help: ArgumentHelp("Threads for the strategies of an image (default: all cores).", valueName: "n"))
    var jobs: Int?

    @Option(help: ArgumentHelp("Also write each image with its top boxes drawn to this folder (the input tree mirrored, PNG).", valueName: "folder"))
    var draw: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Boxes drawn per image with --draw.", valueName: "N"))
    var drawTop: Int = 20

    @Flag(name: .shortAndLong, help: "No progress on stderr (failures are still reported).")
    var quiet = false

    @Flag(help: "Accept images that decode only with corrupt-data warnings (CRC mismatch, truncated JPEG).")
    var lenient = false

    func validate() throws {
        _ = try strategies()
        if let m = maxBoxes, m < 1 { throw ValidationError("--max-boxes must be at least 1, not \(m).") }
        if minSize < 0 { throw ValidationError("--min-size must be 0 or more, not \(minSize).") }
        if !(sigma >= 0) || !sigma.isFinite { throw ValidationError("--sigma must be 0 or more, not \(sigma).") }
        if let j = jobs, j < 1 { throw ValidationError("--jobs must be at least 1, not \(j).") }
        if drawTop < 1 { throw ValidationError("--draw-top must be at least 1, not \(drawTop).") }
    }

    func strategies() throws -> [SelectiveSearch.Strategy] {
        func list<T>(_ text: String?, _ option: String, _ parse: (String) -> T?) throws -> [T]? {
            guard let text else { return nil }
            let items = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters() }
            var out: [T] = []
            for item in items {
                guard let value = parse(item) else { throw ValidationError("--\(option): cannot read '\(item)' in '\(text)'.") }
                out.append(value)
            }
            guard !out.isEmpty else { throw ValidationError("--\(option) is empty.") }
            return out
        }
        let spaces = try list(colorSpaces, "color-spaces") { SelectiveSearch.ColorSpace(name: $0) } ?? mode.colorSpaces
        let kValues = try list(ks, "ks") { Double($0).flatMap { $0 > 0 && $0.isFinite ? $0 : nil } } ?? mode.ks
        let sets = try list(similarities, "similarities") { SelectiveSearch.Similarity(paperNotation: $0) } ?? mode.similarities
        return SelectiveSearch.strategies(colorSpaces: spaces, ks: kValues, similarities: sets)
    }

    func run() throws {
        let strategies = try strategies()
        let options = SelectiveSearch.Options(sigma: sigma, seed: seed, maxBoxes: maxBoxes, minSide: minSize,
                                              jobs: jobs ?? BatchOptions.cores)
        let (items, problems) = Inputs.plan(inputs, outputRoot: draw ?? "", shard: nil)
        let progress = Progress(total: items.count, label: "propose", quiet: quiet)
        let decode = DecodeOptions(palette: .expand, lenient: lenient)
        let entries = Mutex<[Int: JSON]>([:])
        let index = Dictionary(uniqueKeysWithValues: items.enumerated().map { ($1.input, $0) })
        let (draw, drawTop) = (draw, drawTop)
        let statuses = BatchRunner.run(items, jobs: 1, skipExisting: false, progress: progress) { item in
            let image = try ImageFile.read(item.input, options: decode).expanded()
            let boxes = try SelectiveSearch.propose(image, strategies: strategies, options: options)
            let entry = JSON.object([
                ("file", .string(item.relativePath)), ("width", .int(image.width)), ("height", .int(image.height)),
                ("boxes", .array(boxes.map { .array($0.xywh.map { .int($0) }) })),
            ])
            entries.withLock { $0[index[item.input] ?? 0] = entry }
            if draw != nil {
                try ImageFile.writeAtomically(try ImageEncoder.png(drawBoxes(Array(boxes.prefix(drawTop)), on: image.to8Bit())),
                                              to: item.output)
            }
            return FileDetails(width: image.width, height: image.height, threshold: nil, foregroundFraction: nil, regions: boxes.count)
        }
        let list = entries.withLock { e in (0..<items.count).compactMap { e[$0] } }
        // One image per line: readable, and small next to one number per line.
        let text = list.isEmpty ? "[]\n" : "[\n" + list.map { $0.text(indent: 0) }.joined(separator: ",\n") + "\n]\n"
        try FileBytes.writeAtomically(Array(text.utf8), to: output)
        let failed = reportFailures(problems, items, statuses)
        let boxes = list.reduce(0) { $0 + ($1["boxes"]?.arrayValue?.count ?? 0) }
        if !quiet {
            writeStderr("propose: \(list.count) images, \(boxes) boxes (\(strategies.count) strategies) in \(fixed(progress.elapsed, 2)) s"
                        + (failed > 0 ? ", \(failed) failed" : "") + "; wrote \(output)\n")
        }
        if failed > 0 { throw ExitCode(1) }
    }
}

/// `image` as RGB with the boxes drawn as 2-pixel outlines, the best box last (on top), each in
/// its rank's colour (``ColorMap/color(forLabel:)`` of rank + 1).
func drawBoxes(_ boxes: [SelectiveSearch.PixelBox], on image: Image<UInt8>) -> Image<UInt8> {
    let (w, h) = (image.width, image.height)
    let n = image.channels, gray = image.layout.isGray
    var out = [UInt8](repeating: 0, count: w * h * 3)
    for i in 0..<w * h {
        for c in 0..<3 { out[3 * i + c] = image.samples[i * n + (gray ? 0 : c)] }
    }
    func paint(_ x: Int, _ y: Int, _ color: RGBA) {
        guard x >= 0, y >= 0, x < w, y < h else { return }
        let i = 3 * (y * w + x)
        out[i] = color.r; out[i + 1] = color.g; out[i + 2] = color.b
    }
    for (rank, box) in boxes.enumerated().reversed() {
        let color = ColorMap.color(forLabel: Int32(rank + 1))
        let (x0, y0, x1, y1) = (Int(box.x0), Int(box.y0), Int(box.x1), Int(box.y1))
        for t in 0..<2 {
            for x in x0...x1 { paint(x, y0 + t, color); paint(x, y1 - t, color) }
            for y in y0...y1 { paint(x0 + t, y, color); paint(x1 - t, y, color) }
        }
    }
    return Image(width: w, height: h, layout: .rgb, samples: out)
}

extension SelectiveSearch.Mode: ExpressibleByArgument {}
