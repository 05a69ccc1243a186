import DFGaze
import Foundation
import ScoringService
import XCTest

/// POST /score on the real model (demo weights) gives the authors' numbers, by either body format.
final class ScoreEndpointTests: XCTestCase {
    func assertVideo8(_ response: CurlResponse, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(response.status, 200, String(decoding: response.body, as: UTF8.self), file: file, line: line)
        let body = try XCTUnwrap(response.json, file: file, line: line)
        let expected = try Fixture.expected("video8")
        XCTAssertEqual(try field(body, "fake_probability", as: Double.self), try field(expected, "fake_probability", as: Double.self),
                       accuracy: 1e-5, file: file, line: line)
        let frames = try field(body, "frames", as: [[String: Any]].self, file: file, line: line)
        let expectedFrames = try field(expected, "frames", as: [[String: Any]].self)
        XCTAssertEqual(frames.count, 8, file: file, line: line)
        for (got, want) in zip(frames, expectedFrames) {
            XCTAssertEqual(try field(got, "yaw_deg", as: Double.self, file: file, line: line), try field(want, "yaw_deg", as: Double.self),
                           accuracy: 1e-3, file: file, line: line)
            XCTAssertEqual(try field(got, "pitch_deg", as: Double.self, file: file, line: line), try field(want, "pitch_deg", as: Double.self),
                           accuracy: 1e-3, file: file, line: line)
        }
        let clips = try field(body, "clips", as: [[String: Any]].self, file: file, line: line)
        XCTAssertEqual(try clips.map { try field($0, "frames", as: [Int].self, file: file, line: line) }, [[0, 1, 2, 3], [4, 5, 6, 7]],
                       file: file, line: line)
        XCTAssertEqual(body["request_id"] as? String, response.headers["x-request-id"], file: file, line: line)
        let model = try field(body, "model", as: [String: Any].self, file: file, line: line)
        XCTAssertEqual(model["weights"] as? String, "dfgaze-demo-v1", file: file, line: line)
        XCTAssertEqual(model["demo"] as? Bool, true, file: file, line: line)
    }

    func testMultipartUploadGivesTheFixtureNumbers() throws {
        let (_, url) = try startService(scorer: SharedModel.get())
        let parts = Fixture.video8.flatMap { ["-F", "frame=@\(Fixture.frame($0).path);type=image/jpeg"] }
        try assertVideo8(curl(parts + ["-F", "id=clip-42", "\(url)/score"]))
    }

    func testJSONBase64UploadGivesTheFixtureNumbers() throws {
        let (_, url) = try startService(scorer: SharedModel.get())
        let frames = try Fixture.video8.map { try Data(contentsOf: Fixture.frame($0)).base64EncodedString() }
        let body = try JSONSerialization.data(withJSONObject: ["frames": frames, "id": "clip-7"])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("score-\(UUID()).json")
        try body.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let response = try curl(["-H", "Content-Type: application/json", "-H", "X-Request-ID: req-123",
                                 "--data-binary", "@\(file.path)", "\(url)/score"])
        try assertVideo8(response)
        XCTAssertEqual(response.json?["id"] as? String, "clip-7")
        XCTAssertEqual(response.json?["request_id"] as? String, "req-123")
    }

    func testBadFramesAreClearClientErrors() throws {
        let (_, url) = try startService(scorer: SharedModel.get())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("not.jpg")
        try Data("hello, not a jpeg".utf8).write(to: text)
        // A real JPEG whose SOF header claims 60000 x 60000 pixels: refused before decoding.
        var huge = try Data(contentsOf: Fixture.frame("a_0"))
        let sof = try XCTUnwrap((0..<huge.count - 9).first { huge[$0] == 0xFF && (huge[$0 + 1] == 0xC0 || huge[$0 + 1] == 0xC2) })
        huge[sof + 5] = 0xEA; huge[sof + 6] = 0x60; huge[sof + 7] = 0xEA; huge[sof + 8] = 0x60
        let hugeFile = dir.appendingPathComponent("huge.jpg")
        try huge.write(to: hugeFile)
        let good = Fixture.video8.prefix(3).flatMap { ["-F", "f=@\(Fixture.frame($0).path)"] }

        let tooFew = try curl(good + ["\(url)/score"])
        XCTAssertEqual(tooFew.status, 422)
        XCTAssertEqual(tooFew.errorCode, "too_few_frames")

        let notJPEG = try curl(good + ["-F", "f=@\(text.path)", "\(url)/score"])
        XCTAssertEqual(notJPEG.status, 422)
        XCTAssertEqual(notJPEG.errorCode, "not_a_jpeg")
        XCTAssertEqual((notJPEG.json?["error"] as? [String: Any])?["frame"] as? Int, 3)

        let tooLarge = try curl(good + ["-F", "f=@\(hugeFile.path)", "\(url)/score"])
        XCTAssertEqual(tooLarge.status, 422)
        XCTAssertEqual(tooLarge.errorCode, "image_too_large")

        let wrongType = try curl(["-H", "Content-Type: text/plain", "--data-binary", "frames", "\(url)/score"])
        XCTAssertEqual(wrongType.status, 415)
        XCTAssertEqual(wrongType.errorCode, "unsupported_media_type")

        let badJSON = try curl(["-H", "Content-Type: application/json", "--data-binary", "{\"frames\": 3}", "\(url)/score"])
        XCTAssertEqual(badJSON.status, 400)
        XCTAssertEqual(badJSON.errorCode, "bad_json")

        let badMultipart = try curl(["-H", "Content-Type: multipart/form-data; boundary=xyz", "--data-binary", "--xyz\r\nnope", "\(url)/score"])
        XCTAssertEqual(badMultipart.status, 400)
        XCTAssertEqual(badMultipart.errorCode, "bad_multipart")
    }

    func testTooManyFramesAndBodyLimits() throws {
        let (_, url) = try startService(scorer: SharedModel.get()) { service, server in
            service.scoring.maxFrames = 5
            server.maxBodyBytes = 40_000
        }
        let six = (Fixture.video8.prefix(6)).flatMap { ["-F", "f=@\(Fixture.frame($0).path)"] }
        let tooMany = try curl(six + ["\(url)/score"])
        XCTAssertEqual(tooMany.status, 422)
        XCTAssertEqual(tooMany.errorCode, "too_many_frames")

        let big = FileManager.default.temporaryDirectory.appendingPathComponent("big-\(UUID()).bin")
        try Data(count: 50_000).write(to: big)
        defer { try? FileManager.default.removeItem(at: big) }
        let tooBig = try curl(["-F", "f=@\(big.path)", "\(url)/score"])
        XCTAssertEqual(tooBig.status, 413)
        XCTAssertEqual(tooBig.errorCode, "body_too_large")
    }
}
