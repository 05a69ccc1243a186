import DFGaze
import Foundation
import JSONText
import HTTPServer
import Logging

/// The model behind the service. `DFGazeModel` is the real one; tests of queueing and limits may
/// use a slower or failing stand-in.
public protocol VideoScorer: AnyObject, Sendable {
    func score(jpegs: [Data], options: ScoringOptions) throws -> ScoreReport
    /// Scores the given clips (indices into `jpegs`; clips may share frames): the report's frames
    /// are all of `jpegs`, its clips these. `DFGazeModel` has it; a stand-in gets a default.
    func score(jpegs: [Data], clips: [[Int]], options: ScoringOptions) throws -> ScoreReport
    /// Which model and weights answer (reported by /readyz and in every score).
    var identity: ScoreReport.ModelIdentity { get }
    /// What `GET /v1/model` reports about the loaded model.
    var modelInfo: ModelInfo { get }
}

/// The HTTP API around a `VideoScorer`: POST /score, health and readiness (plus the Open
/// Inference Protocol aliases), /v1/model, /metrics, /openapi.yaml.
public final class ScoringService: @unchecked Sendable {
    public let configuration: ServiceConfiguration
    public let server: HTTPServer
    let metrics = ServiceMetrics()
    let queue: InferenceQueue
    private let logger: Logger
    let lock = NSLock()
    var scorer: VideoScorer?
    /// The /jobs store and workers (JobsAPI.swift); nil when jobs are off.
    var jobs: JobsAPI?
    /// Set when shutdown begins: readiness fails at once, before the listener closes.
    private var leaving = false
    /// When shutdown's grace runs out (less a second to answer): work still running is cancelled then.
    private var cancelAfter: DispatchTime?
    /// Bytes of video bodies in the inference queue (`ServiceConfiguration.maxQueuedVideoBytes`).
    private var queuedVideoBytes = 0

