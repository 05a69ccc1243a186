import Foundation
import JSONText

/// Reports progress: clips done of clips total.
public typealias JobProgress = @Sendable (_ clipsDone: Int, _ clipsTotal: Int) -> Void

/// Runs one job: gets the job (with its payload), a progress callback and a cancellation check to
/// poll (true once the job was canceled, its lease was lost, or the runner is stopping), and
/// returns the result JSON bytes. A thrown `JobErrorJSON` is stored as its error JSON, any other
/// error as `{"error":{"code":"internal_error","message":...}}`.
public typealias JobExecutor = @Sendable (_ job: Job, _ progress: @escaping JobProgress, _ isCanceled: @escaping @Sendable () -> Bool) throws -> Data

public struct JobRunnerConfiguration: Sendable {
    /// `--job-workers`: jobs run at once by this process.
    public var workers: Int = 1
    /// How often an idle worker looks for a job (a `wake()` after submit looks at once).
    public var pollInterval: Double = 0.5
    /// How often a running job's cancellation and lease are checked (the lease is renewed every
    /// third of `leaseSeconds`).
    public var checkInterval: Double = 1
    /// Names this process in `lease_owner` (host and pid by default).
    public var workerName: String = "\(ProcessInfo.processInfo.hostName)-\(getpid())"
    /// `--webhook-secret`: signs `X-DFGaze-Signature` (no header when nil).
    public var webhookSecret: String?
    /// `--webhook-allow`: checked again before each delivery.
    public var webhookAllowedHosts: Set<String> = []
    /// Connect, send and answer timeout of one webhook attempt.
    public var webhookTimeout: Double = 10
    /// `--webhook-ca-file`: PEM certificates trusted for https callbacks besides the system CA store.
    public var webhookCAFile: String?
    /// How often finished jobs past `--job-ttl` are deleted.
    public var cleanupInterval: Double = 60
    /// Called after each webhook attempt (for a metrics counter).
    public var onWebhookAttempt: (@Sendable (WebhookAttempt) -> Void)?
    /// Called when a job this process ran ends (status and seconds it ran), for metrics/logs.
    public var onJobFinished: (@Sendable (Job.ID, JobStatus, Double) -> Void)?

    public init() {}
}

extension Job { public typealias ID = String }

/// N worker threads claiming jobs from the store and running the executor, a heartbeat renewing
/// their leases and noticing cancellation, a webhook dispatcher, and a TTL cleaner.
public final class JobRunner: @unchecked Sendable {
    public let store: JobStore
    public let configuration: JobRunnerConfiguration
    private let executor: JobExecutor

    private final class Running: @unchecked Sendable {
        let id: String
        let token: String
        var lastRenewal: Date
        var stop = false
        var state = LeaseState.held
        init(id: String, token: String) { self.id = id; self.token = token; lastRenewal = Date() }
    }

    private let condition = NSCondition()
    private var stopping = false
    private var halted = false
    private var running: [String: Running] = [:]
    private var threads = 0
    private var started = false

    public init(store: JobStore, configuration: JobRunnerConfiguration = JobRunnerConfiguration(), executor: @escaping JobExecutor) {
        self.store = store
        self.configuration = configuration
        self.executor = executor
    }

