import DFGaze
import Foundation
import HTTPServer
import Jobs
import Logging

/// `dfgaze serve`'s job settings (issue 19); nil in `ServiceConfiguration.jobs` turns /jobs off.
public struct JobsConfiguration: Sendable {
    /// `--jobs-database` (default: SQLite under `--data-dir`).
    public var store: JobStoreConfiguration
    /// `--job-lease-seconds`, `--max-queued-jobs`, `--job-ttl`.
    public var storeOptions = JobStoreOptions()
    /// `--job-workers`, `--webhook-secret`, `--webhook-allow` (the metrics hooks are set by the service).
    public var runner = JobRunnerConfiguration()

    public init(store: JobStoreConfiguration) { self.store = store }
}

/// The /jobs routes: a durable queue in front of the same scoring as `POST /score`.
///
/// POST /jobs parses and checks the upload exactly as /score does (a bad upload is a 4xx now), then
/// stores the raw body, its Content-Type and the query; a job worker later replays them through
/// `ScoreRequest.parse` and `ScoringService.run`. Job workers share the cores with /score by going
/// through the same `InferenceQueue`: a job's scoring is one entry of that queue, so inference at
/// once never exceeds `--workers` whatever `--job-workers` says (docs/jobs.md).
final class JobsAPI: @unchecked Sendable {
    let store: JobStore
    let runner: JobRunner
    let allowedHosts: Set<String>

    static let prefix = "/jobs/"
    static let defaultListLimit = 100
    static let maxListLimit = 1000

    init(configuration: JobsConfiguration, metrics: ServiceMetrics, executor: @escaping JobExecutor) throws {
        store = try JobStore(configuration: configuration.store, options: configuration.storeOptions)
        var runnerConfiguration = configuration.runner
        let earlierAttempt = runnerConfiguration.onWebhookAttempt
        runnerConfiguration.onWebhookAttempt = { attempt in
            metrics.webhookAttempt(status: attempt.status)
            earlierAttempt?(attempt)
        }
        let earlierFinish = runnerConfiguration.onJobFinished
        runnerConfiguration.onJobFinished = { id, status, seconds in
            metrics.jobFinished(status: status.rawValue, seconds: seconds)
            earlierFinish?(id, status, seconds)
        }
        allowedHosts = configuration.runner.webhookAllowedHosts
        runner = JobRunner(store: store, configuration: runnerConfiguration, executor: executor)
    }

    /// Registers POST/GET /jobs and GET/DELETE /jobs/{id}.
    static func register(_ router: inout Router, service: @escaping @Sendable () -> ScoringService?, starting: APIError) {
        router.add(.POST, "/jobs") { request, respond in
            guard let service = service() else { return respond(starting.response(requestID: request.requestID)) }
            respond(service.submitJob(request))
        }
        router.add(.GET, "/jobs") { request in
            service()?.listJobs(request) ?? starting.response(requestID: request.requestID)
        }
        router.add(.GET, "/jobs/{id}") { request in
            service()?.getJob(request) ?? starting.response(requestID: request.requestID)
        }
        router.add(.DELETE, "/jobs/{id}") { request in
            service()?.cancelJob(request) ?? starting.response(requestID: request.requestID)
        }
    }
}

/// A job's failure as the API's error envelope.
struct JobFailure: JobErrorJSON {
    var errorJSON: Data
    init(_ error: APIError, jobID: String) { errorJSON = Data(error.json(requestID: jobID)) }
}

extension ScoringService {
    /// Makes the job store and runner when jobs are on (called from init).
    static func makeJobs(_ configuration: ServiceConfiguration, metrics: ServiceMetrics,
                         service: @escaping @Sendable () -> ScoringService?) throws -> JobsAPI? {
        guard let jobs = configuration.jobs else { return nil }
        return try JobsAPI(configuration: jobs, metrics: metrics) { job, progress, isCanceled in
            guard let service = service() else { throw JobFailure(APIError(.notReady, "the service is stopping"), jobID: job.id) }
            return try service.executeJob(job, progress: progress, isCanceled: isCanceled)
        }
    }

