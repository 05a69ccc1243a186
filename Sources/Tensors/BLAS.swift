import CBLAS

/// Process-wide OpenBLAS settings.
public enum BLAS {
    /// Threads OpenBLAS uses inside one GEMM. The service sets cores / inference workers so
    /// concurrent requests do not oversubscribe the CPU.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
    public static var threads: Int { Int(openblas_get_num_threads()) }
}
