import DFGaze
import Foundation
import ScoringService
import XCTest

/// The video fixture (Tests/Fixtures/dfgaze-video-v1, SPEC.md): whole frames with faces=detect
/// and videos, through POST /score (every body format) and the CLI's entry point, against
/// expected.json with SPEC.md's tolerances.
enum VideoFixture {
    static let root = Fixture.root.deletingLastPathComponent().appendingPathComponent("dfgaze-video-v1")
    static func file(_ name: String) -> URL { root.appendingPathComponent(name) }
    static func frame(_ name: String) -> URL { root.appendingPathComponent("frames/\(name)") }
    static var expected: [String: Any] {
        let data = try! Data(contentsOf: root.appendingPathComponent("expected.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }
    static func `case`(_ name: String) -> [String: Any] { (expected["cases"] as! [String: Any])[name] as! [String: Any] }
    static func frameFiles(_ name: String) -> [URL] {
        ((self.case(name)["request"] as! [String: Any])["frame_files"] as! [String]).map(frame)
    }
}

/// A response body against an expected.json case, with SPEC.md's tolerances.
func assertMatchesCase(_ status: Int, _ body: [String: Any]?, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
    let expected = VideoFixture.case(name)
    XCTAssertEqual(status, expected["status"] as? Int, "\(name): status; body \(body ?? [:])", file: file, line: line)
    guard let body else { return XCTFail("\(name): no JSON body", file: file, line: line) }
    if let error = expected["error"] as? [String: Any] {
        XCTAssertEqual((body["error"] as? [String: Any])?["code"] as? String, error["code"] as? String, "\(name): code", file: file, line: line)
        return
    }
    let want = expected["response"] as! [String: Any]
    func close(_ a: Any?, _ b: Any?, _ tolerance: Double, _ what: String) {
        guard let a = a as? Double, let b = b as? Double else {
            return XCTAssertTrue(a == nil && b == nil, "\(name): \(what) \(String(describing: a)) vs \(String(describing: b))", file: file, line: line)
        }
        XCTAssertEqual(a, b, accuracy: tolerance, "\(name): \(what)", file: file, line: line)
    }
    close(body["fake_probability"], want["fake_probability"], 1e-5, "fake_probability")
    XCTAssertEqual(body["label"] as? String, want["label"] as? String, "\(name): label", file: file, line: line)

    let clips = body["clips"] as? [[String: Any]] ?? [], wantClips = want["clips"] as! [[String: Any]]
    XCTAssertEqual(clips.map { $0["frames"] as? [Int] ?? [] }, wantClips.map { $0["frames"] as! [Int] }, "\(name): clips", file: file, line: line)
    for (got, clip) in zip(clips, wantClips) {
        close(got["fake_probability"], clip["fake_probability"], 1e-5, "clip probability")
        let heads = got["head_fake_probabilities"] as? [Double] ?? [], wantHeads = clip["head_fake_probabilities"] as! [Double]
        XCTAssertEqual(heads.count, wantHeads.count, file: file, line: line)
        for (h, w) in zip(heads, wantHeads) { XCTAssertEqual(h, w, accuracy: 1e-5, "\(name): head", file: file, line: line) }
        close(got["start_s"], clip["start_s"], 0.01, "start_s")
        close(got["end_s"], clip["end_s"], 0.01, "end_s")
        XCTAssertNotNil(got["gaze_dispersion_deg"] as? Double, file: file, line: line)
        XCTAssertNotNil(got["gaze_step_deg"] as? Double, file: file, line: line)
    }
    let skipped = (body["skipped_clips"] as? [[String: Any]] ?? []).map { "\($0["frames"] as? [Int] ?? []) \($0["reason"] as? String ?? "")" }
    let wantSkipped = (want["skipped_clips"] as? [[String: Any]] ?? []).map { "\($0["frames"] as! [Int]) \($0["reason"] as! String)" }
    XCTAssertEqual(skipped, wantSkipped, "\(name): skipped_clips", file: file, line: line)

    let frames = body["frames"] as? [[String: Any]] ?? [], wantFrames = want["frames"] as! [[String: Any]]
    XCTAssertEqual(frames.map { $0["index"] as? Int ?? -1 }, wantFrames.map { $0["index"] as! Int }, "\(name): frame indices", file: file, line: line)
    for (got, frame) in zip(frames, wantFrames) {
        let index = frame["index"] as! Int
        let face = got["face"] as? [String: Any], wantFace = frame["face"] as! [String: Any]
        XCTAssertEqual(face?["box"] as? [Int], wantFace["box"] as? [Int], "\(name): frame \(index) box", file: file, line: line)
        XCTAssertEqual(face?["crop"] as? [Int], wantFace["crop"] as? [Int], "\(name): frame \(index) crop", file: file, line: line)
        XCTAssertEqual(face?["detected"] as? Bool, wantFace["detected"] as? Bool, "\(name): frame \(index) detected", file: file, line: line)
        close(got["yaw_deg"], frame["yaw_deg"], 1e-3, "frame \(index) yaw")
        close(got["pitch_deg"], frame["pitch_deg"], 1e-3, "frame \(index) pitch")
        close(got["time_s"], frame["time_s"], 0.01, "frame \(index) time_s")
        let g: [Double] = got["gaze"] as? [Double] ?? [0, 0, 0], w: [Double] = frame["gaze"] as! [Double]
        let dots: Double = zip(g, w).map { $0 * $1 }.reduce(0, +)
        let norms: Double = sqrt(g.map { $0 * $0 }.reduce(0, +)) * sqrt(w.map { $0 * $0 }.reduce(0, +))
        let cosine: Double = min(1, max(-1, dots / norms))
        let angle: Double = acos(cosine) * 180 / Double.pi
        XCTAssertLessThan(angle, 1e-3, "\(name): frame \(index) gaze angle", file: file, line: line)
    }

    let input = body["input"] as? [String: Any] ?? [:], wantInput = want["input"] as! [String: Any]
    XCTAssertEqual(input["kind"] as? String, wantInput["kind"] as? String, "\(name): input.kind", file: file, line: line)
    for key in ["frames_decoded", "width", "height"] {
        XCTAssertEqual(input[key] as? Int, wantInput[key] as? Int, "\(name): input.\(key)", file: file, line: line)
    }
    if let fps = wantInput["fps"] as? Double { close(input["fps"], fps, fps * 1e-3, "input.fps") }
    close(input["duration_s"], wantInput["duration_s"], 0.05, "input.duration_s")
}

final class InputsTests: XCTestCase {
    static let frameCases = ["frames4", "frames6", "frames_noface"]
    static let videoCases = ["talking_astronaut", "talking_astronaut_w2", "t1face_25fps", "face_cat_face"]

    func testWholeFramesWithFacesDetectAsMultipartMatchTheFixture() throws {
        let (_, url) = try startService(scorer: SharedModel.get())
        for name in Self.frameCases {
            let parts = VideoFixture.frameFiles(name).flatMap { ["-F", "frame=@\($0.path);type=image/jpeg"] }
            let response = try curl(parts + ["-F", "faces=detect", "\(url)/score"])
            assertMatchesCase(response.status, response.json, name)
        }
        // The query parameter works as well as the field.
        let parts = VideoFixture.frameFiles("frames4").flatMap { ["-F", "frame=@\($0.path);type=image/jpeg"] }
        let response = try curl(parts + ["\(url)/score?faces=detect"])
        assertMatchesCase(response.status, response.json, "frames4")
    }

    func testWholeFramesWithFacesDetectAsJSONMatchTheFixture() throws {
        let (_, url) = try startService(scorer: SharedModel.get())
        for name in Self.frameCases {
            let frames = try VideoFixture.frameFiles(name).map { try Data(contentsOf: $0).base64EncodedString() }
            let body = try JSONSerialization.data(withJSONObject: ["frames": frames, "faces": "detect"])
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("detect-\(UUID()).json")
            try body.write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let response = try curl(["-H", "Content-Type: application/json", "--data-binary", "@\(file.path)", "\(url)/score"])
            assertMatchesCase(response.status, response.json, name)
            if name == "frames_noface" {
                // The frames concerned: none of the four has a face.
                XCTAssertEqual((response.json?["error"] as? [String: Any])?["frames"] as? [Int], [0, 1, 2, 3])
            }
        }
    }

    func testVideosAsRawBodiesMatchTheFixture() throws {
        let (_, url) = try startService(scorer: SharedModel.get())
        for name in Self.videoCases {
            let request = VideoFixture.case(name)["request"] as! [String: Any]
            let query = (request["query"] as? [String: Any] ?? [:]).map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "&")
            let response = try curl(["-H", "Content-Type: \(request["content_type"] as! String)",
                                     "--data-binary", "@\(VideoFixture.file(request["file"] as! String).path)",
                                     "\(url)/score" + (query.isEmpty ? "" : "?\(query)")])
            assertMatchesCase(response.status, response.json, name)
        }
    }

    func testVideoAsAMultipartPartMatchesTheFixture() throws {
        let (_, url) = try startService(scorer: SharedModel.get())
        let response = try curl(["-F", "video=@\(VideoFixture.file("talking_astronaut.mp4").path);type=video/mp4",
                                 "-F", "max_windows=2", "-F", "id=v-1", "\(url)/score"])
        assertMatchesCase(response.status, response.json, "talking_astronaut_w2")
        XCTAssertEqual(response.json?["id"] as? String, "v-1")
    }

    /// What `dfgaze score --faces detect` and `dfgaze score --video` call.
    func testTheCLIsEntryPointGivesTheSameJSON() throws {
        let pipeline = ScoringPipeline()
        let frames = try VideoFixture.frameFiles("frames6").map { try Data(contentsOf: $0) }
        let detect = try pipeline.score(ScoreRequest(frames: frames, faces: .detect), scorer: SharedModel.get())
        assertMatchesCase(200, try JSONSerialization.jsonObject(with: detect.json()) as? [String: Any], "frames6")

        final class Steps: @unchecked Sendable { let lock = NSLock(); var steps: [[Int]] = [] }
        let steps = Steps()
        let video = try Data(contentsOf: VideoFixture.file("face_cat_face.mp4"))
        let result = try pipeline.score(ScoreRequest(video: video), scorer: SharedModel.get(),
                                        progress: { done, total in steps.lock.withLock { steps.steps.append([done, total]) } })
        let progress = steps.lock.withLock { steps.steps }
        assertMatchesCase(200, try JSONSerialization.jsonObject(with: result.json()) as? [String: Any], "face_cat_face")
        XCTAssertEqual(progress, [[0, 4], [1, 4], [2, 4], [3, 4], [4, 4]], "one step per window, skipped ones included")
    }

    /// The built `dfgaze score` prints the JSON of /score.
    func testTheBuiltCLIPrintsTheFixtureNumbers() throws {
        let runner = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        let binary = runner.resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("dfgaze")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            return XCTFail("no dfgaze executable at \(binary.path): build the package's products before testing")
        }
        func run(_ arguments: [String]) throws -> [String: Any]? {
            let process = Process()
            process.executableURL = binary
            process.arguments = ["score"] + arguments
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0)
            return try JSONSerialization.jsonObject(with: data) as? [String: Any]
        }
        assertMatchesCase(200, try run(["--faces", "detect"] + VideoFixture.frameFiles("frames4").map(\.path)), "frames4")
        assertMatchesCase(200, try run(["--video", VideoFixture.file("talking_astronaut.mp4").path, "--max-windows", "2"]),
                          "talking_astronaut_w2")
    }

