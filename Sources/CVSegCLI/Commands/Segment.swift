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
                // Foreground straight as 255 for 0/255 masks: no second pass over the pixels.
                let foreground: UInt8 = format == .binary ? 255 : 1
                let result: OtsuResult
                switch image.grayscale(weights: weights) {
                case .uint8(let g): result = try otsuMask(g, invert: invert, foreground: foreground)
                case .uint16(let g): result = try otsuMask(g, invert: invert, foreground: foreground)
                }
                try MaskWriter.write(.mask(result.mask, foreground: foreground), format: format, source: image,
                                     to: item.output, options: png)
                return FileDetails(width: image.width, height: image.height, threshold: result.threshold,
                                   foregroundFraction: Double(result.foregroundPixels) / Double(max(image.width * image.height, 1)))
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

struct OtsuResult {
    let mask: Image<UInt8>
    let threshold: Int
    let foregroundPixels: Int
}

/// Otsu's threshold and mask of a gray image; the foreground count comes from the histogram.
func otsuMask<S: PixelSample>(_ gray: Image<S>, invert: Bool, foreground: UInt8) throws -> OtsuResult {
    let counts = histogram(gray)
    guard let t = otsuThreshold(histogram: counts) else {
        throw CVSegError.invalidArgument("Otsu's threshold of an empty image")
    }
    let above = counts[(t + 1)...].reduce(0, +)
    return OtsuResult(mask: binarize(gray, threshold: S(t), invert: invert, foreground: foreground), threshold: t,
                      foregroundPixels: invert ? gray.pixelCount - above : above)
}
