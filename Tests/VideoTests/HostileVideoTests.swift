import Foundation
import XCTest
@testable import Video

/// Hostile and broken inputs (issue 18, reliability): each ends in its typed error, with no
/// ffmpeg/ffprobe child left behind (alive or zombie) and no temporary file left on disk.
final class HostileVideoTests: XCTestCase {
    override func tearDown() {
        XCTAssertEqual(ffmpegChildren(), [], "no ffmpeg/ffprobe child survives")
        super.tearDown()
    }

    private func probeError(_ data: Data, limits: VideoLimits = VideoLimits(),
                            file: StaticString = #filePath, line: UInt = #line) -> VideoError? {
        do {
            let input = try VideoInput(data: data, maxBytes: limits.maxBytes)
            _ = try VideoDecoder(limits: limits).probe(input)
            XCTFail("probe succeeded", file: file, line: line)
            return nil
        } catch {
            return error as? VideoError
        }
    }

    private func makeVideo(_ dir: URL, _ name: String, _ args: [String]) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try runTool("ffmpeg", ["-nostdin", "-v", "error", "-y"] + args + [url.path])
        return url
    }

    func testGarbageBytesAreCorrupt() {
        var generator = SystemRandomNumberGenerator()
        let garbage = Data((0..<100_000).map { _ in UInt8.random(in: 0...255, using: &generator) })
        guard case .corrupt = probeError(garbage) else { return XCTFail("garbage is not corrupt_video") }
        guard case .corrupt = probeError(Data()) else { return XCTFail("an empty body is not corrupt_video") }
        XCTAssertEqual(probeError(Data("hello".utf8))?.code, "corrupt_video")
    }

    func testTruncatedFileIsCorrupt() throws {
        // moov at the end (ffmpeg's default): the first half has no index.
        let whole = try Data(contentsOf: Fixture.url("talking_astronaut.mp4"))
        guard case .corrupt = probeError(whole.prefix(whole.count / 2)) else { return XCTFail("truncated mp4 is not corrupt_video") }
        let webm = try Data(contentsOf: Fixture.url("t1face_25fps.webm"))
        // A WebM cut short still has its first frames: fewer frames, or corrupt, never a hang or a crash.
        do {
            let input = try VideoInput(data: webm.prefix(webm.count / 3))
            let probe = try VideoDecoder().probe(input)
            XCTAssertLessThan(probe.frameCount, 75)
        } catch let e as VideoError {
            XCTAssertTrue(e.code == "corrupt_video", "\(e)")
        }
    }

    func testAudioOnlyIsUnsupported() throws {
        let dir = try scratchDirectory(self)
        let audio = try makeVideo(dir, "a.m4a", ["-f", "lavfi", "-i", "sine=d=1"])
        XCTAssertEqual(probeError(try Data(contentsOf: audio)), .noVideoStream)
        XCTAssertEqual(VideoError.noVideoStream.code, "unsupported_video")
    }

    func testTooFewFramesIsTooShort() throws {
        let dir = try scratchDirectory(self)
        let short = try makeVideo(dir, "short.mp4", ["-f", "lavfi", "-i", "testsrc2=s=32x32:r=30:d=0.8", "-c:v", "libx264"])
        let probe = try VideoDecoder().probe(try VideoInput(path: short.path))
        XCTAssertEqual(probe.frameCount, 24)
        XCTAssertThrowsError(try probe.windows(maxWindows: 32)) { XCTAssertEqual($0 as? VideoError, .tooShort(frames: 24)) }
    }

    /// An AVI whose headers declare 16000x16000 frames (a 16x16 rawvideo file, patched): refused
    /// from the stream report, before any frame is decoded.
    func testDeclaredHugeFrameSizeIsRefused() throws {
        let dir = try scratchDirectory(self)
        let avi = try makeVideo(dir, "raw.avi", ["-f", "lavfi", "-i", "testsrc2=s=16x16:r=30:d=1", "-c:v", "rawvideo", "-pix_fmt", "bgr24"])
        var bytes = [UInt8](try Data(contentsOf: avi))
        func patch(_ tag: String, _ offset: Int, _ value: Int32) throws {
            let range = try XCTUnwrap(Data(bytes).range(of: Data(tag.utf8)))
            withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[range.lowerBound + 8 + offset + i] = b } }
        }
        try patch("strf", 4, 16000)     // BITMAPINFOHEADER biWidth
        try patch("strf", 8, -16000)    // biHeight (top-down)
        try patch("avih", 32, 16000)    // dwWidth
        try patch("avih", 36, 16000)    // dwHeight
        let error = probeError(Data(bytes))
        guard case .unsupported(let message) = error else { return XCTFail("got \(String(describing: error))") }
        XCTAssertTrue(message.contains("16000x16000"), message)
        XCTAssertEqual(error?.code, "unsupported_video")
    }

    /// A tiny, highly compressed video with very many frames (3000 frames of 16x16 in 3 s):
    /// the frame count stops at `maxFrames`, the duration at `maxSeconds`.
    func testManyFramesBombStopsAtTheLimits() throws {
        let dir = try scratchDirectory(self)
        let bomb = try makeVideo(dir, "bomb.mkv", ["-f", "lavfi", "-i", "color=s=16x16:r=1000:d=3", "-c:v", "libx264", "-preset", "ultrafast"])
        var limits = VideoLimits()
        limits.maxFrames = 1000
        guard case .tooLong(let m) = probeError(try Data(contentsOf: bomb), limits: limits) else { return XCTFail("not video_too_long") }
        XCTAssertTrue(m.contains("1000 frames"), m)
        limits = VideoLimits()
        limits.maxSeconds = 2
        guard case .tooLong(let m2) = probeError(try Data(contentsOf: bomb), limits: limits) else { return XCTFail("not video_too_long") }
        XCTAssertTrue(m2.contains("limit is 2"), m2)
    }

    /// Frames of 3000x3000 under a 400 MB address space: the decoder's allocations fail (h264 then
    /// spins on them); the CPU-time limit or the memory check ends it as `video_too_long`.
    func testHugeDimensionsHitTheChildsLimits() throws {
        let dir = try scratchDirectory(self)
        let big = try makeVideo(dir, "big.mp4", ["-f", "lavfi", "-i", "color=c=gray:s=3000x3000:r=25:d=0.08",
                                                 "-c:v", "libx264", "-preset", "ultrafast"])
        var limits = VideoLimits()
        limits.addressSpaceBytes = 400 << 20
        limits.cpuSeconds = 2
        limits.timeoutSeconds = 60
        let error = probeError(try Data(contentsOf: big), limits: limits)
        XCTAssertEqual(error?.code, "video_too_long", "\(String(describing: error))")
    }

    func testOverMaxBytesIsTooLong() throws {
        let data = try Data(contentsOf: Fixture.url("talking_astronaut.mp4"))
        XCTAssertThrowsError(try VideoInput(data: data, maxBytes: 1000)) { XCTAssertEqual(($0 as? VideoError)?.code, "video_too_long") }
        XCTAssertThrowsError(try VideoInput(path: Fixture.url("talking_astronaut.mp4").path, maxBytes: 1000)) {
            XCTAssertEqual(($0 as? VideoError)?.code, "video_too_long")
        }
    }

    /// A stream that never ends (ffmpeg -re writing MPEG-TS into a FIFO in real time): the
    /// wall-clock timeout kills the child.
    func testNeverEndingInputTimesOut() throws {
        let dir = try scratchDirectory(self)
        let fifo = dir.appendingPathComponent("live.ts").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let writer = try startLiveWriter(into: fifo)
        defer { writer.terminate(); writer.waitUntilExit() }
        var limits = VideoLimits()
        limits.timeoutSeconds = 3
        let input = try VideoInput(path: fifo)
        let started = Date()
        XCTAssertThrowsError(try VideoDecoder(limits: limits).probe(input)) { error in
            XCTAssertEqual(error as? VideoError, .timeout(seconds: 3))
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 30)
        XCTAssertEqual(ffmpegChildren(except: [writer.processIdentifier]), [])
    }

    /// Cancelled from another thread while ffprobe waits on a never-ending input: `cancelled`
    /// at once, the child killed and reaped.
    func testCancellationFromAnotherThreadKillsTheChild() throws {
        let dir = try scratchDirectory(self)
        let fifo = dir.appendingPathComponent("live.ts").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let writer = try startLiveWriter(into: fifo)
        defer { writer.terminate(); writer.waitUntilExit() }
        let cancellation = VideoCancellation()
        let input = try VideoInput(path: fifo)
        var limits = VideoLimits()
        limits.cpuSeconds = 77
        limits.addressSpaceBytes = 1_500_000_000
        final class Box: @unchecked Sendable { let lock = NSLock(); var text = "" }
        let box = Box()
        DispatchQueue.global().asyncAfter(deadline: .now() + 1.5) {
            let children = ffmpegChildren(except: [writer.processIdentifier])
            XCTAssertEqual(children.count, 1, "ffprobe runs while waiting")
            if let pid = children.first?.split(separator: " ").first {
                let text = (try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)) ?? ""
                box.lock.lock(); box.text = text; box.lock.unlock()
            }
            cancellation.cancel()
        }
        XCTAssertThrowsError(try VideoDecoder(limits: limits).probe(input, cancellation: cancellation)) { error in
            XCTAssertEqual(error as? VideoError, .cancelled)
        }
        XCTAssertEqual(ffmpegChildren(except: [writer.processIdentifier]), [])
        // The child ran under its rlimits (prlimit(2) right after the spawn).
        box.lock.lock(); let text = box.text; box.lock.unlock()
        let lines = text.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        XCTAssertTrue(lines.contains("Max cpu time 77 78 seconds"), text)
        XCTAssertTrue(lines.contains("Max address space 1500000000 1500000000 bytes"), text)
        XCTAssertTrue(lines.contains("Max file size 0 0 bytes"), text)
        XCTAssertTrue(lines.contains("Max core file size 0 0 bytes"), text)
        // A cancelled token starts nothing more.
        XCTAssertThrowsError(try VideoDecoder().probe(input, cancellation: cancellation)) { XCTAssertEqual($0 as? VideoError, .cancelled) }
    }

    /// Cancelled mid-decode (the client went away after the first window): ffmpeg is killed,
    /// no further window is delivered, no child remains.
    func testCancellationMidDecodeLeavesNoFFmpeg() throws {
        let dir = try scratchDirectory(self)
        let video = try makeVideo(dir, "long.mp4", ["-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=20", "-c:v", "libx264", "-preset", "ultrafast"])
        let input = try VideoInput(path: video.path)
        let decoder = VideoDecoder()
        let probe = try decoder.probe(input)
        XCTAssertEqual(probe.frameCount, 600)
        let cancellation = VideoCancellation()
        var delivered = 0
        XCTAssertThrowsError(try decoder.decode(input, probe: probe, windows: try probe.windows(maxWindows: 32),
                                                cancellation: cancellation) { _ in
            delivered += 1
            XCTAssertEqual(ffmpegChildren().count, 1, "ffmpeg decodes while the window is handled")
            cancellation.cancel()
        }) { XCTAssertEqual($0 as? VideoError, .cancelled) }
        XCTAssertEqual(delivered, 1)
        XCTAssertEqual(ffmpegChildren(), [])
    }

    /// An error thrown by the caller's callback kills ffmpeg and comes out unchanged.
    func testCallbackErrorKillsFFmpeg() throws {
        struct Stop: Error {}
        let input = try VideoInput(data: Data(contentsOf: Fixture.url("face_cat_face.mp4")))
        let decoder = VideoDecoder()
        let probe = try decoder.probe(input)
        XCTAssertThrowsError(try decoder.decode(input, probe: probe, windows: [0, 1, 2, 3]) { _ in throw Stop() }) {
            XCTAssertTrue($0 is Stop)
        }
        XCTAssertEqual(ffmpegChildren(), [])
    }

    /// The upload's temporary file and directory are gone as soon as the input exists, and stay gone.
    func testTemporaryFilesAreRemovedAtOnce() throws {
        let dir = try scratchDirectory(self)
        let input = try VideoInput(data: Data(contentsOf: Fixture.url("talking_astronaut.mp4")), temporaryDirectory: dir)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
        let decoder = VideoDecoder()
        let probe = try decoder.probe(input)
        XCTAssertEqual(probe.frameCount, 105)
        try decoder.decode(input, probe: probe, windows: [1]) { XCTAssertEqual($0.frames.map(\.index), [32, 40, 48, 56]) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
        // And when the bytes are refused.
        XCTAssertThrowsError(try VideoInput(data: Data(count: 10), maxBytes: 5, temporaryDirectory: dir))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testMissingToolIsReported() throws {
        let input = try VideoInput(data: Data(contentsOf: Fixture.url("talking_astronaut.mp4")))
        let decoder = VideoDecoder(tools: VideoTools(ffmpeg: "/nonexistent/ffmpeg", ffprobe: "/nonexistent/ffprobe"))
        XCTAssertThrowsError(try decoder.probe(input)) { XCTAssertEqual(($0 as? VideoError)?.code, "internal") }
    }

    private func startLiveWriter(into fifo: String) throws -> Process {
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: VideoTools.which("ffmpeg") ?? "/usr/bin/ffmpeg")
        writer.arguments = ["-nostdin", "-v", "quiet", "-y", "-re", "-f", "lavfi", "-i", "testsrc2=s=64x64:r=30",
                            "-c:v", "mpeg4", "-g", "10", "-f", "mpegts", fifo]
        writer.standardOutput = FileHandle.nullDevice
        writer.standardError = FileHandle.nullDevice
        try writer.run()
        return writer
    }
}