    /// Bad videos and bad parameters: clear 4xx with their stable codes, never 5xx.
    func testBadVideosAndParametersAreClearClientErrors() throws {
        let (_, url) = try startService(scorer: SharedModel.get()) { service, _ in
            service.video.maxBytes = 150_000
            service.maxWindows = 4
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("videos-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func ffmpeg(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
            process.arguments = ["-nostdin", "-v", "error", "-y"] + arguments
            try process.run()
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, "ffmpeg \(arguments)")
        }
        let short = dir.appendingPathComponent("short.mp4"), audio = dir.appendingPathComponent("audio.mp4")
        try ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x64:rate=25", "-frames:v", "20", "-pix_fmt", "yuv420p", short.path])
        try ffmpeg(["-f", "lavfi", "-i", "sine=duration=1", audio.path])
        let garbage = dir.appendingPathComponent("garbage.mp4")
        try Data(repeating: 0x42, count: 5000).write(to: garbage)
        let truncated = dir.appendingPathComponent("truncated.mp4")
        try Data(contentsOf: VideoFixture.file("t1face_25fps.webm")).prefix(4000).write(to: truncated)

        func post(_ file: URL, type: String = "video/mp4", query: String = "") throws -> CurlResponse {
            try curl(["-H", "Content-Type: \(type)", "--data-binary", "@\(file.path)", "\(url)/score\(query)"])
        }
        let cases: [(CurlResponse, Int, String)] = [
            (try post(short), 422, "video_too_short"),
            (try post(audio), 415, "unsupported_video"),
            (try post(garbage), 422, "corrupt_video"),
            // Cut inside its first cluster: the header reads, no frame does.
            (try post(truncated, type: "video/webm"), 422, "video_too_short"),
            (try post(VideoFixture.file("talking_astronaut.mp4")), 413, "video_too_long"),
            (try post(short, query: "?max_windows=5"), 400, "bad_request"),
            (try post(short, query: "?threshold=2"), 400, "bad_request"),
            (try post(short, query: "?faces=given"), 400, "bad_request"),
        ]
        for (response, status, code) in cases {
            XCTAssertEqual(response.status, status, String(decoding: response.body, as: UTF8.self))
            XCTAssertEqual(response.errorCode, code)
        }
        let parts = VideoFixture.frameFiles("frames4").flatMap { ["-F", "frame=@\($0.path);type=image/jpeg"] }
        let bogus = try curl(parts + ["-F", "faces=maybe", "\(url)/score"])
        XCTAssertEqual(bogus.status, 400)
        XCTAssertEqual(bogus.errorCode, "bad_request")
    }

