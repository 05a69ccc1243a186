import DFGaze
import Foundation
import HTTPServer
@testable import ScoringService
import XCTest

/// The API's contract as the service owns it: one error envelope everywhere, one list of codes
/// (and the README's copy of it), labels from closed sets, the id limit, the frame limit.
final class APIContractTests: XCTestCase {
    /// `{"error": {"code", "message"}, "request_id"}` with the response's X-Request-ID, or a failure naming what is missing.
    private func assertEnvelope(_ body: Data, headers: [String: String], status: Int, code: String, _ what: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            return XCTFail("\(what): body is not a JSON object: \(String(decoding: body, as: UTF8.self))", file: file, line: line)
        }
        guard let error = object["error"] as? [String: Any] else { return XCTFail("\(what): no error object", file: file, line: line) }
        XCTAssertEqual(error["code"] as? String, code, what, file: file, line: line)
        XCTAssertNotNil(error["message"] as? String, "\(what): error.message", file: file, line: line)
        XCTAssertNotNil(object["request_id"] as? String, "\(what): request_id", file: file, line: line)
        XCTAssertEqual(object["request_id"] as? String, headers["x-request-id"], "\(what): request_id is the X-Request-ID", file: file, line: line)
        XCTAssertEqual(APIErrorCode(rawValue: code)?.status, status, "\(what): status of \(code)", file: file, line: line)
    }

    func testEveryErrorBodyIsTheOneEnvelopeWithRequestID() throws {
        let (_, url) = try startService(scorer: nil) { _, server in
            server.maxBodyBytes = 1000
            server.maxHeaderBytes = 1024
            server.headerReadTimeout = 0.3
        }
        let cases: [(String, [String], Int, String)] = [
            ("413 from the parser", ["-H", "Content-Type: application/json", "--data-binary", String(repeating: "x", count: 2000), "\(url)/score"], 413, "body_too_large"),
            ("431 from the parser", ["-H", "X-Big: \(String(repeating: "a", count: 2000))", "\(url)/healthz"], 431, "headers_too_large"),
            ("400 from the parser", ["-H", "Host: bad host/with@junk", "\(url)/healthz"], 400, "bad_request"),
            ("411 from the parser", ["-X", "POST", "\(url)/score"], 411, "length_required"),
            ("404 from routing", ["\(url)/nowhere"], 404, "not_found"),
            ("405 from routing", ["-X", "DELETE", "\(url)/healthz"], 405, "method_not_allowed"),
            ("503 not_ready", ["-H", "Content-Type: application/json", "--data-binary", "{}", "\(url)/score"], 503, "not_ready"),
            ("503 not_ready, /v1/model", ["\(url)/v1/model"], 503, "not_ready"),
            ("the client's request id", ["-H", "X-Request-ID: mine-1", "\(url)/nowhere"], 404, "not_found"),
        ]
        for (what, arguments, status, code) in cases {
            let response = try curl(arguments)
            XCTAssertEqual(response.status, status, what)
            XCTAssertEqual(response.headers["content-type"], "application/json", what)
            assertEnvelope(response.body, headers: response.headers, status: status, code: code, what)
        }
        // 408: a head that never ends.
        let port = Int(url.split(separator: ":").last!)!
        let (head, body) = try rawExchange(port: port, "GET /healthz HTTP/1.1\r\nHost: t\r\n")
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 408 "), head)
        let id = requestID(inHead: head)
        assertEnvelope(body, headers: ["x-request-id": id ?? "?"], status: 408, code: "request_timeout", "408 from the connection")
    }

    /// The accept loop's own refusal (over --max-connections) is the envelope too.
    func testConnectionLimitRefusalIsTheEnvelope() throws {
        let (_, url) = try startService(scorer: nil) { _, server in server.maxConnections = 1 }
        let port = Int(url.split(separator: ":").last!)!
        let holder = try connectedSocket(port: port)
        defer { close(holder) }
        Thread.sleep(forTimeInterval: 0.2)  // admitted: the one connection allowed
        let (head, body) = try rawExchange(port: port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 503 "), head)
        let id = requestID(inHead: head)
        assertEnvelope(body, headers: ["x-request-id": id ?? "?"], status: 503, code: "service_unavailable", "503 from the accept loop")
    }

    /// A TCP socket connected to 127.0.0.1:`port`.
    private func connectedSocket(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw NSError(domain: "connect", code: Int(errno))
        }
        return fd
    }

    private func requestID(inHead head: String) -> String? {
        head.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("x-request-id:") }
            .map { String($0.dropFirst("x-request-id:".count)).trimmingCharacters(in: .whitespaces) }
    }

    /// Sends `text`, reads until the server closes; the head and body.
    private func rawExchange(port: Int, _ text: String) throws -> (String, Data) {
        let fd = try connectedSocket(port: port)
        defer { close(fd) }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = Array(text.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var received = Data()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else { break }
            received.append(contentsOf: chunk[..<n])
        }
        guard let split = received.firstRange(of: Data("\r\n\r\n".utf8)) else { return (String(decoding: received, as: UTF8.self), Data()) }
        return (String(decoding: received[..<split.lowerBound], as: UTF8.self), Data(received[split.upperBound...]))
    }

    /// Each code the HTTP layer raises by itself is one of the API's, with the same status.
    func testEveryHTTPLayerErrorIsAnAPICode() {
        for error in HTTPError.all {
            XCTAssertEqual(APIErrorCode(rawValue: error.code)?.status, error.status, error.code)
        }
        for code in ScoringError.Code.allCases {
            XCTAssertEqual(APIErrorCode(code).rawValue, code.rawValue)
        }
    }

    /// README.md lists every code the API sends, once, under its status.
    func testREADMEListsEveryErrorCodeOnceUnderItsStatus() throws {
        let readme = try String(contentsOf: Fixture.root.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md"), encoding: .utf8)
        let start = try XCTUnwrap(readme.range(of: "Stable error codes, by status:"), "README.md: the list of error codes")
        let paragraph = readme[start.upperBound...].components(separatedBy: "\n\n")[0]
        var listed: [String: Int] = [:]
        var duplicates: [String] = []
        // "400 `bad_request`, `bad_json`; 401 `unauthorized`; ..."
        for group in paragraph.split(separator: ";") {
            let words = group.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," || $0 == "." })
            guard let status = words.first.flatMap({ Int($0) }) else { XCTFail("no status before: \(group)"); continue }
            for word in words.dropFirst() where word.hasPrefix("`") && word.hasSuffix("`") {
                let code = word.trimmingCharacters(in: CharacterSet(charactersIn: "`"))
                guard code.allSatisfy({ $0 == "_" || ("a"..."z").contains($0) }) else { continue }
                if listed[code] != nil { duplicates.append(code) }
                listed[code] = status
            }
        }
        XCTAssertEqual(duplicates, [], "listed twice")
        XCTAssertEqual(Set(listed.keys), Set(APIErrorCode.allCases.map(\.rawValue)))
        for code in APIErrorCode.allCases { XCTAssertEqual(listed[code.rawValue], code.status, code.rawValue) }
    }

    func testMetricLabelsComeFromClosedSets() throws {
        let (_, url) = try startService(scorer: nil)
        for method in ["FOO1", "FOO2"] { _ = try curl(["-X", method, "\(url)/healthz"]) }
        let page = String(decoding: try curl(["\(url)/metrics"]).body, as: UTF8.self)
        XCTAssertFalse(page.contains("FOO1") || page.contains("FOO2"), "a client's method token became a label")
        XCTAssertTrue(page.contains(#"method="other""#), page)
    }

    /// JSON Schema's maxLength (openapi.yaml: 256) counts code points: so does the service, in
    /// JSON and in multipart, so one grapheme of many combining marks is not a way around it.
    func testIDLimitCountsUnicodeScalars() throws {
        let (_, url) = try startService(scorer: SlowScorer(delay: 0))
        let frames = try Fixture.video8.prefix(4).map { try Data(contentsOf: Fixture.frame($0)).base64EncodedString() }
        func json(_ id: String) throws -> CurlResponse {
            let body = try JSONSerialization.data(withJSONObject: ["frames": frames, "id": id])
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("id-\(UUID()).json")
            try body.write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            return try curl(["-H", "Content-Type: application/json", "--data-binary", "@\(file.path)", "\(url)/score"])
        }
        let overLimit = "a" + String(repeating: "\u{301}", count: 256)  // one grapheme, 257 scalars
        XCTAssertEqual(overLimit.count, 1)
        let refused = try json(overLimit)
        XCTAssertEqual(refused.status, 400)
        XCTAssertEqual(refused.errorCode, "bad_request")
        let atLimit = String(repeating: "\u{e9}", count: 256)
        let accepted = try json(atLimit)
        XCTAssertEqual(accepted.status, 200)
        XCTAssertEqual(accepted.json?["id"] as? String, atLimit)

        let idFile = FileManager.default.temporaryDirectory.appendingPathComponent("id-\(UUID()).txt")
        try Data(overLimit.utf8).write(to: idFile)
        defer { try? FileManager.default.removeItem(at: idFile) }
        let multipart = try curl(Fixture.video8.prefix(4).flatMap { ["-F", "f=@\(Fixture.frame($0).path)"] }
                                 + ["-F", "id=<\(idFile.path)", "\(url)/score"])
        XCTAssertEqual(multipart.status, 400)
        XCTAssertEqual(multipart.errorCode, "bad_request")
    }

    /// Beyond --max-frames is 422 too_many_frames in multipart as in JSON, however many parts follow.
    func testMultipartFramesBeyondTheLimitAre422() throws {
        let (_, url) = try startService(scorer: SlowScorer(delay: 0)) { service, _ in service.scoring.maxFrames = 4 }
        let frame = Fixture.frame("a_0").path
        for count in [5, 13, 40] {
            let response = try curl((0..<count).flatMap { _ in ["-F", "f=@\(frame)"] } + ["\(url)/score"])
            XCTAssertEqual(response.status, 422, "\(count) frames")
            XCTAssertEqual(response.errorCode, "too_many_frames", "\(count) frames")
        }
    }

    /// The keys of a /score body are those openapi.yaml's ScoreResponse requires.
    func testScoreJSONHasTheKeysOpenAPIRequires() throws {
        let report = ScoreReport(fakeProbability: 0.25, label: "real", threshold: 0.5,
                                 clips: [.init(frames: [0, 1, 2, 3], fakeProbability: 0.25, headFakeProbabilities: [0.1, 0.2, 0.3])],
                                 frames: [.init(index: 0, yawDeg: 1, pitchDeg: 2, gaze: [0, 0, -1])],
                                 model: .init(name: "m", weights: "w", demo: true, sha256: [:]), timings: .init())
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: try ScoreJSON(report, requestID: "r", queueSeconds: 0.5).json()) as? [String: Any])
        let yaml = OpenAPIDocument.yaml
        let section = try XCTUnwrap(yaml.range(of: "    ScoreResponse:"))
        let requiredLine = try XCTUnwrap(yaml[section.upperBound...].split(separator: "\n").first { $0.contains("required:") })
        let required = requiredLine.split(separator: "[")[1].split(separator: "]")[0].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(Set(object.keys), Set(required))
        XCTAssertEqual((object["timings"] as? [String: Any])?["queue_s"] as? Double, 0.5)
        XCTAssertEqual((object["clips"] as? [[String: Any]])?.first?["head_fake_probabilities"] as? [Double], [0.1, 0.2, 0.3])
        XCTAssertEqual((object["frames"] as? [[String: Any]])?.first?["yaw_deg"] as? Double, 1)
    }

    /// The binary serves the repository's openapi.yaml (scripts/embed-openapi.py copies it).
    func testEmbeddedOpenAPIIsTheRepositoryCopy() throws {
        let file = Fixture.root.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("openapi.yaml")
        XCTAssertEqual(OpenAPIDocument.yaml, try String(contentsOf: file, encoding: .utf8), "run scripts/embed-openapi.py")
    }
}
