import Foundation
import Imaging
import XCTest
@testable import Faces

/// SPEC section 5 on the fixture's `faces=detect` cases: every frame's face (box, crop, detected),
/// its crop's JPEG bytes (SHA-256), the clips scored and skipped, and `no_face`.
final class WholeFramesFixtureTests: XCTestCase {
    let detector = try! FaceDetector()

    /// Counts calls of the decode closure (the frames it decoded, in order).
    final class Decoder: @unchecked Sendable {
        let files: [String]
        private let lock = NSLock()
        private var calls: [Int] = []
        init(_ files: [String]) { self.files = files }
        func decode(_ i: Int) throws -> RGBImage {
            lock.withLock { calls.append(i) }
            return try VideoFixture.frame(files[i])
        }
        var decoded: [Int] { lock.withLock { calls.sorted() } }
    }

    static func run(_ name: String, detector: FaceDetector) throws -> (FrameFaces, Decoder) {
        let decoder = Decoder(VideoFixture.frameFiles(name))
        let clips = (VideoFixture.clipFrames(name, "clips") + VideoFixture.clipFrames(name, "skipped_clips"))
            .sorted { $0.first! < $1.first! }
        let faces = try FaceCropping.wholeFrames(count: decoder.files.count, clips: clips, detector: detector,
                                                 decode: decoder.decode)
        return (faces, decoder)
    }

    static func assertMatchesFixture(_ name: String, detector: FaceDetector) throws {
        let (result, decoder) = try run(name, detector: detector)
        XCTAssertEqual(result.scoredClips, VideoFixture.clipFrames(name, "clips"), name)
        XCTAssertEqual(result.skippedClips, VideoFixture.clipFrames(name, "skipped_clips"), name)
        let expected = VideoFixture.responseFrames(name)
        XCTAssertEqual(Set(result.faces.indices.filter { result.faces[$0] != nil }), Set(expected.keys), name)
        for (index, frame) in expected {
            let reference = frame["face"] as! [String: Any]
            let face = try XCTUnwrap(result.faces[index], "\(name) frame \(index)")
            XCTAssertEqual(face.face.box.array, reference["box"] as! [Int], "\(name) frame \(index)")
            XCTAssertEqual(face.face.crop.array, reference["crop"] as! [Int], "\(name) frame \(index)")
            XCTAssertEqual(face.face.detected, reference["detected"] as! Bool, "\(name) frame \(index)")
            XCTAssertEqual(sha256Hex(face.jpeg), frame["crop_jpeg_sha256"] as! String, "\(name) frame \(index)")
        }
        // Pass 2 decodes again only the frames that borrow a box.
        let borrowers = expected.filter { !(($0.value["face"] as! [String: Any])["detected"] as! Bool) }.keys
        XCTAssertEqual(decoder.decoded, (Array(result.faces.indices) + borrowers).sorted(), name)
    }

    /// astronaut, coffee_512, t1_group, hanks_112: coffee_512 takes astronaut's box (the nearest
    /// frame of its size), hanks_112's crop is clipped at the left and bottom (99 pixels).
    func testFrames4() throws {
        try Self.assertMatchesFixture("frames4", detector: detector)
        let (result, _) = try Self.run("frames4", detector: detector)
        XCTAssertEqual(result.faces[1]?.face.source, 0)
        XCTAssertEqual(result.faces[3]?.face.crop, FaceCrop(x: 0, y: 13, size: 99))
    }

    /// t1_edge, astronaut_gray, coffee_512, astronaut, hanks_112, t1_group in clips [0-3], [2-5]:
    /// coffee_512 is as near to frame 1 as to frame 3 and takes frame 1's box (the earlier).
    func testFrames6() throws {
        try Self.assertMatchesFixture("frames6", detector: detector)
        let (result, _) = try Self.run("frames6", detector: detector)
        XCTAssertEqual(result.faces[2]?.face.source, 1)
        XCTAssertEqual(result.faces[0]?.face.crop.size, 134, "t1_edge's crop is clipped at the right edge")
    }

    /// coffee_512, chelsea, coffee_512, chelsea: no clip can be scored; the error names the frames.
    func testNoFace() throws {
        let name = "frames_noface"
        let error = VideoFixture.case(name)["error"] as! [String: Any]
        XCTAssertEqual(error["code"] as? String, "no_face")
        let files = VideoFixture.frameFiles(name)
        XCTAssertThrowsError(try FaceCropping.wholeFrames(count: 4, clips: [[0, 1, 2, 3]], detector: detector) {
            try VideoFixture.frame(files[$0])
        }) { thrown in
            XCTAssertEqual(thrown as? FaceError, .noFace(frames: error["frames"] as! [Int]))
        }
    }

    /// chelsea.jpg (451x300, no face) has no frame of its size with a face: its clip is skipped,
    /// the other is scored, and chelsea gets no crop.
    func testClipWithoutABoxIsSkipped() throws {
        let files = ["astronaut.jpg", "chelsea.jpg", "hanks_112.jpg", "t1_group.jpg", "t1_edge.jpg"]
        let result = try FaceCropping.wholeFrames(count: 5, clips: [[0, 2, 3, 4], [0, 1, 2, 3]], detector: detector) {
            try VideoFixture.frame(files[$0])
        }
        XCTAssertEqual(result.scoredClips, [[0, 2, 3, 4]])
        XCTAssertEqual(result.skippedClips, [[0, 1, 2, 3]])
        XCTAssertNil(result.faces[1])
        XCTAssertEqual(result.faces.compactMap { $0?.face.detected }, [true, true, true, true])
        XCTAssertEqual(result.sizes[1].width, 451)
    }

    /// A decoding error reaches the caller unchanged.
    func testDecodeErrorPropagates() {
        XCTAssertThrowsError(try FaceCropping.wholeFrames(count: 4, clips: [[0, 1, 2, 3]], detector: detector) { i in
            guard i != 2 else { throw ImageError.notAJPEG }
            return try VideoFixture.frame("astronaut.jpg")
        }) { XCTAssertEqual($0 as? ImageError, .notAJPEG) }
    }
}
