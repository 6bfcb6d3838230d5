import ArgumentParser
import CVSegClassical
import CVSegCore
import CVSegIO

struct Segment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Segment images into mask PNGs.",
        subcommands: [Otsu.self])
}

extension Segment {
    struct Otsu: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Global Otsu threshold: foreground is gray > threshold.",
            discussion: """
                The threshold equals scikit-image's threshold_otsu (and OpenCV's THRESH_OTSU) on \
                8-bit images. 16-bit images are thresholded on their 16-bit histogram. Colour is \
                converted to gray first (--gray); alpha is ignored; palette images are expanded \
                to their colours.
                """)

        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions

        @Option(help: ArgumentHelp("""
            Colour to gray: bt601 (OpenCV's cvtColor weights 0.299/0.587/0.114, default) or \
            bt709 (scikit-image's rgb2gray weights 0.2125/0.7154/0.0721).
            """, valueName: "weights"))
        var gray: GrayChoice = .bt601

        @Flag(help: "Mark the dark class (gray <= threshold) as foreground instead, e.g. ink on paper.")
        var invert = false

        func run() throws {
            let (items, problems) = Inputs.plan(batch.inputs, outputRoot: batch.output, shard: batch.shard)
            let progress = Progress(total: items.count, label: "segment otsu", quiet: batch.quiet)
            let decode = DecodeOptions(palette: .expand, lenient: batch.lenient)
            let png = PNGWriteOptions(compressionLevel: mask.pngCompression)
            let (format, weights, invert) = (mask.format, gray.weights, invert)
            let statuses = BatchRunner.run(items, jobs: batch.resolvedJobs, skipExisting: batch.skipExisting,
                                           progress: progress) { item in
                let image = try ImageFile.read(item.input, options: decode).expanded()
                let labels: LabelMap
                let threshold: Int
                switch image.grayscale(weights: weights) {
                case .uint8(let g):
                    let t = try otsuThreshold(g)
                    threshold = Int(t)
                    labels = binarize(g, threshold: t, invert: invert)
                case .uint16(let g):
                    let t = try otsuThreshold(g)
                    threshold = Int(t)
                    labels = binarize(g, threshold: t, invert: invert)
                }
                try MaskWriter.write(labels, format: format, source: image, to: item.output, options: png)
                let foreground = labels.labels.reduce(0) { $0 + Int($1) }
                return FileDetails(width: image.width, height: image.height, threshold: threshold,
                                   foregroundFraction: labels.labels.isEmpty ? 0 : Double(foreground) / Double(labels.labels.count))
            }
            let summary = BatchSummary(command: "segment otsu", items: items, statuses: statuses,
                                       problems: problems, seconds: progress.elapsed)
            let status = summary.report(json: batch.json)
            if status != 0 { throw ExitCode(status) }
        }
    }
}

enum GrayChoice: String, ExpressibleByArgument, CaseIterable {
    case bt601, bt709
    var weights: GrayWeights { self == .bt601 ? .bt601 : .bt709 }
}
