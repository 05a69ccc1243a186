import Foundation

/// Which database holds the jobs, from `--jobs-database`:
///
/// - `sqlite:///absolute/path/jobs.sqlite3` (or `sqlite:relative/path`): one file, WAL mode, one box.
/// - `postgres://user@host:port/database` (or `postgresql://`; port defaults to 5432; query
///   parameters `sslmode`, `connect_timeout`, `application_name` pass through to libpq): many replicas.
///
/// The PostgreSQL password never comes from the URL (a URL with one is refused, so that it is not on
/// a command line or in logs): it comes from the environment variable
/// `DFGAZE_JOBS_DATABASE_PASSWORD`, or from the file named by `DFGAZE_JOBS_DATABASE_PASSWORD_FILE` or
/// by `passwordFile` (a Kubernetes Secret mounted as a file; a trailing newline is dropped), or libpq's
/// own ~/.pgpass when none is given. `description` never includes it.
public struct JobStoreConfiguration: Sendable, CustomStringConvertible {
    public enum Backend: Sendable, Equatable {
        case sqlite(path: String)
        case postgres(host: String, port: Int, user: String, database: String, options: [String: String])
    }

    public var backend: Backend
    var password: String?

    public init(backend: Backend, password: String? = nil) {
        self.backend = backend
        self.password = password
    }

    public static let passwordVariable = "DFGAZE_JOBS_DATABASE_PASSWORD"
    public static let passwordFileVariable = "DFGAZE_JOBS_DATABASE_PASSWORD_FILE"

    /// The default: `sqlite://<dataDirectory>/jobs.sqlite3`.
    public static func sqlite(inDirectory dataDirectory: String) -> JobStoreConfiguration {
        JobStoreConfiguration(backend: .sqlite(path: (dataDirectory as NSString).appendingPathComponent("jobs.sqlite3")))
    }

    public static func parse(_ url: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                             passwordFile: String? = nil) throws -> JobStoreConfiguration {
        if url.hasPrefix("sqlite://") || url.hasPrefix("sqlite:") {
            var path = url.hasPrefix("sqlite://") ? String(url.dropFirst("sqlite://".count)) : String(url.dropFirst("sqlite:".count))
            if url.hasPrefix("sqlite://") && !path.hasPrefix("/") {
                throw JobStoreError.configuration("--jobs-database: write sqlite:///absolute/path (three slashes) or sqlite:relative/path")
            }
            if path.isEmpty { throw JobStoreError.configuration("--jobs-database: the sqlite URL names no file") }
            if path.contains("?") { path = String(path.prefix { $0 != "?" }) }
            return JobStoreConfiguration(backend: .sqlite(path: path))
        }
        guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
            throw JobStoreError.configuration("--jobs-database: expected sqlite:///path or postgres://user@host:port/database")
        }
        let rest = String(url.drop { $0 != "/" }.dropFirst(2))
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = String(rest[..<authorityEnd])
        var tail = String(rest[authorityEnd...])
        var user = ""
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            if userinfo.contains(":") {
                throw JobStoreError.configuration("--jobs-database: no password in the URL; set \(passwordVariable) or \(passwordFileVariable)")
            }
            user = String(userinfo).removingPercentEncoding ?? String(userinfo)
            hostPort = String(authority[authority.index(after: at)...])
        }
        var host = hostPort
        var port = 5432
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw JobStoreError.configuration("--jobs-database: bad IPv6 host") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw JobStoreError.configuration("--jobs-database: bad port") }
                port = p
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            guard let p = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(p) else {
                throw JobStoreError.configuration("--jobs-database: bad port")
            }
            port = p
        }
        var query = ""
        if let q = tail.firstIndex(of: "?") {
            query = String(tail[tail.index(after: q)...])
            tail = String(tail[..<q])
        }
        let database = String(tail.drop { $0 == "/" }).removingPercentEncoding ?? ""
        if host.isEmpty || user.isEmpty || database.isEmpty {
            throw JobStoreError.configuration("--jobs-database: write postgres://user@host:port/database")
        }
        var options: [String: String] = [:]
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            let key = kv[0], value = kv.count > 1 ? (kv[1].removingPercentEncoding ?? kv[1]) : ""
            guard ["sslmode", "connect_timeout", "application_name", "sslrootcert"].contains(key) else {
                throw JobStoreError.configuration("--jobs-database: unsupported option '\(key)' (sslmode, connect_timeout, application_name, sslrootcert)")
            }
            options[key] = value
        }
        var password = environment[passwordVariable]
        if password == nil, let file = passwordFile ?? environment[passwordFileVariable] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw JobStoreError.configuration("cannot read the database password file \(file)")
            }
            password = String(text.hasSuffix("\n") ? text.dropLast() : Substring(text))
        }
        return JobStoreConfiguration(backend: .postgres(host: host, port: port, user: user, database: database, options: options),
                                     password: password)
    }

    /// The URL without any password.
    public var description: String {
        switch backend {
        case .sqlite(let path): return path.hasPrefix("/") ? "sqlite://\(path)" : "sqlite:\(path)"
        case .postgres(let host, let port, let user, let database, _):
            let h = host.contains(":") ? "[\(host)]" : host
            return "postgres://\(user)@\(h):\(port)/\(database)"
        }
    }

    var libpqSettings: [(String, String)] {
        guard case .postgres(let host, let port, let user, let database, let options) = backend else { return [] }
        var settings = [("host", host), ("port", String(port)), ("user", user), ("dbname", database)]
        if options["connect_timeout"] == nil { settings.append(("connect_timeout", "10")) }
        if options["application_name"] == nil { settings.append(("application_name", "dfgaze")) }
        settings += options.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if let password { settings.append(("password", password)) }
        return settings
    }
}

/// The store's knobs (the serve flags).
public struct JobStoreOptions: Sendable {
    /// `--job-lease-seconds`: how long a claim lasts without renewal.
    public var leaseSeconds: Double = 30
    /// `--max-queued-jobs`: submit refuses with `queueFull` when this many jobs are queued.
    public var maxQueuedJobs: Int = 1000
    /// `Retry-After` for `queueFull`.
    public var queueFullRetryAfterSeconds: Int = 30
    /// `--job-ttl`: finished jobs (their results and webhook records) are deleted this long after
    /// they finished. Uploads are deleted as soon as a job finishes.
    public var ttlSeconds: Double = 24 * 3600
    /// Re-queue every `running` job when the store opens. Default: on for SQLite (one box: a running
    /// job at open belonged to a process that died), off for PostgreSQL (other replicas' jobs are
    /// running; expired leases are claimed again instead).
    public var requeueRunningAtOpen: Bool? = nil
    /// Webhook deliveries: attempts in all, and the delay before the second (doubling after each).
    /// Defaults: 6 attempts, 5 s: retries after 5, 10, 20, 40, 80 s (all within 2.6 minutes).
    public var webhookMaxAttempts: Int = 6
    public var webhookFirstRetryDelay: Double = 5

    public init() {}
}
