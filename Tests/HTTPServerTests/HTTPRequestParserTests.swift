import XCTest
@testable import HTTPServer

final class HTTPRequestParserTests: XCTestCase {
    private func parse(_ text: String, limits: HTTPRequestParser.Limits = .init()) throws(HTTPError) -> [ParsedEvent] {
        var parser = HTTPRequestParser(limits: limits)
        return try parser.feed(Array(text.utf8))
    }

    /// The status of the error the parser throws for `text`, or nil when it accepts it.
    private func status(_ text: String, limits: HTTPRequestParser.Limits = .init()) -> Int? {
        do {
            _ = try parse(text, limits: limits)
            return nil
        } catch {
            return error.status
        }
    }

    private func heads(_ events: [ParsedEvent]) -> [HTTPRequestHead] {
        events.compactMap { event -> HTTPRequestHead? in if case .head(let h) = event { h } else { nil } }
    }

    private func body(_ events: [ParsedEvent]) -> [UInt8] {
        events.flatMap { event -> [UInt8] in if case .body(let b) = event { b } else { [] } }
    }

    func testParsesRequestLineHeadersAndQuery() throws {
        let events = try parse("GET /score?x=1&y=a%20b HTTP/1.1\r\nHost: a\r\nX-Thing:  v  \r\n\r\n")
        let head = try XCTUnwrap(heads(events).first)
        XCTAssertEqual(head.method, .GET)
        XCTAssertEqual(head.path, "/score")
        XCTAssertEqual(head.query, "x=1&y=a%20b")
        XCTAssertEqual(head.version, .http11)
        XCTAssertEqual(head.headers["x-thing"], "v")
        XCTAssertEqual(head.headers["X-THING"], "v")
        XCTAssertTrue(head.keepAlive)
        XCTAssertEqual(head.framing, BodyFraming.none)
        guard case .end = events.last else { return XCTFail("no end event") }
        let request = HTTPRequest(method: head.method, path: head.path, query: head.query)
        XCTAssertEqual(request.queryItems.map(\.value), ["1", "a b"])
    }

    func testByteAtATimeFeedingGivesTheSameRequest() throws {
        let text = "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
        var parser = HTTPRequestParser()
        var events: [ParsedEvent] = []
        for byte in text.utf8 { events += try parser.feed([byte]) }
        XCTAssertEqual(heads(events).first?.path, "/p")
        XCTAssertEqual(String(decoding: body(events), as: UTF8.self), "hello")
        XCTAssertTrue(parser.isIdle)
    }

    func testPipelinedRequestsInOneFeed() throws {
        let events = try parse("GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok")
        XCTAssertEqual(heads(events).map(\.path), ["/a", "/b"])
        XCTAssertEqual(events.filter { if case .end = $0 { true } else { false } }.count, 2)
    }

