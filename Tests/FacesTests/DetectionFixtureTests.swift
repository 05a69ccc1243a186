import Foundation
import Imaging
import XCTest
@testable import Faces

/// SPEC 3.1-3.4 on the fixture's whole frames: dlib's detections (boxes exact, in dlib's order),
/// the face (the first detection) and its FaceForensics++ crop, as the Python reference found them.
final class DetectionFixtureTests: XCTestCase {
    let detector = try! FaceDetector()

    /// Every detection of every whole frame of frames4, frames6 and frames_noface's files.
    func testDetectionsMatchTheReference() throws {
        var checked = 0
        for name in ["frames4", "frames6"] {
            let files = VideoFixture.frameFiles(name)
            let expected = VideoFixture.detections(name)
            XCTAssertEqual(files.count, expected.count)
            for (file, reference) in zip(files, expected) {
                let found = try detector.detect(try VideoFixture.frame(file))
                XCTAssertEqual(found.map(\.box.array), reference.map(\.box), file)
                // SPEC: Debian's dlib at the baseline agrees with pip dlib to 9.5e-7.
                for (d, r) in zip(found, reference) {
                    XCTAssertEqual(d.score, r.score, accuracy: 2e-6, file)
                }
                checked += reference.count
            }
        }
        XCTAssertEqual(checked, 9 + 13, "detections compared")
    }

    /// chelsea.jpg (a cat, 451x300) and coffee_512.jpg have no face.
    func testNoFaceFrames() throws {
        for file in ["chelsea.jpg", "coffee_512.jpg"] {
            XCTAssertEqual(try detector.detect(try VideoFixture.frame(file)), [], file)
        }
    }

    /// Each response frame's face.box is the first detection, face.crop the 1.3x rule on it.
    func testBoxAndCropOfEveryResponseFrame() throws {
        for name in ["frames4", "frames6"] {
            let files = VideoFixture.frameFiles(name)
            for (index, frame) in VideoFixture.responseFrames(name) {
                let face = frame["face"] as! [String: Any]
                let box = face["box"] as! [Int], crop = face["crop"] as! [Int]
                let image = try VideoFixture.frame(files[index])
                let expectedCrop = FaceCrop(box: FaceBox(left: box[0], top: box[1], right: box[2], bottom: box[3]),
                                            width: image.width, height: image.height)
                XCTAssertEqual(expectedCrop.array, crop, "\(name) frame \(index)")
                guard face["detected"] as! Bool else { continue }
                let best = try XCTUnwrap(FaceCropping.best(try detector.detect(image)))
                XCTAssertEqual(best.box.array, box, "\(name) frame \(index)")
            }
        }
    }

    /// t1_group.jpg: six faces; the face is the highest-scoring one, not the largest (130x130).
    func testHighestScoringNotLargest() throws {
        let found = try detector.detect(try VideoFixture.frame("t1_group.jpg"))
        XCTAssertEqual(found.count, 6)
        let largest = found.max { $0.box.right - $0.box.left < $1.box.right - $1.box.left }!
        XCTAssertEqual(FaceCropping.best(found)?.box, FaceBox(left: 1118, top: 283, right: 1226, bottom: 390))
        XCTAssertNotEqual(largest.box, FaceCropping.best(found)?.box)
        XCTAssertEqual(found.map(\.score), found.map(\.score).sorted(by: >), "dlib's order is descending score")
    }

    /// The greyscale JPEG (R = G = B) finds the same box as the colour one.
    func testGrayscaleFrame() throws {
        let gray = try VideoFixture.frame("astronaut_gray.jpg")
        let pixels = gray.pixels
        for i in stride(from: 0, to: pixels.count, by: 3) where pixels[i] != pixels[i + 1] || pixels[i] != pixels[i + 2] {
            return XCTFail("pixel \(i / 3) is not grey")
        }
        XCTAssertEqual(FaceCropping.best(try detector.detect(gray))?.box,
                       FaceBox(left: 175, top: 76, right: 265, bottom: 166))
    }
}
