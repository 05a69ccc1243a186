import Foundation
import XCTest
@testable import Imaging

/// Pillow `Image.resize(size, BILINEAR)` on synthetic images (Data/resize_*.rgb, made by Pillow).
final class ResizeTests: XCTestCase {
    struct Case: Decodable { let name: String; let input: [Int]; let output: [Int] }

    func testSyntheticResizesMatchPillow() throws {
        let cases = try JSONDecoder().decode([Case].self, from: TestData.local("resize_cases.json"))
        XCTAssertEqual(cases.count, 6)
        for c in cases {
            let image = TestData.syntheticImage(width: c.input[0], height: c.input[1])
            let resized = Preprocess.resize(image, width: c.output[0], height: c.output[1])
            let expected = [UInt8](try TestData.local("resize_\(c.name).rgb"))
            XCTAssertEqual([resized.width, resized.height], c.output, c.name)
            assertSameBytes(resized.pixels, expected, width: c.output[0], c.name)
        }
    }

    /// torchvision Resize(20) on 31x23: shorter side 20, longer int(20 * 31 / 23) = 26.
    func testResizeShorterSideMatchesTorchvisionAndPillow() throws {
        let image = TestData.syntheticImage(width: 31, height: 23)
        let resized = Preprocess.resizeShorterSide(image, to: 20)
        XCTAssertEqual([resized.width, resized.height], [26, 20])
        assertSameBytes(resized.pixels, [UInt8](try TestData.local("resize_shorter_side_20.rgb")), width: 26)
        let portrait = Preprocess.resizeShorterSide(TestData.syntheticImage(width: 23, height: 31), to: 20)
        XCTAssertEqual([portrait.width, portrait.height], [20, 26])
    }

    /// Any window of the resize equals the same window cut from the full resize.
    func testWindowedResizeEqualsCropOfFullResize() {
        let image = TestData.syntheticImage(width: 97, height: 61)
        let full = Preprocess.resize(image, width: 45, height: 130)
        let window = PillowBilinear.resize(image, width: 45, height: 130, columns: 7 ..< 30, rows: 50 ..< 101)
        XCTAssertEqual(window, PillowBilinear.crop(full, columns: 7 ..< 30, rows: 50 ..< 101))
    }

    func testSameSizeResizeIsACopy() {
        let image = TestData.syntheticImage(width: 9, height: 7)
        XCTAssertEqual(Preprocess.resize(image, width: 9, height: 7), image)
    }
}

/// torchvision `CenterCrop` and `ToTensor` + `Normalize`.
final class CropAndNormalizeTests: XCTestCase {
    /// Origin int(round((length - 224) / 2)), Python rounding half to even: 33 / 2 = 16.5 -> 16,
    /// 35 / 2 = 17.5 -> 18.
    func testCenterCropRoundsHalfToEven() {
        XCTAssertEqual(Preprocess.centerCrop(TestData.syntheticImage(width: 257, height: 259), size: 224),
                       PillowBilinear.crop(TestData.syntheticImage(width: 257, height: 259), columns: 16 ..< 240, rows: 18 ..< 242))
        XCTAssertEqual(Preprocess.cropOrigin(length: 258, crop: 224), 17)
        XCTAssertEqual(Preprocess.cropOrigin(length: 256, crop: 224), 16)
    }

    /// torchvision pads a too-small image with zeros, (crop - size) // 2 on the left/top.
    func testCenterCropPadsSmallImagesWithBlack() {
        let image = RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 4, 5, 6])
        let crop = Preprocess.centerCrop(image, size: 4)
        var expected = [UInt8](repeating: 0, count: 4 * 4 * 3)
        expected.replaceSubrange((1 * 4 + 1) * 3 ..< (1 * 4 + 3) * 3, with: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(crop.pixels, expected)
    }

    /// Planar CHW; each value (Float32(p) / 255 - Float32(mean)) / Float32(std) as torch computes it.
    func testNormalizedCHWLayoutAndValues() {
        let image = RGBImage(width: 2, height: 1, pixels: [0, 128, 255, 10, 20, 30])
        let input = Preprocess.normalizedCHW(image)
        let mean: [Float] = [0.643, 0.466, 0.387], std: [Float] = [0.259, 0.220, 0.203]
        let expected: [Float] = [0, 10, 128, 20, 255, 30].enumerated().map { i, p in
            (Float(p) / 255 - mean[i / 2]) / std[i / 2]
        }
        XCTAssertEqual(input, expected)
        XCTAssertEqual(input[0], -2.4826255, accuracy: 1e-6)
    }
}
