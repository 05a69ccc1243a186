import Foundation
import XCTest
@testable import Imaging

/// SPEC.md section 2: every fixture frame, decoded, resized (shorter side 256) and centre-cropped
/// to 224, is byte-identical to the authors' Pillow/torchvision `<frame>.crop_rgb`.
final class FixtureCropTests: XCTestCase {
    func testNetworkInputCropsMatchPillow() throws {
        let expected = try SafetensorsU8(TestData.fixture.appendingPathComponent("expected.safetensors"))
        for name in TestData.frameNames {
            let reference = try expected.tensor("\(name).crop_rgb")
            XCTAssertEqual(reference.shape, [224, 224, 3])
            let (crop, input) = try Preprocess.networkInput(jpeg: TestData.frame(name))
            XCTAssertEqual([crop.height, crop.width], [224, 224], name)
            assertSameBytes(crop.pixels, reference.bytes, width: 224, name)
            XCTAssertEqual(input, Preprocess.normalizedCHW(crop), name)
        }
    }

    /// The public step-by-step path (full resize, then crop) gives the same bytes as the fused one.
    func testResizeThenCropMatchesPillow() throws {
        let expected = try SafetensorsU8(TestData.fixture.appendingPathComponent("expected.safetensors"))
        for name in TestData.frameNames {
            let image = try JPEG.decode(TestData.frame(name))
            let resized = Preprocess.resizeShorterSide(image, to: 256)
            XCTAssertEqual(min(resized.width, resized.height), 256, name)
            let crop = Preprocess.centerCrop(resized, size: 224)
            let reference = try expected.tensor("\(name).crop_rgb").bytes
            assertSameBytes(crop.pixels, reference, width: 224, name)
        }
    }
}
