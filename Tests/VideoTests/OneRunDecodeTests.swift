import Foundation
import XCTest
@testable import Video

/// `decode(_:maxWindows:)`: N, every frame's time, the windows and the sampled frames' bytes are
/// those of SPEC.md section 1's commands (ffprobe's frame pass, ffmpeg's plain full decode), on
/// the fixture's videos and on made ones where the container's packet count is not N, the frame
/// rate varies, or B-frames reorder, whichever way the decoder gets there.
final class OneRunDecodeTests: XCTestCase {
    let decoder = VideoDecoder()

    override func tearDown() {
        XCTAssertEqual(ffmpegChildren(), [], "no ffmpeg/ffprobe child survives")
        super.tearDown()
    }

    /// SPEC.md section 1's plain command, whole video in memory (tests only).
    private func fullDecode(_ path: String) throws -> Data {
        try runTool("ffmpeg", ["-nostdin", "-v", "error", "-i", path, "-map", "0:v:0", "-fps_mode", "passthrough",
                               "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
    }

    /// SPEC.md section 1's ffprobe frame pass, read as the SPEC says (non-empty lines, first field).
    private func ffprobeTimes(_ path: String) throws -> [Double?] {
        let out = try runTool("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                          "frame=best_effort_timestamp_time", "-of", "csv=p=0", path])
        let absolute = String(decoding: out, as: UTF8.self).split(separator: "\n").map {
            Double($0.split(separator: ",", omittingEmptySubsequences: false).first ?? "")
        }
        let first = absolute.compactMap { $0 }.first ?? 0
        return absolute.map { $0.map { (($0 - first) * 1e6).rounded() / 1e6 } }
    }

    /// Runs `decode(_:maxWindows:)` and checks it against SPEC.md's commands run here; returns the
    /// windows delivered.
    @discardableResult
    private func checkOneRun(_ path: String, maxWindows: Int, file: StaticString = #filePath, line: UInt = #line) throws -> [Int] {
        let full = try fullDecode(path)
        let times = try ffprobeTimes(path)
        let input = try VideoInput(path: path)
        var delivered: [Int] = []
        let probe = try decoder.decode(input, maxWindows: maxWindows) { window in
            delivered.append(window.window)
            XCTAssertEqual(window.frames.map(\.index), WindowRule.frames(ofWindow: window.window), file: file, line: line)
            let frameBytes = window.frames[0].image.width * window.frames[0].image.height * 3
            for frame in window.frames {
                XCTAssertTrue(full[(frame.index * frameBytes)..<((frame.index + 1) * frameBytes)].elementsEqual(frame.image.pixels),
                              "\(path) frame \(frame.index) bytes", file: file, line: line)
                XCTAssertEqual(frame.time, times[frame.index], "\(path) frame \(frame.index) time_s", file: file, line: line)
            }
        }
        XCTAssertEqual(full.count, probe.frameCount * probe.width * probe.height * 3, "N is the frames ffmpeg writes", file: file, line: line)
        XCTAssertEqual(probe.frameTimes, times, "every frame's time is ffprobe's", file: file, line: line)
        XCTAssertEqual(delivered, try WindowRule.windows(frames: probe.frameCount, maxWindows: maxWindows), file: file, line: line)
        // And the same probe as the two-pass path's.
        XCTAssertEqual(probe, try decoder.probe(input), file: file, line: line)
        return delivered
    }

    private func makeVideo(_ name: String, _ args: [String]) throws -> String {
        let url = try scratchDirectory(self).appendingPathComponent(name)
        try runTool("ffmpeg", ["-nostdin", "-v", "error", "-y"] + args + [url.path])
        return url.path
    }

    /// The fixture's cases (H.264 with B-frames in MP4, VP9 in WebM): windows, frame indices and
    /// time_s of expected.json; bytes of the plain full decode.
    func testFixtureCasesMatchExpectedAndSpecCommands() throws {
        for name in Fixture.videoCases {
            let c = try Fixture.expectedCase(name)
            let request = try XCTUnwrap(c["request"] as? [String: Any])
            let response = try XCTUnwrap(c["response"] as? [String: Any])
            let maxWindows = (request["query"] as? [String: Any])?["max_windows"] as? Int ?? 32
            let clips = try XCTUnwrap(response["clips"] as? [[String: Any]]) + (try XCTUnwrap(response["skipped_clips"] as? [[String: Any]]))
            let expected = clips.compactMap { ($0["frames"] as? [Int]).map { $0[0] / 32 } }.sorted()
            let path = Fixture.url(try XCTUnwrap(request["file"] as? String)).path
            XCTAssertEqual(try checkOneRun(path, maxWindows: maxWindows), expected, name)
            let input = (response["input"] as? [String: Any])?["frames_decoded"] as? Int
            let probe = try decoder.decode(try VideoInput(path: path), maxWindows: maxWindows) { _ in }
            XCTAssertEqual(probe.frameCount, input, name)
            for frame in try XCTUnwrap(response["frames"] as? [[String: Any]]) {
                XCTAssertEqual(try XCTUnwrap(probe.frameTimes[frame["index"] as! Int]), frame["time_s"] as! Double, accuracy: 0.01)
            }
        }
    }

    /// K <= W: the estimate's windows and one more are selected; the trailing window whose frames
    /// exist only in part (talking_astronaut: 105 frames, frames 96 and 104 of window 3) is written
    /// by ffmpeg but not delivered.
    func testAllWindowsWhenKIsAtMostWDropsTheIncompleteTrailingWindow() throws {
        let path = Fixture.url("talking_astronaut.mp4").path
        XCTAssertEqual(VideoDecoder.speculativeWindows(estimate: 105, maxWindows: 32), [0, 1, 2, 3])
        let input = try VideoInput(path: path)
        let stream = try decoder.streamReport(input, countPackets: true, cancellation: nil)
        XCTAssertEqual(stream.packetCount, 105)
        var delivered: [[Int]] = []
        let end = try decoder.sampledRun(input, stream: stream, guess: [0, 1, 2, 3], maxWindows: 32, cancellation: nil) {
            delivered.append($0.frames.map(\.index))
        }
        guard case .done(let probe) = end else { return XCTFail("\(end)") }
        XCTAssertEqual(probe, try decoder.probe(input))
        XCTAssertEqual(delivered, [[0, 8, 16, 24], [32, 40, 48, 56], [64, 72, 80, 88]])
        XCTAssertEqual(try checkOneRun(path, maxWindows: 32), [0, 1, 2])
    }

    /// Selected windows that do not hold the true ones (an estimate too low): the run stops before
    /// delivering anything and hands back the exact probe for the second run.
    func testTooFewSelectedWindowsStopBeforeDelivering() throws {
        let input = try VideoInput(path: Fixture.url("talking_astronaut.mp4").path)
        let stream = try decoder.streamReport(input, countPackets: true, cancellation: nil)
        let end = try decoder.sampledRun(input, stream: stream, guess: [0, 1], maxWindows: 32, cancellation: nil) { _ in
            XCTFail("delivered a window")
        }
        guard case .otherWindows(let probe) = end else { return XCTFail("\(end)") }
        XCTAssertEqual(probe, try decoder.probe(input))
    }

    /// Timestamps that are not provably ffprobe's (here: a time base other than the stream's) stop
    /// the run before anything is delivered; `decode(_:maxWindows:)` then takes the two-pass path.
    func testUnprovenTimesStopBeforeDelivering() throws {
        let input = try VideoInput(path: Fixture.url("t1face_25fps.webm").path)
        var stream = try decoder.streamReport(input, countPackets: true, cancellation: nil)
        XCTAssertEqual(stream.timeBase, "1/1000")
        stream.timeBase = "1/90000"
        let end = try decoder.sampledRun(input, stream: stream, guess: [0, 1, 2], maxWindows: 32, cancellation: nil) { _ in
            XCTFail("delivered a window")
        }
        guard case .timesUnproven = end else { return XCTFail("\(end)") }
    }

    /// K > W with a right estimate: 20 s at 30 fps, K = 18, W = 5: the spread windows of N = 600
    /// (17 * j / 4 = 0, 4.25, 8.5, 12.75, 17, half to even).
    func testSpreadWindowsFromARightEstimate() throws {
        let path = try makeVideo("spread.mp4", ["-f", "lavfi", "-i", "testsrc2=s=96x64:r=30:d=20", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2"])
        let stream = try decoder.streamReport(try VideoInput(path: path), countPackets: true, cancellation: nil)
        XCTAssertEqual(stream.packetCount, 600)
        XCTAssertEqual(VideoDecoder.speculativeWindows(estimate: 600, maxWindows: 5), [0, 4, 8, 13, 17])
        XCTAssertEqual(try checkOneRun(path, maxWindows: 5), [0, 4, 8, 13, 17])
    }

    /// The estimate is wrong: an MP4 cut with `-ss` and stream copy keeps the packets from the
    /// previous keyframe behind an edit list, which ffmpeg decodes and drops. The packet count then
    /// exceeds N, the estimate's windows are not the true ones, and a second run decodes those.
    func testWrongEstimateFallsBackToTheWindowsOfTheTrueN() throws {
        let source = try makeVideo("source.mp4", ["-f", "lavfi", "-i", "testsrc2=s=96x64:r=30:d=12", "-c:v", "libx264",
                                                  "-preset", "ultrafast", "-g", "300"])
        let cut = try makeVideo("cut.mp4", ["-ss", "2.5", "-i", source, "-c", "copy"])
        let input = try VideoInput(path: cut)
        let stream = try decoder.streamReport(input, countPackets: true, cancellation: nil)
        let n = try decoder.probe(input).frameCount
        let packets = try XCTUnwrap(stream.packetCount)
        XCTAssertGreaterThan(packets, n, "the edit list hides decoded frames")
        XCTAssertFalse(Set(try WindowRule.windows(frames: n, maxWindows: 3))
                        .isSubset(of: VideoDecoder.speculativeWindows(estimate: packets, maxWindows: 3)), "the estimate picks other windows")
        XCTAssertEqual(try checkOneRun(cut, maxWindows: 3), try WindowRule.windows(frames: n, maxWindows: 3))
        // K <= W from an estimate above N: no second run needed, the same result.
        try checkOneRun(cut, maxWindows: 32)
    }

    /// Variable frame rate with B-frames (H.264 in MP4 and in Matroska; frames 3 and 4 of every 5
    /// 11 ms late): every time as ffprobe's.
    func testVariableFrameRateWithBFramesKeepsFfprobesTimes() throws {
        let vfr = ["-f", "lavfi", "-i", "testsrc2=s=96x64:r=30:d=4",
                   "-vf", "settb=1/1000,setpts='N/(30*TB)+if(gt(mod(N,5),2),0.011/TB,0)'",
                   "-fps_mode", "vfr", "-enc_time_base", "1:1000", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "3"]
        for name in ["vfr.mp4", "vfr.mkv"] {
            let path = try makeVideo(name, vfr)
            let times = try ffprobeTimes(path)
            XCTAssertNotEqual(Set(zip(times, times.dropFirst()).map { (($1! - $0!) * 1000).rounded() }).count, 1, "\(name) is VFR")
            XCTAssertEqual(try checkOneRun(path, maxWindows: 2), [0, 2])
        }
    }

    /// Containers whose frames may lack presentation times (here MPEG-4 part 2 with B-frames in
    /// AVI) take the two-pass path: same result.
    func testOtherContainersTakeTheTwoPassPath() throws {
        let path = try makeVideo("bframes.avi", ["-f", "lavfi", "-i", "testsrc2=s=96x64:r=25:d=3", "-c:v", "mpeg4", "-bf", "2"])
        let stream = try decoder.streamReport(try VideoInput(path: path), countPackets: true, cancellation: nil)
        XCTAssertFalse(VideoDecoder.oneRunFormats.contains(stream.formatName))
        XCTAssertEqual(try checkOneRun(path, maxWindows: 32), [0, 1])
    }

    /// Sampled frames over `maxHeldBytes` are not held: the two-pass path, same result.
    func testOverTheHeldBytesLimitTakesTheTwoPassPath() throws {
        var limits = VideoLimits()
        limits.maxHeldBytes = 512 * 512 * 3 * 4   // one window of talking_astronaut
        let path = Fixture.url("talking_astronaut.mp4").path
        var delivered: [[Int]] = []
        let probe = try VideoDecoder(limits: limits).decode(try VideoInput(path: path), maxWindows: 32) { delivered.append($0.frames.map(\.index)) }
        XCTAssertEqual(probe, try decoder.probe(try VideoInput(path: path)))
        XCTAssertEqual(delivered, [[0, 8, 16, 24], [32, 40, 48, 56], [64, 72, 80, 88]])
    }

    /// Too few frames: `tooShort` with N, before any window is delivered.
    func testTooShortBeforeAnyWindow() throws {
        let path = try makeVideo("short.mp4", ["-f", "lavfi", "-i", "testsrc2=s=32x32:r=30:d=0.8", "-c:v", "libx264"])
        XCTAssertThrowsError(try decoder.decode(try VideoInput(path: path), maxWindows: 32) { _ in XCTFail("delivered") }) {
            XCTAssertEqual($0 as? VideoError, .tooShort(frames: 24))
        }
    }

    /// The frame count is limited while ffmpeg counts (a 3000-frame 16x16 Matroska bomb).
    func testManyFramesBombStopsAtMaxFrames() throws {
        let path = try makeVideo("bomb.mkv", ["-f", "lavfi", "-i", "color=s=16x16:r=1000:d=3", "-c:v", "libx264", "-preset", "ultrafast"])
        var limits = VideoLimits()
        limits.maxFrames = 1000
        XCTAssertThrowsError(try VideoDecoder(limits: limits).decode(try VideoInput(path: path), maxWindows: 32) { _ in }) {
            guard case .tooLong(let m) = $0 as? VideoError else { return XCTFail("\($0)") }
            XCTAssertTrue(m.contains("1000 frames"), m)
        }
    }

    /// A truncated WebM or MP4: fewer frames or `corrupt`, as the two-pass path; never a hang.
    func testTruncatedInputIsCorruptOrShorter() throws {
        let mp4 = try Data(contentsOf: Fixture.url("talking_astronaut.mp4"))
        XCTAssertThrowsError(try decoder.decode(try VideoInput(data: mp4.prefix(mp4.count / 2)), maxWindows: 32) { _ in }) {
            XCTAssertEqual(($0 as? VideoError)?.code, "corrupt_video")
        }
    }

    /// A cancellation while windows are delivered: no further window, `cancelled`.
    func testCancellationDuringDeliveryStops() throws {
        let cancellation = VideoCancellation()
        var delivered = 0
        XCTAssertThrowsError(try decoder.decode(try VideoInput(path: Fixture.url("face_cat_face.mp4").path), maxWindows: 32,
                                                cancellation: cancellation) { _ in delivered += 1; cancellation.cancel() }) {
            XCTAssertEqual($0 as? VideoError, .cancelled)
        }
        XCTAssertEqual(delivered, 1)
    }

    /// showinfo's report: frames counted in order, a missing pts makes the times ffprobe's job,
    /// error lines are kept for the message, anything else is ignored.
    func testShowinfoReportParsing() throws {
        var report = VideoDecoder.ShowinfoReport(limits: VideoLimits())
        func take(_ s: String) throws -> Bool { try report.take(Array(s.utf8)[...]) }
        XCTAssertFalse(try take("[Parsed_showinfo_0 @ 0x55e] [info] config in time_base: 1/15360, frame_rate: 30/1"))
        XCTAssertFalse(try take("[Parsed_showinfo_0 @ 0x55e] [info] n:   0 pts:      0 pts_time:0       pos: 48 fmt:yuv420p"))
        XCTAssertFalse(try take("[Parsed_showinfo_0 @ 0x55e] [info] color_range:unknown color_space:unknown"))
        XCTAssertFalse(try take("[info]     comment         : [Parsed_showinfo_0 @ 0x1] [info] n:1 pts:5"))
        XCTAssertFalse(try take("[Parsed_showinfo_0 @ 0x55e] [info] n:   1 pts:    512 pts_time:0.0333333"))
        XCTAssertTrue(try take("[h264 @ 0x55f] [error] Invalid NAL unit size"))
        XCTAssertEqual(report.timeBase, "1/15360")
        XCTAssertEqual(report.times.relative, [0, 0.033333])
        XCTAssertTrue(report.increasing)
        XCTAssertFalse(try take("[Parsed_showinfo_0 @ 0x55e] [info] n:   2 pts:NOPTS pts_time:NOPTS"))
        XCTAssertFalse(report.increasing)
        XCTAssertThrowsError(try take("[Parsed_showinfo_0 @ 0x55e] [info] n:   7 pts:   9000 pts_time:1"))
    }
}
