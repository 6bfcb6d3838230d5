import ArgumentParser
import CVSegClassical
import CVSegCore
import CVSegIO

struct Segment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Segment images into mask PNGs.",
        subcommands: [Otsu.self, Triangle.self, Niblack.self, Sauvola.self, Adaptive.self, Canny.self, Graph.self, Merge.self, Grow.self, SplitMerge.self,
                      FCN8s.self, FCN16s.self, FCN32s.self, Deconv.self, Dilated.self])
}

/// How colour becomes gray, and which class is foreground, for the threshold methods.
struct GrayOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("""
        Colour to gray: bt601 (OpenCV's cvtColor weights 0.299/0.587/0.114, default) or \
        bt709 (scikit-image's rgb2gray weights 0.2125/0.7154/0.0721).
        """, valueName: "weights"))
    var gray: GrayChoice = .bt601

    @Flag(help: "Mark the dark class (gray <= threshold) as foreground instead, e.g. ink on paper.")
    var invert = false

    @Flag(name: .customLong("to-8bit"),
          help: ArgumentHelp("Reduce 16-bit images to 8 bits (v >> 8) before thresholding; by default they keep all 16 bits."))
    var to8Bit = false
}

enum GrayChoice: String, ExpressibleByArgument, CaseIterable {
    case bt601, bt709
    var weights: GrayWeights { self == .bt601 ? .bt601 : .bt709 }
}

/// A gray-image method's result: the mask (foreground pixels hold the requested value) and, for
/// global thresholds, the threshold.
struct GrayMask {
    let mask: Image<UInt8>
    let threshold: Int?
    let foregroundPixels: Int?
    /// Set for label images (several classes): the mask holds labels 0..<K, not a binary mask.
    var thresholds: [Int]? = nil
}

/// The batch every gray-threshold method shares: read, convert to gray, segment, write the mask
/// in the chosen format, report. `segment` gets the gray image, the foreground value to write
/// (255 for 0/255 masks, so no second pass is needed, else 1) and `--invert`.
func runGrayMaskBatch(_ name: String, batch: BatchOptions, mask: MaskOptions, gray: GrayOptions,
                      segment: @escaping @Sendable (AnyImage, UInt8, Bool) throws -> GrayMask) throws {
    let (items, problems) = Inputs.plan(batch.inputs, outputRoot: batch.output, shard: batch.shard)
    let progress = Progress(total: items.count, label: name, quiet: batch.quiet)
    let decode = DecodeOptions(palette: .expand, lenient: batch.lenient)
    let png = PNGWriteOptions(compressionLevel: mask.pngCompression)
    let (format, weights, invert, to8Bit) = (mask.format, gray.gray.weights, gray.invert, gray.to8Bit)
    let statuses = BatchRunner.run(items, jobs: batch.resolvedJobs, skipExisting: batch.skipExisting,
                                   progress: progress) { item in
        let image = try ImageFile.read(item.input, options: decode).expanded()
        let foreground: UInt8 = format == .binary ? 255 : 1
        let grayImage = image.grayscale(weights: weights)
        let result = try segment(to8Bit ? .uint8(grayImage.to8Bit()) : grayImage, foreground, invert)
        let labels: MaskLabels = result.thresholds == nil ? .mask(result.mask, foreground: foreground) : .bytes(result.mask)
        try MaskWriter.write(labels, format: format, source: image, to: item.output, options: png)
        let count = result.foregroundPixels ?? result.mask.nonzeroCount
        return FileDetails(width: image.width, height: image.height, threshold: result.threshold,
                           foregroundFraction: result.thresholds == nil ? Double(count) / Double(max(image.width * image.height, 1)) : nil,
                           thresholds: result.thresholds)
    }
    let summary = BatchSummary(command: name, items: items, statuses: statuses, problems: problems, seconds: progress.elapsed)
    let status = summary.report(json: batch.json)
    if status != 0 { throw ExitCode(status) }
}

/// A global threshold's mask; the foreground count comes from the histogram.
func globalMask<S: PixelSample>(_ gray: Image<S>, invert: Bool, foreground: UInt8,
                                threshold: ([Int]) throws -> Int?) throws -> GrayMask {
    let counts = histogram(gray)
    guard let t = try threshold(counts) else { throw CVSegError.invalidArgument("the threshold of an empty image") }
    let above = counts[(t + 1)...].reduce(0, +)
    return GrayMask(mask: binarize(gray, threshold: S(t), invert: invert, foreground: foreground), threshold: t,
                    foregroundPixels: invert ? gray.pixelCount - above : above)
}

/// A local threshold's mask at the image's own bit depth.
func localMask(_ image: AnyImage, window: Int, rule: LocalThreshold, invert: Bool, foreground: UInt8) throws -> GrayMask {
    let mask: Image<UInt8>
    switch image {
    case .uint8(let g): mask = try localThreshold(g, window: window, rule: rule, invert: invert, foreground: foreground)
    case .uint16(let g): mask = try localThreshold(g, window: window, rule: rule, invert: invert, foreground: foreground)
    }
    return GrayMask(mask: mask, threshold: nil, foregroundPixels: nil)
}

