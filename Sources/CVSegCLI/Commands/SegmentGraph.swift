import ArgumentParser
import CVSegClassical
import CVSegCore
import CVSegIO

extension Segment {
    struct Graph: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "graph",
            abstract: "Graph-based segmentation (Felzenszwalb and Huttenlocher 2004) into a label map.",
            discussion: """
                Equal to scikit-image's segmentation.felzenszwalb(image, scale=k, sigma, min_size) \
                (label maps identical on the reference images). The paper's k is scikit-image's \
                scale: larger k, larger regions. Colour images are segmented on RGB (alpha \
                ignored), gray on gray; labels are numbered 0, 1, … in raster order of each \
                region's first pixel. Write them with --format labels (16-bit past 255), palette \
                or overlay.
                """)

        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions

        @Option(parsing: .unconditional, help: ArgumentHelp("The paper's k (scikit-image's scale): larger gives larger regions.", valueName: "k"))
        var k: Double = 1

        @Option(parsing: .unconditional, help: ArgumentHelp("Gaussian smoothing before the graph is built, in pixels (0: none).", valueName: "sigma"))
        var sigma: Double = 0.8

        @Option(parsing: .unconditional, help: ArgumentHelp("Smallest region in pixels; smaller ones are merged into a neighbour.", valueName: "pixels"))
        var minSize: Int = 20

        func validate() throws {
            if !(k > 0) || !k.isFinite { throw ValidationError("--k must be a positive number, not \(k).") }
            if !(sigma >= 0) || !sigma.isFinite { throw ValidationError("--sigma must be 0 or more, not \(sigma).") }
            if minSize < 0 { throw ValidationError("--min-size must be 0 or more, not \(minSize).") }
            if mask.format == .binary { throw ValidationError("segment graph makes label maps: add --format labels, palette, color, mean, boundaries or overlay.") }
        }

        func run() throws {
            let (k, sigma, minSize) = (k, sigma, minSize)
            try runLabelBatch("segment graph", batch: batch, mask: mask) { image in
                let labels: LabelMap
                switch image {
                case .uint8(let i): labels = try felzenszwalb(i, scale: k, sigma: sigma, minSize: minSize)
                case .uint16(let i): labels = try felzenszwalb(i, scale: k, sigma: sigma, minSize: minSize)
                }
                return (labels, Int(labels.maxLabel ?? -1) + 1) // labels 0..<n are all regions
            }
        }
    }
}