    /// What a job worker runs: wait for the weights, parse the stored upload as /score does, and
    /// score it as one entry of the inference queue (waiting for a place, so /score and jobs share
    /// `--workers`).
    func executeJob(_ job: Job, progress: @escaping JobProgress, isCanceled: @escaping @Sendable () -> Bool) throws -> Data {
        struct Stopped: Error {}
        var scorer: VideoScorer?
        while true {
            scorer = lock.withLock { self.scorer }
            if scorer != nil { break }
            if isCanceled() { throw Stopped() }
            Thread.sleep(forTimeInterval: 0.2)
        }
        guard let scorer, let payload = job.payload else {
            throw JobFailure(APIError(.internalError, "the job's upload is gone"), jobID: job.id)
        }
        let options = configuration.scoring
        let query = job.parameters.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        let parsed: ScoreRequest
        do {
            parsed = try ScoreRequest.parse(body: Array(payload), contentType: job.contentType, query: query, maxFrames: options.maxFrames)
        } catch {
            throw JobFailure(error, jobID: job.id)
        }
        let done = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var outcome: Result<Data, APIError>? }
        let box = Box()
        let submitted = Date()
        while true {
            if isCanceled() { throw Stopped() }
            let accepted = queue.submit {
                let waited = Date().timeIntervalSince(submitted)
                do throws(APIError) {
                    box.outcome = .success(try self.run(parsed, scorer: scorer, requestID: job.id, queueSeconds: waited,
                                                        progress: progress, isCancelled: isCanceled))
                } catch {
                    box.outcome = .failure(error)
                }
                done.signal()
            }
            if accepted { break }
            // The queue is full of /score requests: they go first; try again shortly.
            Thread.sleep(forTimeInterval: 0.25)
        }
        done.wait()
        switch box.outcome {
        case .success(let data): return data
        case .failure(let error): throw JobFailure(error, jobID: job.id)
        case nil: throw JobFailure(APIError(.internalError, "scoring ended without an answer"), jobID: job.id)
        }
    }

    // MARK: Routes

    private func jobsRefusal(_ error: APIError, _ request: HTTPRequest, retryAfter: Int? = nil) -> HTTPResponse {
        metrics.rejected(reason: error.code.rawValue)
        var response = error.response(requestID: request.requestID)
        if let retryAfter { response.headers.set("Retry-After", String(retryAfter)) }
        return response
    }

    private func storeUnavailable(_ request: HTTPRequest, _ error: Error) -> HTTPResponse {
        jobsRefusal(APIError(.serviceUnavailable, "the job store is unavailable; retry later"), request,
                    retryAfter: configuration.retryAfterSeconds)
    }

    private func jobResponse(_ job: Job, status: Int = 200) -> HTTPResponse {
        var response = HTTPResponse.json(Array(job.json()), status: status)
        response.headers.set("Cache-Control", "no-store")
        return response
    }

    func submitJob(_ request: HTTPRequest) -> HTTPResponse {
        guard let jobs else { return APIError(.notFound, "jobs are off").response(requestID: request.requestID) }
        if let refusal = authorize(request) { metrics.rejected(reason: "unauthorized"); return refusal }
        if server.isDraining {
            return jobsRefusal(APIError(.draining, "the server is shutting down; retry on another instance"), request,
                               retryAfter: configuration.retryAfterSeconds)
        }
        var key: String?
        if let header = request.headers["Idempotency-Key"] {
            guard JobStore.isValidIdempotencyKey(header) else {
                return jobsRefusal(APIError(.badIdempotencyKey, "Idempotency-Key must be 1 to 255 printable ASCII characters"), request)
            }
            key = header
        }
        let contentType = request.headers["Content-Type"] ?? ""
        let query = request.queryItems
        let callback: String?
        do throws(APIError) {
            // The same checks as /score, before anything is stored.
            callback = try admit(body: request.body, contentType: contentType, query: query).callbackURL
            if let callback, case .failure(let why) = WebhookURL.validate(callback, allowedHosts: jobs.allowedHosts) {
                throw APIError(.badCallbackURL, why.description)
            }
        } catch {
            return jobsRefusal(error, request)
        }
        var parameters: [String: String] = [:]
        for item in query where item.name != "callback_url" { parameters[item.name] = item.value }
        let submission = JobSubmission(payload: Data(request.body), contentType: contentType, parameters: parameters,
                                       callbackURL: callback, idempotencyKey: key)
        do {
            let (job, created) = try jobs.store.submit(submission)
            if created { jobs.runner.wake() }
            // A repeat with the same Idempotency-Key and body answers as the first time did.
            var response = jobResponse(job, status: 202)
            response.headers.set("Location", JobsAPI.prefix + job.id)
            return response
        } catch JobStoreError.queueFull(let seconds) {
            return jobsRefusal(APIError(.jobsQueueFull, "the job queue is full; retry after \(seconds) s"), request, retryAfter: seconds)
        } catch JobStoreError.idempotencyConflict(let existing) {
            var response = jobsRefusal(APIError(.idempotencyConflict, "this Idempotency-Key was used with a different body (job \(existing))"), request)
            response.headers.set("Location", JobsAPI.prefix + existing)
            return response
        } catch JobStoreError.invalidIdempotencyKey {
            return jobsRefusal(APIError(.badIdempotencyKey, "Idempotency-Key must be 1 to 255 printable ASCII characters"), request)
        } catch {
            return storeUnavailable(request, error)
        }
    }

    private func jobID(_ request: HTTPRequest) -> String? {
        Router.parameter(request.path, prefix: JobsAPI.prefix).flatMap { JobStore.isValidJobId($0) ? $0 : nil }
    }

    private func notFound(_ request: HTTPRequest) -> HTTPResponse {
        APIError(.jobNotFound, "no such job (it may have expired after --job-ttl)").response(requestID: request.requestID)
    }

    func getJob(_ request: HTTPRequest) -> HTTPResponse { withJob(request) { jobs, id in try jobs.store.job(id: id) } }

    func cancelJob(_ request: HTTPRequest) -> HTTPResponse { withJob(request) { jobs, id in try jobs.runner.cancel(id: id) } }

    /// GET and DELETE /jobs/{id}: jobs on, a key when keys are on, an id that is one; then the job
    /// as `action` leaves it (nil: no such job).
    private func withJob(_ request: HTTPRequest, _ action: (JobsAPI, String) throws -> Job?) -> HTTPResponse {
        guard let jobs else { return APIError(.notFound, "jobs are off").response(requestID: request.requestID) }
        if let refusal = authorize(request) { return refusal }
        guard let id = jobID(request) else { return notFound(request) }
        do {
            guard let job = try action(jobs, id) else { return notFound(request) }
            return jobResponse(job)
        } catch {
            return storeUnavailable(request, error)
        }
    }

    func listJobs(_ request: HTTPRequest) -> HTTPResponse {
        guard let jobs else { return APIError(.notFound, "jobs are off").response(requestID: request.requestID) }
        if let refusal = authorize(request) { return refusal }
        var status: JobStatus?
        var limit = JobsAPI.defaultListLimit
        for item in request.queryItems {
            switch item.name {
            case "status":
                guard let s = JobStatus(rawValue: item.value) else {
                    return jobsRefusal(APIError(.badRequest, "status must be one of \(JobStatus.allCases.map(\.rawValue).joined(separator: ", "))"), request)
                }
                status = s
            case "limit":
                guard let n = Int(item.value), (1...JobsAPI.maxListLimit).contains(n) else {
                    return jobsRefusal(APIError(.badRequest, "limit must be an integer from 1 to \(JobsAPI.maxListLimit)"), request)
                }
                limit = n
            default:
                continue
            }
        }
        do {
            var response = HTTPResponse.json(Array(Job.listJSON(try jobs.store.list(status: status, limit: limit))))
            response.headers.set("Cache-Control", "no-store")
            return response
        } catch {
            return storeUnavailable(request, error)
        }
    }

    /// The store's numbers for /metrics (recorded at each scrape; a store that does not answer
    /// leaves the previous figures).
    func recordJobStats() {
        guard let jobs, let stats = try? jobs.store.stats() else { return }
        metrics.jobStats(counts: Dictionary(uniqueKeysWithValues: stats.countsByStatus.map { ($0.key.rawValue, $0.value) }),
                         oldestQueuedSeconds: stats.oldestQueuedAgeSeconds)
    }
}
