import Benchmark
import DFGaze
import Tensors
import Weights

// One inference's operations split over 2 threads, OpenBLAS on one thread per call: how
// `dfgaze serve` runs on the 2-core machine the figures in docs/performance.md come from.
// Parallel's width is process-wide state set once at start; only here and in the executable.
let benchmarks: @Sendable () -> Void = {
    Parallel.use(threads: 2)
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
                                           warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 20)

    // The GFLOP/s ceiling every figure is compared with.
    Benchmark("sgemm 2048^3") { benchmark in
        let n = 2048
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        for _ in benchmark.scaledIterations {
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        BLAS.sgemm(m: n, n: n, k: n, a: a.baseAddress!, lda: n, b: b.baseAddress!, ldb: n,
                                   beta: 0, c: c.baseAddress!, ldc: n)
                    }
                }
            }
        }
        blackHole(c[0])
    }

    // Every 3x3 stride-1 shape of GAM, TAM and PSTA on 4 frames: Winograd (what runs) against
    // im2col + GEMM (what would run without it), the measurement behind Conv2d's choice.
    let shapes = [(64, 64, 56), (128, 128, 28), (256, 256, 14), (512, 512, 7), (32, 32, 112), (26, 26, 56),
                  (52, 52, 28), (104, 104, 14), (208, 208, 7)]
    for (o, c, size) in shapes {
        let weight = Tensor(shape: [o, c, 3, 3], values: (0..<(o * c * 9)).map { Float($0 % 7) / 7 - 0.5 })
        let conv = Conv2d(weight: weight, padding: 1)
        let x = FeatureMap(channels: c, batch: 4, height: size, width: size,
                           values: (0..<(c * 4 * size * size)).map { Float($0 % 11) / 11 })
        for (variant, layer) in [("winograd", conv), ("im2col", conv.withoutWinograd())] {
            Benchmark("conv3x3 \(o)x\(c) \(size)x\(size) N=4 \(variant)") { benchmark in
                for _ in benchmark.scaledIterations { blackHole(layer(x, relu: true)) }
            }
        }
    }

    // Each network on one clip of 4 synthetic frames, demo weights.
    func weights<N: WeightedNetwork>(_ network: N.Type) -> StateDict {
        DemoWeights.generate(network.demo(parameters: network.parameterSpec))
    }
    var z: UInt64 = 0x9E37_79B9_7F4A_7C15
    let frames = FeatureMap(channels: 3, batch: 4, height: 224, width: 224, values: (0..<(3 * 4 * 224 * 224)).map { _ in
        z = z &* 6364136223846793005 &+ 1442695040888963407
        return Float(z >> 40) * 0x1p-22 - 2
    })
    Benchmark("GAM N=4") { benchmark, gam in
        for _ in benchmark.scaledIterations { blackHole(gam(frames)) }
    } setup: { try GAM(weights: weights(GAM.self)) }
    Benchmark("TAM N=4") { benchmark, tam in
        for _ in benchmark.scaledIterations { blackHole(tam(frames)) }
    } setup: { try TAM(weights: weights(TAM.self)) }
    Benchmark("PSTA 1 clip") { benchmark, psta in
        let map = FeatureMap(channels: 2048, batch: 4, height: 7, width: 7,
                             values: (0..<(2048 * 4 * 49)).map { Float($0 % 13) / 13 })
        for _ in benchmark.scaledIterations { blackHole(psta(gaze: map, texture: map, attribute: nil)) }
    } setup: { try PSTA(weights: weights(PSTA.self)) }
}
