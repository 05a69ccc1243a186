import Foundation
import XCTest
@testable import Video

/// The video cases of dfgaze-video-v1's expected.json: probe (N, fps, duration, size), the
/// windows scored and skipped, each sampled frame's index and time_s, and the select filter's
/// frames byte-identical to SPEC.md section 1's plain full decode.
final class FixtureVideoTests: XCTestCase {
    let decoder = VideoDecoder()

    func testProbeMatchesExpectedInput() throws {
        for name in Fixture.videoCases {
            let c = try Fixture.expectedCase(name)
            let request = try XCTUnwrap(c["request"] as? [String: Any])
            let input = try XCTUnwrap((c["response"] as? [String: Any])?["input"] as? [String: Any])
            let video = try VideoInput(data: Data(contentsOf: Fixture.url(try XCTUnwrap(request["file"] as? String))))
            let probe = try decoder.probe(video)
            XCTAssertEqual(input["kind"] as? String, "video")
            XCTAssertEqual(probe.frameCount, input["frames_decoded"] as? Int, name)
            XCTAssertEqual(probe.width, input["width"] as? Int, name)
            XCTAssertEqual(probe.height, input["height"] as? Int, name)
            let fps = try XCTUnwrap(input["fps"] as? Double)
            XCTAssertEqual(try XCTUnwrap(probe.fps), fps, accuracy: fps * 1e-3, name)
            XCTAssertEqual(try XCTUnwrap(probe.durationSeconds), try XCTUnwrap(input["duration_s"] as? Double), accuracy: 0.05, name)
            let debug = try XCTUnwrap(c["debug"] as? [String: Any])
            XCTAssertEqual(probe.windowCount, debug["windows_total"] as? Int, name)
            XCTAssertEqual(probe.rotation, debug["rotation"] as? Int, name)
            XCTAssertEqual(probe.codecName, debug["codec"] as? String, name)
            XCTAssertEqual(probe.formatName, debug["format"] as? String, name)
        }
    }

    /// Scored clips plus skipped clips are the windows the rule picks (face detection, which
    /// decides which are skipped, is not this module's); each decoded frame's index and time_s
    /// equal the response's `frames[]`, and start_s / end_s the clips'.
    func testWindowsAndSampledFramesMatchExpected() throws {
        for name in Fixture.videoCases {
            let c = try Fixture.expectedCase(name)
            let request = try XCTUnwrap(c["request"] as? [String: Any])
            let response = try XCTUnwrap(c["response"] as? [String: Any])
            let maxWindows = (request["query"] as? [String: Any])?["max_windows"] as? Int ?? 32
            let clips = try XCTUnwrap(response["clips"] as? [[String: Any]])
            let skipped = try XCTUnwrap(response["skipped_clips"] as? [[String: Any]])
            let expectedWindowFrames = (clips + skipped).compactMap { $0["frames"] as? [Int] }
                .sorted { $0[0] < $1[0] }
            let expectedTimes = Dictionary(uniqueKeysWithValues: try XCTUnwrap(response["frames"] as? [[String: Any]])
                .map { ($0["index"] as! Int, $0["time_s"] as! Double) })

            let video = try VideoInput(data: Data(contentsOf: Fixture.url(try XCTUnwrap(request["file"] as? String))))
            let probe = try decoder.probe(video)
            let windows = try probe.windows(maxWindows: maxWindows)
            XCTAssertEqual(windows.map(WindowRule.frames(ofWindow:)), expectedWindowFrames, name)

            var delivered: [VideoWindowFrames] = []
            try decoder.decode(video, probe: probe, windows: windows) { delivered.append($0) }
            XCTAssertEqual(delivered.map { $0.frames.map(\.index) }, expectedWindowFrames, name)
            var checked = 0
            for window in delivered {
                for frame in window.frames {
                    XCTAssertEqual(frame.image.width, probe.width)
                    XCTAssertEqual(frame.image.height, probe.height)
                    guard let expected = expectedTimes[frame.index] else { continue }   // a skipped window's frame
                    XCTAssertEqual(try XCTUnwrap(frame.time), expected, accuracy: 0.01, "\(name) frame \(frame.index)")
                    checked += 1
                }
                if let clip = clips.first(where: { ($0["frames"] as? [Int]) == window.frames.map(\.index) }) {
                    XCTAssertEqual(try XCTUnwrap(window.startSeconds), try XCTUnwrap(clip["start_s"] as? Double), accuracy: 0.01)
                    XCTAssertEqual(try XCTUnwrap(window.endSeconds), try XCTUnwrap(clip["end_s"] as? Double), accuracy: 0.01)
                }
            }
            XCTAssertEqual(checked, expectedTimes.count, name)
        }
    }

    /// The select filter changes nothing in the frames: the sampled frames' RGB bytes equal those
    /// SPEC.md section 1's plain command writes at the same indices (that command run here by
    /// Foundation's Process, the whole video in memory, which the module never does).
    func testSelectedFramesEqualThePlainFullDecode() throws {
        for file in Fixture.videoFiles {
            let full = try runTool("ffmpeg", ["-nostdin", "-v", "error", "-i", Fixture.url(file).path, "-map", "0:v:0",
                                              "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            let video = try VideoInput(data: Data(contentsOf: Fixture.url(file)))
            let probe = try decoder.probe(video)
            let frameBytes = probe.width * probe.height * 3
            XCTAssertEqual(full.count, probe.frameCount * frameBytes, "\(file): N from ffprobe equals the frames ffmpeg writes")
            // All windows, then a sparse choice (first and last only).
            for windows in [Array(0..<probe.windowCount), [0, probe.windowCount - 1]] {
                var compared = 0
                try decoder.decode(video, probe: probe, windows: windows) { window in
                    for frame in window.frames {
                        let expected = full[(frame.index * frameBytes)..<((frame.index + 1) * frameBytes)]
                        XCTAssertTrue(frame.image.pixels.elementsEqual(expected), "\(file) frame \(frame.index)")
                        compared += 1
                    }
                }
                XCTAssertEqual(compared, 4 * windows.count, file)
            }
        }
    }

    /// A +90 degree display matrix: ffmpeg writes the frames transposed, and the probe's size is theirs.
    func testRotatedVideoSizeIsAfterRotation() throws {
        let dir = try scratchDirectory(self)
        let plain = dir.appendingPathComponent("plain.mp4").path, rotated = dir.appendingPathComponent("rotated.mp4").path
        try runTool("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x32:r=30:d=1.1", "-c:v", "libx264", plain])
        try runTool("ffmpeg", ["-v", "error", "-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated])
        let video = try VideoInput(path: rotated)
        let probe = try decoder.probe(video)
        XCTAssertEqual(probe.rotation, 90)
        XCTAssertEqual([probe.width, probe.height], [32, 64])
        let full = try runTool("ffmpeg", ["-nostdin", "-v", "error", "-i", rotated, "-map", "0:v:0", "-fps_mode", "passthrough",
                                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        try decoder.decode(video, probe: probe, windows: [0]) { window in
            for frame in window.frames {
                XCTAssertTrue(frame.image.pixels.elementsEqual(full[(frame.index * 6144)..<((frame.index + 1) * 6144)]))
            }
        }
    }
}