    /// A video body may be larger than --max-body-bytes (up to the video limit); frames may not.
    func testVideoBodiesHaveTheirOwnLimit() throws {
        let (_, url) = try startService(scorer: SharedModel.get()) { service, server in
            server.maxBodyBytes = 60_000
            service.video.maxBytes = 1 << 20
        }
        let video = try curl(["-H", "Content-Type: video/mp4", "--data-binary", "@\(VideoFixture.file("talking_astronaut.mp4").path)",
                              "\(url)/score?max_windows=1"])
        XCTAssertEqual(video.status, 200, String(decoding: video.body, as: UTF8.self))
        // 4 x 80 KB of frames in a multipart body: over --max-body-bytes although under the video limit.
        let big = FileManager.default.temporaryDirectory.appendingPathComponent("big-\(UUID()).jpg")
        try Data(count: 80_000).write(to: big)
        defer { try? FileManager.default.removeItem(at: big) }
        let frames = try curl(Array(repeating: ["-F", "f=@\(big.path);type=image/jpeg"], count: 4).flatMap { $0 } + ["\(url)/score"])
        XCTAssertEqual(frames.status, 413)
        XCTAssertEqual(frames.errorCode, "body_too_large")
        let json = try curl(["-H", "Content-Type: application/json", "--data-binary", "@\(big.path)", "\(url)/score"])
        XCTAssertEqual(json.status, 413)
        XCTAssertEqual(json.errorCode, "body_too_large")
    }

    /// /v1/model describes the detector and the video limits in force.
    func testModelDescribesTheDetectorAndVideoLimits() throws {
        let (_, url) = try startService(scorer: SharedModel.get()) { service, _ in service.maxWindows = 7 }
        let model = try XCTUnwrap(try curl(["\(url)/v1/model"]).json)
        let detector = try XCTUnwrap(model["detector"] as? [String: Any])
        XCTAssertEqual(detector["library"] as? String, "dlib")
        XCTAssertEqual(detector["version"] as? String, "19.24")
        XCTAssertEqual(detector["upsampling"] as? Int, 1)
        XCTAssertNotNil(detector["crop_rule"] as? String)
        let limits = try XCTUnwrap(model["limits"] as? [String: Any])
        XCTAssertEqual(limits["max_windows"] as? Int, 7)
        XCTAssertEqual(limits["max_video_bytes"] as? Int, 256 << 20)
        XCTAssertEqual(limits["max_video_seconds"] as? Double, 600)
    }
}
