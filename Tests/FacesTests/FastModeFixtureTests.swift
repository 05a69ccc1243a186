import Foundation
import Imaging
import XCTest
@testable import Faces

/// The fast mode (`FaceDetectionMode.fast`) on every whole frame of the fixture and every sampled
/// frame of its videos, against the reference (expected.json): the same face (box) on every frame,
/// hence the same crops; what it may lose is a small detection away from every larger one.
final class FastModeFixtureTests: XCTestCase {
    let fast = try! FaceDetector(mode: .fast)

    /// Every fixture frame with its reference detections (boxes and scores, in dlib's order).
    static func fixtureFrames() throws -> [(name: String, image: RGBImage, reference: [(box: [Int], score: Double)])] {
        var frames: [(String, RGBImage, [(box: [Int], score: Double)])] = []
        var seen = Set<String>()
        for name in ["frames4", "frames6"] {
            for (file, reference) in zip(VideoFixture.frameFiles(name), VideoFixture.detections(name))
            where seen.insert(file).inserted {
                frames.append((file, try VideoFixture.frame(file), reference))
            }
        }
        for file in VideoFixture.frameFiles("frames_noface") where seen.insert(file).inserted {
            frames.append((file, try VideoFixture.frame(file), []))
        }
        for name in ["talking_astronaut", "t1face_25fps", "face_cat_face"] {
            let testCase = VideoFixture.case(name)
            let file = (testCase["request"] as! [String: Any])["file"] as! String
            let input = VideoFixture.response(name)["input"] as! [String: Any]
            let byFrame = (testCase["debug"] as! [String: Any])["detections"] as! [String: [[Double]]]
            let decoded = try VideoFixture.sampledFrames(file, width: input["width"] as! Int, height: input["height"] as! Int,
                                                         wanted: Set(byFrame.keys.map { Int($0)! }))
            for (index, image) in decoded.sorted(by: { $0.key < $1.key }) {
                frames.append(("\(file)#\(index)", image, byFrame[String(index)]!.map { ($0[0..<4].map { Int($0) }, $0[4]) }))
            }
        }
        return frames
    }

    /// Each frame's face is the reference's; every fast detection is one of the reference's (box,
    /// score within the exactness tests' 2e-6, same order). On this fixture only the weak second
    /// detections of talking_astronaut (62-pixel boxes, 0.03-0.19, far from the face) are lost.
    func testFastFacesAreTheReferenceFaces() throws {
        let frames = try Self.fixtureFrames()
        XCTAssertEqual(frames.count, 7 + 12 + 8 + 16, "7 whole frames, 3 + 2 + 4 windows of 4 sampled frames")
        var lost: [String] = []
        for frame in frames {
            let found = try fast.detect(frame.image)
            XCTAssertEqual(found.first?.box.array, frame.reference.first?.box, frame.name)
            // The fast detections, in order, are a subsequence of the reference's.
            var rest = frame.reference[...]
            for detection in found {
                guard let k = rest.firstIndex(where: { $0.box == detection.box.array }) else {
                    XCTFail("\(frame.name): \(detection.box) is not a reference detection")
                    break
                }
                XCTAssertEqual(detection.score, rest[k].score, accuracy: 2e-6, frame.name)
                lost += rest[rest.startIndex ..< k].map { "\(frame.name) \($0.box)" }
                rest = rest[(k + 1)...]
            }
            lost += rest.map { "\(frame.name) \($0.box)" }
        }
        XCTAssertEqual(lost.count, 6, "\(lost)")
        XCTAssertTrue(lost.allSatisfy { $0.hasPrefix("talking_astronaut.mp4#") }, "\(lost)")
    }

    /// Whole frames in the fast mode: frames4 and frames6 give the fixture's faces, crops, crop
    /// JPEG bytes, scored and skipped clips.
    func testWholeFramesInFastMode() throws {
        try WholeFramesFixtureTests.assertMatchesFixture("frames4", detector: fast)
        try WholeFramesFixtureTests.assertMatchesFixture("frames6", detector: fast)
    }

    /// Video windows in the fast mode: the fixture's faces, crops, crop JPEG bytes, skipped windows.
    func testVideoWindowsInFastMode() throws {
        for name in ["talking_astronaut", "t1face_25fps", "face_cat_face"] {
            try VideoWindowFixtureTests.assertVideoMatches(name, detector: fast, everyDetection: false)
        }
    }

    /// The mode is chosen at construction (exact by default) and named as a server flag names it.
    func testModeFlag() throws {
        XCTAssertEqual(try FaceDetector().mode, .exact)
        XCTAssertEqual(try FaceDetector(upsampling: 1, mode: .fast).mode, .fast)
        XCTAssertEqual(FaceDetectionMode.allCases.map(\.rawValue), ["exact", "fast"])
        XCTAssertEqual(FaceDetectionMode(rawValue: "fast"), .fast)
        XCTAssertNil(FaceDetectionMode(rawValue: "approximate"))
        XCTAssertThrowsError(try FaceDetector(upsampling: 4, mode: .fast))
    }

