import Foundation
import XCTest
@testable import Jobs

final class CallbackURLTests: XCTestCase {
    let allow = WebhookURL.parseAllowList("127.0.0.1, hooks.example.com,[::1],2001:db8::7")

    func target(_ url: String) -> WebhookTarget? { try? WebhookURL.validate(url, allowedHosts: allow).get() }
    func error(_ url: String) -> CallbackURLError? {
        if case .failure(let e) = WebhookURL.validate(url, allowedHosts: allow) { return e }
        return nil
    }

    func testTheAllowListIsParsedAsWritten() {
        XCTAssertEqual(allow, ["127.0.0.1", "hooks.example.com", "::1", "2001:db8::7"])
        XCTAssertEqual(WebhookURL.parseAllowList(""), [])
    }

    func testAllowedURLs() {
        XCTAssertEqual(target("http://127.0.0.1:8099/hook?x=1"),
                       WebhookTarget(host: "127.0.0.1", port: 8099, pathAndQuery: "/hook?x=1", hostHeader: "127.0.0.1:8099", isIPv6Literal: false))
        XCTAssertEqual(target("HTTP://Hooks.Example.COM"),
                       WebhookTarget(host: "hooks.example.com", port: 80, pathAndQuery: "/", hostHeader: "hooks.example.com", isIPv6Literal: false))
        XCTAssertEqual(target("http://[::1]:9000/a"),
                       WebhookTarget(host: "::1", port: 9000, pathAndQuery: "/a", hostHeader: "[::1]:9000", isIPv6Literal: true))
        XCTAssertEqual(target("http://[2001:DB8::7]?q")?.pathAndQuery, "/?q")
    }

    func testHTTPSURLsFollowTheSameRulesWithPort443() {
        XCTAssertEqual(target("https://127.0.0.1/hook"),
                       WebhookTarget(host: "127.0.0.1", port: 443, pathAndQuery: "/hook", hostHeader: "127.0.0.1", isIPv6Literal: false, isHTTPS: true))
        XCTAssertEqual(target("HTTPS://Hooks.Example.COM:8443?x")?.port, 8443)
        XCTAssertEqual(target("HTTPS://Hooks.Example.COM:8443?x")?.hostHeader, "hooks.example.com:8443")
        XCTAssertEqual(target("https://[::1]:443/")?.hostHeader, "[::1]", "443 is https's default port")
        XCTAssertEqual(target("http://127.0.0.1:443/")?.hostHeader, "127.0.0.1:443", "but not http's")
        XCTAssertEqual(target("http://127.0.0.1/")?.isHTTPS, false)
        XCTAssertEqual(error("https://evil.example.com/"), .hostNotAllowed("evil.example.com"))
        XCTAssertEqual(error("https://localhost/"), .hostNotAllowed("localhost"))
        XCTAssertEqual(error("https://127.0.0.1@evil.example.com/"), .userinfoNotAllowed)
        guard case .malformed? = error("https://127.0.0.1/#frag") else { return XCTFail("a fragment in an https URL was accepted") }
    }

