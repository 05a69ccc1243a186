import ArgumentParser
import CMalloc
import DFGaze
import Faces
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

/// A file the user named, or a usage error saying which and why (`hint`: what to do instead).
func readFile(_ path: String, hint: String? = nil) throws -> Data {
    do { return try Data(contentsOf: URL(fileURLWithPath: path)) }
    catch { throw ValidationError("cannot read \(path): \(hint ?? error.localizedDescription)") }
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
        abstract: "Score one video (JPEG frames in order, or a video file) and print the result as JSON, the same JSON as POST /score.")

    @OptionGroup var model: ModelOptions

    @Option(help: "Fake probability at or above which the label is \"fake\".")
    var threshold: Double = 0.5

    @Option(help: "given: the frames are face crops; detect: whole frames, the faces are found and cropped as the training data's were.")
    var faces: String = "given"

    @Option(help: "A video file (mp4, mov, webm, mkv) instead of frames: windows of 32 frames, frames +0/8/16/24 of each.")
    var video: String?

    @Option(help: "Most windows of the video scored, spread evenly over it.")
    var maxWindows: Int = 32

    @Option(help: "Face detection: exact (the default) or fast (docs/faces.md).")
    var faceDetection: FaceDetectionMode = .exact

    @Argument(help: "JPEG frames in temporal order (at least 4): face crops, or whole frames with --faces detect.")
    var frames: [String] = []

    func validate() throws {
        guard ScoreRequest.Faces(rawValue: faces) != nil else { throw ValidationError("--faces must be given or detect") }
        guard (video == nil) != frames.isEmpty else { throw ValidationError("give either frames or --video FILE") }
        guard maxWindows >= 1 else { throw ValidationError("--max-windows must be at least 1") }
        guard (0...1).contains(threshold) else { throw ValidationError("--threshold must be in [0, 1]") }
    }

    func run() throws {
        var request = ScoreRequest(faces: ScoreRequest.Faces(rawValue: faces)!, threshold: threshold, maxWindows: maxWindows)
        if let video { request.video = try readFile(video); request.faces = .detect } else { request.frames = try frames.map { try readFile($0) } }
        Parallel.use(threads: ProcessInfo.processInfo.activeProcessorCount)
        var pipeline = ScoringPipeline()
        pipeline.scoring = ScoringOptions(threshold: threshold, maxFrames: max(64, request.frames.count))
        pipeline.maxWindows = maxWindows
        pipeline.faceDetection = faceDetection
        let scorer = try model.load()
        let result: ScoreJSON
        do throws(APIError) {
            result = try pipeline.score(request, scorer: scorer)
        } catch {
            // The error as /score reports it (its JSON envelope, without a request id), exit status 1.
            FileHandle.standardError.write(Data("error: \(error.code.rawValue): \(error.message)\n".utf8))
            throw ExitCode(1)
        }
        print(String(decoding: try result.json(pretty: true), as: UTF8.self))
    }
}
