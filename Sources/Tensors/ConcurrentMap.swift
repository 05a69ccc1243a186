import Dispatch

/// `transform(i)` for every i in 0..<count, spread over all cores; the results in order.
public func concurrentMap<T>(_ count: Int, _ transform: @Sendable (Int) -> T) -> [T] {
    let slots = Slots<T>(count: count)
    DispatchQueue.concurrentPerform(iterations: count) { i in slots.store(transform(i), at: i) }
    return slots.results()
}

/// Storage that concurrent iterations write without locking: each writes only its own slot,
/// and the results are read after all have finished.
private final class Slots<T>: @unchecked Sendable {
    private let base: UnsafeMutablePointer<T?>
    private let count: Int

    init(count: Int) {
        self.count = count
        base = .allocate(capacity: count)
        base.initialize(repeating: nil, count: count)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    func store(_ value: T, at i: Int) { base[i] = value }

    func results() -> [T] { (0..<count).compactMap { base[$0] } }
}
