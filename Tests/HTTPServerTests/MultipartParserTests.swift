import XCTest
@testable import HTTPServer

final class MultipartParserTests: XCTestCase {
    private let contentType = "multipart/form-data; boundary=\"XyZ-123\""

    private func body(_ text: String) -> [UInt8] { Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8) }

    private func error(_ text: String, contentType: String? = nil, limits: MultipartLimits = .init()) -> MultipartError? {
        do {
            _ = try MultipartParser.parse(body: body(text), contentType: contentType ?? self.contentType, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    func testParsesFieldsAndFilesIgnoringPreambleAndEpilogue() throws {
        var bytes = body("""
        preamble to ignore
        --XyZ-123
        Content-Disposition: form-data; name="threshold"

        0.5
        --XyZ-123
        Content-Disposition: form-data; name="image"; filename="a \\"b\\".jpg"
        Content-Type: image/jpeg


        """)
        let binary: [UInt8] = [0xFF, 0xD8, 0x0D, 0x0A, 0x2D, 0x2D, 0x00, 0xFF, 0xD9]  // CRLF-- inside content is fine
        bytes += binary + body("\n--XyZ-123--\nepilogue")
        let parts = try MultipartParser.parse(body: bytes, contentType: contentType)
        XCTAssertEqual(parts.count, 2)
        XCTAssertEqual(parts[0].name, "threshold")
        XCTAssertNil(parts[0].filename)
        XCTAssertNil(parts[0].contentType)
        XCTAssertEqual(String(decoding: parts[0].body, as: UTF8.self), "0.5")
        XCTAssertEqual(parts[1].name, "image")
        XCTAssertEqual(parts[1].filename, "a \"b\".jpg")
        XCTAssertEqual(parts[1].contentType, "image/jpeg")
        XCTAssertEqual(parts[1].body, binary)
    }

    func testEmptyPartBodyAndUnquotedBoundary() throws {
        let parts = try MultipartParser.parse(
            body: body("--b\nContent-Disposition: form-data; name=empty\n\n\n--b--"),
            contentType: "Multipart/Form-Data; charset=utf-8; boundary=b")
        XCTAssertEqual(parts.map(\.name), ["empty"])
        XCTAssertEqual(parts[0].body, [])
    }

    func testMalformedBodiesAreBadMultipart() {
        let part = "--XyZ-123\nContent-Disposition: form-data; name=\"a\"\n\nx\n"
        let cases: [(String, MultipartError?)] = [
            ("unterminated", error(part)),
            ("no opening boundary", error("just text\n")),
            ("junk after boundary", error("--XyZ-123junk\n\nx\n--XyZ-123--")),
            ("no disposition", error("--XyZ-123\nContent-Type: text/plain\n\nx\n--XyZ-123--")),
            ("no name", error("--XyZ-123\nContent-Disposition: form-data; filename=\"f\"\n\nx\n--XyZ-123--")),
            ("not form-data", error("--XyZ-123\nContent-Disposition: attachment; name=\"a\"\n\nx\n--XyZ-123--")),
            ("unterminated quote", error("--XyZ-123\nContent-Disposition: form-data; name=\"a\n\nx\n--XyZ-123--")),
            ("headers never end", error("--XyZ-123\nContent-Disposition: form-data; name=\"a\"\n")),
            ("folded header", error("--XyZ-123\nContent-Disposition: form-data;\n name=\"a\"\n\nx\n--XyZ-123--")),
            ("no boundary parameter", error(part + "--XyZ-123--", contentType: "multipart/form-data")),
            ("not multipart", error(part + "--XyZ-123--", contentType: "application/json")),
            ("boundary too long", error(part, contentType: "multipart/form-data; boundary=" + String(repeating: "a", count: 71))),
            ("too many parts", error(part + part + "--XyZ-123--", limits: .init(maxParts: 1))),
            ("part headers too large", error("--XyZ-123\nContent-Disposition: form-data; name=\"" + String(repeating: "a", count: 200)
                                             + "\"\n\nx\n--XyZ-123--", limits: .init(maxPartHeaderBytes: 64))),
        ]
        for (name, error) in cases {
            XCTAssertEqual(error?.httpError.code, "bad_multipart", name)
            XCTAssertNil(error?.tooManyFiles, name)
            XCTAssertFalse(error?.message.isEmpty ?? true, name)
        }
        XCTAssertEqual(MultipartError("x").httpError.status, 400)
    }

    func testBoundarySearchOnAdversarialNearBoundaries() throws {
        // Many almost-delimiters must neither match nor take quadratic time.
        let near = [UInt8]("\r\n--XyZ-12".utf8)
        var bytes = body("--XyZ-123\nContent-Disposition: form-data; name=\"a\"\n\n")
        let content = Array((0..<50_000).map { _ in near }.joined())
        bytes += content + body("\n--XyZ-123--")
        let parts = try MultipartParser.parse(body: bytes, contentType: contentType)
        XCTAssertEqual(parts.first?.body.count, content.count)
    }

    /// File parts are counted as they arrive: one past `maxFileParts` stops the parse at once,
    /// told apart from a malformed body; text fields do not count.
    func testFilePartsBeyondTheLimitAreToldApart() {
        func body(files: Int) -> [UInt8] {
            var text = "--b\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\nclip\r\n"
            for i in 0..<files { text += "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"\(i).jpg\"\r\n\r\nx\r\n" }
            return Array((text + "--b--\r\n").utf8)
        }
        let limits = MultipartLimits(maxParts: 12, maxFileParts: 4)
        XCTAssertEqual((try? MultipartParser.parse(body: body(files: 4), boundary: "b", limits: limits))?.count, 5)
        do {
            _ = try MultipartParser.parse(body: body(files: 5), boundary: "b", limits: limits)
            XCTFail("5 file parts accepted")
        } catch {
            XCTAssertEqual(error.tooManyFiles, 4)
        }
    }
}
