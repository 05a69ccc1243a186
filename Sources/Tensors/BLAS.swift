import CBLAS
import Dispatch

/// Process-wide OpenBLAS settings.
public enum BLAS {
    /// Threads OpenBLAS uses inside one GEMM. The service sets cores / inference workers so
    /// concurrent requests do not oversubscribe the CPU.
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
}
