import COpenSSL
import Foundation

/// What `submit` stores: the request bytes as received and the parameters, both opaque here.
public struct JobSubmission: Sendable {
    public var payload: Data
    public var contentType: String
    public var parameters: [String: String]
    /// Already validated with `WebhookURL.validate` (the store does not check it again).
    public var callbackURL: String?
    public var idempotencyKey: String?

    public init(payload: Data, contentType: String, parameters: [String: String] = [:],
                callbackURL: String? = nil, idempotencyKey: String? = nil) {
        self.payload = payload
        self.contentType = contentType
        self.parameters = parameters
        self.callbackURL = callbackURL
        self.idempotencyKey = idempotencyKey
    }
}

/// A job a worker holds: the lease token proves it in every later write.
public struct ClaimedJob: Sendable {
    public var job: Job
    public var leaseToken: String
}

/// The answer to a renewal or a progress write.
public enum LeaseState: Sendable, Equatable {
    case held
    /// The job was canceled: stop working on it.
    case canceled
    /// Another worker holds it now (our lease expired), or it is gone: stop, store nothing.
    case lost
}

/// Numbers for /metrics.
public struct JobStats: Sendable, Equatable {
    public var countsByStatus: [JobStatus: Int]
    /// Age of the oldest queued job in seconds (0 when none is queued).
    public var oldestQueuedAgeSeconds: Double
    /// Webhook attempts stored (jobs past their TTL no longer count), and how many got a 2xx.
    public var webhookAttempts: Int
    public var webhookAttemptsSucceeded: Int
}

/// A webhook due now, claimed for `inflightSeconds` so that no other replica sends it meanwhile.
public struct WebhookDelivery: Sendable {
    public var job: Job
    /// 1 for the first attempt.
    public var attemptNumber: Int
}

/// The durable job store: SQLite (one file, WAL) or PostgreSQL (many replicas), chosen by URL.
/// Thread-safe (one connection, serialized); several stores (threads, processes, replicas) may
/// share one database.
public final class JobStore: @unchecked Sendable {
    public let configuration: JobStoreConfiguration
    public let options: JobStoreOptions
    let clock: @Sendable () -> Date
    private let connection: SQLConnection
    private let lock = NSLock()
    var dialect: SQLDialect { connection.dialect }

    /// The current schema version (the `dfgaze_jobs_schema` table holds the applied one).
    public static let schemaVersion = 1

