import Foundation
import Imaging
import XCTest
@testable import Faces

/// Frames the detector must answer without crashing: a typed error or no face.
final class BadInputTests: XCTestCase {
    let detector = try! FaceDetector()

    func testTinyFramesHaveNoFace() throws {
        for (width, height) in [(1, 1), (1, 300), (300, 1), (7, 5), (79, 79)] {
            let image = RGBImage(width: width, height: height, pixels: Array(repeating: 128, count: width * height * 3))
            XCTAssertEqual(try detector.detect(image), [], "\(width)x\(height)")
        }
    }

    func testEmptyFrameIsAnError() {
        XCTAssertThrowsError(try detector.detect(RGBImage(width: 0, height: 0, pixels: []))) {
            XCTAssertEqual($0 as? FaceError, .emptyImage(width: 0, height: 0))
        }
        XCTAssertThrowsError(try detector.detect(RGBImage(width: 5, height: 0, pixels: [])))
        XCTAssertThrowsError(try FaceCropping.wholeFrames(count: 4, clips: [[0, 1, 2, 3]], detector: detector) { _ in
            RGBImage(width: 0, height: 3, pixels: [])
        }) { XCTAssertEqual($0 as? FaceError, .emptyImage(width: 0, height: 3)) }
    }

    /// Rows padded to any stride give the same detections as the dense image; the padding is not read.
    func testOddStridesGiveTheSameDetections() throws {
        let image = try VideoFixture.frame("hanks_112.jpg")
        let dense = Grayscale.opencv(image)
        let expected = try detector.detect(image)
        XCTAssertEqual(expected.map(\.box), [FaceBox(left: 6, top: 26, right: 96, bottom: 116)])
        for stride in [113, 127, 200] {
            var padded = [UInt8]()
            for row in 0..<image.height {
                padded += dense[row * image.width ..< (row + 1) * image.width]
                padded += (0 ..< stride - image.width).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ row) }
            }
            // The last row needs no padding.
            padded.removeLast(stride - image.width)
            let found = try padded.withUnsafeBufferPointer {
                try detector.detect(gray: $0, width: image.width, height: image.height, stride: stride)
            }
            XCTAssertEqual(found, expected, "stride \(stride)")
        }
    }

    func testBadLayoutsAreErrors() throws {
        let bytes = [UInt8](repeating: 0, count: 100)
        try bytes.withUnsafeBufferPointer { buffer in
            let layouts = [(10, 10, 9), (10, 11, 10), (10, 2, Int.max), (0, 10, 10), (10, -1, 10), (Int.max, 1, Int.max)]
            for (width, height, stride) in layouts {
                XCTAssertThrowsError(try detector.detect(gray: buffer, width: width, height: height, stride: stride),
                                     "\(width)x\(height) stride \(stride)") { error in
                    guard case .emptyImage = error as? FaceError else {
                        guard case .badLayout = error as? FaceError else { return XCTFail("\(error)") }
                        return
                    }
                }
            }
            XCTAssertNoThrow(try detector.detect(gray: buffer, width: 10, height: 10, stride: 10))
            XCTAssertNoThrow(try detector.detect(gray: buffer, width: 1, height: 5, stride: 20))
        }
        XCTAssertThrowsError(try [UInt8]().withUnsafeBufferPointer {
            try detector.detect(gray: $0, width: 1, height: 1, stride: 1)
        })
    }

    /// The pixel cap applies after upsampling: 2048x2049 upsampled 3 times is 268.6 M pixels.
    func testTooLargeAfterUpsampling() throws {
        let bytes = [UInt8](repeating: 0, count: 2048 * 2049)
        let upsampled3 = try FaceDetector(upsampling: 3)
        XCTAssertThrowsError(try bytes.withUnsafeBufferPointer {
            try upsampled3.detect(gray: $0, width: 2048, height: 2049, stride: 2048)
        }) { XCTAssertEqual($0 as? FaceError, .tooLarge(width: 2048, height: 2049, upsampling: 3)) }
    }

    func testUpsamplingOutOfRange() {
        XCTAssertThrowsError(try FaceDetector(upsampling: -1)) { XCTAssertEqual($0 as? FaceError, .badUpsampling(-1)) }
        XCTAssertThrowsError(try FaceDetector(upsampling: 4))
        XCTAssertEqual(try FaceDetector(upsampling: 0).upsampling, 0)
    }

    /// Without upsampling (dlib's 80x80 window), astronaut's 90-pixel face is still found.
    func testUpsamplingZeroStillFindsALargeFace() throws {
        let found = try FaceDetector(upsampling: 0).detect(try VideoFixture.frame("astronaut.jpg"))
        XCTAssertFalse(found.isEmpty)
    }

    /// Concurrent calls share the model but not a detector: the same answers as one at a time.
    func testConcurrentCallsAgree() throws {
        let image = try VideoFixture.frame("t1_edge.jpg")
        let expected = try detector.detect(image)
        let detector = self.detector
        let results = NSLock()
        nonisolated(unsafe) var found: [[FaceDetection]] = []
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            let d = try! detector.detect(image)
            results.withLock { found.append(d) }
        }
        XCTAssertEqual(found, Array(repeating: expected, count: 6))
    }
}
