import DFGaze
import Foundation
import HTTPServer
import Logging

/// The model behind the service. `DFGazeModel` is the real one; tests of queueing and limits may
/// use a slower or failing stand-in.
public protocol VideoScorer: AnyObject, Sendable {
    func score(jpegs: [Data], options: ScoringOptions) throws -> ScoreReport
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
    private let metrics = ServiceMetrics()
    private let queue: InferenceQueue
    private let logger: Logger
    private let lock = NSLock()
    private var scorer: VideoScorer?
    /// Set when shutdown begins: readiness fails at once, before the listener closes.
    private var leaving = false

    /// `scorer` may be nil at start: the server answers health checks (not ready) while the
    /// weights load, then `setScorer` makes it ready.
    public init(scorer: VideoScorer?, configuration: ServiceConfiguration = ServiceConfiguration(),
                server serverConfiguration: ServerConfiguration = ServerConfiguration(),
                logger: Logger = Logger(label: "dfgaze")) throws {
        self.configuration = configuration
        self.scorer = scorer
        self.logger = logger
        let metrics = self.metrics
        var router = Router()
        // Filled in below, once `self` is complete; routes only run after start().
        let handlers = Handlers()
        router.add(.POST, "/score") { request, respond in handlers.service?.score(request, respond) }
        for path in ["/healthz", "/v2/health/live"] {
            router.add(.GET, path) { _ in .json(Array(#"{"status":"ok"}"#.utf8)) }
        }
        for path in ["/readyz", "/v2/health/ready"] {
            router.add(.GET, path) { _ in handlers.service?.readiness() ?? .error(status: 503, code: "not_ready", message: "starting") }
        }
        router.add(.GET, "/v1/model") { request in handlers.service?.model(request) ?? .error(status: 503, code: "not_ready", message: "starting") }
        router.add(.GET, "/metrics") { request in handlers.service?.metricsPage(request) ?? .error(status: 503, code: "not_ready", message: "starting") }
        router.add(.GET, "/openapi.yaml") { _ in
            HTTPResponse(status: 200, headers: ["Content-Type": "application/yaml"], body: Array(OpenAPIDocument.yaml.utf8))
        }
        server = try HTTPServer(configuration: serverConfiguration, router: router, logger: logger) { record in
            metrics.request(route: record.path, method: record.method, status: record.status, seconds: record.duration)
        }
        // Last: its worker threads start now and must not outlive a failed init.
        queue = InferenceQueue(workers: configuration.workers, depth: configuration.queueDepth) { waiting, running in
            metrics.queue(waiting: waiting, running: running)
        }
        handlers.service = self
    }

    /// The routes capture this box rather than the service, which does not exist yet when they are made.
    private final class Handlers: @unchecked Sendable { weak var service: ScoringService? }

    deinit { queue.stop() }

    public func setScorer(_ scorer: VideoScorer) { lock.withLock { self.scorer = scorer } }

    public var isReady: Bool { lock.withLock { scorer != nil && !leaving } && !server.isDraining }

    private var isLeaving: Bool { lock.withLock { leaving } || server.isDraining }

    public func start() throws { try server.start() }

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
        server.shutdown(grace: grace)
        queue.stop()
    }

    // MARK: - Routes

    private func readiness() -> HTTPResponse {
        if isLeaving { return .json(Array(#"{"status":"draining"}"#.utf8), status: 503) }
        guard let scorer = lock.withLock({ scorer }) else { return .json(Array(#"{"status":"not_ready"}"#.utf8), status: 503) }
        let body = #"{"status":"ready","weights":"# + quoted(scorer.identity.weights) + "}"
        return .json(Array(body.utf8))
    }

    private func model(_ request: HTTPRequest) -> HTTPResponse {
        if let refusal = authorize(request) { return refusal }
        guard let scorer = lock.withLock({ scorer }) else { return .error(status: 503, code: "not_ready", message: "the weights are still loading") }
        var info = scorer.modelInfo
        info.limits = Limits(configuration)
        return (try? HTTPResponse.json(encoding: info, encoder: Self.encoder))
            ?? .error(status: 500, code: "internal_error", message: "cannot encode the model description")
    }

    private func metricsPage(_ request: HTTPRequest) -> HTTPResponse {
        if configuration.metricsNeedKey, let refusal = authorize(request) { return refusal }
        return HTTPResponse(status: 200, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
                            body: metrics.exposition())
    }

    private func score(_ request: HTTPRequest, _ respond: @escaping @Sendable (HTTPResponse) -> Void) {
        let admitted = DispatchTime.now()
        let metrics = self.metrics
        func refuse(_ status: Int, _ code: String, _ message: String, frame: Int? = nil, retryAfter: Bool = false) {
            metrics.rejected(reason: code)
            var response = Self.error(status: status, code: code, message: message, frame: frame, requestID: request.requestID)
            if retryAfter { response.headers.set("Retry-After", String(configuration.retryAfterSeconds)) }
            respond(response)
        }
        if let refusal = authorize(request) { metrics.rejected(reason: "unauthorized"); return respond(refusal) }
        if server.isDraining { return refuse(503, "draining", "the server is shutting down; retry on another instance", retryAfter: true) }
        guard let scorer = lock.withLock({ scorer }) else {
            return refuse(503, "not_ready", "the weights are still loading", retryAfter: true)
        }
        let parsed: ScoreRequest
        do { parsed = try ScoreRequest.parse(request, maxFrames: configuration.scoring.maxFrames) }
        catch { return refuse(error.status, error.code, error.message) }
        // Cheap checks before taking a place in the queue.
        if parsed.frames.count < DFGazeModel.framesPerClip {
            return refuse(422, ScoringError.Code.tooFewFrames.rawValue,
                          "a clip needs \(DFGazeModel.framesPerClip) frames, got \(parsed.frames.count)")
        }
        if parsed.frames.count > configuration.scoring.maxFrames {
            return refuse(422, ScoringError.Code.tooManyFrames.rawValue,
                          "at most \(configuration.scoring.maxFrames) frames per request, got \(parsed.frames.count)")
        }
        let options = configuration.scoring
        let accepted = queue.submit {
            let queued = Double(DispatchTime.now().uptimeNanoseconds - admitted.uptimeNanoseconds) / 1e9
            // A client that hung up while queued gets no inference: the work is dropped.
            if request.clientGone.isSet {
                metrics.rejected(reason: "client_gone")
                return respond(.error(status: 499, code: "client_gone", message: "client closed the connection"))
            }
            do {
                var report = try scorer.score(jpegs: parsed.frames, options: options)
                report.timings.queueSeconds = queued
                metrics.stage("queue", seconds: queued)
                metrics.stage("decode", seconds: report.timings.decodeSeconds)
                metrics.stage("preprocess", seconds: report.timings.preprocessSeconds)
                metrics.stage("forward", seconds: report.timings.forwardSeconds)
                metrics.scored(frames: parsed.frames.count)
                let body = try Self.encoder.encode(ScoreResponse(requestID: request.requestID, id: parsed.id, report: report))
                respond(.json(Array(body)))
            } catch let error as ScoringError {
                metrics.rejected(reason: error.code.rawValue)
                respond(Self.error(status: 422, code: error.code.rawValue, message: error.message, frame: error.frame,
                                   requestID: request.requestID))
            } catch {
                respond(Self.error(status: 500, code: "internal_error", message: "scoring failed", frame: nil, requestID: request.requestID))
            }
        }
        if !accepted {
            refuse(503, "overloaded", "the inference queue is full; retry after \(configuration.retryAfterSeconds) s", retryAfter: true)
        }
    }

    /// nil when the request may proceed; otherwise the 401 to send.
    private func authorize(_ request: HTTPRequest) -> HTTPResponse? {
        guard let keys = configuration.apiKeys, !keys.accepts(authorization: request.headers["Authorization"]) else { return nil }
        var response = Self.error(status: 401, code: "unauthorized", message: "a valid API key is required (Authorization: Bearer <key>)",
                                  frame: nil, requestID: request.requestID)
        response.headers.set("WWW-Authenticate", #"Bearer realm="dfgaze""#)
        return response
    }

    // MARK: - Encoding

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    struct ErrorBody: Encodable {
        struct Detail: Encodable { var code: String; var message: String; var frame: Int? }
        var error: Detail
        var requestID: String
        enum CodingKeys: String, CodingKey { case error; case requestID = "request_id" }
    }

    static func error(status: Int, code: String, message: String, frame: Int?, requestID: String) -> HTTPResponse {
        let body = ErrorBody(error: .init(code: code, message: message, frame: frame), requestID: requestID)
        return (try? .json(encoding: body, status: status, encoder: encoder)) ?? .error(status: status, code: code, message: message)
    }

    /// The report with the request's ids in front.
    struct ScoreResponse: Encodable {
        var requestID: String
        var id: String?
        var report: ScoreReport
        enum CodingKeys: String, CodingKey { case requestID = "request_id", id }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(requestID, forKey: .requestID)
            try c.encodeIfPresent(id, forKey: .id)
            try report.encode(to: encoder)
        }
    }

    private func quoted(_ s: String) -> String {
        String(decoding: (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}