    func testLeadingEmptyLinesAreIgnored() throws {
        XCTAssertEqual(heads(try parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")).count, 1)
    }

    func testMalformedHeadShapesAre400() {
        let cases = [
            "bare LF": "GET / HTTP/1.1\nHost: h\n\n",
            "bare LF in a header": "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",
            "bare CR": "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
            "obs-fold": "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  b\r\n\r\n",
            "space before colon": "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
            "NUL in value": "GET / HTTP/1.1\r\nHost: h\r\nX: a\u{0}b\r\n\r\n",
            "control in value": "GET / HTTP/1.1\r\nHost: h\r\nX: a\u{1}b\r\n\r\n",
            "no colon": "GET / HTTP/1.1\r\nHost: h\r\nJunk\r\n\r\n",
            "bad method": "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
            "double space": "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
            "absolute-form with another scheme": "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
            "absolute-form without authority": "GET http:///healthz HTTP/1.1\r\nHost: h\r\n\r\n",
            "absolute-form with userinfo": "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n",
            "asterisk-form": "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
            "control in target": "GET /a\u{7F} HTTP/1.1\r\nHost: h\r\n\r\n",
            "garbage version": "GET / HTTX/1.1\r\nHost: h\r\n\r\n",
            "missing Host": "GET / HTTP/1.1\r\n\r\n",
            "two Hosts": "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "empty header name": "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n",
        ]
        for (name, text) in cases { XCTAssertEqual(status(text), 400, name) }
    }

    func testUnsupportedVersionIs505() {
        XCTAssertEqual(status("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505)
        XCTAssertEqual(status("GET / HTTP/1.2\r\nHost: h\r\n\r\n"), 505)
    }

    func testContentLengthRules() {
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x3\r\n\r\nabc"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n"), 413)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", limits: .init(maxBodyBytes: 10)), 413)
        XCTAssertNil(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 010\r\n\r\n0123456789", limits: .init(maxBodyBytes: 10)))
    }

    /// `Limits.bodyLimit` decides each request's body limit from its head, in place of
    /// `maxBodyBytes`, for both framings; requests it does not widen keep `maxBodyBytes`.
    func testBodyLimitFromTheRequestHead() {
        var limits = HTTPRequestParser.Limits(maxBodyBytes: 10)
        limits.bodyLimit = { method, path, headers in
            method == .POST && path == "/v" && headers["Content-Type"] == "video/mp4" ? 20 : 10
        }
        let video = "POST /v?x=1 HTTP/1.1\r\nHost: h\r\nContent-Type: video/mp4\r\n"
        XCTAssertNil(status(video + "Content-Length: 20\r\n\r\n" + String(repeating: "a", count: 20), limits: limits))
        XCTAssertEqual(status(video + "Content-Length: 21\r\n\r\n", limits: limits), 413)
        XCTAssertNil(status(video + "Transfer-Encoding: chunked\r\n\r\n14\r\n" + String(repeating: "a", count: 20) + "\r\n0\r\n\r\n", limits: limits))
        XCTAssertEqual(status(video + "Transfer-Encoding: chunked\r\n\r\n14\r\n" + String(repeating: "a", count: 20) + "\r\n1\r\n", limits: limits), 413)
        XCTAssertEqual(status("POST /v HTTP/1.1\r\nHost: h\r\nContent-Type: image/jpeg\r\nContent-Length: 11\r\n\r\n", limits: limits), 413)
        XCTAssertEqual(status("POST /w HTTP/1.1\r\nHost: h\r\nContent-Type: video/mp4\r\nContent-Length: 11\r\n\r\n", limits: limits), 413)
    }

    func testTransferEncodingRules() {
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400)
    }

    func testChunkedBodyWithExtensionsAndTrailers() throws {
        let events = try parse("POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n6 ; x\r\n world\r\n0\r\nX-Checksum: 1\r\n\r\n")
        XCTAssertEqual(heads(events).first?.framing, .chunked)
        XCTAssertEqual(String(decoding: body(events), as: UTF8.self), "hello world")
        guard case .end = events.last else { return XCTFail("no end event") }
    }

    func testMalformedChunkedBodies() {
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        XCTAssertEqual(status(head + "fffffffffffffffff\r\n"), 400, "chunk-size overflow")
        XCTAssertEqual(status(head + "zz\r\n"), 400, "non-hex size")
        XCTAssertEqual(status(head + "3x\r\nabc\r\n"), 400, "junk after size")
        XCTAssertEqual(status(head + "3\r\nabcd\r\n"), 400, "data longer than size")
        XCTAssertEqual(status(head + "3\nabc\r\n"), 400, "bare LF after size")
        XCTAssertEqual(status(head + "0\r\nBad Trailer: x\r\n\r\n"), 400, "malformed trailer")
        XCTAssertEqual(status(head + "b\r\n", limits: .init(maxBodyBytes: 10)), 413)
        XCTAssertEqual(status(head + "6\r\nabcdef\r\n6\r\n", limits: .init(maxBodyBytes: 10)), 413)
    }

    func testSizeLimits() {
        let limits = HTTPRequestParser.Limits(maxHeaderBytes: 64, maxHeaderCount: 3)
        XCTAssertEqual(status("GET /" + String(repeating: "a", count: 100) + " HTTP/1.1\r\n", limits: limits), 414)
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "a", count: 100) + "\r\n\r\n", limits: limits), 431)
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: limits), 431)
    }

    func testExpectationsAndPersistence() throws {
        let expecting = try XCTUnwrap(heads(try parse("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n")).first)
        XCTAssertTrue(expecting.expectsContinue)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n"), 417)
        XCTAssertFalse(try XCTUnwrap(heads(try parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")).first).keepAlive)
        XCTAssertFalse(try XCTUnwrap(heads(try parse("GET / HTTP/1.0\r\n\r\n")).first).keepAlive)
        XCTAssertTrue(try XCTUnwrap(heads(try parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")).first).keepAlive)
    }

    func testParserStaysFailedAfterAnError() {
        var parser = HTTPRequestParser()
        XCTAssertThrowsError(try parser.feed(Array("GET / HTTP/1.1\nHost: h\n\n".utf8)))
        XCTAssertThrowsError(try parser.feed(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8)))
    }

    /// RFC 9112 §3.2.2: a server MUST accept absolute-form; its path is routed, its authority replaces Host.
    func testAbsoluteFormTargetIsAcceptedAndItsAuthorityReplacesHost() throws {
        let head = try XCTUnwrap(heads(try parse("GET http://example.org:8080/healthz?x=1 HTTP/1.1\r\nHost: other\r\n\r\n")).first)
        XCTAssertEqual(head.path, "/healthz")
        XCTAssertEqual(head.query, "x=1")
        XCTAssertEqual(head.headers["Host"], "example.org:8080")
        XCTAssertEqual(head.headers.values(for: "Host").count, 1)
        let bare = try XCTUnwrap(heads(try parse("GET HTTP://[::1]:80 HTTP/1.1\r\nHost: [::1]\r\n\r\n")).first)
        XCTAssertEqual(bare.path, "/")
        XCTAssertEqual(bare.headers["Host"], "[::1]:80")
    }

    /// RFC 9112 §3.2: a Host field with an invalid value MUST be answered 400.
    func testInvalidHostValueIs400() {
        for host in ["bad host/with@junk", "a/b", "h:80x", "[::1", "[zz]", "h%2", "h:1:2"] {
            XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n"), 400, host)
        }
        for host in ["h", "127.0.0.1:8080", "[::1]:8080", "xn--bcher-kva.example", "a%41b", ""] {
            XCTAssertNil(status("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n"), host)
        }
    }

    /// A body-bearing method without Content-Length or chunked framing: 411, not a guess.
    func testPostWithoutLengthIs411() {
        XCTAssertEqual(status("POST /score HTTP/1.1\r\nHost: h\r\n\r\n"), 411)
        XCTAssertEqual(status("PUT /x HTTP/1.0\r\n\r\n"), 411)
        XCTAssertNil(status("POST /score HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"))
        XCTAssertNil(status("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
    }
}
