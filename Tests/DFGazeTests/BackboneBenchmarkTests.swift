import Foundation
import Tensors
import Weights
import XCTest
@testable import DFGaze

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
        for threads in [1, 2] {
            BLAS.setThreads(threads)
            let stages = ForwardBenchmark.run(gam: gam, tam: tam, psta: psta, repeats: repeats)
            let sgemm = BLAS.sgemmGFLOPS(repeats: repeats)
            let total = stages.reduce(0) { $0 + $1.seconds }
            for s in stages {
                print(String(format: "bench threads=%d %@: %.3f s, %.2f GFLOP, %.1f GFLOP/s (%.0f%% of sgemm), %d page faults",
                             threads, s.name, s.seconds, s.gigaflops, s.gigaflopsPerSecond,
                             100 * s.gigaflopsPerSecond / sgemm, s.pageFaults))
            }
            print(String(format: "bench threads=%d total %.3f s; sgemm 2048^3 %.1f GFLOP/s", threads, total, sgemm))
            XCTAssertEqual(stages.map(\.name), ["gam", "tam", "psta"])
            XCTAssertTrue(stages.allSatisfy { $0.seconds > 0 && $0.multiplyAccumulates > 0 })
        }
    }
}
