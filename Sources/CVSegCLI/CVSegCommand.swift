import ArgumentParser
import CVSegIO

@main
struct CVSegCommand: ParsableCommand {
    static func main() {
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
            // Batches of many images reuse freed buffers faster from the heap; a network's
            // activations are few and large, and keeping them would raise the peak memory.
            if !(command is NetworkSegmentCommand || command is TrainNetworkCommand || command is TrainDetectorCommand || command is DetectCommand) { BatchMemory.keepBuffersInHeap() }
            try command.run()
        } catch {
            exit(withError: error)
        }
    }


    static let configuration = CommandConfiguration(
        commandName: "cvseg",
        abstract: "Image segmentation, detection and their evaluation.",
        discussion: """
            Inputs are files and folders (walked recursively in sorted order; .png .jpg .jpeg). \
            Outputs mirror the input tree under -o. Exit status: 0 all inputs done, 1 some inputs \
            failed (the others were still processed), 64 usage error.
            """,
        version: "0.1.0",
        subcommands: [Segment.self, Detect.self, Train.self, Propose.self, Eval.self])
}
