import Foundation
import HTTPServer
import CoreMetrics
import Metrics
import Prometheus

/// The service's metrics, through swift-metrics backed by one Prometheus registry per service
/// (so several services in one process, as in tests, keep their own numbers).
final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let queueWaiting: CoreMetrics.Gauge
    private let inFlight: CoreMetrics.Gauge
    private let framesScored: CoreMetrics.Counter

    /// Routes with their own label; anything else counts as "other" so labels stay bounded.
    static let routes: Set<String> = ["/score", "/healthz", "/readyz", "/v2/health/live", "/v2/health/ready",
                                      "/v1/model", "/metrics", "/openapi.yaml", "/", "/jobs"]

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Milliseconds: health checks live in the low buckets, a clip's inference near a second.
        factory.defaultDurationHistogramBuckets = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]
            .map { Duration.microseconds(Int64($0 * 1000)) }
        self.factory = factory
        queueWaiting = CoreMetrics.Gauge(label: "dfgaze_inference_queue_depth", factory: factory)
        inFlight = CoreMetrics.Gauge(label: "dfgaze_inference_in_flight", factory: factory)
        framesScored = CoreMetrics.Counter(label: "dfgaze_frames_scored_total", factory: factory)
    }

    /// Methods with their own label; any other token the client sends counts as "other".
    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

    /// Every label derived from a request comes from a closed set, whatever the client sends.
    func request(route: String, method: String, status: Int, seconds: Double) {
        let route = Self.routes.contains(route) ? route : (Router.parameter(route, prefix: "/jobs/") != nil ? "/jobs/{id}" : "other")
        let method = Self.methods.contains(method) ? method : "other"
        CoreMetrics.Counter(label: "dfgaze_http_requests_total",
                dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory).increment()
        CoreMetrics.Timer(label: "dfgaze_http_request_duration_seconds", dimensions: [("route", route)], factory: factory)
            .recordNanoseconds(Int64(seconds * 1e9))
    }

    /// decode, preprocess, forward, queue.
    func stage(_ name: String, seconds: Double) {
        CoreMetrics.Timer(label: "dfgaze_stage_duration_seconds", dimensions: [("stage", name)], factory: factory)
            .recordNanoseconds(Int64(seconds * 1e9))
    }

    func rejected(reason: String) {
        CoreMetrics.Counter(label: "dfgaze_requests_rejected_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    func scored(frames: Int) { framesScored.increment(by: frames) }

    func queue(waiting: Int, running: Int) {
        queueWaiting.record(waiting)
        inFlight.record(running)
    }

    // MARK: Jobs (issue 19)

    /// Jobs in the store by status (all replicas') and the oldest queued job's age, at each scrape.
    func jobStats(counts: [String: Int], oldestQueuedSeconds: Double) {
        for (status, n) in counts {
            CoreMetrics.Gauge(label: "dfgaze_jobs", dimensions: [("status", status)], factory: factory).record(n)
        }
        CoreMetrics.Gauge(label: "dfgaze_jobs_oldest_queued_age_seconds", factory: factory).record(oldestQueuedSeconds)
    }

    /// One webhook delivery attempt by this process: outcome "2xx", "error_status" (any other
    /// answer) or "no_answer" (refused, timed out, not allowed).
    func webhookAttempt(status: Int?) {
        let outcome = status.map { (200...299).contains($0) ? "2xx" : "error_status" } ?? "no_answer"
        CoreMetrics.Counter(label: "dfgaze_job_webhook_attempts_total", dimensions: [("outcome", outcome)], factory: factory).increment()
    }

    /// A job this process ran ended (status from JobStatus's closed set).
    func jobFinished(status: String, seconds: Double) {
        CoreMetrics.Counter(label: "dfgaze_jobs_finished_total", dimensions: [("status", status)], factory: factory).increment()
        CoreMetrics.Timer(label: "dfgaze_job_run_duration_seconds", factory: factory).recordNanoseconds(Int64(seconds * 1e9))
    }

    func exposition() -> [UInt8] { registry.emitToBuffer() }
}
