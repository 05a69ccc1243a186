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