    /// hanks_112's gray frame halved (56x56): its face is smaller than dlib's 80-pixel window at
    /// the frame's own resolution, so only the upsampled (fine) levels find it.
    static func smallFace() throws -> [UInt8] {
        let gray = Grayscale.opencv(try VideoFixture.frame("hanks_112.jpg"))
        return (0 ..< 56 * 56).map { i in
            let (y, x) = (i / 56, i % 56)
            let sum = [0, 1, 112, 113].map { Int(gray[2 * y * 112 + 2 * x + $0]) }.reduce(0, +)
            return UInt8((sum + 2) / 4)
        }
    }

    /// A frame whose only face is too small for the coarse levels is scanned as the exact mode
    /// scans it, and finds that face.
    func testSmallFaceAloneIsFound() throws {
        let small = try Self.smallFace()
        let exact = try small.withUnsafeBufferPointer { try FaceDetector().detect(gray: $0, width: 56, height: 56, stride: 56) }
        XCTAssertEqual(exact.count, 1, "the exact detector finds the small face")
        let found = try small.withUnsafeBufferPointer { try fast.detect(gray: $0, width: 56, height: 56, stride: 56) }
        XCTAssertEqual(found, exact)
    }

    /// The documented loss, and proof that the mode reaches dlib: astronaut's frame with the small
    /// face pasted far from astronaut's face: the exact mode finds it, the fast mode does not, and
    /// both find the same astronaut detections.
    func testSmallFaceAwayFromALargerOneIsLost() throws {
        var gray = Grayscale.opencv(try VideoFixture.frame("astronaut.jpg"))
        let small = try Self.smallFace()
        for y in 0..<56 { for x in 0..<56 { gray[(20 + y) * 512 + 430 + x] = small[y * 56 + x] } }
        let exact = try gray.withUnsafeBufferPointer { try FaceDetector().detect(gray: $0, width: 512, height: 512, stride: 512) }
        let found = try gray.withUnsafeBufferPointer { try fast.detect(gray: $0, width: 512, height: 512, stride: 512) }
        XCTAssertTrue(exact.contains { $0.box.left > 400 && $0.box.bottom < 100 }, "\(exact)")
        XCTAssertEqual(found, exact.filter { !($0.box.left > 400 && $0.box.bottom < 100) })
        XCTAssertEqual(found.map(\.box.array), [[175, 76, 265, 166], [126, 335, 215, 425]])
    }
}

/// The fast mode's input path: the exact mode's answers on frames too small for any level, on
/// padded strides, and the same errors.
final class FastModeBadInputTests: XCTestCase {
    let fast = try! FaceDetector(mode: .fast)

    func testTinyAndThinFrames() throws {
        for (width, height) in [(1, 1), (1, 300), (300, 1), (7, 5), (79, 79), (2000, 3)] {
            let image = RGBImage(width: width, height: height, pixels: Array(repeating: 128, count: width * height * 3))
            XCTAssertEqual(try fast.detect(image), [], "\(width)x\(height)")
        }
    }

    func testOddStridesGiveTheExactDetections() throws {
        let image = try VideoFixture.frame("t1_edge.jpg")
        let dense = Grayscale.opencv(image)
        let expected = try FaceDetector().detect(image)
        XCTAssertFalse(expected.isEmpty)
        for stride in [image.width + 1, image.width + 61] {
            var padded = [UInt8](repeating: 255, count: (image.height - 1) * stride + image.width)
            for row in 0..<image.height {
                padded.replaceSubrange(row * stride ..< row * stride + image.width,
                                       with: dense[row * image.width ..< (row + 1) * image.width])
            }
            let found = try padded.withUnsafeBufferPointer {
                try fast.detect(gray: $0, width: image.width, height: image.height, stride: stride)
            }
            XCTAssertEqual(found, expected, "stride \(stride)")
        }
    }

    func testSameErrors() throws {
        XCTAssertThrowsError(try fast.detect(RGBImage(width: 0, height: 0, pixels: []))) {
            XCTAssertEqual($0 as? FaceError, .emptyImage(width: 0, height: 0))
        }
        let bytes = [UInt8](repeating: 0, count: 2048 * 2049)
        XCTAssertThrowsError(try bytes.withUnsafeBufferPointer {
            try FaceDetector(upsampling: 3, mode: .fast).detect(gray: $0, width: 2048, height: 2049, stride: 2048)
        }) { XCTAssertEqual($0 as? FaceError, .tooLarge(width: 2048, height: 2049, upsampling: 3)) }
    }
}
