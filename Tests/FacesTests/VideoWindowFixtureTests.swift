import Foundation
import Imaging
import XCTest
@testable import Faces

/// SPEC 3.2-3.5 on the fixture's videos: their sampled frames, decoded with SPEC section 1's ffmpeg
/// command, give `debug`'s detections (every one, in dlib's order), and each window's faces (box,
/// crop, detected, crop JPEG SHA-256) and skipped windows are the response's.
final class VideoWindowFixtureTests: XCTestCase {
    let detector = try! FaceDetector()

    /// `everyDetection`: compare every detection with `debug`'s; else only the faces and crops.
    static func assertVideoMatches(_ name: String, detector: FaceDetector, everyDetection: Bool = true) throws {
        let testCase = VideoFixture.case(name)
        let file = (testCase["request"] as! [String: Any])["file"] as! String
        let input = VideoFixture.response(name)["input"] as! [String: Any]
        let byFrame = (testCase["debug"] as! [String: Any])["detections"] as! [String: [[Double]]]
        let sampled = byFrame.keys.map { Int($0)! }.sorted()
        let frames = try VideoFixture.sampledFrames(file, width: input["width"] as! Int, height: input["height"] as! Int,
                                                    wanted: Set(sampled))
        let expectedFaces = VideoFixture.responseFrames(name)
        var skipped: [[Int]] = []
        for start in stride(from: 0, to: sampled.count, by: 4) {
            let indices = Array(sampled[start ..< start + 4])
            let window = try FaceCropping.window(indices.map { frames[$0]! }, indices: indices, detector: detector)
            for (k, index) in indices.enumerated() where everyDetection {
                let reference = byFrame[String(index)]!
                XCTAssertEqual(window.detections[k].map(\.box.array), reference.map { $0[0..<4].map { Int($0) } },
                               "\(name) frame \(index)")
                for (d, r) in zip(window.detections[k], reference) {
                    XCTAssertEqual(d.score, r[4], accuracy: 2e-6, "\(name) frame \(index)")
                }
            }
            guard let faces = window.faces else { skipped.append(indices); continue }
            for (face, index) in zip(faces, indices) {
                let expected = try XCTUnwrap(expectedFaces[index], "\(name) frame \(index) is scored")
                let reference = expected["face"] as! [String: Any]
                XCTAssertEqual(face.face.box.array, reference["box"] as! [Int], "\(name) frame \(index)")
                XCTAssertEqual(face.face.crop.array, reference["crop"] as! [Int], "\(name) frame \(index)")
                XCTAssertEqual(face.face.detected, reference["detected"] as! Bool, "\(name) frame \(index)")
                XCTAssertEqual(sha256Hex(face.jpeg), expected["crop_jpeg_sha256"] as! String, "\(name) frame \(index)")
            }
        }
        XCTAssertEqual(skipped, VideoFixture.clipFrames(name, "skipped_clips"), name)
    }

    /// 512x512, three windows, weak second detections (0.03-0.19) below the face's.
    func testTalkingAstronaut() throws { try Self.assertVideoMatches("talking_astronaut", detector: detector) }

    /// VP9 640x480 at 25 fps, two windows.
    func testT1Face25fps() throws { try Self.assertVideoMatches("t1face_25fps", detector: detector) }

    /// A face, a cat, the face: window 1's frames 48 and 56 take frame 40's box; window 2 is skipped.
    func testFaceCatFace() throws { try Self.assertVideoMatches("face_cat_face", detector: detector) }
}