    public func start() {
        condition.lock()
        defer { condition.unlock() }
        guard !started else { return }
        started = true
        for i in 0..<max(0, configuration.workers) { spawn("dfgaze-job-worker-\(i)") { [self] in workerLoop() } }
        spawn("dfgaze-job-heartbeat") { [self] in heartbeatLoop() }
        spawn("dfgaze-webhooks") { [self] in webhookLoop() }
        spawn("dfgaze-job-cleanup") { [self] in cleanupLoop() }
    }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        threads += 1
        let thread = Thread { [self] in
            body()
            condition.lock()
            threads -= 1
            condition.broadcast()
            condition.unlock()
        }
        thread.name = name
        thread.start()
    }

    /// Wakes idle workers (call after a submit) and the webhook dispatcher.
    public func wake() {
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    /// Cancels a job in the store and, when it runs here, tells its executor at once.
    public func cancel(id: String) throws -> Job? {
        let job = try store.cancel(id: id)
        condition.lock()
        if let r = running[id] { r.stop = true; r.state = .canceled }
        condition.unlock()
        return job
    }

    /// Stops claiming, asks running executors to stop (their `isCanceled` turns true), gives their
    /// unfinished jobs back to the queue, and waits for every thread to end.
    public func stop() {
        condition.lock()
        stopping = true
        for r in running.values { r.stop = true }
        condition.broadcast()
        while threads > 0 { condition.wait() }
        condition.unlock()
    }

    /// Test hook: behave like a process that died: no more renewals, claims or writes.
    /// Returns once only the threads stuck in an executor remain (their results are dropped).
    func haltForTesting() {
        condition.lock()
        halted = true
        stopping = true
        condition.broadcast()
        while threads > running.count { condition.wait() }
        condition.unlock()
    }

    private func sleep(_ seconds: Double) {
        condition.lock()
        if !stopping { _ = condition.wait(until: Date().addingTimeInterval(seconds)) }
        condition.unlock()
    }

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    // MARK: Workers

    private func workerLoop() {
        while !isStopping {
            let claimed: ClaimedJob?
            do {
                claimed = try store.claim(worker: configuration.workerName)
            } catch {
                sleep(configuration.pollInterval)
                continue
            }
            guard let claimed else {
                sleep(configuration.pollInterval)
                continue
            }
            run(claimed)
        }
    }

    private func run(_ claimed: ClaimedJob) {
        let entry = Running(id: claimed.job.id, token: claimed.leaseToken)
        condition.lock()
        if stopping { entry.stop = true }
        running[entry.id] = entry
        condition.unlock()
        let began = Date()
        let isCanceled: @Sendable () -> Bool = { [self] in
            condition.lock()
            defer { condition.unlock() }
            return entry.stop
        }
        let progress: JobProgress = { [self] done, total in
            if let state = try? store.progress(id: entry.id, leaseToken: entry.token, clipsDone: done, clipsTotal: total), state != .held {
                condition.lock()
                entry.stop = true
                entry.state = state
                condition.unlock()
            }
        }
        var outcome: Result<Data, Error>
        do {
            outcome = .success(try executor(claimed.job, progress, isCanceled))
        } catch {
            outcome = .failure(error)
        }
        condition.lock()
        running[entry.id] = nil
        let halted = self.halted, state = entry.state, stop = entry.stop, stopping = self.stopping
        condition.unlock()
        if halted || state != .held { return }
        do {
            switch outcome {
            case .success(let data) where (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil:
                try store.complete(id: entry.id, leaseToken: entry.token, result: data)
                configuration.onJobFinished?(entry.id, .succeeded, Date().timeIntervalSince(began))
            case .success:
                try store.fail(id: entry.id, leaseToken: entry.token,
                               error: Self.errorJSON(code: "internal_error", message: "the job's result is not JSON"))
                configuration.onJobFinished?(entry.id, .failed, Date().timeIntervalSince(began))
            case .failure(let error):
                if stop && stopping {
                    // Interrupted by stop(): another worker (or this process after a restart) runs it.
                    try store.release(id: entry.id, leaseToken: entry.token)
                    return
                }
                let json = (error as? JobErrorJSON)?.errorJSON ?? Self.errorJSON(code: "internal_error", message: "\(error)")
                try store.fail(id: entry.id, leaseToken: entry.token, error: json)
                configuration.onJobFinished?(entry.id, .failed, Date().timeIntervalSince(began))
            }
        } catch {
            // leaseLost: canceled meanwhile, or taken over after our lease expired; nothing stored.
        }
        wake()
    }

    static func errorJSON(code: String, message: String) -> Data {
        Data("{\"error\":{\"code\":\(jsonString(code)),\"message\":\(jsonString(message))}}".utf8)
    }

    private func heartbeatLoop() {
        while !isStopping {
            condition.lock()
            let entries = Array(running.values)
            condition.unlock()
            for entry in entries {
                let due = Date().timeIntervalSince(entry.lastRenewal) >= store.options.leaseSeconds / 3
                let state: LeaseState?
                if due {
                    state = try? store.renew(id: entry.id, leaseToken: entry.token)
                    if state == .held { entry.lastRenewal = Date() }
                } else {
                    state = try? store.leaseState(id: entry.id, leaseToken: entry.token)
                }
                if let state, state != .held {
                    condition.lock()
                    if !halted { entry.stop = true; entry.state = state }
                    condition.unlock()
                }
            }
            sleep(min(configuration.checkInterval, store.options.leaseSeconds / 3))
        }
    }

    // MARK: Webhooks and cleanup

    private func webhookLoop() {
        while !isStopping {
            let delivery = try? store.claimWebhook(inflightSeconds: configuration.webhookTimeout * 2 + 5)
            guard let delivery else {
                sleep(configuration.pollInterval)
                continue
            }
            deliver(delivery)
        }
    }

    /// One attempt: POST the job JSON, record {at, status}, schedule the next attempt or stop.
    func deliver(_ delivery: WebhookDelivery) {
        let job = delivery.job
        let at = store.clock()
        var status: Int?
        var failure: String?
        if let url = job.callbackURL {
            switch WebhookURL.validate(url, allowedHosts: configuration.webhookAllowedHosts) {
            case .success(let target):
                let body = job.json()
                var headers = [("Content-Type", "application/json"), ("User-Agent", "dfgaze-webhook/1"), ("X-DFGaze-Job-Id", job.id)]
                if let secret = configuration.webhookSecret {
                    headers.append(("X-DFGaze-Signature", WebhookSignature.header(body: body, secret: secret)))
                }
                do {
                    status = try OutboundHTTP.post(target, headers: headers, body: body, timeout: configuration.webhookTimeout,
                                                 caFile: configuration.webhookCAFile)
                } catch let error as OutboundHTTP.Failure {
                    failure = error.message
                } catch {
                    failure = "\(error)"
                }
            case .failure(let error):
                // The allow list changed since submit: never contacted.
                failure = error.description
            }
        } else {
            failure = "no callback URL"
        }
        let retryable: Bool
        if let status {
            retryable = (500...599).contains(status) || status == 408 || status == 429
        } else {
            retryable = failure.map { !$0.hasPrefix("callback_url") && $0 != "no callback URL" } ?? false
        }
        let options = store.options
        var next: Date?
        if retryable && delivery.attemptNumber < options.webhookMaxAttempts {
            next = at.addingTimeInterval(options.webhookFirstRetryDelay * pow(2, Double(delivery.attemptNumber - 1)))
        }
        let attempt = WebhookAttempt(at: at, status: status, error: failure)
        try? store.recordWebhookAttempt(jobId: job.id, attemptNumber: delivery.attemptNumber, attempt: attempt, nextAttemptAt: next)
        configuration.onWebhookAttempt?(attempt)
    }

    private func cleanupLoop() {
        while !isStopping {
            _ = try? store.deleteExpired()
            _ = try? store.requeueExpiredLeases()
            sleep(configuration.cleanupInterval)
        }
    }
}
