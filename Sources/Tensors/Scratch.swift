import Foundation

/// Reusable workspace for the convolution kernels (im2col columns, Winograd transforms).
///
/// A call takes an idle buffer, grows it if it is too small, and returns it when done: in steady
/// state the kernels neither allocate nor touch fresh pages. Thread-safe: concurrent calls (several
/// inference workers) get different buffers, so the pool holds as many as ever ran at once.
///
/// `zeros`: a second pool whose buffers are all zeros whenever idle. Its callers get `count` zeros
/// and must leave them zero (Winograd's GEMMs accumulate onto such a buffer and its inverse
/// transform clears what it reads), which spares the GEMMs a pass zeroing their output (beta = 0).
final class Scratch: @unchecked Sendable {
    static let shared = Scratch()
    static let zeros = Scratch(zeroed: true)
    private let zeroed: Bool
    private let lock = NSLock()
    private var idle: [Buffer] = []

    init(zeroed: Bool = false) { self.zeroed = zeroed }

    private final class Buffer {
        var pointer = UnsafeMutablePointer<Float>.allocate(capacity: 0)
        var capacity = 0

        func reserve(_ count: Int, zeroed: Bool) {
            guard count > capacity else { return }
            pointer.deallocate()
            pointer = .allocate(capacity: count)
            if zeroed { pointer.initialize(repeating: 0, count: count) }
            capacity = count
        }

        deinit { pointer.deallocate() }
    }

    /// The smallest idle buffer that holds `count` floats, else the largest (to grow): buffers
    /// settle into the sizes the kernels ask for instead of each growing, call by call, to the
    /// largest request it happens to meet (resident memory that kept rising for rounds).
    private func take(atLeast count: Int) -> Buffer {
        let fitting = idle.indices.filter { idle[$0].capacity >= count }
        let chosen = fitting.min { idle[$0].capacity < idle[$1].capacity }
            ?? idle.indices.max { idle[$0].capacity < idle[$1].capacity }
        guard let chosen else { return Buffer() }
        return idle.remove(at: chosen)
    }

    /// Runs `body` with `count` uninitialized floats, valid only during the call.
    static func with<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        shared.with(count: count, body)
    }

    /// Runs `body` with `count` zeros, valid only during the call; `body` must leave them zero.
    static func withZeros<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        zeros.with(count: count, body)
    }

    func with<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        lock.lock()
        let buffer = take(atLeast: count)
        lock.unlock()
        defer {
            lock.lock()
            idle.append(buffer)
            lock.unlock()
        }
        buffer.reserve(count, zeroed: zeroed)
        return body(buffer.pointer)
    }
}
