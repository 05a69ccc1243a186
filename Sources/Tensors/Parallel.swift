import Dispatch

/// Intra-operation parallelism: each convolution, transform and pooling of the forward pass is
/// cut into `width` parts that run side by side, while OpenBLAS stays on one thread per call.
///
/// Why not OpenBLAS's own threads: they parallelise only the GEMM, so everything between GEMMs
/// (im2col, Winograd transforms, bias/ReLU passes, pooling) ran on one core, and its threads
/// spin after each call, competing with the rest. Splitting every step ourselves keeps both
/// cores busy throughout (`dfgaze bench` reports the share of time outside GEMMs).
public enum Parallel {
    /// Threads one inference splits its operations over (set once at start; 1 = serial).
    nonisolated(unsafe) public static var width = 1

    /// How inference runs from here on: each operation split over `threads`, OpenBLAS on one
    /// thread per call (set once at start, before any inference).
    public static func use(threads: Int) {
        BLAS.setThreads(1)
        width = max(1, threads)
    }

    /// `count` cut into at most `width` consecutive ranges of whole multiples of `granule`
    /// (the last takes the rest), run side by side; returns when all are done.
    static func forEach(_ count: Int, granule: Int = 1, _ body: (Range<Int>) -> Void) {
        let parts = ranges(count, granule: granule, width: width)
        if parts.count <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        // The parts touch disjoint memory through raw pointers, which Swift cannot check.
        withoutActuallyEscaping(body) { body in
            let part = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: parts.count) { part.value(parts[$0]) }
        }
    }

    /// `count` items split over the cores as `forEach` does, each part walking its share in
    /// nearly equal blocks of at most `block` items (no thin remainder block: cache blocking must
    /// not leave a GEMM too thin to run at speed), with one scratch buffer of `floatsPerItem`
    /// floats per item of a block, reused from block to block.
    static func forEachBlock(_ count: Int, atMost block: Int, floatsPerItem: Int,
                             _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        forEach(count) { part in
            let blocks = ranges(part.count, granule: 1, width: (part.count + block - 1) / Swift.max(1, block))
            Scratch.with(count: floatsPerItem * (blocks.map(\.count).max() ?? 0)) { scratch in
                for b in blocks { body((part.lowerBound + b.lowerBound)..<(part.lowerBound + b.upperBound), scratch) }
            }
        }
    }

    /// 0..<count in at most `width` nearly equal consecutive ranges, each boundary a multiple of `granule`.
    static func ranges(_ count: Int, granule: Int, width: Int) -> [Range<Int>] {
        let g = max(1, granule)
        let units = (count + g - 1) / g
        let n = max(1, min(width, units))
        return (0..<n).map { i in min(count, i * units / n * g)..<min(count, (i + 1) * units / n * g) }
            .filter { !$0.isEmpty }
    }
}

private struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
