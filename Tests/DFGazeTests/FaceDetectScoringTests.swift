@testable import DFGaze
import Faces
import Foundation
import Imaging
import XCTest

/// Whole frames with `faces=detect` (video fixture SPEC sections 3 and 5): the crops Faces makes,
/// scored by the demo weights, give the fixture's clip and head probabilities, yaw, pitch and gaze.
final class FaceDetectScoringTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/dfgaze-video-v1")

    func testFrames4AndFrames6MatchTheReference() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixture.appendingPathComponent("expected.json")))
        let cases = try XCTUnwrap((json as? [String: Any])?["cases"] as? [String: Any])
        let model = try PipelineTests.model.get()
        for name in ["frames4", "frames6"] {
            let testCase = try XCTUnwrap(cases[name] as? [String: Any])
            let files = try XCTUnwrap((testCase["request"] as? [String: Any])?["frame_files"] as? [String])
            let expected = try XCTUnwrap(testCase["response"] as? [String: Any])
            let directory = Self.fixture.appendingPathComponent("frames")
            let faces = try FaceCropping.wholeFrames(count: files.count, clips: DFGazeModel.clips(frameCount: files.count),
                                                     detector: try FaceDetector()) { i in
                try JPEG.decode(try Data(contentsOf: directory.appendingPathComponent(files[i])))
            }
            XCTAssertEqual(faces.skippedClips, [], name)
            let crops = try faces.faces.map { try XCTUnwrap($0, name).jpeg }
            let report = try model.score(jpegs: crops)

            XCTAssertEqual(report.fakeProbability, try XCTUnwrap(expected["fake_probability"] as? Double), accuracy: 1e-5, name)
            let clips = try XCTUnwrap(expected["clips"] as? [[String: Any]])
            XCTAssertEqual(report.clips.map(\.frames), clips.map { $0["frames"] as! [Int] }, name)
            for (got, want) in zip(report.clips, clips) {
                XCTAssertEqual(got.fakeProbability, try XCTUnwrap(want["fake_probability"] as? Double), accuracy: 1e-5, name)
                let heads = try XCTUnwrap(want["head_fake_probabilities"] as? [Double])
                XCTAssertEqual(got.headFakeProbabilities.count, heads.count, name)
                for (g, w) in zip(got.headFakeProbabilities, heads) { XCTAssertEqual(g, w, accuracy: 1e-5, name) }
            }
            let frames = try XCTUnwrap(expected["frames"] as? [[String: Any]])
            XCTAssertEqual(report.frames.map(\.index), frames.map { $0["index"] as! Int }, name)
            for (got, want) in zip(report.frames, frames) {
                XCTAssertEqual(got.yawDeg, try XCTUnwrap(want["yaw_deg"] as? Double), accuracy: 1e-3, "\(name) \(got.index)")
                XCTAssertEqual(got.pitchDeg, try XCTUnwrap(want["pitch_deg"] as? Double), accuracy: 1e-3, "\(name) \(got.index)")
                let gaze = try XCTUnwrap(want["gaze"] as? [Double])
                // Within 1e-3 degrees of angle.
                let a = try XCTUnwrap(GazeStatistics.normalized(got.gaze)), b = try XCTUnwrap(GazeStatistics.normalized(gaze))
                XCTAssertLessThanOrEqual(GazeStatistics.angleDeg(a, b), 1e-3, "\(name) \(got.index)")
            }
        }
    }
}
