import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// How one inference shares the cores, on two levels: a batch's frames in groups that run side
/// by side (`mapGroups`, the backbones), and each operation of a group (convolution, transform,
/// pooling) cut into `width` parts, while OpenBLAS stays on one thread per call.
///
/// Why not OpenBLAS's own threads: they parallelise only the GEMM, so everything between GEMMs
/// (im2col, Winograd transforms, bias/ReLU passes, pooling) ran on one core, and its threads
/// spin after each call, competing with the rest. Splitting every step ourselves keeps both
/// cores busy throughout (`dfgaze bench` reports the share of time outside GEMMs).
public enum Parallel {
    nonisolated(unsafe) private static var configuredWidth = 1

    /// Threads one operation is split over: the configured width (set once at start; 1 = serial),
    /// or, on a thread running a group of `mapGroups`, that group's share of it.
    public static var width: Int {
        get {
            guard let group = pthread_getspecific(groupWidthKey) else { return configuredWidth }
            return Int(bitPattern: group)
        }
        set { configuredWidth = max(1, newValue) }
    }

    /// Set on the threads running a group of `mapGroups`: the group's width (never 0, so never nil).
    private static let groupWidthKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// How inference runs from here on: each operation split over `threads`, OpenBLAS on one
    /// thread per call (set once at start, before any inference).
    public static func use(threads: Int) {
        BLAS.setThreads(1)
        configuredWidth = max(1, threads)
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

    /// `count` independent items (a batch's frames) in consecutive groups that run side by side,
    /// the `width` threads shared out among them; the results in group order.
    ///
    /// Why: the parts of a split operation wait for each other at its end (hundreds of times per
    /// forward pass) and read what other cores just wrote; groups of whole frames do neither.
    /// Measured in one process, alternating, 40 pairs at 2 threads (4 frames: 2 groups of 2
    /// against every operation split in 2): the forward pass faster in 27 of 40 pairs, twice,
    /// median -4 % and -6 %.
    public static func mapGroups<T>(_ count: Int, _ body: (Range<Int>) -> T) -> [T] {
        let total = width
        let groups = ranges(count, granule: 1, width: groups(count, width: total))
        guard groups.count > 1 else { return groups.map(body) }
        var results = [T?](repeating: nil, count: groups.count)
        results.withUnsafeMutableBufferPointer { slots in
            // No more groups than threads: each part of `forEach` is one group.
            forEach(groups.count) { part in
                let previous = pthread_getspecific(groupWidthKey)
                pthread_setspecific(groupWidthKey, UnsafeMutableRawPointer(bitPattern: total / groups.count))
                defer { pthread_setspecific(groupWidthKey, previous) }
                for i in part { slots[i] = body(groups[i]) }
            }
        }
        return results.map { $0! }
    }

    /// How many groups `mapGroups` makes of `count` items on `width` threads: each group gets
    /// width / groups threads, so the one with the most items takes ceil(count / groups) /
    /// (width / groups) item-times; the fewest such, and among equals the most groups (2 frames
    /// on each of 2 cores rather than 4 frames split on both; 4 frames on 8 threads: 4 groups of
    /// one frame, 2 threads each).
    public static func groups(_ count: Int, width: Int) -> Int {
        guard count > 1, width > 1 else { return 1 }
        // Item-times compared as fractions: ceil(count / g) / (width / g).
        func load(_ g: Int) -> (items: Int, threads: Int) { ((count + g - 1) / g, width / g) }
        return (1...min(count, width)).min { a, b in
            let (x, y) = (load(a), load(b))
            let (l, r) = (x.items * y.threads, y.items * x.threads)
            return l < r || (l == r && a > b)
        }!
    }

    /// `count` items split over the cores as `forEach` does, each part walking its share in
    /// nearly equal blocks of at most `block` items (no thin remainder block: cache blocking must
    /// not leave a GEMM too thin to run at speed), with one scratch buffer, reused from block to
    /// block, of `scratchFloats(n)` floats for the part's largest block of n items.
    static func forEachBlock(_ count: Int, atMost block: Int, scratchFloats: (Int) -> Int,
                             _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        forEach(count) { part in
            let blocks = ranges(part.count, granule: 1, width: (part.count + block - 1) / Swift.max(1, block))
            Scratch.with(count: scratchFloats(blocks.map(\.count).max() ?? 0)) { scratch in
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
