import Foundation
import Testing
import CVSegCore
import CVSegIO
import CVSegPlot

@Suite struct PNGTests {
    func roundTrip(_ canvas: Canvas) throws -> Image<UInt8>? {
        let bytes = try ImageEncoder.png(canvas.image)
        guard case .image(.uint8(let decoded)) = try ImageDecoder.decode(bytes, file: "chart.png",
                                                                         options: DecodeOptions(palette: .expand))
        else { return nil }
        return decoded
    }

    @Test func chartsSurviveAPNGRoundTrip() throws {
        for canvas in [try ExamplePlots.precisionRecall.render(), try ExamplePlots.confusion5.render()] {
            #expect(try roundTrip(canvas) == canvas.image)
        }
    }

    /// Writes the example charts as PNGs into the folder named by `CVSEG_PLOT_EXAMPLES`, for
    /// looking at; skipped when it is not set.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CVSEG_PLOT_EXAMPLES"] != nil))
    func writeExamplePNGs() throws {
        let folder = ProcessInfo.processInfo.environment["CVSEG_PLOT_EXAMPLES"]!
        let charts: [(String, Canvas)] = [
            ("pr_curves.png", try ExamplePlots.precisionRecall.render()),
            ("proposal_recall_logx.png", try ExamplePlots.proposalRecall.render()),
            ("confusion_5.png", try ExamplePlots.confusion5.render()),
            ("confusion_30.png", try ExamplePlots.confusion30.render()),
            ("confusion_5_counts.png", try { () throws -> Canvas in
                var map = ExamplePlots.confusion5
                map.values = .counts
                return try map.render()
            }()),
        ]
        for (name, canvas) in charts {
            let path = folder + "/" + name
            try FileBytes.writeAtomically(try ImageEncoder.png(canvas.image), to: path)
            #expect(try FileBytes.read(path) == ImageEncoder.png(canvas.image))
        }
    }
}
