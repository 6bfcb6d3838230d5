import ArgumentParser
import CVSegClassical
import CVSegCore
import CVSegIO

extension Segment {
    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "merge",
            abstract: "Region merging on a region adjacency graph, from an over-segmentation.",
            discussion: """
                Starts from --initial graph (Felzenszwalb with --k/--sigma/--min-size), grid \
                (square cells of --grid pixels) or pixels, then repeatedly merges the two adjacent \
                regions (4-connected) with the smallest dissimilarity D = ‖mean colour difference‖ \
                · (1 + W · mean step across their boundary / 255), W = --boundary-weight, until D \
                would exceed --threshold or --regions remain. Ties: by the pair of initial region \
                numbers (raster order), smallest first; a merged region keeps the smaller number.
                """)

        @OptionGroup var batch: BatchOptions
        @OptionGroup var mask: MaskOptions

        enum Initial: String, ExpressibleByArgument, CaseIterable { case graph, grid, pixels }

        @Option(parsing: .unconditional, help: ArgumentHelp("Initial over-segmentation: graph, grid or pixels.", valueName: "kind"))
        var initial: Initial = .graph

        @Option(parsing: .unconditional, help: ArgumentHelp("Stop when the most similar pair is further apart than D (sample units).", valueName: "D"))
        var threshold: Double?

        @Option(parsing: .unconditional, help: ArgumentHelp("Stop when this many regions remain.", valueName: "N"))
        var regions: Int?

        @Option(parsing: .unconditional, help: ArgumentHelp("Weight W of the boundary step in the dissimilarity (0: colour only).", valueName: "W"))
        var boundaryWeight: Double = 0

        @Option(parsing: .unconditional, help: ArgumentHelp("Cell side for --initial grid.", valueName: "pixels"))
        var grid: Int = 8

        @Option(parsing: .unconditional, help: ArgumentHelp("--initial graph: Felzenszwalb's k (scikit-image's scale).", valueName: "k"))
        var k: Double = 100

        @Option(parsing: .unconditional, help: ArgumentHelp("--initial graph: Gaussian sigma.", valueName: "sigma"))
        var sigma: Double = 0.8

        @Option(parsing: .unconditional, help: ArgumentHelp("--initial graph: smallest region.", valueName: "pixels"))
        var minSize: Int = 20

        func validate() throws {
            if (threshold == nil) == (regions == nil) { throw ValidationError("Give either --threshold D or --regions N.") }
            if let t = threshold, !(t >= 0) || !t.isFinite { throw ValidationError("--threshold must be 0 or more.") }
            if let n = regions, n < 1 { throw ValidationError("--regions must be at least 1.") }
            if !(boundaryWeight >= 0) || !boundaryWeight.isFinite { throw ValidationError("--boundary-weight must be 0 or more.") }
            if grid < 1 { throw ValidationError("--grid must be at least 1.") }
            if mask.format == .binary { throw ValidationError("segment merge makes label maps: add --format labels, palette, color, mean, boundaries or overlay.") }
        }

        func run() throws {
            let stop: MergeStop = threshold.map { .threshold($0) } ?? .regionCount(regions!)
            let (initial, w, grid, k, sigma, minSize) = (initial, boundaryWeight, grid, k, sigma, minSize)
            try runLabelBatch("segment merge", batch: batch, mask: mask) { image in
                func start<S: PixelSample>(_ i: Image<S>) throws -> InitialRegions {
                    switch initial {
                    case .graph: .labels(try felzenszwalb(i, scale: k, sigma: sigma, minSize: minSize))
                    case .grid: .grid(grid)
                    case .pixels: .pixels
                    }
                }
                switch image {
                case .uint8(let i): return nonzeroRegions(try mergeRegions(i, initial: start(i), stop: stop, boundaryWeight: w))
                case .uint16(let i): return nonzeroRegions(try mergeRegions(i, initial: start(i), stop: stop, boundaryWeight: w))
                }
            }
        }
    }
}
