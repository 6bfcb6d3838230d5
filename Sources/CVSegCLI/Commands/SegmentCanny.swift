import ArgumentParser
import CVSegClassical
import CVSegCore
import CVSegIO

extension Segment {
    struct Canny: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "canny",
            abstract: "Canny edges, and the regions they enclose.",
            discussion: """
                --sigma 0 follows OpenCV's Canny (aperture 3) exactly, with absolute thresholds on \
                the magnitude of the unnormalised 3×3 Sobel gradient of the 0–255 image; --sigma > 0 \
                follows scikit-image's feature.canny (Gaussian smoothing; thresholds on the same \
                0–255 scale, or as quantiles of the magnitude with --quantiles). By default the \
                output is a label map of the regions between edges: edges are dilated by a 3×3 \
                square to close gaps of up to 2 pixels, then the rest is labelled as 4-connected \
                regions 1…N (edges 0). --edges-only writes the edge map instead (a binary mask).
                """)

        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions

        @Option(parsing: .unconditional, help: ArgumentHelp("Gaussian smoothing in pixels; 0 = none (OpenCV's Canny).", valueName: "sigma"))
        var sigma: Double = 0

        @Option(parsing: .unconditional, help: ArgumentHelp("Low hysteresis threshold (magnitude, 0–255 Sobel scale; a quantile 0–1 with --quantiles).", valueName: "low"))
        var low: Double = 50

        @Option(parsing: .unconditional, help: ArgumentHelp("High hysteresis threshold (same scale as --low).", valueName: "high"))
        var high: Double = 150

        @Flag(help: "Read --low and --high as quantiles of the gradient magnitude (0–1), as scikit-image's use_quantiles.")
        var quantiles = false

        @Flag(help: "L1 gradient magnitude |dx| + |dy| instead of L2.")
        var l1 = false

        @Flag(help: "Write the edge map (binary) instead of the region label map.")
        var edgesOnly = false

        @OptionGroup var gray: GrayOptions

        func validate() throws {
            if !(sigma >= 0) { throw ValidationError("--sigma must be 0 or more, not \(sigma).") }
            if !(low >= 0) || !(high >= low) { throw ValidationError("--low and --high need 0 <= low <= high.") }
            if quantiles && high > 1 { throw ValidationError("with --quantiles, --low and --high are 0...1.") }
            if !edgesOnly && mask.format == .binary {
                throw ValidationError("segment canny makes label maps: add --format labels, palette, color, mean, boundaries or overlay, or pass --edges-only.")
            }
        }

        func run() throws {
            let (sigma, thresholds, norm, edgesOnly) = (sigma, quantiles ? CannyThresholds.quantiles(low: low, high: high)
                                                           : .absolute(low: low, high: high), l1 ? GradientNorm.l1 : .l2, edgesOnly)
            if edgesOnly {
                try runGrayMaskBatch("segment canny", batch: batch, mask: mask, gray: gray) { image, foreground, invert in
                    guard case .uint8(let g) = image else {
                        throw CVSegError.invalidArgument("Canny works on 8-bit images; this one is 16-bit (use --to-8bit)")
                    }
                    var edges = try canny(g, sigma: sigma, thresholds: thresholds, norm: norm, edgeValue: foreground)
                    if invert { edges = edges.mapSamples { $0 == 0 ? foreground : 0 } }
                    return GrayMask(mask: edges, threshold: nil, foregroundPixels: nil)
                }
                return
            }
            let (weights, to8Bit) = (gray.gray.weights, gray.to8Bit)
            try runLabelBatch("segment canny", batch: batch, mask: mask) { image in
                let grayImage = image.grayscale(weights: weights)
                guard case .uint8(let g) = to8Bit ? .uint8(grayImage.to8Bit()) : grayImage else {
                    throw CVSegError.invalidArgument("Canny works on 8-bit images; this one is 16-bit (use --to-8bit)")
                }
                return try edgeRegions(canny(g, sigma: sigma, thresholds: thresholds, norm: norm))
            }
        }
    }
}
