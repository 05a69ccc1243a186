import Imaging
import XCTest
@testable import Faces

/// SPEC 3.1 and 3.4 in hand-checked numbers.
final class CropRuleTests: XCTestCase {
    /// OpenCV 4's 15-bit weights; OpenCV 3's 14-bit ones differ on e.g. (0, 0, 250): 28, not 29.
    func testGrayscaleIsOpenCV4() {
        let pixels: [UInt8] = [255, 255, 255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 250, 10, 20, 30]
        let image = RGBImage(width: 7, height: 1, pixels: pixels)
        // (R*9798 + G*19235 + B*3735 + 16384) >> 15
        XCTAssertEqual(Grayscale.opencv(image), [255, 0, 76, 150, 29, 28, 18])
    }

    /// Box 90x90 inside a 512x512 frame: size int(90 * 1.3) = 117, centre (220, 121).
    func testCentredSquare() {
        let crop = FaceCrop(box: FaceBox(left: 175, top: 76, right: 265, bottom: 166), width: 512, height: 512)
        XCTAssertEqual(crop, FaceCrop(x: 220 - 58, y: 121 - 58, size: 117))
    }

    /// A box past the bottom of a 112x112 frame (hanks_112): x clamped to 0, size to 112 - 13.
    func testClippedAtTheEdges() {
        let crop = FaceCrop(box: FaceBox(left: 6, top: 26, right: 96, bottom: 116), width: 112, height: 112)
        XCTAssertEqual(crop, FaceCrop(x: 0, y: 13, size: 99))
    }

    /// Floor division of a negative centre (a box reaching past the left edge): (-3 + 5) // 2 = 1,
    /// and int() truncation of the scaled side: int(8 * 1.3) = 10.
    func testPythonIntegerSteps() {
        let crop = FaceCrop(box: FaceBox(left: -3, top: -9, right: 5, bottom: -2), width: 100, height: 100)
        // cx = 1, cy = (-11) // 2 = -6, size 10: x = max(1 - 5, 0) = 0, y = max(-6 - 5, 0) = 0
        XCTAssertEqual(crop, FaceCrop(x: 0, y: 0, size: 10))
        XCTAssertEqual(floorDivide(-11, 2), -6)
        XCTAssertEqual(floorDivide(11, 2), 5)
        XCTAssertEqual(floorDivide(-10, 2), -5)
    }

    func testCutCopiesTheSquare() throws {
        let pixels = (0..<(4 * 3 * 3)).map { UInt8($0) }
        let image = RGBImage(width: 4, height: 3, pixels: pixels)
        let cut = try XCTUnwrap(FaceCrop(x: 1, y: 1, size: 2).cut(from: image))
        XCTAssertEqual(cut.pixels, [15, 16, 17, 18, 19, 20, 27, 28, 29, 30, 31, 32])
        XCTAssertNil(FaceCrop(x: 3, y: 1, size: 2).cut(from: image))
        XCTAssertNil(FaceCrop(x: 0, y: 0, size: 0).cut(from: image))
        XCTAssertNil(FaceCrop(x: -1, y: 0, size: 1).cut(from: image))
    }
}