    func testHostsAreComparedAsWrittenWithoutResolving() {
        // All of these reach 127.0.0.1 or ::1 once resolved; none is written as allowed.
        for host in ["localhost", "127.1", "127.0.0.01", "0x7f.0.0.1", "2130706433", "127.0.0.1.", "[::ffff:127.0.0.1]", "[0:0:0:0:0:0:0:1]"] {
            XCTAssertEqual(error("http://\(host)/"), .hostNotAllowed(host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))), host)
        }
        XCTAssertEqual(error("http://evil.example.com/"), .hostNotAllowed("evil.example.com"))
        XCTAssertEqual(error("http://hooks.example.com.evil.net/"), .hostNotAllowed("hooks.example.com.evil.net"))
        XCTAssertEqual(WebhookURL.validate("http://127.0.0.1/", allowedHosts: []), .failure(.hostNotAllowed("127.0.0.1")), "default: none")
    }

    func testUserinfoIsRefused() {
        XCTAssertEqual(error("http://user@127.0.0.1/"), .userinfoNotAllowed)
        XCTAssertEqual(error("http://user:pw@127.0.0.1/"), .userinfoNotAllowed)
        // The classic confusion: the real host is evil.example.com.
        XCTAssertEqual(error("http://127.0.0.1@evil.example.com/"), .userinfoNotAllowed)
        XCTAssertEqual(error("http://127.0.0.1:80@evil.example.com/"), .userinfoNotAllowed)
    }

    func testMalformedURLsAreRefused() {
        XCTAssertEqual(error("gopher://127.0.0.1/"), .schemeNotAllowed)
        XCTAssertEqual(error("httpx://127.0.0.1/"), .schemeNotAllowed)
        XCTAssertEqual(error("ftp://127.0.0.1/"), .schemeNotAllowed)
        XCTAssertEqual(error("file:///etc/passwd"), .schemeNotAllowed)
        XCTAssertEqual(error(String(repeating: "a", count: 3000)), .tooLong)
        for bad in ["127.0.0.1/hook", "http://", "http:///x", "http://127.0.0.1:0/", "http://127.0.0.1:65536/", "http://127.0.0.1:8a/",
                    "http://127.0.0.1:/", "http://[::1/", "http://[::1]x/", "http://[fe80::1%25eth0]/", "http://[zz::1]/",
                    "http://127.0.0.1/a b", "http://127.0.0.1/#frag", "http://127.0.0.1\\@evil/", "http://h%6fst/", "http://caf\u{e9}.com/",
                    "http://127.0.0.1/\r\nX-Injected: 1"] {
            guard case .malformed? = error(bad) else { return XCTFail("accepted or misjudged: \(bad.debugDescription) -> \(String(describing: error(bad)))") }
        }
    }

    /// RFC 4231, test case 2.
    func testSignatureIsHMACSHA256() {
        XCTAssertEqual(WebhookSignature.header(body: Data("what do ya want for nothing?".utf8), secret: "Jefe"),
                       "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }
}

/// A receiver process (Tests/Jobs/webhook_receiver.py) on a loopback address.
final class Receiver {
    let process = Process()
    let log: URL
    let port: Int
    let host: String

    let tls: TestCertificate?

    /// With `tls`, it serves HTTPS with that certificate and key.
    init(host: String = "127.0.0.1", secret: String, statuses: [Int], location: String = "", tls: TestCertificate? = nil) throws {
        self.host = host
        self.tls = tls
        log = FileManager.default.temporaryDirectory.appendingPathComponent("dfgaze-hook-\(UUID().uuidString).jsonl")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Jobs/webhook_receiver.py")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, "--host", host, "--secret", secret,
                             "--statuses", statuses.map(String.init).joined(separator: ","), "--log", log.path, "--location", location]
            + (tls.map { ["--tls-cert", $0.certificate, "--tls-key", $0.key] } ?? [])
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw XCTSkip("the webhook receiver did not start on \(host)")
        }
        self.port = port
    }

    var url: String { "\(tls == nil ? "http" : "https")://\(host.contains(":") ? "[\(host)]" : host):\(port)/hook/path?tag=1" }

    var requests: [[String: Any]] {
        guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { jsonObject(Data($0.utf8)) }
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: log)
    }
}

final class WebhookDeliveryTests: XCTestCase {
    let secret = "s3cret-for-tests"

    func runner(_ store: JobStore, allow: String = "127.0.0.1") -> JobRunner {
        var config = JobRunnerConfiguration()
        config.pollInterval = 0.02
        config.webhookSecret = secret
        config.webhookAllowedHosts = WebhookURL.parseAllowList(allow)
        config.webhookTimeout = 5
        return JobRunner(store: store, configuration: config) { job, progress, _ in
            progress(1, 1)
            return echoResult(job.payload ?? Data())
        }
    }

    func options() -> JobStoreOptions {
        var o = JobStoreOptions()
        o.webhookFirstRetryDelay = 0.05
        o.webhookMaxAttempts = 4
        return o
    }

    func testSignedDeliveryRetriedAfterTwo500s() throws {
        let receiver = try Receiver(secret: secret, statuses: [500, 500, 200])
        let store = try Backend.sqlite().open(options())
        let id = try store.submit(StoreSpecs.submission("clip", callback: receiver.url)).job.id
        let r = runner(store)
        r.start()
        try eventually("the webhook was delivered") { try store.job(id: id)?.webhookState == .delivered }
        r.stop()
        let requests = receiver.requests
        XCTAssertEqual(requests.count, 3)
        for request in requests {
            XCTAssertEqual(request["signature_ok"] as? Bool, true, "X-DFGaze-Signature checked by the receiver's own HMAC")
            XCTAssertEqual(request["job_id"] as? String, id)
            XCTAssertEqual(request["path"] as? String, "/hook/path?tag=1")
            let body = try XCTUnwrap(request["body"] as? [String: Any])
            XCTAssertEqual(body["id"] as? String, id)
            XCTAssertEqual(body["status"] as? String, "succeeded")
            XCTAssertEqual((body["result"] as? [String: Any])?["echo"] as? String, "clip")
        }
        // Each body lists the attempts made before it.
        XCTAssertEqual(((requests[2]["body"] as? [String: Any])?["webhook"] as? [String: Any])?["attempts"].map { ($0 as? [[String: Any]])?.count }, 2)
        let job = try XCTUnwrap(try store.job(id: id))
        XCTAssertEqual(job.webhookAttempts.map(\.status), [500, 500, 200])
        XCTAssertEqual(job.webhookAttempts.map(\.at), job.webhookAttempts.map(\.at).sorted())
        let rendered = try XCTUnwrap((jsonObject(job.json())?["webhook"] as? [String: Any])?["attempts"] as? [[String: Any]])
        XCTAssertEqual(rendered.map { $0["status"] as? Int }, [500, 500, 200])
        XCTAssertTrue(rendered.allSatisfy { ($0["at"] as? String)?.hasSuffix("Z") == true })
        let stats = try store.stats()
        XCTAssertEqual(stats.webhookAttempts, 3)
        XCTAssertEqual(stats.webhookAttemptsSucceeded, 1)
    }

