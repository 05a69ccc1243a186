import Foundation
import Logging
import XCTest
@testable import HTTPServer

final class HTTPServerTests: XCTestCase {
    /// Routes used by most tests: GET /hello, POST /echo (body back), GET /slow (sleeps).
    private func standardRoutes(_ router: inout Router) {
        router.add(.GET, "/hello") { _ in .text("hello") }
        router.add(.POST, "/echo") { request, respond in
            var response = HTTPResponse(status: 200, body: request.body)
            response.headers.set("X-Request-ID-Seen", request.requestID)
            respond(response)
        }
        router.add(.GET, "/slow") { _ in
            Thread.sleep(forTimeInterval: 1)
            return .text("slow done")
        }
    }

    func testKeepAliveServesSequentialRequestsOnOneConnection() throws {
        let server = try startServer(routes: standardRoutes)
        let client = try RawClient(port: server.port)
        for _ in 0..<3 {
            client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try XCTUnwrap(client.readResponse())
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.text, "hello")
            XCTAssertNil(response.headers["Connection"])
            XCTAssertEqual(response.headers["Content-Length"], "5")
            XCTAssertEqual(response.headers["Server"], "dfgaze-serve")
            XCTAssertNotNil(response.headers["Date"].flatMap { $0.hasSuffix(" GMT") ? $0 : nil })
        }
        XCTAssertEqual(server.openConnections, 1)
    }

    func testPipelinedRequestsAreAnsweredInOrder() throws {
        let server = try startServer(routes: standardRoutes)
        let client = try RawClient(port: server.port)
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nfirstGET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                    + "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nthird")
        XCTAssertEqual(client.readResponse()?.text, "first")
        XCTAssertEqual(client.readResponse()?.text, "hello")
        XCTAssertEqual(client.readResponse()?.text, "third")
    }

    func testChunkedUploadIsReassembled() throws {
        let server = try startServer(routes: standardRoutes)
        let client = try RawClient(port: server.port)
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nchun\r\n")
        Thread.sleep(forTimeInterval: 0.05)
        client.send("3\r\nked\r\n0\r\nTrailer: x\r\n\r\n")
        let response = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "chunked")
    }

    func testExpectContinueSends100ThenReadsBody() throws {
        let server = try startServer(routes: standardRoutes)
        let client = try RawClient(port: server.port)
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertEqual(client.readResponse(bodyless: true)?.status, 100)
        client.send("body")
        let response = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "body")
    }

    func testExpectContinueWithOversizedBodyGets413Directly() throws {
        let server = try startServer({ $0.maxBodyBytes = 10 }, routes: standardRoutes)
        let client = try RawClient(port: server.port)
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")
        let response = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(response.status, 413)
        XCTAssertEqual(response.errorCode, "body_too_large")
        XCTAssertEqual(response.headers["Connection"], "close")
    }

    func testExpectContinueOnUnknownRouteGets404WithoutContinue() throws {
        let server = try startServer(routes: standardRoutes)
        let client = try RawClient(port: server.port)
        client.send("POST /nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.status, 404)
    }

    func testHeadHasGetHeadersAndNoBody() throws {
        let server = try startServer(routes: standardRoutes)
        let client = try RawClient(port: server.port)
        client.send("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        let head = try XCTUnwrap(client.readResponse(bodyless: true))
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.headers["Content-Length"], "5")
        XCTAssertEqual(head.headers["Content-Type"], "text/plain; charset=utf-8")
        // Had HEAD carried a body, this read would start inside it.
        XCTAssertEqual(client.readResponse()?.text, "hello")
    }

    func testConnectionCloseAndHTTP10CloseTheConnection() throws {
        let server = try startServer(routes: standardRoutes)
        for request in ["GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "GET /hello HTTP/1.0\r\n\r\n"] {
            let client = try RawClient(port: server.port)
            client.send(request)
            let response = try XCTUnwrap(client.readResponse())
            XCTAssertEqual(response.headers["Connection"], "close")
            XCTAssertTrue(client.isClosedByPeer())
        }
        let client = try RawClient(port: server.port)
        client.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.headers["Connection"], "keep-alive")
        client.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.status, 200)
    }

    /// Typed errors, rendered by the server's `renderError` (here the bare server's plain text).
    func testNotFoundAndMethodNotAllowedAreTypedErrors() throws {
        let server = try startServer(routes: standardRoutes)
        let client = try RawClient(port: server.port)
        client.send("GET /missing HTTP/1.1\r\nHost: t\r\n\r\n")
        let notFound = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(notFound.status, 404)
        XCTAssertEqual(notFound.errorCode, "not_found")
        XCTAssertEqual(notFound.headers["Content-Type"], "text/plain; charset=utf-8")
        client.send("DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        let notAllowed = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(notAllowed.status, 405)
        XCTAssertEqual(notAllowed.errorCode, "method_not_allowed")
        XCTAssertEqual(notAllowed.headers["Allow"], "GET, HEAD")
    }

    func testServerErrorsAreTypedAndClose() throws {
        let server = try startServer({
            $0.maxBodyBytes = 16
            $0.maxHeaderBytes = 256
        }, routes: standardRoutes)
        let cases: [(String, Int, String)] = [
            ("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n", 413, "body_too_large"),
            ("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n", 413, "body_too_large"),
            ("GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "a", count: 300))\r\n\r\n", 431, "headers_too_large"),
            ("GET /hello HTTP/1.1\nHost: t\n\n", 400, "bad_request"),
            ("GET /hello HTTP/3.0\r\nHost: t\r\n\r\n", 505, "http_version_not_supported"),
            ("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: br, chunked\r\n\r\n", 501, "not_implemented"),
        ]
        for (request, status, code) in cases {
            let client = try RawClient(port: server.port)
            client.send(request)
            let response = try XCTUnwrap(client.readResponse(), "\(status)")
            XCTAssertEqual(response.status, status)
            XCTAssertEqual(response.errorCode, code)
            XCTAssertEqual(response.headers["Connection"], "close")
            XCTAssertNotNil(response.headers["X-Request-ID"])
            XCTAssertTrue(client.isClosedByPeer(), "\(status)")
        }
    }

    func testSlowClientGets408AndIdleConnectionIsClosedQuietly() throws {
        let server = try startServer({
            $0.headerReadTimeout = 0.3
            $0.idleTimeout = 0.3
            $0.bodyReadTimeout = 0.3
        }, routes: standardRoutes)
        let slowHead = try RawClient(port: server.port)
        slowHead.send("GET /hello HTTP/1.1\r\nHost: t\r\n")  // header section never finished
        let timedOut = try XCTUnwrap(slowHead.readResponse())
        XCTAssertEqual(timedOut.status, 408)
        XCTAssertEqual(timedOut.errorCode, "request_timeout")
        XCTAssertTrue(slowHead.isClosedByPeer())

        let slowBody = try RawClient(port: server.port)
        slowBody.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        XCTAssertEqual(slowBody.readResponse()?.status, 408)

        let idle = try RawClient(port: server.port)
        idle.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(idle.readResponse()?.status, 200)
        XCTAssertTrue(idle.isClosedByPeer(), "idle keep-alive connection closed without a 408")
    }

    func testConnectionsBeyondTheLimitGet503() throws {
        let server = try startServer({ $0.maxConnections = 2 }, routes: standardRoutes)
        let held = try (0..<2).map { _ in try RawClient(port: server.port) }
        for client in held {
            client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            XCTAssertEqual(client.readResponse()?.status, 200)
        }
        let extra = try RawClient(port: server.port)
        let refused = try XCTUnwrap(extra.readResponse())
        XCTAssertEqual(refused.status, 503)
        XCTAssertEqual(refused.errorCode, "service_unavailable")
        // A slot frees when a held connection goes away.
        held[0].send("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(held[0].readResponse()?.status, 200)
        XCTAssertTrue(held[0].isClosedByPeer())
        Thread.sleep(forTimeInterval: 0.1)
        let later = try RawClient(port: server.port)
        later.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(later.readResponse()?.status, 200)
    }

    func testRequestIDIsEchoedValidatedOrGenerated() throws {
        let server = try startServer(routes: standardRoutes)
        let client = try RawClient(port: server.port)
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nX-Request-ID: abc-123\r\nContent-Length: 0\r\n\r\n")
        let echoed = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(echoed.headers["X-Request-ID"], "abc-123")
        XCTAssertEqual(echoed.headers["X-Request-ID-Seen"], "abc-123")
        for bad in ["has space", String(repeating: "x", count: 129)] {
            client.send("POST /echo HTTP/1.1\r\nHost: t\r\nX-Request-ID: \(bad)\r\nContent-Length: 0\r\n\r\n")
            let replaced = try XCTUnwrap(client.readResponse())
            let id = try XCTUnwrap(replaced.headers["X-Request-ID"])
            XCTAssertNotEqual(id, bad)
            XCTAssertEqual(id.count, 36)
            XCTAssertEqual(replaced.headers["X-Request-ID-Seen"], id)
        }
    }

    func testSlowHandlerDoesNotBlockOtherRequests() throws {
        let server = try startServer(routes: standardRoutes)
        let slow = try RawClient(port: server.port)
        slow.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.1)
        let start = Date()
        let fast = try RawClient(port: server.port)
        fast.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(fast.readResponse()?.status, 200)
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5)
        XCTAssertEqual(slow.readResponse()?.text, "slow done")
    }

    func testIPv6Loopback() throws {
        let server = try startServer({ $0.host = "::1" }, routes: standardRoutes)
        let client = try RawClient(port: server.port, host: "::1")
        client.send("GET /hello HTTP/1.1\r\nHost: [::1]\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.text, "hello")
    }

    func testAccessLogIsOneJSONLinePerRequestWithoutAuthorization() throws {
        let capture = LogCapture()
        let server = try startServer(logger: capture.logger, routes: standardRoutes)
        let client = try RawClient(port: server.port)
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\nX-Request-ID: log-1\r\nContent-Length: 2\r\n\r\nhi")
        XCTAssertEqual(client.readResponse()?.status, 200)
        Thread.sleep(forTimeInterval: 0.05)
        let line = try XCTUnwrap(capture.lines.first { $0.contains("\"message\":\"request\"") })
        XCTAssertTrue(line.hasSuffix("}\n"))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(object["method"] as? String, "POST")
        XCTAssertEqual(object["path"] as? String, "/echo")
        XCTAssertEqual(object["status"] as? Int, 200)
        XCTAssertEqual(object["bytes"] as? Int, 2)
        XCTAssertEqual(object["request_id"] as? String, "log-1")
        XCTAssertNotNil(object["duration_ms"] as? Double)
        XCTAssertTrue((object["remote"] as? String)?.hasPrefix("127.0.0.1:") ?? false)
        XCTAssertFalse(capture.lines.joined().contains("s3cret"))
    }

    func testGracefulShutdownFinishesInFlightRequestAndClosesIdleOnes() throws {
        let server = try startServer(routes: standardRoutes)
        let idle = try RawClient(port: server.port)
        idle.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(idle.readResponse()?.status, 200)
        let inFlight = try RawClient(port: server.port)
        inFlight.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.2)

        let start = Date()
        let done = DispatchSemaphore(value: 0)
        Thread { server.shutdown(grace: 5); done.signal() }.start()
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertTrue(server.isDraining)
        XCTAssertTrue(idle.isClosedByPeer(), "idle keep-alive connection closed at once")
        XCTAssertThrowsError(try RawClient(port: server.port), "no longer accepting")

        let response = try XCTUnwrap(inFlight.readResponse())
        XCTAssertEqual(response.text, "slow done")
        XCTAssertEqual(response.headers["Connection"], "close")
        XCTAssertEqual(done.wait(timeout: .now() + 3), .success)
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
        XCTAssertEqual(server.openConnections, 0)
    }

    func testShutdownCutsHandlersThatOutliveTheGrace() throws {
        let server = try startServer { router in
            router.add(.GET, "/never") { _, _ in }  // never responds
        }
        let client = try RawClient(port: server.port)
        client.send("GET /never HTTP/1.1\r\nHost: t\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.1)
        let start = Date()
        server.shutdown(grace: 0.3)
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.5)
        XCTAssertEqual(server.openConnections, 0)
    }

    func testHundredsOfSlowConnectionsDoNotStarveOthers() throws {
        let server = try startServer(routes: standardRoutes)
        let slow = try (0..<300).map { _ in try RawClient(port: server.port) }
        for client in slow { client.send("GET /hello HTTP/1.1\r\nHost: t\r\n") }  // never finished
        // Wait until the server holds all of them (accepting 300 takes a moment on a busy machine).
        let deadline = Date().addingTimeInterval(10)
        while server.openConnections < 300 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertEqual(server.openConnections, 300)
        let start = Date()
        let client = try RawClient(port: server.port)
        client.send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.status, 200)
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5)
        withExtendedLifetime(slow) {}  // optimised builds would otherwise close them early
    }
}