extension Segment {
    struct Otsu: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "otsu",
            abstract: "Global Otsu threshold: foreground is gray > threshold.",
            discussion: """
                The threshold equals scikit-image's threshold_otsu (and OpenCV's THRESH_OTSU) on \
                8-bit images. 16-bit images are thresholded on their 16-bit histogram. Colour is \
                converted to gray first (--gray); alpha is ignored; palette images are expanded \
                to their colours.
                """)

        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions
        @OptionGroup var gray: GrayOptions

        @Option(parsing: .unconditional, help: ArgumentHelp("""
            Number of classes K: 2 is Otsu's threshold; K > 2 is multi-level Otsu (scikit-image's \
            threshold_multiotsu), writing labels 0..<K (label = thresholds the value is above); \
            use --format labels, palette, color, mean, boundaries or overlay.
            """, valueName: "K"))
        var classes: Int = 2

        @Option(parsing: .unconditional, help: ArgumentHelp("""
            With --classes K > 2: write a two-class mask whose foreground is the classes I…K−1 \
            (gray above the I-th multi-level threshold), e.g. 1 to separate the darkest class.
            """, valueName: "I"))
        var foregroundFrom: Int?

        func validate() throws {
            if !(2...8).contains(classes) { throw ValidationError("--classes must be 2...8, not \(classes).") }
            if let i = foregroundFrom {
                if classes == 2 { throw ValidationError("--foreground-from needs --classes 3 or more.") }
                if !(1..<classes).contains(i) { throw ValidationError("--foreground-from must be 1...\(classes - 1), not \(i).") }
                return
            }
            if classes > 2 && mask.format == .binary {
                throw ValidationError("--classes \(classes) makes labels: add --format labels, palette, color, mean, boundaries or overlay, or --foreground-from I.")
            }
            if classes > 2 && gray.invert { throw ValidationError("--invert applies to two classes only (or with --foreground-from).") }
        }

        func run() throws {
            let classes = classes
            if let from = foregroundFrom {
                try runGrayMaskBatch("segment otsu", batch: batch, mask: mask, gray: gray) { image, foreground, invert in
                    switch image {
                    case .uint8(let g):
                        try globalMask(g, invert: invert, foreground: foreground) { try multiOtsuThresholds(histogram: $0, classes: classes)[from - 1] }
                    case .uint16(let g):
                        try globalMask(g, invert: invert, foreground: foreground) { try multiOtsuThresholds(histogram: $0, classes: classes)[from - 1] }
                    }
                }
                return
            }
            if classes > 2 {
                try runGrayMaskBatch("segment otsu", batch: batch, mask: mask, gray: gray) { image, _, _ in
                    switch image {
                    case .uint8(let g):
                        let t = try multiOtsuThresholds(histogram: histogram(g), classes: classes)
                        return GrayMask(mask: multiThresholdLabels(g, thresholds: t), threshold: nil, foregroundPixels: nil, thresholds: t)
                    case .uint16(let g):
                        let t = try multiOtsuThresholds(histogram: histogram(g), classes: classes)
                        return GrayMask(mask: multiThresholdLabels(g, thresholds: t), threshold: nil, foregroundPixels: nil, thresholds: t)
                    }
                }
                return
            }
            try runGrayMaskBatch("segment otsu", batch: batch, mask: mask, gray: gray) { image, foreground, invert in
                switch image {
                case .uint8(let g): try globalMask(g, invert: invert, foreground: foreground, threshold: otsuThreshold(histogram:))
                case .uint16(let g): try globalMask(g, invert: invert, foreground: foreground, threshold: otsuThreshold(histogram:))
                }
            }
        }
    }

    struct Triangle: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "triangle",
            abstract: "Triangle threshold (Zack et al.): foreground is gray > threshold.",
            discussion: """
                Equal to scikit-image's threshold_triangle. Suits images with one dominant peak \
                and a long tail (sparse bright objects). 16-bit images use their 16-bit histogram.
                """)

        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions
        @OptionGroup var gray: GrayOptions

        func run() throws {
            try runGrayMaskBatch("segment triangle", batch: batch, mask: mask, gray: gray) { image, foreground, invert in
                switch image {
                case .uint8(let g): try globalMask(g, invert: invert, foreground: foreground, threshold: triangleThreshold(histogram:))
                case .uint16(let g): try globalMask(g, invert: invert, foreground: foreground, threshold: triangleThreshold(histogram:))
                }
            }
        }
    }

    /// Options of the local (window) thresholds.
    struct WindowOptions: ParsableArguments {
        @Option(parsing: .unconditional, help: ArgumentHelp("Side of the square window in pixels, odd, at least 3.", valueName: "pixels"))
        var window: Int = 15

        func validate() throws {
            if window < 3 || window % 2 == 0 { throw ValidationError("--window must be odd and at least 3, not \(window).") }
        }
    }

    struct Niblack: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "niblack",
            abstract: "Niblack local threshold t = m - k·s over a window: foreground is gray > t.",
            discussion: "Equal to scikit-image's threshold_niblack; cost independent of the window size.")

        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions
        @OptionGroup var gray: GrayOptions
        @OptionGroup var windowOptions: WindowOptions

        @Option(parsing: .unconditional, // k may be negative
                help: ArgumentHelp("Weight k of the local standard deviation (scikit-image's default 0.2).", valueName: "k"))
        var k: Double = 0.2

        func validate() throws {
            if !k.isFinite { throw ValidationError("--k must be a finite number, not \(k).") }
        }

        func run() throws {
            let (window, k) = (windowOptions.window, k)
            try runGrayMaskBatch("segment niblack", batch: batch, mask: mask, gray: gray) { image, foreground, invert in
                try localMask(image, window: window, rule: .niblack(k: k), invert: invert, foreground: foreground)
            }
        }
    }

    struct Sauvola: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sauvola",
            abstract: "Sauvola local threshold t = m·(1 + k·(s/r − 1)): foreground is gray > t.",
            discussion: """
                Equal to scikit-image's threshold_sauvola; cost independent of the window size. For \
                documents, foreground (gray > t) is the paper: the masks follow the DIBCO convention \
                (ink 0) as they are.
                """)

        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions
        @OptionGroup var gray: GrayOptions
        @OptionGroup var windowOptions: WindowOptions

        @Option(parsing: .unconditional, // k may be negative
                help: ArgumentHelp("Weight k (scikit-image's default 0.2).", valueName: "k"))
        var k: Double = 0.2

        @Option(parsing: .unconditional, help: ArgumentHelp("Dynamic range r of the deviation (default: half the sample range, 127.5 for 8-bit).", valueName: "r"))
        var r: Double?

        func validate() throws {
            if let r, !(r > 0) || !r.isFinite { throw ValidationError("--r must be a positive number, not \(r).") }
            if !k.isFinite { throw ValidationError("--k must be a finite number, not \(k).") }
        }

        func run() throws {
            let (window, k, r) = (windowOptions.window, k, r)
            try runGrayMaskBatch("segment sauvola", batch: batch, mask: mask, gray: gray) { image, foreground, invert in
                try localMask(image, window: window, rule: .sauvola(k: k, r: r), invert: invert, foreground: foreground)
            }
        }
    }

    struct Adaptive: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "adaptive",
            abstract: "Adaptive threshold (OpenCV adaptiveThreshold): foreground is gray > local mean − offset.",
            discussion: """
                The local mean over a block (replicated borders) is the plain mean or a Gaussian \
                weighting, rounded to 8 bits, as OpenCV's ADAPTIVE_THRESH_MEAN_C and \
                ADAPTIVE_THRESH_GAUSSIAN_C; the offset is rounded up as OpenCV does. 8-bit images \
                only (OpenCV's definition): 16-bit input is refused, not silently rescaled.
                """)

        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions
        @OptionGroup var gray: GrayOptions

        enum Method: String, ExpressibleByArgument, CaseIterable { case mean, gaussian }

        @Option(parsing: .unconditional, help: ArgumentHelp("Local mean: mean (box) or gaussian (sigma 0.3·((B−1)/2 − 1) + 0.8).", valueName: "method"))
        var method: Method = .mean

        @Option(parsing: .unconditional, help: ArgumentHelp("Side of the block in pixels, odd, at least 3.", valueName: "pixels"))
        var blockSize: Int = 11

        @Option(parsing: .unconditional, // a negative offset is a value, not an option
                help: ArgumentHelp("Offset C subtracted from the mean (OpenCV's C; rounded up).", valueName: "C"))
        var offset: Double = 2

        func validate() throws {
            if blockSize < 3 || blockSize % 2 == 0 { throw ValidationError("--block-size must be odd and at least 3, not \(blockSize).") }
            if !offset.isFinite { throw ValidationError("--offset must be a finite number.") }
        }

        func run() throws {
            let (method, b, c) = (method == .mean ? AdaptiveMethod.mean : .gaussian, blockSize, offset)
            try runGrayMaskBatch("segment adaptive", batch: batch, mask: mask, gray: gray) { image, foreground, invert in
                guard case .uint8(let g) = image else {
                    throw CVSegError.invalidArgument("adaptive threshold works on 8-bit images (OpenCV's definition); this one is 16-bit")
                }
                return GrayMask(mask: try adaptiveThreshold(g, method: method, blockSize: b, offset: c, invert: invert, foreground: foreground),
                                threshold: nil, foregroundPixels: nil)
            }
        }
    }
}