    func testDeliveryToAnIPv6Literal() throws {
        let receiver = try Receiver(host: "::1", secret: secret, statuses: [200])
        let store = try Backend.sqlite().open(options())
        let id = try store.submit(StoreSpecs.submission("clip", callback: receiver.url)).job.id
        let r = runner(store, allow: "[::1]")
        r.start()
        try eventually("the webhook was delivered") { try store.job(id: id)?.webhookState == .delivered }
        r.stop()
        XCTAssertEqual(receiver.requests.map { $0["job_id"] as? String }, [id])
        XCTAssertEqual(receiver.requests.first?["signature_ok"] as? Bool, true)
    }

    func testRetriesAreBounded() throws {
        let receiver = try Receiver(secret: secret, statuses: [503])
        let store = try Backend.sqlite().open(options())
        let id = try store.submit(StoreSpecs.submission("clip", callback: receiver.url)).job.id
        let r = runner(store)
        r.start()
        try eventually("the delivery gave up") { try store.job(id: id)?.webhookState == .failed }
        r.stop()
        XCTAssertEqual(receiver.requests.count, 4, "webhookMaxAttempts")
        XCTAssertEqual(try store.job(id: id)?.webhookAttempts.map(\.status), [503, 503, 503, 503])
    }

    func testAReceiverThatNeverAnswersTimesOutAndIsRetried() throws {
        let receiver = try Receiver(secret: secret, statuses: [0, 200])
        let store = try Backend.sqlite().open(options())
        let id = try store.submit(StoreSpecs.submission("clip", callback: receiver.url)).job.id
        var config = JobRunnerConfiguration()
        config.pollInterval = 0.02
        config.webhookSecret = secret
        config.webhookAllowedHosts = ["127.0.0.1"]
        config.webhookTimeout = 0.5
        let r = JobRunner(store: store, configuration: config) { job, _, _ in echoResult(job.payload ?? Data()) }
        r.start()
        try eventually("the webhook was delivered") { try store.job(id: id)?.webhookState == .delivered }
        r.stop()
        let attempts = try XCTUnwrap(try store.job(id: id)?.webhookAttempts)
        XCTAssertEqual(attempts.map(\.status), [nil, 200])
        XCTAssertEqual(attempts.first?.error, "response timed out")
        XCTAssertEqual(receiver.requests.count, 2)
    }

    func testTheDefaultScheduleFitsThreeAttemptsInFiveMinutes() {
        let o = JobStoreOptions()
        XCTAssertGreaterThanOrEqual(o.webhookMaxAttempts, 3)
        let total = (1..<o.webhookMaxAttempts).map { o.webhookFirstRetryDelay * pow(2, Double($0 - 1)) }.reduce(0, +)
        XCTAssertLessThanOrEqual(total, 300)
    }

    func testRedirectsAreNotFollowed() throws {
        let target = try Receiver(secret: secret, statuses: [200])
        let redirecting = try Receiver(secret: secret, statuses: [302], location: target.url)
        let store = try Backend.sqlite().open(options())
        let id = try store.submit(StoreSpecs.submission("clip", callback: redirecting.url)).job.id
        let r = runner(store)
        r.start()
        try eventually("the delivery ended") { try store.job(id: id)?.webhookState == .failed }
        r.stop()
        XCTAssertEqual(redirecting.requests.count, 1, "a 3xx is final, not retried")
        XCTAssertEqual(target.requests.count, 0, "the Location was never visited")
        XCTAssertEqual(try store.job(id: id)?.webhookAttempts.map(\.status), [302])
    }