/// One-parameter routes ("/jobs/{id}"): one non-empty segment after the prefix, exact paths first.
final class ParameterRouteTests: XCTestCase {
    func testParameterRouteMatchesOneSegmentOnly() throws {
        let server = try startServer { router in
            router.add(.GET, "/jobs") { _ in .json(Array(#"{"route":"list"}"#.utf8)) }
            router.add(.GET, "/jobs/{id}") { request in
                .json(Array("{\"id\":\"\(Router.parameter(request.path, prefix: "/jobs/") ?? "-")\"}".utf8))
            }
            router.add(.GET, "/jobs/special") { _ in .json(Array(#"{"route":"exact"}"#.utf8)) }
        }
        let base = "http://127.0.0.1:\(server.port)"
        func get(_ path: String) throws -> (Int, String) {
            let (status, out, _) = try runTool("/usr/bin/curl", ["-s", "-o", "/dev/stdout", "-w", "\n%{http_code}", base + path])
            XCTAssertEqual(status, 0)
            let lines = out.components(separatedBy: "\n")
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined())
        }
        XCTAssertEqual(try get("/jobs/abc").1, #"{"id":"abc"}"#)
        XCTAssertEqual(try get("/jobs").1, #"{"route":"list"}"#)
        XCTAssertEqual(try get("/jobs/special").1, #"{"route":"exact"}"#)
        XCTAssertEqual(try get("/jobs/").0, 404)
        XCTAssertEqual(try get("/jobs/a/b").0, 404)
        XCTAssertEqual(try get("/jobsx/a").0, 404)
        XCTAssertNil(Router.parameter("/jobs/", prefix: "/jobs/"))
        XCTAssertNil(Router.parameter("/other/x", prefix: "/jobs/"))
    }
}
