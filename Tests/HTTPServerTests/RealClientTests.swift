import Foundation
import XCTest
@testable import HTTPServer

/// curl and openssl as real clients.
final class RealClientTests: XCTestCase {
    private let curl = "/usr/bin/curl"
    private let openssl = "/usr/bin/openssl"

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: curl), "curl not installed")
    }

    /// POST /upload parses multipart and answers the parts it saw as JSON.
    private func uploadRoutes(_ router: inout Router) {
        router.add(.POST, "/upload") { request in
            do {
                let parts = try MultipartParser.parse(body: request.body, contentType: request.headers["Content-Type"] ?? "")
                let summary = parts.map { ["name": $0.name, "filename": $0.filename ?? "", "type": $0.contentType ?? "",
                                           "size": String($0.body.count), "text": $0.filename == nil ? String(decoding: $0.body, as: UTF8.self) : ""] }
                return try .json(encoding: summary)
            } catch let error as MultipartError {
                return .error(error.httpError)
            }
        }
        router.add(.GET, "/hello") { _ in .text("hello") }
    }

    func testCurlMultipartUpload() throws {
        let server = try startServer(routes: uploadRoutes)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("face.jpg")
        let payload = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try payload.write(to: file)

        let result = try runTool(curl, ["-sS", "-f", "http://127.0.0.1:\(server.port)/upload",
                                    "-F", "threshold=0.5", "-F", "image=@\(file.path);type=image/jpeg"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let parts = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: String]])
        XCTAssertEqual(parts.count, 2)
        XCTAssertEqual(parts[0]["name"], "threshold")
        XCTAssertEqual(parts[0]["text"], "0.5")
        XCTAssertEqual(parts[1]["name"], "image")
        XCTAssertEqual(parts[1]["filename"], "face.jpg")
        XCTAssertEqual(parts[1]["type"], "image/jpeg")
        XCTAssertEqual(parts[1]["size"], String(payload.count))

        let malformed = try runTool(curl, ["-sS", "http://127.0.0.1:\(server.port)/upload", "-H", "Content-Type: multipart/form-data; boundary=x",
                                       "--data-binary", "--x\r\nContent-Disposition: form-data; name=a\r\n\r\nunterminated"])
        XCTAssertTrue(malformed.stdout.hasPrefix("bad_multipart: "), malformed.stdout)
    }

    func testCurlReusesKeepAliveConnection() throws {
        let server = try startServer(routes: uploadRoutes)
        let url = "http://127.0.0.1:\(server.port)/hello"
        let result = try runTool(curl, ["-sv", url, url])
        XCTAssertEqual(result.stdout, "hellohello")
        XCTAssertTrue(result.stderr.contains("Re-using existing connection") || result.stderr.contains("Reusing existing"), result.stderr)
    }

    func testTLSWithCurlAndOpenSSL() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: openssl), "openssl not installed")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cert = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let made = try runTool(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                     "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                                     "-addext", "subjectAltName=IP:127.0.0.1"])
        XCTAssertEqual(made.status, 0, made.stderr)

        let server = try startServer({ $0.tls = TLSConfiguration(certificateChainPath: cert, privateKeyPath: key) }, routes: uploadRoutes)
        let url = "https://127.0.0.1:\(server.port)/hello"
        let ok = try runTool(curl, ["-sS", "--cacert", cert, url, url])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, "hellohello")

        let tls12 = try runTool(curl, ["-sS", "--cacert", cert, "--tlsv1.2", "--tls-max", "1.2", url])
        XCTAssertEqual(tls12.stdout, "hello", tls12.stderr)

        // SECLEVEL=0 lets the client offer TLS 1.1, so a failure is the server's refusal.
        let tls11 = try runTool(openssl, ["s_client", "-connect", "127.0.0.1:\(server.port)", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
        XCTAssertNotEqual(tls11.status, 0, "TLS 1.1 must be refused")

        let nonForwardSecret = try runTool(openssl, ["s_client", "-connect", "127.0.0.1:\(server.port)", "-tls1_2",
                                                 "-cipher", "AES128-GCM-SHA256"])
        XCTAssertNotEqual(nonForwardSecret.status, 0, "static-RSA/non-ECDHE cipher must be refused")

        let plain = try runTool(curl, ["-sS", "http://127.0.0.1:\(server.port)/hello"])
        XCTAssertNotEqual(plain.stdout, "hello", "plain HTTP on the TLS port is not served")
    }

    func testMissingCertificateIsAClearError() {
        var configuration = ServerConfiguration()
        configuration.tls = TLSConfiguration(certificateChainPath: "/nonexistent/cert.pem", privateKeyPath: "/nonexistent/key.pem")
        XCTAssertThrowsError(try HTTPServer(configuration: configuration, router: Router())) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/cert.pem"), "\(error)")
        }
    }
}