    /// `scorer` may be nil at start: the server answers health checks (not ready) while the
    /// weights load, then `setScorer` makes it ready.
    public init(scorer: VideoScorer?, configuration: ServiceConfiguration = ServiceConfiguration(),
                server serverConfiguration: ServerConfiguration = ServerConfiguration(),
                logger: Logger = Logger(label: "dfgaze")) throws {
        self.configuration = configuration
        // The body limit is the service's to say: a video (raw, or a multipart body that may hold
        // one) up to the video limit, everything else up to --max-body-bytes (checked again after
        // parsing for a multipart body that held no video).
        var serverConfiguration = serverConfiguration
        if serverConfiguration.bodyLimit == nil {
            let frames = serverConfiguration.maxBodyBytes
            let video = max(frames, configuration.video.maxBytes + Self.multipartSlack)
            serverConfiguration.bodyLimit = { method, _, headers in
                guard method == .POST else { return frames }
                let media = ScoreRequest.mediaType(headers["Content-Type"] ?? "")
                return ScoreRequest.videoMediaTypes.contains(media) || media == "multipart/form-data" ? video : frames
            }
        }
        self.scorer = scorer
        self.logger = logger
        let metrics = self.metrics
        var router = Router()
        // Filled in below, once `self` is complete; routes only run after start(). Every route runs
        // on its connection's thread and is quick: /score parses and queues, inference runs on the
        // queue's own threads, so health checks never wait behind it.
        let handlers = Handlers()
        let starting = APIError(.notReady, "the service is starting")
        router.add(.POST, "/score") { request, respond in
            guard let service = handlers.service else { return respond(starting.response(requestID: request.requestID)) }
            service.score(request, respond)
        }
        for path in ["/healthz", "/v2/health/live"] {
            router.add(.GET, path) { _ in .json(Array(#"{"status":"ok"}"#.utf8)) }
        }
        for path in ["/readyz", "/v2/health/ready"] {
            router.add(.GET, path) { request in handlers.service?.readiness() ?? starting.response(requestID: request.requestID) }
        }
        router.add(.GET, "/v1/model") { request in handlers.service?.model(request) ?? starting.response(requestID: request.requestID) }
        if configuration.jobs != nil { JobsAPI.register(&router, service: { handlers.service }, starting: starting) }
        router.add(.GET, "/metrics") { request in handlers.service?.metricsPage(request) ?? starting.response(requestID: request.requestID) }
        // The review page: no key needed to load it (the page asks for one when the API does).
        router.add(.GET, "/") { _ in
            HTTPResponse(status: 200, headers: ["Content-Type": "text/html; charset=utf-8",
                                                "Content-Security-Policy": ReviewPage.contentSecurityPolicy,
                                                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                                                "Cache-Control": "no-cache"],
                         body: Array(ReviewPage.html.utf8))
        }
        router.add(.GET, "/openapi.yaml") { _ in
            HTTPResponse(status: 200, headers: ["Content-Type": "application/yaml"], body: Array(OpenAPIDocument.yaml.utf8))
        }
        server = try HTTPServer(configuration: serverConfiguration, router: router, logger: logger, renderError: APIError.render) { record in
            metrics.request(route: record.path, method: record.method, status: record.status, seconds: record.duration)
        }
        let jobsAPI = try Self.makeJobs(configuration, metrics: metrics) { handlers.service }
        // Last: its worker threads start now and must not outlive a failed init.
        queue = InferenceQueue(workers: configuration.workers, depth: configuration.queueDepth) { waiting, running in
            metrics.queue(waiting: waiting, running: running)
        }
        jobs = jobsAPI
        handlers.service = self
    }

    /// The routes capture this box rather than the service, which does not exist yet when they are made.
    private final class Handlers: @unchecked Sendable { weak var service: ScoringService? }

    deinit { queue.stop() }

    public func setScorer(_ scorer: VideoScorer) { lock.withLock { self.scorer = scorer } }

    public var isReady: Bool { lock.withLock { scorer != nil && !leaving } && !server.isDraining }

    private var isLeaving: Bool { lock.withLock { leaving } || server.isDraining }

    /// Bytes a multipart body may hold beyond its video part (fields, part headers).
    static let multipartSlack = 1 << 20

    /// True once shutdown's grace has run out: running work is cancelled (ffmpeg children killed).
    var graceIsOver: Bool { lock.withLock { cancelAfter.map { DispatchTime.now() >= $0 } ?? false } }

    public func start() throws { try server.start(); jobs?.runner.start() }

    /// Graceful stop: reports not ready at once but keeps serving for `notReadyFor` seconds, so
    /// load balancers polling /readyz take the instance out of rotation before its listener
    /// closes; then `shutdown(grace:)`.
    public func drain(notReadyFor delay: TimeInterval, grace: TimeInterval) {
        lock.withLock { leaving = true }
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        shutdown(grace: grace)
    }

    /// Stops accepting, reports not ready, finishes in-flight and queued requests within `grace`.
    public func shutdown(grace: TimeInterval) {
        lock.withLock { cancelAfter = .now() + max(0, grace - 1) }
        server.shutdown(grace: grace)
        jobs?.runner.stop()  // running jobs go back to the queue
        queue.stop()
    }

    // MARK: - Routes

    private func readiness() -> HTTPResponse {
        if isLeaving { return .json(Array(#"{"status":"draining"}"#.utf8), status: 503) }
        guard let scorer = lock.withLock({ scorer }) else { return .json(Array(#"{"status":"not_ready"}"#.utf8), status: 503) }
        let body = #"{"status":"ready","weights":"# + jsonString(scorer.identity.weights) + "}"
        return .json(Array(body.utf8))
    }

    private func model(_ request: HTTPRequest) -> HTTPResponse {
        if let refusal = authorize(request) { return refusal }
        guard let scorer = lock.withLock({ scorer }) else {
            return APIError(.notReady, "the weights are still loading").response(requestID: request.requestID)
        }
        var info = scorer.modelInfo
        info.limits = Limits(configuration)
        return (try? HTTPResponse.json(encoding: info, encoder: ScoreJSON.encoder))
            ?? APIError(.internalError, "cannot encode the model description").response(requestID: request.requestID)
    }

    private func metricsPage(_ request: HTTPRequest) -> HTTPResponse {
        if configuration.metricsNeedKey, let refusal = authorize(request) { return refusal }
        recordJobStats()
        return HTTPResponse(status: 200, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
                            body: metrics.exposition())
    }

    private func score(_ request: HTTPRequest, _ respond: @escaping @Sendable (HTTPResponse) -> Void) {
        let admitted = DispatchTime.now()
        let metrics = self.metrics
        let retryAfter = String(configuration.retryAfterSeconds)
        @Sendable func refuse(_ error: APIError) {
            metrics.rejected(reason: error.code.rawValue)
            var response = error.response(requestID: request.requestID)
            if error.code.status == 503 { response.headers.set("Retry-After", retryAfter) }
            respond(response)
        }
        if let refusal = authorize(request) { metrics.rejected(reason: "unauthorized"); return respond(refusal) }
        if server.isDraining { return refuse(APIError(.draining, "the server is shutting down; retry on another instance")) }
        guard let scorer = lock.withLock({ scorer }) else { return refuse(APIError(.notReady, "the weights are still loading")) }
        let parsed: ScoreRequest
        let options = configuration.scoring
        do {
            parsed = try ScoreRequest.parse(request, maxFrames: options.maxFrames, maxBodyBytes: server.configuration.maxBodyBytes)
            // Cheap before taking a place in the queue.
            if parsed.video == nil { try DFGazeModel.checkFrameCount(parsed.frames.count, maxFrames: options.maxFrames) }
            if let windows = parsed.maxWindows, windows > configuration.maxWindows {
                throw APIError(.badRequest, "max_windows must be 1...\(configuration.maxWindows), got \(windows)")
            }
        } catch let error as APIError { return refuse(error) }
        catch let error as ScoringError { return refuse(APIError(error)) }
        catch { return refuse(APIError(.internalError, "cannot read the request")) }
        // Video bodies wait in memory: their bytes in the queue are bounded.
        let videoBytes = parsed.video?.count ?? 0
        if videoBytes > 0 {
            let admittedVideo = lock.withLock { () -> Bool in
                guard queuedVideoBytes + videoBytes <= configuration.maxQueuedVideoBytes else { return false }
                queuedVideoBytes += videoBytes
                return true
            }
            guard admittedVideo else {
                return refuse(APIError(.overloaded, "too many video bytes are waiting to be scored; retry after \(configuration.retryAfterSeconds) s"))
            }
        }
        let release: @Sendable () -> Void = { [weak self] in
            guard videoBytes > 0, let self else { return }
            self.lock.withLock { self.queuedVideoBytes -= videoBytes }
        }
        let accepted = queue.submit {
            defer { release() }
            let queued = Double(DispatchTime.now().uptimeNanoseconds - admitted.uptimeNanoseconds) / 1e9
            // A client whose connection was reset while queued gets no inference: the work is
            // dropped (nothing is sent: nothing could be). A log and metric reason, not a status.
            if request.clientGone.isSet {
                metrics.rejected(reason: "client_gone")
                return
            }
            do throws(APIError) {
                // The client's reset and the end of the drain's grace cancel the work (and kill ffmpeg).
                let body = try self.run(parsed, scorer: scorer, requestID: request.requestID, queueSeconds: queued,
                                        isCancelled: { [weak self] in request.clientGone.isSet || (self?.graceIsOver ?? true) })
                respond(.json(Array(body)))
            } catch {
                if error.code == .cancelled {
                    if request.clientGone.isSet { metrics.rejected(reason: "client_gone"); return }
                    return refuse(APIError(.draining, "the server is shutting down; retry on another instance"))
                }
                refuse(error)
            }
        }
        if !accepted {
            release()
            refuse(APIError(.overloaded, "the inference queue is full; retry after \(configuration.retryAfterSeconds) s"))
        }
    }

    /// Scores a parsed request: the /score JSON, or the error to report. What `POST /score` runs
    /// on an inference worker, and what a job runs (`ScoringPipeline` does the work).
    /// `progress(clipsDone, clipsTotal)` follows the clips (a video's: after each window);
    /// `isCancelled` is polled between windows/clips and while ffmpeg runs (killed at once): the
    /// call then throws `cancelled`.
    func run(_ parsed: ScoreRequest, scorer: VideoScorer, requestID: String?, queueSeconds: Double?,
             progress: @escaping @Sendable (_ clipsDone: Int, _ clipsTotal: Int) -> Void = { _, _ in },
             isCancelled: @escaping @Sendable () -> Bool = { false }) throws(APIError) -> Data {
        let result = try ScoringPipeline(configuration).score(parsed, scorer: scorer, requestID: requestID, queueSeconds: queueSeconds,
                                                              progress: progress, isCancelled: isCancelled)
        if let queueSeconds { metrics.stage("queue", seconds: queueSeconds) }
        metrics.stage("decode", seconds: result.timings.decodeSeconds)
        metrics.stage("preprocess", seconds: result.timings.preprocessSeconds)
        metrics.stage("forward", seconds: result.timings.forwardSeconds)
        metrics.scored(frames: result.frames.count)
        do { return try result.json() } catch { throw APIError(.internalError, "cannot encode the score") }
    }

    /// nil when the request may proceed; otherwise the 401 to send.
    func authorize(_ request: HTTPRequest) -> HTTPResponse? {
        guard let keys = configuration.apiKeys, !keys.accepts(authorization: request.headers["Authorization"]) else { return nil }
        var response = APIError(.unauthorized, "a valid API key is required (Authorization: Bearer <key>)").response(requestID: request.requestID)
        response.headers.set("WWW-Authenticate", #"Bearer realm="dfgaze""#)
        return response
    }
}
