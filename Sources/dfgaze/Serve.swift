import ArgumentParser
import DFGaze
import Faces
import Foundation
import HTTPServer
import Imaging
import Jobs
import Logging
import ScoringService
import Tensors

/// Every option can also come from a `DFGAZE_*` environment variable (flag beats variable).
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP scoring service (POST /score, /healthz, /readyz, /v1/model, /metrics).")

    @OptionGroup var model: ModelOptions

    @Option(help: "Address to bind (numeric: 127.0.0.1, 0.0.0.0, ::1, ::). [DFGAZE_HOST]")
    var host: String = Env.string("DFGAZE_HOST") ?? "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one). [DFGAZE_PORT]")
    var port: Int = Env.int("DFGAZE_PORT") ?? 8080

    @Option(help: "Fake probability at or above which the label is \"fake\". [DFGAZE_THRESHOLD]")
    var threshold: Double = Env.double("DFGAZE_THRESHOLD") ?? 0.5
    @Option(help: "Most frames in one request. [DFGAZE_MAX_FRAMES]")
    var maxFrames: Int = Env.int("DFGAZE_MAX_FRAMES") ?? 64
    @Option(help: "Most pixels (width x height) a frame's JPEG header may declare. [DFGAZE_MAX_PIXELS]")
    var maxPixels: Int = Env.int("DFGAZE_MAX_PIXELS") ?? 16_000_000
    @Option(help: "Longest side a frame may declare. [DFGAZE_MAX_SIDE]")
    var maxSide: Int = Env.int("DFGAZE_MAX_SIDE") ?? 8192
    @Option(help: "Largest request body in bytes, for frames (a video has --max-video-bytes). [DFGAZE_MAX_BODY_BYTES]")
    var maxBodyBytes: Int = Env.int("DFGAZE_MAX_BODY_BYTES") ?? 32 * 1024 * 1024
    @Option(help: "Largest video upload in bytes (a raw video/* body, or a multipart body with a part named video); beyond it 413. [DFGAZE_MAX_VIDEO_BYTES]")
    var maxVideoBytes: Int = Env.int("DFGAZE_MAX_VIDEO_BYTES") ?? 256 * 1024 * 1024
    @Option(help: "Longest video in seconds (container duration and frame times); beyond it 413 video_too_long. Longer videos: POST /jobs. [DFGAZE_MAX_VIDEO_SECONDS]")
    var maxVideoSeconds: Double = Env.double("DFGAZE_MAX_VIDEO_SECONDS") ?? 600
    @Option(help: "Most windows (clips) scored per video, spread evenly over it; the default and the bound of a request's max_windows. [DFGAZE_MAX_WINDOWS]")
    var maxWindows: Int = Env.int("DFGAZE_MAX_WINDOWS") ?? 32
    @Option(help: "Face detection: exact (dlib's own scan, the default) or fast (same faces on the fixture, about 2x faster on large frames; docs/faces.md). [DFGAZE_FACE_DETECTION]")
    var faceDetection: FaceDetectionMode = Env.string("DFGAZE_FACE_DETECTION").flatMap(FaceDetectionMode.init(rawValue:)) ?? .exact
    @Option(help: "Largest header section in bytes. [DFGAZE_MAX_HEADER_BYTES]")
    var maxHeaderBytes: Int = Env.int("DFGAZE_MAX_HEADER_BYTES") ?? 16 * 1024
    @Option(help: "Most open connections. [DFGAZE_MAX_CONNECTIONS]")
    var maxConnections: Int = Env.int("DFGAZE_MAX_CONNECTIONS") ?? 512
    @Option(help: "Seconds to receive a request's headers. [DFGAZE_HEADER_TIMEOUT]")
    var headerTimeout: Double = Env.double("DFGAZE_HEADER_TIMEOUT") ?? 10
    @Option(help: "Seconds to receive a request's body. [DFGAZE_BODY_TIMEOUT]")
    var bodyTimeout: Double = Env.double("DFGAZE_BODY_TIMEOUT") ?? 60
    @Option(help: "Seconds an idle keep-alive connection stays open. [DFGAZE_IDLE_TIMEOUT]")
    var idleTimeout: Double = Env.double("DFGAZE_IDLE_TIMEOUT") ?? 60

    @Option(help: "Requests scored at once. On 2 cores, 2 measured the same throughput as 1 (one request already keeps both cores busy; docs/performance.md). [DFGAZE_WORKERS]")
    var workers: Int = Env.int("DFGAZE_WORKERS") ?? 2
    @Option(help: "Requests that may wait for a worker; beyond it, 503 + Retry-After. [DFGAZE_QUEUE_DEPTH]")
    var queueDepth: Int = Env.int("DFGAZE_QUEUE_DEPTH") ?? 8
    @Option(help: "Threads each request's operations are split over (default: all cores). [DFGAZE_THREADS]")
    var threads: Int?
    @Option(help: "Seconds to finish in-flight requests after SIGTERM/SIGINT. [DFGAZE_DRAIN_SECONDS]")
    var drainSeconds: Double = Env.double("DFGAZE_DRAIN_SECONDS") ?? 30
    @Option(help: "Seconds after SIGTERM during which /readyz fails but requests are still served, so load balancers stop routing here first. [DFGAZE_UNREADY_SECONDS]")
    var unreadySeconds: Double = Env.double("DFGAZE_UNREADY_SECONDS") ?? 2

    @Option(help: "PEM certificate chain: serve HTTPS (with --tls-key). [DFGAZE_TLS_CERT]")
    var tlsCert: String?
    @Option(help: "PEM private key for --tls-cert. [DFGAZE_TLS_KEY]")
    var tlsKey: String?
    @Option(help: "File of API keys (one per line, or sha256:<hex>): /score and /v1/model then need a bearer key. [DFGAZE_API_KEYS_FILE]")
    var apiKeysFile: String?
    @Option(help: "Lowest log level: trace, debug, info, notice, warning, error, critical. [DFGAZE_LOG_LEVEL]")
    var logLevel: String = Env.string("DFGAZE_LOG_LEVEL") ?? "info"
    @Flag(help: "With API keys, /metrics needs a key too. [DFGAZE_METRICS_NEED_KEY=1]")
    var metricsNeedKey = Env.string("DFGAZE_METRICS_NEED_KEY") == "1"

    // Jobs (issue 19): POST /jobs, GET/DELETE /jobs/{id}, GET /jobs; docs/jobs.md.
    @Flag(help: "Turn the /jobs routes off (they answer 404). [DFGAZE_NO_JOBS=1]")
    var noJobs = Env.string("DFGAZE_NO_JOBS") == "1"
    @Option(help: "Folder for the service's data (the default SQLite job store). Default: $XDG_DATA_HOME/dfgaze or ~/.local/share/dfgaze. [DFGAZE_DATA_DIR]")
    var dataDir: String?
    @Option(help: "Job store: sqlite:///path/jobs.sqlite3 (default: under --data-dir) or postgres://user@host:port/db (the password from DFGAZE_JOBS_DATABASE_PASSWORD or the file in --jobs-database-password-file, never in the URL). [DFGAZE_JOBS_DATABASE]")
    var jobsDatabase: String?
    @Option(help: "File holding the PostgreSQL password (a mounted Secret). [DFGAZE_JOBS_DATABASE_PASSWORD_FILE]")
    var jobsDatabasePasswordFile: String?
    @Option(help: "Jobs this process runs at once; their scoring takes places in the same inference queue as /score (docs/jobs.md). [DFGAZE_JOB_WORKERS]")
    var jobWorkers: Int = Env.int("DFGAZE_JOB_WORKERS") ?? 1
    @Option(help: "Seconds a worker's claim on a job lasts without renewal; a dead replica's job is claimed again after it. [DFGAZE_JOB_LEASE_SECONDS]")
    var jobLeaseSeconds: Double = Env.double("DFGAZE_JOB_LEASE_SECONDS") ?? 30
    @Option(help: "How long finished jobs and their results are kept: seconds, or with a unit (90m, 24h, 7d). [DFGAZE_JOB_TTL]")
    var jobTtl: String = Env.string("DFGAZE_JOB_TTL") ?? "24h"
    @Option(help: "Most queued jobs; beyond, POST /jobs answers 503 + Retry-After. [DFGAZE_MAX_QUEUED_JOBS]")
    var maxQueuedJobs: Int = Env.int("DFGAZE_MAX_QUEUED_JOBS") ?? 1000
    @Option(help: "Hosts a callback_url may name, comma-separated, compared as written (no DNS); default none. [DFGAZE_WEBHOOK_ALLOW]")
    var webhookAllow: String = Env.string("DFGAZE_WEBHOOK_ALLOW") ?? ""
    @Option(help: "Secret signing webhooks (X-DFGaze-Signature); prefer the variable or --webhook-secret-file. [DFGAZE_WEBHOOK_SECRET]")
    var webhookSecret: String?
    @Option(help: "File holding the webhook secret. [DFGAZE_WEBHOOK_SECRET_FILE]")
    var webhookSecretFile: String?
    @Option(help: "PEM CA certificates trusted for https callback URLs besides the system store. [DFGAZE_WEBHOOK_CA_FILE]")
    var webhookCaFile: String?

    // Optional settings: the flag, else the environment variable.
    var threadCount: Int? { threads ?? Env.int("DFGAZE_THREADS") }
    var tlsCertPath: String? { tlsCert ?? Env.string("DFGAZE_TLS_CERT") }
    var tlsKeyPath: String? { tlsKey ?? Env.string("DFGAZE_TLS_KEY") }
    var apiKeysPath: String? { apiKeysFile ?? Env.string("DFGAZE_API_KEYS_FILE") }
    var dataDirectory: String {
        if let dir = dataDir ?? Env.string("DFGAZE_DATA_DIR") { return dir }
        if let xdg = Env.string("XDG_DATA_HOME") { return (xdg as NSString).appendingPathComponent("dfgaze") }
        return (NSHomeDirectory() as NSString).appendingPathComponent(".local/share/dfgaze")
    }

    /// "86400", "90s", "30m", "24h", "7d" -> seconds.
    static func duration(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let last = text.last, let unit = units[last] { return Double(text.dropLast()).map { $0 * unit }.flatMap { $0 > 0 ? $0 : nil } }
        return Double(text).flatMap { $0 > 0 ? $0 : nil }
    }

    /// The job settings, or nil with --no-jobs.
    func jobsConfiguration() throws -> JobsConfiguration? {
        if noJobs { return nil }
        let store: JobStoreConfiguration
        do {
            if let url = jobsDatabase ?? Env.string("DFGAZE_JOBS_DATABASE") {
                store = try JobStoreConfiguration.parse(url, passwordFile: jobsDatabasePasswordFile)
            } else {
                store = JobStoreConfiguration.sqlite(inDirectory: dataDirectory)
            }
        } catch {
            throw ValidationError("\(error)")
        }
        var jobs = JobsConfiguration(store: store)
        jobs.storeOptions.leaseSeconds = jobLeaseSeconds
        jobs.storeOptions.maxQueuedJobs = maxQueuedJobs
        jobs.storeOptions.ttlSeconds = Self.duration(jobTtl) ?? 24 * 3600
        jobs.runner.workers = jobWorkers
        jobs.runner.webhookAllowedHosts = WebhookURL.parseAllowList(webhookAllow)
        var secret = webhookSecret ?? Env.string("DFGAZE_WEBHOOK_SECRET")
        if secret == nil, let file = webhookSecretFile ?? Env.string("DFGAZE_WEBHOOK_SECRET_FILE") {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("cannot read --webhook-secret-file \(file)") }
            secret = text.hasSuffix("\n") ? String(text.dropLast()) : text
        }
        jobs.runner.webhookSecret = secret
        jobs.runner.webhookCAFile = webhookCaFile ?? Env.string("DFGAZE_WEBHOOK_CA_FILE")
        return jobs
    }

    func validate() throws {
        try Env.checkParsed()
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        guard (tlsCertPath == nil) == (tlsKeyPath == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard (0...1).contains(threshold) else { throw ValidationError("--threshold must be in [0, 1]") }
        guard maxFrames >= DFGazeModel.framesPerClip else { throw ValidationError("--max-frames must be at least 4") }
        guard maxVideoBytes >= 1, maxVideoSeconds > 0, maxWindows >= 1 else { throw ValidationError("--max-video-bytes, --max-video-seconds and --max-windows must be positive") }
        guard workers >= 1, (threadCount ?? 1) >= 1, queueDepth >= 0, maxConnections >= 1 else { throw ValidationError("--workers, --threads and --max-connections must be positive, --queue-depth not negative") }
        guard jobWorkers >= 0, jobLeaseSeconds >= 1, maxQueuedJobs >= 1 else { throw ValidationError("--job-workers must not be negative, --job-lease-seconds and --max-queued-jobs positive") }
        guard Self.duration(jobTtl) != nil else { throw ValidationError("--job-ttl: seconds, or a number with s, m, h or d (24h)") }
    }

    func run() throws {
        LoggingSystem.bootstrap(JSONLogHandler.init)
        let logger = {
            var logger = Logger(label: "dfgaze")
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            return logger
        }()

        var service = ServiceConfiguration()
        service.scoring = ScoringOptions(threshold: threshold, maxFrames: maxFrames,
                                         jpegLimits: JPEGLimits(maxPixels: maxPixels, maxSide: maxSide))
        service.workers = workers
        service.queueDepth = queueDepth
        service.metricsNeedKey = metricsNeedKey
        service.video.maxBytes = maxVideoBytes
        service.video.maxSeconds = maxVideoSeconds
        service.maxWindows = maxWindows
        service.faceDetection = faceDetection
        service.maxQueuedVideoBytes = 2 * maxVideoBytes
        if let apiKeysPath { service.apiKeys = try APIKeys(contentsOf: URL(fileURLWithPath: apiKeysPath)) }
        service.jobs = try jobsConfiguration()
        if let jobs = service.jobs {
            // The store's description never holds the password.
            logger.info("jobs", metadata: ["store": "\(jobs.store)", "job_workers": "\(jobs.runner.workers)",
                                           "webhook_allow": "\(jobs.runner.webhookAllowedHosts.sorted().joined(separator: ","))"])
        }

        var server = ServerConfiguration()
        server.host = host
        server.port = port
        server.maxBodyBytes = maxBodyBytes
        server.maxHeaderBytes = maxHeaderBytes
        server.maxConnections = maxConnections
        server.headerReadTimeout = headerTimeout
        server.bodyReadTimeout = bodyTimeout
        server.idleTimeout = idleTimeout
        if let tlsCertPath, let tlsKeyPath { server.tls = TLSConfiguration(certificateChainPath: tlsCertPath, privateKeyPath: tlsKeyPath) }

        let cores = ProcessInfo.processInfo.activeProcessorCount
        Parallel.use(threads: threadCount ?? cores)

        // Listen first so health checks answer (not ready) while the weights load and verify.
        let app = try ScoringService(scorer: nil, configuration: service, server: server, logger: logger)
        try app.start()  // the server logs "listening" with its host, port and TLS

        let once = DispatchQueue(label: "dfgaze.shutdown")  // SIGTERM and SIGINT drain once, in turn
        let signals = TerminationSignals.observe(queue: once) { signal in
            logger.info("draining", metadata: ["signal": "\(signal)", "unready_s": "\(unreadySeconds)", "grace_s": "\(drainSeconds)"])
            app.drain(notReadyFor: unreadySeconds, grace: drainSeconds)
            logger.info("stopped")
            // _exit, not exit: an inference that outlived the grace may still be inside OpenBLAS,
            // whose library destructor (run by exit) then waits forever for its worker threads.
            _exit(0)
        }

        do {
            let loaded = try model.load()
            app.setScorer(loaded)
            logger.info("ready", metadata: [
                "weights": "\(loaded.identity.weights)", "demo": "\(loaded.identity.demo)",
                "note": "\(loaded.identity.demo ? "demo weights: scores exercise the pipeline and mean nothing about the video" : "trained weights")",
            ])
        } catch {
            logger.critical("cannot load the weights", metadata: ["error": "\(error)"])
            Foundation.exit(1)
        }
        withExtendedLifetime(signals) { dispatchMain() }
    }
}

/// `DFGAZE_*` variables as option defaults; a malformed value is an error, not a silent default.
enum Env {
    nonisolated(unsafe) private static var malformed: [String] = []

    static func string(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    static func int(_ name: String) -> Int? { parse(name, Int.init) }
    static func double(_ name: String) -> Double? { parse(name, Double.init) }

    private static func parse<T>(_ name: String, _ make: (String) -> T?) -> T? {
        guard let raw = string(name) else { return nil }
        guard let v = make(raw) else { malformed.append("\(name)=\(raw)"); return nil }
        return v
    }

    static func checkParsed() throws {
        if !malformed.isEmpty { throw ValidationError("malformed environment: \(malformed.joined(separator: ", "))") }
    }
}

extension FaceDetectionMode: ExpressibleByArgument {}
