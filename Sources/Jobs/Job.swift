import Foundation
import JSONText

/// A job's life: queued -> running -> succeeded | failed | canceled (running -> queued again when
/// its lease expires or its worker stops).
public enum JobStatus: String, CaseIterable, Sendable, Codable {
    case queued, running, succeeded, failed, canceled

    public var isFinished: Bool { self == .succeeded || self == .failed || self == .canceled }
}

/// One webhook delivery attempt: when, and the HTTP status the receiver answered (nil when no
/// answer came: refused, timed out, reset; `error` then says which).
public struct WebhookAttempt: Equatable, Sendable {
    public var at: Date
    public var status: Int?
    public var error: String?

    public init(at: Date, status: Int?, error: String? = nil) {
        self.at = at
        self.status = status
        self.error = error
    }
}

/// Where a job's webhook stands: pending (an attempt is due or will be), delivered (a 2xx), or
/// failed (attempts exhausted, or an answer that retrying cannot change: 3xx, 4xx but 408/429).
public enum WebhookState: String, Sendable {
    case pending, delivered, failed
}

/// A job as stored. `payload` is nil in `list` answers and after the job finished (uploads are
/// deleted when they are no longer needed); `result` and `error` are raw JSON bytes.
public struct Job: Sendable, Equatable {
    public var id: String
    public var status: JobStatus
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var contentType: String
    public var payload: Data?
    public var payloadSize: Int
    /// The caller's parameters (e.g. faces, max_windows, threshold) as given at submit.
    public var parameters: [String: String]
    public var callbackURL: String?
    public var idempotencyKey: String?
    public var clipsDone: Int
    public var clipsTotal: Int
    public var result: Data?
    public var error: Data?
    /// How many times a worker claimed it (more than 1 after a lease expired or a restart).
    public var attempts: Int
    public var webhookState: WebhookState?
    public var webhookAttempts: [WebhookAttempt]

    /// The job as clients see it (`GET /jobs/{id}`, `GET /jobs`, and the webhook body):
    ///
    ///     {"id": "...", "status": "succeeded",
    ///      "created_at": "2026-12-04T17:00:00.123Z", "started_at": ... | null, "finished_at": ... | null,
    ///      "progress": {"clips_done": 3, "clips_total": 3},
    ///      "result": <result JSON>,            (only when succeeded)
    ///      "error": <error JSON>,              (only when failed)
    ///      "webhook": {"state": "delivered", "attempts": [{"at": "...", "status": 200}, ...]}
    ///                                          (only when a callback_url was given)
    ///     }
    ///
    /// Timestamps are RFC 3339 UTC with milliseconds. Keys always in this order.
    public func json() -> Data {
        var out = "{\"id\":\(jsonString(id)),\"status\":\(jsonString(status.rawValue))"
        out += ",\"created_at\":\(jsonString(Self.timestamp(createdAt)))"
        out += ",\"started_at\":\(startedAt.map { jsonString(Self.timestamp($0)) } ?? "null")"
        out += ",\"finished_at\":\(finishedAt.map { jsonString(Self.timestamp($0)) } ?? "null")"
        out += ",\"progress\":{\"clips_done\":\(clipsDone),\"clips_total\":\(clipsTotal)}"
        if status == .succeeded, let result { out += ",\"result\":" + String(decoding: result, as: UTF8.self) }
        if status == .failed, let error { out += ",\"error\":" + String(decoding: error, as: UTF8.self) }
        if callbackURL != nil {
            out += ",\"webhook\":{\"state\":\(webhookState.map { jsonString($0.rawValue) } ?? "null"),\"attempts\":["
            out += webhookAttempts.map { a in
                var s = "{\"at\":\(jsonString(Self.timestamp(a.at))),\"status\":\(a.status.map(String.init) ?? "null")"
                if let e = a.error { s += ",\"error\":\(jsonString(e))" }
                return s + "}"
            }.joined(separator: ",")
            out += "]}"
        }
        return Data((out + "}").utf8)
    }

    /// `{"jobs": [<job>, ...]}`.
    public static func listJSON(_ jobs: [Job]) -> Data {
        var out = Data("{\"jobs\":[".utf8)
        for (i, job) in jobs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(job.json())
        }
        out.append(contentsOf: Array("]}".utf8))
        return out
    }

    static func timestamp(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let seconds = ms / 1000, millis = Int(ms % 1000)
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millis)
    }
}

/// What the store refuses, typed so the HTTP layer can map each to its status.
public enum JobStoreError: Error, Equatable, CustomStringConvertible {
    /// `--max-queued-jobs` reached: answer 503 with `Retry-After: retryAfterSeconds`.
    case queueFull(retryAfterSeconds: Int)
    /// The Idempotency-Key was used before with a different body: answer 409.
    case idempotencyConflict(existingJobId: String)
    /// The Idempotency-Key is empty, longer than 255 bytes, or not printable ASCII: answer 400.
    case invalidIdempotencyKey
    /// The worker's lease was taken over (it expired and another worker claimed the job), or the job
    /// was canceled: its result is not stored.
    case leaseLost
    /// A bad `--jobs-database` URL or password source.
    case configuration(String)
    case database(String)
    case uniqueViolation

    public var description: String {
        switch self {
        case .queueFull(let s): return "the job queue is full; retry after \(s) s"
        case .idempotencyConflict(let id): return "the Idempotency-Key was used for job \(id) with a different body"
        case .invalidIdempotencyKey: return "the Idempotency-Key must be 1 to 255 printable ASCII characters"
        case .leaseLost: return "the job's lease was lost"
        case .configuration(let m): return m
        case .database(let m): return m
        case .uniqueViolation: return "unique constraint violated"
        }
    }
}

/// An executor error that carries its own error JSON (the service's error envelope); any other
/// error is stored as `{"error": {"code": "internal_error", "message": "<description>"}}`.
public protocol JobErrorJSON: Error {
    var errorJSON: Data { get }
}