    /// Opens (creating the SQLite file and its folder when missing), creates or migrates the
    /// schema, and on SQLite re-queues jobs left running by a process that died.
    public init(configuration: JobStoreConfiguration, options: JobStoreOptions = JobStoreOptions(),
                clock: @escaping @Sendable () -> Date = { Date() }) throws {
        self.configuration = configuration
        self.options = options
        self.clock = clock
        switch configuration.backend {
        case .sqlite(let path):
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty {
                try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                         attributes: [.posixPermissions: 0o700])
            }
            connection = try SQLiteConnection(path: path)
        case .postgres:
            connection = try PostgresConnection(settings: configuration.libpqSettings)
        }
        try migrate()
        if options.requeueRunningAtOpen ?? (connection.dialect == .sqlite) {
            _ = try requeueRunningJobs()
        }
    }

    deinit { connection.close() }

    private func locked<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private var now: Double { clock().timeIntervalSince1970 }

    // MARK: Schema

    private func migrate() throws {
        let blob = dialect == .sqlite ? "BLOB" : "BYTEA"
        let real = dialect == .sqlite ? "REAL" : "DOUBLE PRECISION"
        let int = dialect == .sqlite ? "INTEGER" : "BIGINT"
        // Version 1. A later version appends its statements as migrations[1], and so on.
        let migrations: [[String]] = [[
            """
            CREATE TABLE dfgaze_jobs (
                id TEXT PRIMARY KEY,
                status TEXT NOT NULL,
                created_at \(real) NOT NULL,
                started_at \(real),
                finished_at \(real),
                content_type TEXT NOT NULL,
                payload \(blob),
                payload_size \(int) NOT NULL,
                parameters TEXT NOT NULL,
                callback_url TEXT,
                idempotency_key TEXT UNIQUE,
                body_sha256 TEXT NOT NULL,
                clips_done \(int) NOT NULL DEFAULT 0,
                clips_total \(int) NOT NULL DEFAULT 0,
                result TEXT,
                error TEXT,
                attempts \(int) NOT NULL DEFAULT 0,
                lease_token TEXT,
                lease_owner TEXT,
                lease_expires_at \(real),
                webhook_state TEXT,
                webhook_next_at \(real)
            )
            """,
            "CREATE INDEX dfgaze_jobs_status ON dfgaze_jobs (status, created_at)",
            "CREATE INDEX dfgaze_jobs_webhook ON dfgaze_jobs (webhook_state, webhook_next_at)",
            "CREATE INDEX dfgaze_jobs_finished ON dfgaze_jobs (finished_at)",
            """
            CREATE TABLE dfgaze_webhook_attempts (
                job_id TEXT NOT NULL,
                attempt \(int) NOT NULL,
                at \(real) NOT NULL,
                status \(int),
                error TEXT,
                PRIMARY KEY (job_id, attempt)
            )
            """,
        ]]
        try locked {
            try connection.transaction {
                if dialect == .postgres {
                    // Replicas starting together migrate one after the other.
                    try connection.execute("SELECT pg_advisory_xact_lock(1923190001)")
                }
                try connection.execute("CREATE TABLE IF NOT EXISTS dfgaze_jobs_schema (version \(int) NOT NULL)")
                var version = Int(try connection.query("SELECT MAX(version) FROM dfgaze_jobs_schema").first?.first?.int ?? 0)
                guard version <= Self.schemaVersion else {
                    throw JobStoreError.configuration("the jobs database has schema version \(version), newer than this build's \(Self.schemaVersion)")
                }
                while version < Self.schemaVersion {
                    for statement in migrations[version] { try connection.execute(statement) }
                    version += 1
                    try connection.execute("INSERT INTO dfgaze_jobs_schema (version) VALUES ($1)", [.int(Int64(version))])
                }
            }
        }
    }

    /// The schema version stored in the database.
    public func storedSchemaVersion() throws -> Int {
        try locked { Int(try connection.query("SELECT MAX(version) FROM dfgaze_jobs_schema").first?.first?.int ?? 0) }
    }

    // MARK: Reading jobs

    private static let columns = """
        id, status, created_at, started_at, finished_at, content_type, payload_size, parameters, callback_url,
        idempotency_key, clips_done, clips_total, result, error, attempts, webhook_state
        """

    private func decode(_ row: [SQLValue], payload: SQLValue?) throws -> Job {
        var parameters: [String: String] = [:]
        if let text = row[7].text, let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String] {
            parameters = object
        }
        var job = Job(
            id: row[0].text ?? "", status: JobStatus(rawValue: row[1].text ?? "") ?? .failed,
            createdAt: Date(timeIntervalSince1970: row[2].double ?? 0),
            startedAt: row[3].double.map(Date.init(timeIntervalSince1970:)),
            finishedAt: row[4].double.map(Date.init(timeIntervalSince1970:)),
            contentType: row[5].text ?? "", payload: payload?.bytes.map { Data($0) },
            payloadSize: Int(row[6].int ?? 0), parameters: parameters, callbackURL: row[8].text,
            idempotencyKey: row[9].text, clipsDone: Int(row[10].int ?? 0), clipsTotal: Int(row[11].int ?? 0),
            result: row[12].text.map { Data($0.utf8) }, error: row[13].text.map { Data($0.utf8) },
            attempts: Int(row[14].int ?? 0), webhookState: row[15].text.flatMap(WebhookState.init(rawValue:)),
            webhookAttempts: [])
        if job.callbackURL != nil {
            job.webhookAttempts = try connection.query(
                "SELECT at, status, error FROM dfgaze_webhook_attempts WHERE job_id = $1 ORDER BY attempt", [.text(job.id)]
            ).map { WebhookAttempt(at: Date(timeIntervalSince1970: $0[0].double ?? 0), status: $0[1].int.map { Int($0) }, error: $0[2].text) }
        }
        return job
    }

    private func load(_ id: String, payload: Bool) throws -> Job? {
        let sql = "SELECT \(Self.columns)\(payload ? ", payload" : "") FROM dfgaze_jobs WHERE id = $1"
        guard let row = try connection.query(sql, [.text(id)]).first else { return nil }
        return try decode(row, payload: payload ? row[16] : nil)
    }

    /// A job by id (nil when unknown or deleted after its TTL), without its payload unless asked.
    public func job(id: String, includePayload: Bool = false) throws -> Job? {
        guard Self.isValidJobId(id) else { return nil }
        return try locked { try load(id, payload: includePayload) }
    }

    /// The newest jobs first, optionally only those with one status; `limit` is clamped to 1...1000.
    public func list(status: JobStatus? = nil, limit: Int = 100) throws -> [Job] {
        let n = Int64(max(1, min(limit, 1000)))
        return try locked {
            let rows = if let status {
                try connection.query("SELECT \(Self.columns) FROM dfgaze_jobs WHERE status = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
                                     [.text(status.rawValue), .int(n)])
            } else {
                try connection.query("SELECT \(Self.columns) FROM dfgaze_jobs ORDER BY created_at DESC, id DESC LIMIT $1", [.int(n)])
            }
            return try rows.map { try decode($0, payload: nil) }
        }
    }

    /// Job ids are lowercase UUIDs (36 characters); anything else is not an id (answer 404 without
    /// asking the database).
    public static func isValidJobId(_ id: String) -> Bool {
        let utf8 = Array(id.utf8)
        guard utf8.count == 36 else { return false }
        for (i, c) in utf8.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != UInt8(ascii: "-") { return false }
            } else if !((48...57).contains(c) || (97...102).contains(c)) {
                return false
            }
        }
        return true
    }

    /// Idempotency keys: 1 to 255 printable ASCII characters.
    public static func isValidIdempotencyKey(_ key: String) -> Bool {
        let utf8 = key.utf8
        return !utf8.isEmpty && utf8.count <= 255 && utf8.allSatisfy { (0x21...0x7e).contains($0) || $0 == 0x20 }
    }

    // MARK: Submit

    /// Stores a new queued job, or with an Idempotency-Key already used for the same body
    /// (payload, content type, parameters and callback URL) returns that job (`created` false).
    /// Throws `invalidIdempotencyKey`, `idempotencyConflict` (same key, other body) or `queueFull`.
    public func submit(_ submission: JobSubmission) throws -> (job: Job, created: Bool) {
        if let key = submission.idempotencyKey, !Self.isValidIdempotencyKey(key) { throw JobStoreError.invalidIdempotencyKey }
        let parameters = String(decoding: try JSONSerialization.data(withJSONObject: submission.parameters, options: [.sortedKeys]), as: UTF8.self)
        let hash = Self.bodyHash(submission, parameters: parameters)
        let id = UUID().uuidString.lowercased()
        let now = self.now
        return try locked {
            try connection.transaction {
                if dialect == .postgres { try connection.execute("SELECT pg_advisory_xact_lock(1923190002)") }
                if let key = submission.idempotencyKey,
                   let row = try connection.query("SELECT id, body_sha256 FROM dfgaze_jobs WHERE idempotency_key = $1", [.text(key)]).first {
                    let existing = row[0].text ?? ""
                    guard row[1].text == hash else { throw JobStoreError.idempotencyConflict(existingJobId: existing) }
                    guard let job = try load(existing, payload: false) else { throw JobStoreError.database("job \(existing) vanished") }
                    return (job, false)
                }
                let queued = try connection.query("SELECT COUNT(*) FROM dfgaze_jobs WHERE status = 'queued'").first?.first?.int ?? 0
                if queued >= options.maxQueuedJobs {
                    throw JobStoreError.queueFull(retryAfterSeconds: options.queueFullRetryAfterSeconds)
                }
                try connection.execute("""
                    INSERT INTO dfgaze_jobs (id, status, created_at, content_type, payload, payload_size, parameters,
                        callback_url, idempotency_key, body_sha256)
                    VALUES ($1, 'queued', $2, $3, $4, $5, $6, $7, $8, $9)
                    """, [.text(id), .double(now), .text(submission.contentType), .blob(Array(submission.payload)),
                          .int(Int64(submission.payload.count)), .text(parameters), submission.callbackURL.sql,
                          submission.idempotencyKey.sql, .text(hash)])
                guard let job = try load(id, payload: false) else { throw JobStoreError.database("job \(id) vanished") }
                return (job, true)
            }
        }
    }

    static func bodyHash(_ s: JobSubmission, parameters: String) -> String {
        var bytes = Data()
        for part in [s.contentType, parameters, s.callbackURL ?? ""] {
            bytes.append(contentsOf: Array(part.utf8))
            bytes.append(0)
        }
        bytes.append(s.payload)
        return sha256Hex(bytes)
    }

    // MARK: Workers

    /// Claims the oldest queued job, or a running one whose lease expired (its worker died), for
    /// `leaseSeconds`. PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`; SQLite: `BEGIN IMMEDIATE`.
    public func claim(worker: String) throws -> ClaimedJob? {
        let token = UUID().uuidString.lowercased()
        let now = self.now
        return try locked {
            try connection.transaction {
                let skipLocked = dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
                guard let id = try connection.query("""
                    SELECT id FROM dfgaze_jobs
                    WHERE status = 'queued' OR (status = 'running' AND lease_expires_at < $1)
                    ORDER BY created_at, id LIMIT 1\(skipLocked)
                    """, [.double(now)]).first?.first?.text else { return nil }
                // The condition again: even without the row lock, two claimers cannot both win.
                let won = try connection.execute("""
                    UPDATE dfgaze_jobs SET status = 'running', lease_token = $1, lease_owner = $2, lease_expires_at = $3,
                        started_at = COALESCE(started_at, $4), attempts = attempts + 1
                    WHERE id = $5 AND (status = 'queued' OR (status = 'running' AND lease_expires_at < $4))
                    """, [.text(token), .text(worker), .double(now + options.leaseSeconds), .double(now), .text(id)])
                guard won == 1 else { return nil }
                guard let job = try load(id, payload: true) else { return nil }
                return ClaimedJob(job: job, leaseToken: token)
            }
        }
    }

    private func leaseState(_ id: String, changed: Int) throws -> LeaseState {
        if changed == 1 { return .held }
        let status = try connection.query("SELECT status FROM dfgaze_jobs WHERE id = $1", [.text(id)]).first?.first?.text
        return status == JobStatus.canceled.rawValue ? .canceled : .lost
    }

    /// Extends the lease by `leaseSeconds` from now, if this token still holds it.
    public func renew(id: String, leaseToken: String) throws -> LeaseState {
        let now = self.now
        return try locked {
            let n = try connection.execute("""
                UPDATE dfgaze_jobs SET lease_expires_at = $1 WHERE id = $2 AND lease_token = $3 AND status = 'running'
                """, [.double(now + options.leaseSeconds), .text(id), .text(leaseToken)])
            return try leaseState(id, changed: n)
        }
    }

    /// Whether the job is still this token's to run (a read only: cheap enough to poll each second).
    public func leaseState(id: String, leaseToken: String) throws -> LeaseState {
        try locked {
            guard let row = try connection.query("SELECT status, lease_token FROM dfgaze_jobs WHERE id = $1", [.text(id)]).first else { return .lost }
            if row[0].text == JobStatus.canceled.rawValue { return .canceled }
            return row[0].text == JobStatus.running.rawValue && row[1].text == leaseToken ? .held : .lost
        }
    }

    /// Records progress (clips done of clips total).
    @discardableResult
    public func progress(id: String, leaseToken: String, clipsDone: Int, clipsTotal: Int) throws -> LeaseState {
        try locked {
            let n = try connection.execute("""
                UPDATE dfgaze_jobs SET clips_done = $1, clips_total = $2 WHERE id = $3 AND lease_token = $4 AND status = 'running'
                """, [.int(Int64(clipsDone)), .int(Int64(clipsTotal)), .text(id), .text(leaseToken)])
            return try leaseState(id, changed: n)
        }
    }

    private func finish(id: String, leaseToken: String, status: JobStatus, result: Data?, error: Data?) throws {
        let now = self.now
        try locked {
            let n = try connection.execute("""
                UPDATE dfgaze_jobs SET status = $1, result = $2, error = $3, finished_at = $4, payload = NULL,
                    lease_token = NULL, lease_expires_at = NULL,
                    webhook_state = CASE WHEN callback_url IS NULL THEN NULL ELSE 'pending' END, webhook_next_at = $4
                WHERE id = $5 AND lease_token = $6 AND status = 'running'
                """, [.text(status.rawValue), result.map { .text(String(decoding: $0, as: UTF8.self)) } ?? .null,
                      error.map { .text(String(decoding: $0, as: UTF8.self)) } ?? .null, .double(now), .text(id), .text(leaseToken)])
            if n != 1 { throw JobStoreError.leaseLost }
        }
    }

    /// Stores the result (JSON bytes) and marks the job succeeded, if this token still holds the
    /// lease; otherwise throws `leaseLost` and stores nothing (exactly one stored result).
    public func complete(id: String, leaseToken: String, result: Data) throws {
        try finish(id: id, leaseToken: leaseToken, status: .succeeded, result: result, error: nil)
    }

    /// Stores the error JSON and marks the job failed (same lease rule as `complete`).
    public func fail(id: String, leaseToken: String, error: Data) throws {
        try finish(id: id, leaseToken: leaseToken, status: .failed, result: nil, error: error)
    }

    /// Gives a running job back to the queue (a worker stopping before it finished).
    public func release(id: String, leaseToken: String) throws {
        _ = try locked {
            try connection.execute("""
                UPDATE dfgaze_jobs SET status = 'queued', lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
                WHERE id = $1 AND lease_token = $2 AND status = 'running'
                """, [.text(id), .text(leaseToken)])
        }
    }

    /// Cancels a queued or running job (a running job's worker sees `.canceled` at its next lease
    /// check). Returns the job as it is now (unchanged when it had already finished), nil when unknown.
    public func cancel(id: String) throws -> Job? {
        guard Self.isValidJobId(id) else { return nil }
        let now = self.now
        return try locked {
            try connection.execute("""
                UPDATE dfgaze_jobs SET status = 'canceled', finished_at = $1, payload = NULL, lease_token = NULL,
                    lease_expires_at = NULL,
                    webhook_state = CASE WHEN callback_url IS NULL THEN NULL ELSE 'pending' END, webhook_next_at = $1
                WHERE id = $2 AND status IN ('queued', 'running')
                """, [.double(now), .text(id)])
            return try load(id, payload: false)
        }
    }

    /// Running jobs whose lease expired go back to the queue (claim also takes them directly;
    /// this keeps the counts by status honest). Returns how many.
    @discardableResult
    public func requeueExpiredLeases() throws -> Int {
        let now = self.now
        return try locked {
            try connection.execute("""
                UPDATE dfgaze_jobs SET status = 'queued', lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
                WHERE status = 'running' AND lease_expires_at < $1
                """, [.double(now)])
        }
    }

    /// Every running job goes back to the queue (SQLite at open: their process died).
    @discardableResult
    public func requeueRunningJobs() throws -> Int {
        try locked {
            try connection.execute("""
                UPDATE dfgaze_jobs SET status = 'queued', lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
                WHERE status = 'running'
                """)
        }
    }

    /// Deletes jobs (result, error, webhook record) that finished more than `ttlSeconds` ago.
    @discardableResult
    public func deleteExpired() throws -> Int {
        let cutoff = now - options.ttlSeconds
        return try locked {
            try connection.transaction {
                try connection.execute("""
                    DELETE FROM dfgaze_webhook_attempts WHERE job_id IN
                        (SELECT id FROM dfgaze_jobs WHERE finished_at < $1 AND status IN ('succeeded', 'failed', 'canceled'))
                    """, [.double(cutoff)])
                return try connection.execute(
                    "DELETE FROM dfgaze_jobs WHERE finished_at < $1 AND status IN ('succeeded', 'failed', 'canceled')",
                    [.double(cutoff)])
            }
        }
    }

    /// Tests: drops the tables so that each test starts from an empty database.
    static func dropTablesForTesting(_ configuration: JobStoreConfiguration) throws {
        let c: SQLConnection = switch configuration.backend {
        case .sqlite(let path): try SQLiteConnection(path: path)
        case .postgres: try PostgresConnection(settings: configuration.libpqSettings)
        }
        defer { c.close() }
        for table in ["dfgaze_webhook_attempts", "dfgaze_jobs", "dfgaze_jobs_schema"] { try c.execute("DROP TABLE IF EXISTS \(table)") }
    }

    public func stats() throws -> JobStats {
        let now = self.now
        return try locked {
            var counts = Dictionary(uniqueKeysWithValues: JobStatus.allCases.map { ($0, 0) })
            for row in try connection.query("SELECT status, COUNT(*) FROM dfgaze_jobs GROUP BY status") {
                if let s = row[0].text.flatMap(JobStatus.init(rawValue:)) { counts[s] = Int(row[1].int ?? 0) }
            }
            let oldest = try connection.query("SELECT MIN(created_at) FROM dfgaze_jobs WHERE status = 'queued'").first?.first?.double
            let hooks = try connection.query("""
                SELECT COUNT(*), COALESCE(SUM(CASE WHEN status BETWEEN 200 AND 299 THEN 1 ELSE 0 END), 0) FROM dfgaze_webhook_attempts
                """).first ?? []
            return JobStats(countsByStatus: counts, oldestQueuedAgeSeconds: oldest.map { max(0, now - $0) } ?? 0,
                            webhookAttempts: Int(hooks.first?.int ?? 0), webhookAttemptsSucceeded: Int(hooks.dropFirst().first?.int ?? 0))
        }
    }

    // MARK: Webhooks

    /// Claims the webhook delivery due soonest (of a finished job with a callback URL), holding it
    /// for `inflightSeconds` so that other dispatchers (replicas) skip it meanwhile.
    public func claimWebhook(inflightSeconds: Double) throws -> WebhookDelivery? {
        let now = self.now
        return try locked {
            try connection.transaction {
                let skipLocked = dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
                guard let id = try connection.query("""
                    SELECT id FROM dfgaze_jobs WHERE webhook_state = 'pending' AND webhook_next_at <= $1
                    ORDER BY webhook_next_at LIMIT 1\(skipLocked)
                    """, [.double(now)]).first?.first?.text else { return nil }
                try connection.execute("UPDATE dfgaze_jobs SET webhook_next_at = $1 WHERE id = $2",
                                       [.double(now + inflightSeconds), .text(id)])
                guard let job = try load(id, payload: false) else { return nil }
                return WebhookDelivery(job: job, attemptNumber: job.webhookAttempts.count + 1)
            }
        }
    }

    /// Records one attempt and what follows: `nextAttemptAt` nil ends the delivery (delivered when
    /// the status is 2xx, else failed).
    public func recordWebhookAttempt(jobId: String, attemptNumber: Int, attempt: WebhookAttempt, nextAttemptAt: Date?) throws {
        let delivered = attempt.status.map { (200...299).contains($0) } ?? false
        let state: WebhookState = delivered ? .delivered : (nextAttemptAt == nil ? .failed : .pending)
        try locked {
            try connection.transaction {
                try connection.execute("""
                    INSERT INTO dfgaze_webhook_attempts (job_id, attempt, at, status, error) VALUES ($1, $2, $3, $4, $5)
                    """, [.text(jobId), .int(Int64(attemptNumber)), .double(attempt.at.timeIntervalSince1970),
                          attempt.status.map { .int(Int64($0)) } ?? .null, attempt.error.sql])
                try connection.execute("UPDATE dfgaze_jobs SET webhook_state = $1, webhook_next_at = $2 WHERE id = $3",
                                       [.text(state.rawValue), (delivered ? nil : nextAttemptAt?.timeIntervalSince1970).sql, .text(jobId)])
            }
        }
    }
}

func sha256Hex(_ data: Data) -> String {
    var digest = [UInt8](repeating: 0, count: 32)
    var size: UInt32 = 0
    _ = data.withUnsafeBytes { raw in
        EVP_Digest(raw.baseAddress, raw.count, &digest, &size, EVP_sha256(), nil)
    }
    return digest.map { String(format: "%02x", $0) }.joined()
}
