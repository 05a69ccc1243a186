import Foundation
import Weights
import XCTest
@testable import Imaging

/// The encoder gives the bytes of `cv2.imencode(".jpg", bgr, [IMWRITE_JPEG_QUALITY, 95])`
/// (video fixture SPEC 3.6): the fixture's crops, cut by hand, hash to its `crop_jpeg_sha256`.
final class JPEGEncodeTests: XCTestCase {
    static let videoFixture = TestData.testsDirectory.deletingLastPathComponent()
        .appendingPathComponent("Fixtures/dfgaze-video-v1")

    /// Rows `y ..< y+size`, columns `x ..< x+size` of a fixture frame.
    private func square(_ file: String, x: Int, y: Int, size: Int) throws -> RGBImage {
        let frame = try JPEG.decode(try Data(contentsOf: Self.videoFixture.appendingPathComponent("frames/\(file)")))
        var pixels = [UInt8]()
        for row in y ..< y + size {
            pixels += frame.pixels[(row * frame.width + x) * 3 ..< (row * frame.width + x + size) * 3]
        }
        return RGBImage(width: size, height: size, pixels: pixels)
    }

    func testQuality95MatchesOpenCV() throws {
        // (file, crop [x, y, size], crop_jpeg_sha256) from expected.json's frames6 case.
        let crops: [(String, [Int], String)] = [
            ("astronaut.jpg", [162, 63, 117], "bb983d67661de8c729482dd4d085edc7900bcef86303039f4cae718137ee6420"),
            ("hanks_112.jpg", [0, 13, 99], "17f6241cd8e6e404598f14f4eaf447849eb70c63e8209d7717b962ee57ec6de0"),
            ("t1_edge.jpg", [397, 28, 134], "d8aad52ec17aa0191f022e6e13d785917d1aeb17542cbf3dd36ed9cfec1761e8"),
        ]
        for (file, crop, sha256) in crops {
            let image = try square(file, x: crop[0], y: crop[1], size: crop[2])
            XCTAssertEqual(SHA256.hex(try JPEG.encode(image, quality: 95)), sha256, file)
        }
    }

    func testRoundTripKeepsSizeAndIsCloseToTheInput() throws {
        let image = TestData.syntheticImage(width: 17, height: 11)
        let smooth = RGBImage(width: 17, height: 11, pixels: image.pixels.indices.map { UInt8(($0 / 3 % 17) * 10) })
        let decoded = try JPEG.decode(try JPEG.encode(smooth))
        XCTAssertEqual([decoded.width, decoded.height], [17, 11])
        let worst = zip(decoded.pixels, smooth.pixels).map { abs(Int($0) - Int($1)) }.max()!
        XCTAssertLessThanOrEqual(worst, 8, "a smooth ramp survives quality 95 nearly unchanged")
    }

    func testRefusesEmptyImageAndBadQuality() {
        XCTAssertThrowsError(try JPEG.encode(RGBImage(width: 0, height: 5, pixels: [])))
        let one = RGBImage(width: 1, height: 1, pixels: [1, 2, 3])
        XCTAssertThrowsError(try JPEG.encode(one, quality: 0))
        XCTAssertThrowsError(try JPEG.encode(one, quality: 101))
        XCTAssertNoThrow(try JPEG.encode(one, quality: 1))
    }
}
