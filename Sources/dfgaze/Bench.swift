import ArgumentParser
import DFGaze
import Foundation
import Tensors

/// Speed figures for one clip, measured in one process so ratios are comparable on a noisy machine.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time one clip end to end (JPEG bytes in, JSON out) and per stage, with GFLOP/s beside the machine's sgemm rate.")

    @OptionGroup var model: ModelOptions

    @Option(help: "Timed runs (the median is reported) after one warm-up run.")
    var runs: Int = 5
    @Option(help: "OpenBLAS threads (default: all cores, or 1 with --lanes > 1).")
    var threads: Int?
    @Option(help: "Threads the clip's frames are split over, each running the networks on its share.")
    var lanes: Int = 1
    @Flag(help: "Print one JSON object instead of text.")
    var json = false
    @Argument(help: "The clip's JPEG frames (4). Default: the repo's fixture clip a_0..a_3.")
    var frames: [String] = []

    func run() throws {
        BLAS.setThreads(threads ?? (lanes > 1 ? 1 : ProcessInfo.processInfo.activeProcessorCount))
        let paths = frames.isEmpty ? (0..<4).map { "Tests/Fixtures/dfgaze-demo-v1/frames/a_\($0).jpg" } : frames
        let jpegs = try paths.map { path -> Data in
            do { return try Data(contentsOf: URL(fileURLWithPath: path)) }
            catch { throw ValidationError("cannot read \(path) (run from the repo root, or pass frames)") }
        }

        let loadStart = Date()
        let dfgaze = try model.load()
        let coldStart = Date().timeIntervalSince(loadStart)
        // The ceiling for this many cores: sgemm on threads x lanes OpenBLAS threads.
        let threadsPerGEMM = BLAS.threads
        BLAS.setThreads(threadsPerGEMM * lanes)
        let sgemm = BLAS.sgemmGFLOPS(size: 2048, repeats: 3)
        BLAS.setThreads(threadsPerGEMM)

        let encoder = JSONEncoder()
        var samples: [ScoreReport.Timings] = []
        var endToEnd: [Double] = []
        for run in 0...max(1, runs) {
            let start = Date()
            let report = try dfgaze.score(jpegs: jpegs, options: ScoringOptions(lanes: lanes))
            _ = try encoder.encode(report)
            if run > 0 {  // the first run warms caches and page tables
                endToEnd.append(Date().timeIntervalSince(start))
                samples.append(report.timings)
            }
        }
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
        let figures: [String: Any] = [
            "frames": jpegs.count, "runs": samples.count, "blas_threads": BLAS.threads, "lanes": lanes,
            "full_graph": dfgaze.aam != nil,
            "end_to_end_s": median(endToEnd), "stages_s": stages,
            "gflop": gflop, "gflop_per_network": macs.mapValues { 2 * Double($0) / 1e9 },
            "gflops_achieved": gflop / forward, "sgemm_2048_gflops": sgemm,
            "fraction_of_sgemm": gflop / forward / sgemm,
            "cold_start_s": coldStart, "peak_rss_mib": Double(peakResidentKiB()) / 1024,
        ]
        if json {
            let data = try JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("DFGaze bench: \(jpegs.count) frames, median of \(samples.count) runs, \(BLAS.threads) BLAS thread(s) x \(lanes) lane(s)\(dfgaze.aam != nil ? ", full graph" : "")")
        print(String(format: "  end to end (JPEG in, JSON out)  %8.3f s", median(endToEnd)))
        for stage in ["decode", "preprocess", "forward", "gam", "tam", "aam", "psta"] where stages[stage] != nil {
            print("  " + stage.padding(toLength: 32, withPad: " ", startingAt: 0) + String(format: " %8.3f s", stages[stage]!))
        }
        print(String(format: "  model work  %.1f GFLOP (%@)", gflop,
                     macs.keys.sorted().map { String(format: "%@ %.2f", $0, 2 * Double(macs[$0]!) / 1e9) }.joined(separator: ", ")))
        print(String(format: "  achieved    %.1f GFLOP/s in the forward pass = %.0f%% of sgemm 2048^3 (%.1f GFLOP/s, same run)",
                     gflop / forward, 100 * gflop / forward / sgemm, sgemm))
        print(String(format: "  cold start  %.2f s (weights mapped, verified, BatchNorm folded)", coldStart))
        print(String(format: "  peak RSS    %.0f MiB", Double(peakResidentKiB()) / 1024))
    }

    /// VmHWM of this process, in KiB.
    func peakResidentKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
