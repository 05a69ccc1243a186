import DFGaze
import Foundation

/// What the scoring service adds to the HTTP server's settings.
public struct ServiceConfiguration: Sendable {
    /// Threshold, frames per request and JPEG size limits.
    public var scoring = ScoringOptions()
    /// Requests scored at once (`dfgaze serve` runs 2; Tests/Load/throughput.py compares).
    public var workers = 1
    /// Requests waiting for a worker beyond those being scored; past it, 503 at once.
    public var queueDepth = 8
    /// Seconds a refused client is told to wait (Retry-After).
    public var retryAfterSeconds = 1
    /// When set, /score and /v1/model need `Authorization: Bearer <key>`.
    public var apiKeys: APIKeys? = nil
    /// Whether /metrics also needs a key (when keys are set).
    public var metricsNeedKey = false
    /// The /jobs routes and their store and workers (issue 19); nil: /jobs answers 404.
    public var jobs: JobsConfiguration? = nil

    public init() {}
}
