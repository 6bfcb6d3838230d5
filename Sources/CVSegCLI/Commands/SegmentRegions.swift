import ArgumentParser
import CVSegClassical
import CVSegCore
import CVSegIO

/// A label-map batch: read each image (palettes expanded), segment, write labels. `segment`
/// returns the labels and the number of regions they hold (label 0 is background for some
/// methods and a region for others, so each method counts).
func runLabelBatch(_ name: String, batch: BatchOptions, mask: MaskOptions,
                   segment: @escaping @Sendable (AnyImage) throws -> (labels: LabelMap, regions: Int)) throws {
    let (items, problems) = Inputs.plan(batch.inputs, outputRoot: batch.output, shard: batch.shard)
    let progress = Progress(total: items.count, label: name, quiet: batch.quiet)
    let decode = DecodeOptions(palette: .expand, lenient: batch.lenient)
    let png = PNGWriteOptions(compressionLevel: mask.pngCompression)
    let format = mask.format
    let statuses = BatchRunner.run(items, jobs: batch.resolvedJobs, skipExisting: batch.skipExisting, progress: progress) { item in
        // The decoded image is let go before the label map is encoded unless the picture is drawn
        // over it (one byte a pixel less at the peak, which is the encoding for large maps).
        let (labels, regions, width, height, source): (LabelMap, Int, Int, Int, AnyImage?) = try {
            let image = try ImageFile.read(item.input, options: decode).expanded()
            let (labels, regions) = try segment(image)
            return (labels, regions, image.width, image.height, format.drawsOverImage ? image : nil)
        }()
        try MaskWriter.write(.wide(labels), format: format, source: source, to: item.output, options: png)
        return FileDetails(width: width, height: height, threshold: nil, foregroundFraction: nil, regions: regions)
    }
    let summary = BatchSummary(command: name, items: items, statuses: statuses, problems: problems, seconds: progress.elapsed)
    let status = summary.report(json: batch.json)
    if status != 0 { throw ExitCode(status) }
}

/// Regions of a label map whose 0 means "no region".
func nonzeroRegions(_ labels: LabelMap) -> (labels: LabelMap, regions: Int) {
    let n = labels.labels.count
    // Distinct positive labels with a bitmap when they are small enough (they are 1...N for
    // every method but seeds' own labels); a set otherwise.
    let (low, high) = labels.labels.withUnsafeBufferPointer { l in
        var lo = Int32.max, hi = Int32.min
        for v in l { lo = min(lo, v); hi = max(hi, v) }
        return (lo, hi)
    }
    guard n > 0, high > 0 else { return (labels, 0) }
    guard low >= 0, Int(high) <= max(4 * n, 1 << 16) else { return (labels, Set(labels.labels).subtracting([0]).count) }
    var seen = [UInt64](repeating: 0, count: Int(high) / 64 + 1)
    var count = 0
    labels.labels.withUnsafeBufferPointer { l in
        seen.withUnsafeMutableBufferPointer { bits in
            for v in l where v != 0 {
                let i = Int(v), word = i >> 6, bit = UInt64(1) << UInt64(i & 63)
                if bits[word] & bit == 0 { bits[word] |= bit; count += 1 }
            }
        }
    }
    return (labels, count)
}

/// Seeds from a file: a JSON list of `[x, y]` or `[x, y, label]` (or `{"x", "y", "label"}`), or
/// CSV lines `x,y[,label]` (`#` comments allowed). A missing label is the seed's 1-based position.
func readSeeds(_ path: String) throws -> [Seed] {
    let bytes = try FileBytes.read(path)
    func bad(_ reason: String) -> CVSegError { .invalidContent(file: path, reason: reason) }
    if bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x09 && $0 != 0x0D }) == UInt8(ascii: "[") {
        guard let list = try JSON.parse(bytes, file: path).arrayValue else { throw bad("expected a list of seeds") }
        return try list.enumerated().map { i, item in
            let x = item.arrayValue?[0].intValue ?? item["x"]?.intValue
            let y = item.arrayValue.flatMap { $0.count > 1 ? $0[1].intValue : nil } ?? item["y"]?.intValue
            let label = item.arrayValue.flatMap { $0.count > 2 ? $0[2].intValue : nil } ?? item["label"]?.intValue ?? (i + 1)
            guard let x, let y else { throw bad("seed \(i + 1) needs integer x and y") }
            return Seed(x: x, y: y, label: Int32(clamping: label))
        }
    }
    var seeds: [Seed] = []
    for (n, line) in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let text = line.trimmingCharacters()
        if text.isEmpty || text.hasPrefix("#") { continue }
        let fields = text.split(separator: ",").map { Int($0.trimmingCharacters()) }
        guard fields.count == 2 || fields.count == 3, fields.allSatisfy({ $0 != nil }) else {
            throw CVSegError.malformed(file: path, line: n + 1, column: 1, reason: "expected x,y or x,y,label")
        }
        seeds.append(Seed(x: fields[0]!, y: fields[1]!, label: Int32(clamping: fields.count == 3 ? fields[2]! : seeds.count + 1)))
    }
    return seeds
}

