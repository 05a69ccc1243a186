import Dispatch
import Foundation

/// Reusable workspace for the convolution kernels (im2col columns, Winograd transforms).
///
/// A call takes an idle buffer, grows it if it is too small, and returns it when done: in steady
/// state the kernels neither allocate nor touch fresh pages. Thread-safe: concurrent calls (several
/// inference workers) get different buffers, so the pool holds as many as ever ran at once.
final class Scratch: @unchecked Sendable {
    static let shared = Scratch()
    private let lock = NSLock()
    private var idle: [Buffer] = []

    private final class Buffer {
        var pointer = UnsafeMutablePointer<Float>.allocate(capacity: 0)
        var capacity = 0

        func reserve(_ count: Int) {
            guard count > capacity else { return }
            pointer.deallocate()
            pointer = .allocate(capacity: count)
            capacity = count
        }

        deinit { pointer.deallocate() }
    }

    /// Runs `body` with `count` uninitialized floats, valid only during the call.
    static func with<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        let pool = shared
        pool.lock.lock()
        let buffer = pool.idle.popLast() ?? Buffer()
        pool.lock.unlock()
        defer {
            pool.lock.lock()
            pool.idle.append(buffer)
            pool.lock.unlock()
        }
        buffer.reserve(count)
        return body(buffer.pointer)
    }
}

/// Loops the kernels spread over the threads BLAS is allowed (the service sizes BLAS threads as
/// cores / inference workers, so this never oversubscribes more than the GEMMs do).
enum Parallel {
    /// Runs `body` for every index of 0..<count, in contiguous chunks, one per thread.
    static func forEach(_ count: Int, _ body: (Int) -> Void) {
        let workers = min(count, BLAS.threads)
        guard workers > 1 else {
            for i in 0..<count { body(i) }
            return
        }
        // The chunks touch disjoint memory through the caller's pointers; concurrentPerform
        // returns only when all are done, so `body` does not outlive the call.
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let work = body
            DispatchQueue.concurrentPerform(iterations: workers) { k in
                for i in (k * count / workers)..<((k + 1) * count / workers) { work(i) }
            }
        }
    }
}
