import ArgumentParser
import CMalloc
import DFGaze
import Foundation
import ScoringService
import Tensors
import Weights

@main
struct DFGazeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dfgaze",
        abstract: "DFGaze Serve: deepfake scoring from face frames by spatial-temporal gaze inconsistency.",
        subcommands: [Serve.self, Score.self, WeightsCommand.self, Bench.self])

    /// Process-wide settings first, before any thread allocates, then the command line.
    static func main() {
        limitMallocArenas()
        main(nil)
    }
}

/// Options shared by the commands that load a model.
struct ModelOptions: ParsableArguments {
    @Option(help: "Weights folder (safetensors + manifest.json). Default: the demo weights, generated on first use. [DFGAZE_WEIGHTS]")
    var weights: String?

    @Flag(help: "Also run the attribute network (AAM): same scores, more work. [DFGAZE_FULL_GRAPH=1]")
    var fullGraph = ProcessInfo.processInfo.environment["DFGAZE_FULL_GRAPH"] == "1"

    func load() throws -> DFGazeModel {
        if let weights = weights ?? Env.string("DFGAZE_WEIGHTS") {
            return try DFGazeModel(weights: WeightsDirectory.load(from: URL(fileURLWithPath: weights)), fullGraph: fullGraph)
        }
        return try DFGazeModel.demo(fullGraph: fullGraph)
    }
}

/// One malloc arena per core (unless MALLOC_ARENA_MAX says otherwise), not glibc's default of up
/// to eight per core. The forward pass allocates few, large buffers from several threads (frame
/// groups, workers); each arena keeps what its threads freed, and with an arena per thread resident
/// memory crept up request after request (Tests/Load/vanishing_clients.py: +31-37 MiB over the
/// rounds after the first; with one per core +3 and +21, flat after). One arena for all was as
/// flat but costlier under concurrency (throughput.py ratio 0.98-1.09 against 1.08-1.13, 2 cores).
func limitMallocArenas() {
    #if os(Linux)
    guard ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil else { return }
    _ = mallopt(M_ARENA_MAX, Int32(ProcessInfo.processInfo.activeProcessorCount))
    #endif
}

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score the face frames of one video (JPEG files, in order) and print the result as JSON.")

    @OptionGroup var model: ModelOptions

    @Option(help: "Fake probability at or above which the label is \"fake\".")
    var threshold: Double = 0.5

    @Argument(help: "JPEG face frames in temporal order (at least 4).")
    var frames: [String]

    func run() throws {
        let jpegs = try frames.map { path -> Data in
            do { return try Data(contentsOf: URL(fileURLWithPath: path)) }
            catch { throw ValidationError("cannot read \(path): \(error.localizedDescription)") }
        }
        Parallel.use(threads: ProcessInfo.processInfo.activeProcessorCount)
        let report = try model.load().score(jpegs: jpegs, options: ScoringOptions(threshold: threshold, maxFrames: max(64, jpegs.count)))
        print(String(decoding: try ScoreJSON(report).json(pretty: true), as: UTF8.self))
    }
}
