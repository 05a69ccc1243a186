import Foundation
import Imaging
import XCTest
@testable import Faces

/// SPEC 3.2-3.5 on the fixture's videos: their sampled frames, decoded with SPEC section 1's ffmpeg
/// command, give `debug`'s detections (every one, in dlib's order), and each window's faces (box,
/// crop, detected, crop JPEG SHA-256) and skipped windows are the response's.
final class VideoWindowFixtureTests: XCTestCase {
    let detector = try! FaceDetector()

    /// The frames `wanted` of `file` as ffmpeg writes them (rgb24), reading one frame at a time.
    private func sampledFrames(_ file: String, width: Int, height: Int, wanted: Set<Int>) throws -> [Int: RGBImage] {
        let ffmpeg = Process()
        ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        ffmpeg.arguments = ["-nostdin", "-v", "error", "-i", VideoFixture.directory.appendingPathComponent(file).path,
                            "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        let pipe = Pipe()
        ffmpeg.standardOutput = pipe
        try ffmpeg.run()
        var frames: [Int: RGBImage] = [:]
        let frameBytes = width * height * 3
        var index = 0
        while let data = try pipe.fileHandleForReading.read(upToCount: frameBytes), !data.isEmpty {
            var frame = data
            while frame.count < frameBytes, let more = try pipe.fileHandleForReading.read(upToCount: frameBytes - frame.count),
                  !more.isEmpty {
                frame += more
            }
            XCTAssertEqual(frame.count, frameBytes, "\(file): frame \(index) is whole")
            if wanted.contains(index) { frames[index] = RGBImage(width: width, height: height, pixels: [UInt8](frame)) }
            index += 1
        }
        ffmpeg.waitUntilExit()
        XCTAssertEqual(ffmpeg.terminationStatus, 0, file)
        return frames
    }

    private func assertVideoMatches(_ name: String) throws {
        let testCase = VideoFixture.case(name)
        let file = (testCase["request"] as! [String: Any])["file"] as! String
        let input = VideoFixture.response(name)["input"] as! [String: Any]
        let byFrame = (testCase["debug"] as! [String: Any])["detections"] as! [String: [[Double]]]
        let sampled = byFrame.keys.map { Int($0)! }.sorted()
        let frames = try sampledFrames(file, width: input["width"] as! Int, height: input["height"] as! Int,
                                       wanted: Set(sampled))
        let expectedFaces = VideoFixture.responseFrames(name)
        var skipped: [[Int]] = []
        for start in stride(from: 0, to: sampled.count, by: 4) {
            let indices = Array(sampled[start ..< start + 4])
            let window = try FaceCropping.window(indices.map { frames[$0]! }, indices: indices, detector: detector)
            for (k, index) in indices.enumerated() {
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
    func testTalkingAstronaut() throws { try assertVideoMatches("talking_astronaut") }

    /// VP9 640x480 at 25 fps, two windows.
    func testT1Face25fps() throws { try assertVideoMatches("t1face_25fps") }

    /// A face, a cat, the face: window 1's frames 48 and 56 take frame 40's box; window 2 is skipped.
    func testFaceCatFace() throws { try assertVideoMatches("face_cat_face") }
}
