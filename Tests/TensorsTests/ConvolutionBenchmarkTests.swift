import Dispatch
import Foundation
import XCTest
@testable import Tensors

/// Winograd against im2col + GEMM for the 3x3 stride-1 shapes of GAM, TAM and PSTA (4 frames),
/// best of 5, interleaved, split over DFGAZE_THREADS (default all cores) as in serving. Slow, so
/// only with DFGAZE_BENCH=1.
final class ConvolutionBenchmarkTests: XCTestCase {
    func testWinogradAgainstIm2colOnTheNetworksShapes() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["DFGAZE_BENCH"] == "1", "set DFGAZE_BENCH=1 to run")
        let threads = ProcessInfo.processInfo.environment["DFGAZE_THREADS"].flatMap(Int.init)
            ?? ProcessInfo.processInfo.activeProcessorCount
        let savedBLASThreads = BLAS.threads
        Parallel.use(threads: threads)
        defer { Parallel.width = 1; BLAS.setThreads(savedBLASThreads) }
        for (o, c, size) in [(64, 64, 56), (128, 128, 28), (256, 256, 14), (512, 512, 7),
                             (32, 32, 112), (64, 32, 112), (26, 26, 56), (52, 52, 28), (104, 104, 14), (208, 208, 7), (256, 256, 7)] {
            let conv = Conv2d(weight: Tensor(shape: [o, c, 3, 3], values: (0..<(o * c * 9)).map { Float($0 % 7) / 7 - 0.5 }),
                              padding: 1)
            let plain = conv.withoutWinograd()
            let x = FeatureMap(channels: c, batch: 4, height: size, width: size,
                               values: (0..<(c * 4 * size * size)).map { Float($0 % 11) / 11 })
            var (fast, slow) = (Double.infinity, Double.infinity)
            var y = FeatureMap(channels: o, batch: 4, height: size, width: size)
            let winograd = {
                x.values.withUnsafeBufferPointer { src in
                    y.values.withUnsafeMutableBufferPointer { dst in
                        conv.runWinograd(src.baseAddress!, batch: 4, height: size, width: size, into: dst.baseAddress!,
                                         relu: true, accumulate: false)
                    }
                }
            }
            winograd(); _ = plain(x)
            for _ in 0..<5 {
                fast = min(fast, time(winograd))
                slow = min(slow, time { _ = plain(x, relu: true) })
            }
            let gflop = 2 * Double(conv.multiplyAccumulates(height: size, width: size, batch: 4)) / 1e9
            print(String(format: "conv %dx%d %dx%d (threads %d): winograd %.2f ms, im2col %.2f ms (%.1f GFLOP/s), speed-up %.2f",
                         o, c, size, size, Parallel.width, fast * 1e3, slow * 1e3, gflop / slow, slow / fast))
        }
    }

    func time(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
