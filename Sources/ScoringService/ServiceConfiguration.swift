import DFGaze
import Foundation
import Video

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
    /// Video uploads: bytes (`--max-video-bytes`), seconds (`--max-video-seconds`), and the
    /// ffprobe/ffmpeg children's limits.
    public var video = VideoLimits()
    public var videoTools = VideoTools()
    /// Default and bound of a request's `max_windows` (`--max-windows`).
    public var maxWindows = WindowRule.defaultMaxWindows
    /// Bytes of video bodies admitted to the inference queue at once (waiting or being scored);
    /// a video past it is refused with 503 `overloaded`. Bounds the memory queued uploads hold
    /// (each body is in memory from its upload to its answer). Default: two videos of the largest size.
    public var maxQueuedVideoBytes = 2 * VideoLimits().maxBytes

    public init() {}
}
