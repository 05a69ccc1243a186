import Foundation
import Tensors
import Weights
import XCTest
@testable import DFGaze
@testable import Tensors

/// The serving path's forward pass timed stage by stage at 1 and 2 BLAS threads, with the
/// sgemm reference rate of the same run. Slow, so only with DFGAZE_BENCH=1.
final class BackboneBenchmarkTests: XCTestCase {
    func testForwardBenchmark() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["DFGAZE_BENCH"] == "1", "set DFGAZE_BENCH=1 to run")
        let gam = try GAM(weights: Fixture.demoWeights("gam", spec: GAM.parameterSpec))
        let tam = try TAM(weights: Fixture.demoWeights("tam", spec: TAM.parameterSpec))
        let psta = try PSTA(weights: Fixture.demoWeights("agg", spec: PSTA.parameterSpec))
        let repeats = Int(ProcessInfo.processInfo.environment["DFGAZE_BENCH_REPEATS"] ?? "") ?? 3
        let saved = BLAS.threads
        defer { BLAS.setThreads(saved) }
        defer { Winograd.enabled = true }
        // Winograd on and off, alternating rounds so that both see the same load.
        let variants = ["winograd on", "winograd off"]
        func select(_ variant: String) { Winograd.enabled = variant == "winograd on" }
        for threads in [1, 2] {
            BLAS.setThreads(threads)
            var reports: [String: [ForwardBenchmark.Report]] = [:]
            for _ in 0..<repeats {
                for variant in variants {
                    select(variant)
                    reports[variant, default: []].append(ForwardBenchmark.run(gam: gam, tam: tam, psta: psta, repeats: 1))
                }
            }
            for variant in variants {
                let runs = reports[variant]!
                let stages = runs[0].stages.indices.map { i in runs.map { $0.stages[i] }.min { $0.seconds < $1.seconds }! }
                let sgemm = runs.map(\.sgemmGFLOPS).max()!
                let label = "threads=\(threads) \(variant)"
                for s in stages {
                    print(String(format: "bench %@ %@: %.3f s, %.2f GFLOP, %.1f GFLOP/s (%.0f%% of sgemm), %d page faults",
                                 label, s.name, s.seconds, s.gigaflops, s.gigaflopsPerSecond,
                                 100 * s.gigaflopsPerSecond / sgemm, s.pageFaults))
                }
                print(String(format: "bench %@ total %.3f s; sgemm 2048^3 %.1f GFLOP/s", label,
                             stages.reduce(0) { $0 + $1.seconds }, sgemm))
                XCTAssertEqual(stages.map(\.name), ["gam", "tam", "psta"])
                XCTAssertTrue(stages.allSatisfy { $0.seconds > 0 && $0.multiplyAccumulates > 0 })
            }
        }
    }
}
