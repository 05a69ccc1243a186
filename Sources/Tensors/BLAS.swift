import CBLAS
import Dispatch
import Synchronization

/// Process-wide OpenBLAS settings.
public enum BLAS {
    /// Threads OpenBLAS uses inside one GEMM. Serving sets 1 (`Parallel.use(threads:)` splits
    /// each operation over the cores instead); `dfgaze bench --openblas-threads` sets the cores.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// The reference for GFLOP/s figures: the best rate of `repeats` square `size`³ sgemms at the
    /// current thread count (one untimed call first, to start OpenBLAS's threads).
    public static func sgemmGFLOPS(size: Int = 2048, repeats: Int) -> Double {
        let n = max(1, size)
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        for run in 0...max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n),
                        1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if run > 0 { best = min(best, seconds) }
        }
        return 2 * Double(n) * Double(n) * Double(n) / best / 1e9
    }

    /// Row-major C = op(A)·op(B) + beta·C, [m, k]·[k, n]: every GEMM of the model goes
    /// through here, so `dfgaze bench` can tell GEMM time from the rest.
    @inline(__always)
    public static func sgemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let start = accounting ? DispatchTime.now().uptimeNanoseconds : 0
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        if accounting {
            gemmNanoseconds.add(Int(DispatchTime.now().uptimeNanoseconds - start), ordering: .relaxed)
            gemmFlops.add(2 * m * n * k, ordering: .relaxed)
        }
    }

    /// GEMM work done while `accounting` was on: floating-point operations actually issued and
    /// seconds spent inside sgemm (summed over the calling threads).
    public struct GEMMTotals: Sendable {
        public var flops: Int
        public var seconds: Double
        public var gigaflopsPerSecond: Double { Double(flops) / seconds / 1e9 }
    }

    /// Counts GEMM flops and time, and the layers' multiply-accumulates, from here on:
    /// process-wide, set only around measurement (`dfgaze bench`'s timed runs,
    /// `DFGazeModel.multiplyAccumulates`); serving never turns it on (docs/architecture.md).
    nonisolated(unsafe) public static var accounting = false
    private static let gemmFlops = Atomic<Int>(0)
    private static let gemmNanoseconds = Atomic<Int>(0)

    /// Multiply-accumulates of the layers that ran while `accounting` was on, by the direct count
    /// (a convolution's as im2col + GEMM would do them, whatever algorithm ran; a linear layer's
    /// rows x in x out; each other product's m x n x k): the model's work, counted as it runs.
    @inline(__always)
    public static func count(multiplyAccumulates n: @autoclosure () -> Int) {
        if accounting { layerMultiplyAccumulates.add(n(), ordering: .relaxed) }
    }
    private static let layerMultiplyAccumulates = Atomic<Int>(0)

    /// The layers' multiply-accumulates so far, and zero again.
    public static func takeMultiplyAccumulates() -> Int { layerMultiplyAccumulates.exchange(0, ordering: .relaxed) }

    /// The totals so far, and zero again.
    public static func takeGEMMTotals() -> GEMMTotals {
        GEMMTotals(flops: gemmFlops.exchange(0, ordering: .relaxed),
                   seconds: Double(gemmNanoseconds.exchange(0, ordering: .relaxed)) / 1e9)
    }
}