    /// A callback URL whose host is not (or no longer) allowed is never contacted: 127.0.0.2 is a
    /// live receiver on loopback, but only 127.0.0.1 is allowed.
    func testHostsOutsideTheAllowListAreNeverContacted() throws {
        let outside = try Receiver(host: "127.0.0.2", secret: secret, statuses: [200])
        let store = try Backend.sqlite().open(options())
        let id = try store.submit(StoreSpecs.submission("clip", callback: outside.url)).job.id
        let viaName = try store.submit(StoreSpecs.submission("clip2", callback: "http://localhost:\(outside.port)/")).job.id
        let r = runner(store, allow: "127.0.0.1")
        r.start()
        try eventually("both deliveries ended") {
            try store.job(id: id)?.webhookState == .failed && store.job(id: viaName)?.webhookState == .failed
        }
        r.stop()
        XCTAssertEqual(outside.requests.count, 0)
        let attempt = try XCTUnwrap(try store.job(id: id)?.webhookAttempts.first)
        XCTAssertNil(attempt.status)
        XCTAssertEqual(attempt.error, CallbackURLError.hostNotAllowed("127.0.0.2").description)
        XCTAssertEqual(try store.job(id: id)?.webhookAttempts.count, 1, "not retried")
    }

    func testAJobWithoutCallbackHasNoWebhook() throws {
        let store = try Backend.sqlite().open(options())
        let id = try store.submit(StoreSpecs.submission("clip")).job.id
        let r = runner(store)
        r.start()
        try eventually("succeeded") { try store.job(id: id)?.status == .succeeded }
        r.stop()
        XCTAssertNil(try store.job(id: id)?.webhookState)
        XCTAssertNil(jsonObject(try store.job(id: id)?.json())?["webhook"])
    }
}

final class JobStoreConfigurationTests: XCTestCase {
    func testSQLiteURLs() throws {
        XCTAssertEqual(try JobStoreConfiguration.parse("sqlite:///var/lib/dfgaze/jobs.sqlite3").backend, .sqlite(path: "/var/lib/dfgaze/jobs.sqlite3"))
        XCTAssertEqual(try JobStoreConfiguration.parse("sqlite:data/jobs.sqlite3").backend, .sqlite(path: "data/jobs.sqlite3"))
        XCTAssertEqual(JobStoreConfiguration.sqlite(inDirectory: "/data").backend, .sqlite(path: "/data/jobs.sqlite3"))
        XCTAssertThrowsError(try JobStoreConfiguration.parse("sqlite://relative/x"))
        XCTAssertThrowsError(try JobStoreConfiguration.parse("mysql://u@h/db"))
    }

    func testPostgresURLsTakeThePasswordOnlyFromTheEnvironmentOrAFile() throws {
        let c = try JobStoreConfiguration.parse("postgres://dfgaze@db.internal:6543/jobs?sslmode=require",
                                                environment: ["DFGAZE_JOBS_DATABASE_PASSWORD": "pw-from-env"])
        XCTAssertEqual(c.backend, .postgres(host: "db.internal", port: 6543, user: "dfgaze", database: "jobs", options: ["sslmode": "require"]))
        XCTAssertEqual(c.password, "pw-from-env")
        XCTAssertEqual(c.description, "postgres://dfgaze@db.internal:6543/jobs")
        XCTAssertFalse(c.libpqSettings.contains { $0.0 == "password" && $0.1 != "pw-from-env" })

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pw-\(UUID().uuidString)")
        try "pw-from-file\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let f = try JobStoreConfiguration.parse("postgresql://u@[::1]/d", environment: ["DFGAZE_JOBS_DATABASE_PASSWORD_FILE": file.path])
        XCTAssertEqual(f.password, "pw-from-file")
        XCTAssertEqual(f.backend, .postgres(host: "::1", port: 5432, user: "u", database: "d", options: [:]))
        XCTAssertFalse("\(f)".contains("pw-from-file"))

        XCTAssertThrowsError(try JobStoreConfiguration.parse("postgres://u:secret@h/d", environment: [:])) {
            XCTAssertFalse("\($0)".contains("secret"))
        }
        XCTAssertThrowsError(try JobStoreConfiguration.parse("postgres://h/d", environment: [:]), "a user is required")
        XCTAssertThrowsError(try JobStoreConfiguration.parse("postgres://u@h:99999/d", environment: [:]))
        XCTAssertThrowsError(try JobStoreConfiguration.parse("postgres://u@h/d?password=x", environment: [:]))
    }
}
