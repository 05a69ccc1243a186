import ArgumentParser
import DFGaze
import Faces
import Foundation
import Imaging
import ScoringService
import Tensors

/// Speed figures for one clip, measured in one process so ratios are comparable on a noisy machine.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time one clip end to end (JPEG bytes in, JSON out) and per stage, with GFLOP/s beside the machine's sgemm rate.",
        discussion: "--faces times face detection and cropping instead; --video FILE times a video scored window by window.")

    @OptionGroup var model: ModelOptions

    @Option(help: "Timed runs (the median is reported) after one warm-up run.")
    var runs: Int = 5
    @Option(help: "Threads one inference uses (default: all cores).")
    var threads: Int?
    @Flag(help: "Let OpenBLAS thread each GEMM instead of splitting every operation ourselves (for comparison).")
    var openblasThreads = false
    @Flag(help: "Print one JSON object instead of text.")
    var json = false
    @Argument(help: "The clip's JPEG frames (4). Default: the repo's fixture clip a_0..a_3.")
    var frames: [String] = []
    @Flag(help: "Face detection per frame at 512x512, 1280x720 and 1920x1080 (exact and fast modes), crop + JPEG, and a clip of 4 whole 1280x720 frames end to end against its network time alone.")
    var faces = false
    @Option(help: "The whole frame --faces scales and pads to each size (it must hold a face).")
    var faceFrame = "Tests/Fixtures/dfgaze-video-v1/frames/astronaut.jpg"
    @Option(help: "Time this video scored window by window: decode, detection, crop and network per window and in total, peak RSS.")
    var video: String?
    @Option(help: "Windows scored with --video (SPEC section 2).")
    var maxWindows = 32
    @Option(help: "With --video: service (the service's ScoringPipeline, exact detector), or exact / fast (the same stages timed one by one, with that detection mode and the one-run decode).")
    var detection = "service"

    /// How the cores are shared: backbone frame groups, then operations split within a group.
    private func sharing(groups: Int) -> String {
        let inside = Parallel.width / groups
        return groups > 1
            ? "backbones on \(groups) groups of frames side by side (each operation split \(inside) way\(inside == 1 ? "" : "s") within), aggregator split \(Parallel.width) ways"
            : "every operation split \(Parallel.width) ways"
    }

    func run() throws {
        let cores = threads ?? ProcessInfo.processInfo.activeProcessorCount
        guard cores >= 1 else { throw ValidationError("--threads must be positive") }
        // The sgemm ceiling is measured on every thread the inference uses.
        BLAS.setThreads(cores)
        let sgemm = BLAS.sgemmGFLOPS(size: 2048, repeats: 3)
        if openblasThreads { Parallel.width = 1 } else { Parallel.use(threads: cores) }
        if faces || video != nil { return try runFacesOrVideo(cores: cores) }
        // Threads calling sgemm at once: their summed GEMM seconds are shared out over them.
        let gemmCallers = Double(Parallel.width)
        let paths = frames.isEmpty ? (0..<4).map { "Tests/Fixtures/dfgaze-demo-v1/frames/a_\($0).jpg" } : frames
        let jpegs = try paths.map { try readFile($0, hint: "run from the repo root, or pass frames") }

        let loadStart = Date()
        let dfgaze = try model.load()
        let coldStart = Date().timeIntervalSince(loadStart)

        var samples: [ScoreReport.Timings] = []
        var endToEnd: [Double] = []
        var gemm: [BLAS.GEMMTotals] = []
        for run in 0...max(1, runs) {
            BLAS.accounting = run > 0
            _ = BLAS.takeGEMMTotals()
            let start = Date()
            let report = try dfgaze.score(jpegs: jpegs)
            _ = try ScoreJSON(report).json()
            if run > 0 {  // the first run warms caches and page tables
                endToEnd.append(Date().timeIntervalSince(start))
                samples.append(report.timings)
                gemm.append(BLAS.takeGEMMTotals())
            }
        }
        BLAS.accounting = false
        func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }
        let macs = dfgaze.multiplyAccumulates(frames: jpegs.count)
        let gflop = 2 * Double(macs.values.reduce(0, +)) / 1e9
        let forward = median(samples.map(\.forwardSeconds))
        var stages: [String: Double] = [
            "decode": median(samples.map(\.decodeSeconds)),
            "preprocess": median(samples.map(\.preprocessSeconds)),
            "forward": forward,
        ]
        for network in macs.keys { stages[network] = median(samples.map { $0.networkSeconds?[network] ?? 0 }) }
        // What sgemm itself achieved on the work actually issued (Winograd's smaller GEMMs
        // included), and the share of the forward pass spent outside it.
        let gemmSeconds = median(gemm.map(\.seconds)) / gemmCallers
        let gemmGFLOP = median(gemm.map { Double($0.flops) }) / 1e9
        let gemmGFLOPS = gemmGFLOP / gemmSeconds
        let nonGEMM = max(0, 1 - gemmSeconds / forward)
        // The fastest this forward pass could be through sgemm: the GEMM work issued, at the
        // same-run 2048^3 rate, and nothing else. Targets below it need fewer FLOPs, not speed.
        let floor = gemmGFLOP / sgemm
        let frameGroups = Parallel.groups(min(jpegs.count, DFGazeModel.framesPerClip), width: Parallel.width)
        let figures: [String: Any] = [
            "frames": jpegs.count, "runs": samples.count, "threads": cores, "blas_threads": BLAS.threads, "split_ways": Parallel.width,
            "frame_groups": frameGroups,
            "full_graph": dfgaze.aam != nil,
            "end_to_end_s": median(endToEnd), "stages_s": stages,
            "gflop": gflop, "gflop_per_network": macs.mapValues { 2 * Double($0) / 1e9 },
            "gflops_achieved": gflop / forward, "sgemm_2048_gflops": sgemm,
            "fraction_of_sgemm": gflop / forward / sgemm,
            "gemm_gflop_issued": gemmGFLOP, "gemm_gflops": gemmGFLOPS, "gemm_fraction_of_sgemm": gemmGFLOPS / sgemm,
            "non_gemm_fraction": nonGEMM, "gemm_floor_s": floor,
            "cold_start_s": coldStart, "peak_rss_mib": Double(peakResidentKiB()) / 1024,
        ]
        if json {
            let data = try JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("DFGaze bench: \(jpegs.count) frames, median of \(samples.count) runs, \(cores) thread(s): "
              + (openblasThreads ? "OpenBLAS-threaded GEMMs" : sharing(groups: frameGroups))
              + (dfgaze.aam != nil ? ", full graph" : ""))
        print(String(format: "  end to end (JPEG in, JSON out)  %8.3f s", median(endToEnd)))
        for stage in ["decode", "preprocess", "forward", "gam", "tam", "aam", "psta"] where stages[stage] != nil {
            print("  " + stage.padding(toLength: 32, withPad: " ", startingAt: 0) + String(format: " %8.3f s", stages[stage]!))
        }
        print(String(format: "  model work  %.1f GFLOP (%@)", gflop,
                     macs.keys.sorted().map { String(format: "%@ %.2f", $0, 2 * Double(macs[$0]!) / 1e9) }.joined(separator: ", ")))
        print(String(format: "  achieved    %.1f GFLOP/s in the forward pass = %.0f%% of sgemm 2048^3 (%.1f GFLOP/s, same run)",
                     gflop / forward, 100 * gflop / forward / sgemm, sgemm))
        print(String(format: "  GEMMs       %.1f GFLOP issued at %.1f GFLOP/s = %.0f%% of sgemm; outside GEMMs %.0f%% of the forward pass",
                     gemmGFLOP, gemmGFLOPS, 100 * gemmGFLOPS / sgemm, 100 * nonGEMM))
        print(String(format: "  floor       %.3f s: the GEMM work issued at the sgemm rate, nothing else (forward = %.2fx that)",
                     floor, forward / floor))
        print(String(format: "  cold start  %.2f s (weights mapped, verified, BatchNorm folded)", coldStart))
        print(String(format: "  peak RSS    %.0f MiB", Double(peakResidentKiB()) / 1024))
    }

    /// `--faces` or `--video`: the face and video stages, beside the networks they feed.
    private func runFacesOrVideo(cores: Int) throws {
        guard faces != (video != nil) else { throw ValidationError("--faces and --video are separate runs") }
        let mode = FaceDetectionMode(rawValue: detection)
        guard mode != nil || detection == "service" else { throw ValidationError("--detection is service, exact or fast") }
        guard maxWindows >= 1 else { throw ValidationError("--max-windows must be positive") }
        let dfgaze = try model.load()
        let figures: [String: Any]
        if let video {
            let bench = VideoBench(path: video, maxWindows: maxWindows, mode: mode ?? .exact)
            figures = try mode == nil ? bench.runService(model: dfgaze) : bench.run(model: dfgaze)
        } else {
            let data = try readFile(faceFrame, hint: "run from the repo root, or pass --face-frame")
            figures = try FacesBench(source: try JPEG.decode(data), runs: max(1, runs)).run(model: dfgaze)
        }
        if json {
            var all = figures
            all["threads"] = cores
            let data = try JSONSerialization.data(withJSONObject: all, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else if video != nil {
            VideoBench.printText(figures, threads: cores)
        } else {
            FacesBench.printText(figures, threads: cores)
        }
    }

    /// VmHWM of this process, in KiB.
    func peakResidentKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
