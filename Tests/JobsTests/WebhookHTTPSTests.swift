import Foundation
import XCTest
@testable import Jobs

/// A throwaway self-signed certificate and key, made now with the `openssl` command (an IP SAN).
final class TestCertificate {
    let directory: URL
    var certificate: String { directory.appendingPathComponent("cert.pem").path }
    var key: String { directory.appendingPathComponent("key.pem").path }

    init(ipAddress: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dfgaze-cert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                             "-days", "1", "-keyout", key, "-out", certificate, "-subj", "/CN=\(ipAddress)",
                             "-addext", "subjectAltName=IP:\(ipAddress)"]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw XCTSkip("the openssl command could not make a test certificate") }
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

/// https callback URLs: the receiver serves TLS with a certificate no system store trusts.
final class WebhookHTTPSDeliveryTests: XCTestCase {
    let secret = "s3cret-for-tests"

    func deliver(to receiver: Receiver, caFile: String?) throws -> Job {
        var options = JobStoreOptions()
        options.webhookFirstRetryDelay = 0.05
        options.webhookMaxAttempts = 3
        let store = try Backend.sqlite().open(options)
        let id = try store.submit(StoreSpecs.submission("clip", callback: receiver.url)).job.id
        var config = JobRunnerConfiguration()
        config.pollInterval = 0.02
        config.webhookSecret = secret
        config.webhookAllowedHosts = ["127.0.0.1"]
        config.webhookTimeout = 5
        config.webhookCAFile = caFile
        let runner = JobRunner(store: store, configuration: config) { job, _, _ in echoResult(job.payload ?? Data()) }
        runner.start()
        try eventually("the delivery ended") { [.delivered, .failed].contains(try store.job(id: id)?.webhookState) }
        runner.stop()
        return try XCTUnwrap(try store.job(id: id))
    }

    func testDeliveryVerifiedWithTheCAFile() throws {
        let certificate = try TestCertificate(ipAddress: "127.0.0.1")
        let receiver = try Receiver(secret: secret, statuses: [200], tls: certificate)
        XCTAssertTrue(receiver.url.hasPrefix("https://127.0.0.1:"))
        let job = try deliver(to: receiver, caFile: certificate.certificate)
        XCTAssertEqual(job.webhookState, .delivered)
        XCTAssertEqual(job.webhookAttempts.map(\.status), [200])
        let requests = receiver.requests
        XCTAssertEqual(requests.count, 1)
        XCTAssertEqual(requests.first?["signature_ok"] as? Bool, true, "X-DFGaze-Signature checked by the receiver's own HMAC")
        XCTAssertEqual(requests.first?["job_id"] as? String, job.id)
        XCTAssertEqual(requests.first?["path"] as? String, "/hook/path?tag=1")
        XCTAssertEqual((requests.first?["body"] as? [String: Any])?["status"] as? String, "succeeded")
    }

    func testWithoutTheCAFileTheCertificateIsRefusedAndNothingIsDelivered() throws {
        let certificate = try TestCertificate(ipAddress: "127.0.0.1")
        let receiver = try Receiver(secret: secret, statuses: [200], tls: certificate)
        let job = try deliver(to: receiver, caFile: nil)
        XCTAssertEqual(job.webhookState, .failed)
        XCTAssertEqual(job.webhookAttempts.count, 3, "retried like a connection failure")
        for attempt in job.webhookAttempts {
            XCTAssertNil(attempt.status)
            XCTAssertEqual(attempt.error?.hasPrefix("TLS certificate verification failed"), true, attempt.error ?? "no error")
        }
        XCTAssertEqual(receiver.requests.count, 0, "no request was sent over an unverified session")
    }

    /// The certificate is trusted, but it names 127.0.0.2: the address in the URL is checked too.
    func testACertificateForAnotherAddressIsRefused() throws {
        let certificate = try TestCertificate(ipAddress: "127.0.0.2")
        let receiver = try Receiver(secret: secret, statuses: [200], tls: certificate)
        let job = try deliver(to: receiver, caFile: certificate.certificate)
        XCTAssertEqual(job.webhookState, .failed)
        XCTAssertEqual(job.webhookAttempts.first?.error?.hasPrefix("TLS certificate verification failed"), true, job.webhookAttempts.first?.error ?? "no error")
        XCTAssertEqual(receiver.requests.count, 0)
    }

    /// An https URL to a receiver that speaks plain HTTP: a failed (or, as the receiver waits for a
    /// request line, timed-out) handshake, recorded and retried.
    func testAPlainHTTPServerBehindAnHTTPSURLIsAFailedAttempt() throws {
        let receiver = try Receiver(secret: secret, statuses: [200])
        var options = JobStoreOptions()
        options.webhookFirstRetryDelay = 0.05
        options.webhookMaxAttempts = 2
        let store = try Backend.sqlite().open(options)
        let url = receiver.url.replacingOccurrences(of: "http://", with: "https://")
        let id = try store.submit(StoreSpecs.submission("clip", callback: url)).job.id
        var config = JobRunnerConfiguration()
        config.pollInterval = 0.02
        config.webhookAllowedHosts = ["127.0.0.1"]
        config.webhookTimeout = 1
        let runner = JobRunner(store: store, configuration: config) { job, _, _ in echoResult(job.payload ?? Data()) }
        runner.start()
        try eventually("the delivery gave up") { try store.job(id: id)?.webhookState == .failed }
        runner.stop()
        let attempts = try XCTUnwrap(try store.job(id: id)?.webhookAttempts)
        XCTAssertEqual(attempts.count, 2)
        XCTAssertEqual(attempts.map(\.status), [nil, nil])
        XCTAssertEqual(attempts.first?.error?.hasPrefix("TLS handshake"), true, attempts.first?.error ?? "no error")
    }
}