extension Segment {
    struct Grow: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "grow",
            abstract: "Seeded region growing (Adams and Bischof 1994), or flood fill with --tolerance.",
            discussion: """
                Regions grow from seeds by a priority queue: the next pixel is the one closest to \
                the running mean of the region it touches (gray difference, or Euclidean RGB \
                distance; ties by queue order). Every pixel reachable from a seed gets a label. \
                With --tolerance T each seed instead floods the pixels connected to it whose value \
                is within T of the seed's (scikit-image's flood); earlier seeds win overlaps; \
                pixels no flood reaches stay 0. Seeds: --seeds FILE (JSON [[x, y, label], …] or CSV \
                x,y[,label]; the same positions for every image) or --auto-seeds N (a grid of N \
                cells, each seed moved to the flattest pixel near the cell centre).
                """)

        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions

        @Option(parsing: .unconditional, help: ArgumentHelp("Seed file: JSON [[x, y, label], …] or CSV lines x,y[,label].", valueName: "file"))
        var seeds: String?

        @Option(parsing: .unconditional, help: ArgumentHelp("Place N seeds automatically on a grid.", valueName: "N"))
        var autoSeeds: Int?

        @Option(parsing: .unconditional, help: ArgumentHelp("Flood fill instead: pixels within T of their seed's value.", valueName: "T"))
        var tolerance: Double?

        @Flag(help: "8-connected growth (default 4-connected).")
        var eight = false

        func validate() throws {
            if (seeds == nil) == (autoSeeds == nil) { throw ValidationError("Give either --seeds FILE or --auto-seeds N.") }
            if let n = autoSeeds, n < 1 { throw ValidationError("--auto-seeds must be at least 1.") }
            if let t = tolerance, !(t >= 0) || !t.isFinite { throw ValidationError("--tolerance must be 0 or more.") }
            if mask.format == .binary { throw ValidationError("segment grow makes label maps: add --format labels, palette, color, mean, boundaries or overlay.") }
        }

        func run() throws {
            let fileSeeds = try seeds.map(readSeeds)
            let (count, tolerance, connectivity) = (autoSeeds, tolerance, eight ? Connectivity.eight : .four)
            try runLabelBatch("segment grow", batch: batch, mask: mask) { image in
                switch image {
                case .uint8(let i): nonzeroRegions(try grow(i, fileSeeds: fileSeeds, count: count, tolerance: tolerance, connectivity: connectivity))
                case .uint16(let i): nonzeroRegions(try grow(i, fileSeeds: fileSeeds, count: count, tolerance: tolerance, connectivity: connectivity))
                }
            }
        }
    }

    struct SplitMerge: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "split-merge",
            abstract: "Split-and-merge (Horowitz and Pavlidis 1976) into a label map.",
            discussion: """
                Quadtree splitting while a block is not homogeneous (standard deviation or range \
                of its gray values above the limit) and larger than --min-block, then merging of \
                adjacent leaves whose union is still homogeneous, in a fixed order (leaves by y, x, \
                size). Gray images; colour is converted to gray with BT.601 first.
                """)

        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions

        @Option(parsing: .unconditional, help: ArgumentHelp("Homogeneous: standard deviation at most S (gray levels).", valueName: "S"))
        var maxStd: Double?

        @Option(parsing: .unconditional, help: ArgumentHelp("Homogeneous: max − min at most R (gray levels).", valueName: "R"))
        var maxRange: Double?

        @Option(parsing: .unconditional, help: ArgumentHelp("Smallest block side the split goes down to.", valueName: "pixels"))
        var minBlock: Int = 2

        func validate() throws {
            if (maxStd == nil) == (maxRange == nil) { throw ValidationError("Give either --max-std S or --max-range R.") }
            if let s = maxStd, !(s >= 0) || !s.isFinite { throw ValidationError("--max-std must be 0 or more, not \(s).") }
            if let r = maxRange, !(r >= 0) || !r.isFinite { throw ValidationError("--max-range must be 0 or more, not \(r).") }
            if minBlock < 1 { throw ValidationError("--min-block must be at least 1.") }
            if mask.format == .binary { throw ValidationError("segment split-merge makes label maps: add --format labels, palette, color, mean, boundaries or overlay.") }
        }

        func run() throws {
            let predicate: Homogeneity = maxStd.map { .standardDeviation($0) } ?? .range(maxRange!)
            let minBlock = minBlock
            try runLabelBatch("segment split-merge", batch: batch, mask: mask) { image in
                switch image.grayscale() {
                case .uint8(let g): nonzeroRegions(try splitAndMerge(g, predicate: predicate, minBlock: minBlock))
                case .uint16(let g): nonzeroRegions(try splitAndMerge(g, predicate: predicate, minBlock: minBlock))
                }
            }
        }
    }
}

private func grow<S: PixelSample>(_ image: Image<S>, fileSeeds: [Seed]?, count: Int?, tolerance: Double?,
                                  connectivity: Connectivity) throws -> LabelMap {
    let seeds = try fileSeeds ?? autoSeeds(image, count: count ?? 1)
    guard let tolerance else { return try seededRegionGrowing(image, seeds: seeds, connectivity: connectivity) }
    return try floodFillLabels(image, seeds: seeds, tolerance: tolerance, connectivity: connectivity)
}
