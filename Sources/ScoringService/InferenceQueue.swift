import Foundation

/// A bounded FIFO of scoring jobs run by a fixed set of worker threads.
///
/// `submit` never blocks: when `workers + depth` jobs are already admitted it refuses, so the
/// HTTP layer can answer 503 at once instead of stalling the client.
final class InferenceQueue: @unchecked Sendable {
    typealias Job = @Sendable () -> Void

    let workers: Int
    let depth: Int
    private let condition = NSCondition()
    private var waiting: [Job] = []
    private var running = 0
    private var stopped = false
    /// Called with (waiting, running) whenever they change.
    private let observe: @Sendable (Int, Int) -> Void

    init(workers: Int, depth: Int, observe: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) {
        self.workers = max(1, workers)
        self.depth = max(0, depth)
        self.observe = observe
        for i in 0..<self.workers {
            // The threads keep the queue alive until `stop()` lets them end.
            let t = Thread { self.work() }
            t.name = "inference-\(i)"
            t.stackSize = 8 << 20
            t.start()
        }
    }

    /// Admits the job, or returns false when the queue is full or stopped.
    func submit(_ job: @escaping Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped, waiting.count + running < workers + depth else { return false }
        waiting.append(job)
        observe(waiting.count, running)
        condition.signal()
        return true
    }

    var counts: (waiting: Int, running: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (waiting.count, running)
    }

    /// Lets admitted jobs finish, then ends the workers.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Niceness of the threads inference runs on: on busy cores the connection threads, which
    /// answer health checks, are scheduled first (a busy replica must not look dead to its balancer).
    static let inferenceNiceness: Int32 = 5

    /// Lowers the calling thread's priority (Linux nice is per thread).
    static func lowerPriority() {
        // "/proc/thread-self" -> "<pid>/task/<tid>" (Glibc hides gettid).
        if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self"),
           let tid = link.split(separator: "/").last.flatMap({ id_t($0) }) {
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid, inferenceNiceness)
        }
    }

    /// Inference splits its operations over Dispatch's default pool (`concurrentPerform` in
    /// Tensors), which nothing else in the service uses since handlers run on connection threads:
    /// its workers get the same niceness. They are found by name; the pool may grow, so each job checks.
    static func lowerDispatchWorkersPriority() {
        let tasks = "/proc/self/task"
        for tid in (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? [] {
            guard let name = try? String(contentsOfFile: "\(tasks)/\(tid)/comm", encoding: .utf8),
                  name.hasSuffix("default-qos\n"), let id = id_t(tid) else { continue }
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id, inferenceNiceness)
        }
    }

    private func work() {
        Self.lowerPriority()
        while true {
            condition.lock()
            while waiting.isEmpty && !stopped { condition.wait() }
            if waiting.isEmpty { condition.unlock(); return }
            let job = waiting.removeFirst()
            running += 1
            observe(waiting.count, running)
            condition.unlock()

            Self.lowerDispatchWorkersPriority()
            job()

            condition.lock()
            running -= 1
            observe(waiting.count, running)
            condition.unlock()
        }
    }
}
