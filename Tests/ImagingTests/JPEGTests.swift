import Foundation
import XCTest
@testable import Imaging

/// TurboJPEG decoding against Pillow's decode (Data/*.rgb, *.L) and the error contract.
final class JPEGDecodeTests: XCTestCase {
    func testHeaderOfFixtureFrame() throws {
        let header = try JPEG.header(TestData.frame("a_1"))
        XCTAssertEqual(header, JPEGHeader(width: 109, height: 110, colorspace: .ycbcr))
    }

    func testChromaSubsampled420MatchesPillow() throws {
        let image = try JPEG.decode(TestData.local("color420.jpg"))
        XCTAssertEqual([image.width, image.height], [17, 11])
        let expected = [UInt8](try TestData.local("color420.rgb"))
        assertSameBytes(image.pixels, expected, width: 17)
    }

    func testProgressiveMatchesPillow() throws {
        let image = try JPEG.decode(TestData.local("progressive444.jpg"))
        XCTAssertEqual([image.width, image.height], [19, 13])
        let expected = [UInt8](try TestData.local("progressive444.rgb"))
        assertSameBytes(image.pixels, expected, width: 19)
    }

    func testGrayscaleExpandsToRGB() throws {
        let data = try TestData.local("gray.jpg")
        XCTAssertEqual(try JPEG.header(data).colorspace, .grayscale)
        let image = try JPEG.decode(data)
        let luma = [UInt8](try TestData.local("gray.L"))
        XCTAssertEqual([image.width, image.height], [16, 12])
        assertSameBytes(image.pixels, luma.flatMap { [$0, $0, $0] }, width: 16)
    }
}

final class JPEGErrorTests: XCTestCase {
    func assertThrows(_ expected: ImageError, _ data: Data, limits: JPEGLimits = .default,
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try JPEG.decode(data, limits: limits), file: file, line: line) { error in
            XCTAssertEqual(error as? ImageError, expected, file: file, line: line)
        }
    }

    func assertCorrupt(_ data: Data, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try JPEG.decode(data), file: file, line: line) { error in
            guard case .corrupt(let reason)? = error as? ImageError else {
                return XCTFail("expected .corrupt, got \(error)", file: file, line: line)
            }
            XCTAssertFalse(reason.isEmpty, file: file, line: line)
        }
    }

    func testEmptyInput() {
        assertThrows(.notAJPEG, Data())
        XCTAssertThrowsError(try Preprocess.networkInput(jpeg: Data()))
    }

    func testNonJPEGBytes() {
        assertThrows(.notAJPEG, Data("GIF89a not a jpeg".utf8))
        assertThrows(.notAJPEG, Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        assertThrows(.notAJPEG, Data([0xFF]))
    }

    func testGarbageAfterSOI() {
        assertCorrupt(Data([0xFF, 0xD8] + (0..<64).map { UInt8($0 * 37 & 0xFF) }))
    }

    func testTruncatedJPEG() throws {
        let frame = try TestData.frame("b_0")
        assertCorrupt(frame.prefix(frame.count / 2))
        assertCorrupt(frame.prefix(frame.count - 2))  // only the EOI marker missing
    }

    func testCMYKIsRefused() throws {
        let data = try TestData.local("cmyk.jpg")
        XCTAssertEqual(try JPEG.header(data).colorspace, .cmyk)
        assertThrows(.unsupportedColorspace("CMYK"), data)
    }

    func testLimitsAreCallerGiven() throws {
        let frame = try TestData.frame("a_1")  // 109 x 110
        assertThrows(.tooLarge(width: 109, height: 110), frame, limits: JPEGLimits(maxPixels: 1_000_000, maxSide: 109))
        assertThrows(.tooLarge(width: 109, height: 110), frame, limits: JPEGLimits(maxPixels: 109 * 110 - 1, maxSide: 1000))
        XCTAssertNoThrow(try JPEG.decode(frame, limits: JPEGLimits(maxPixels: 109 * 110, maxSide: 110)))
    }

    /// A header declaring 60000 x 50000 pixels (only the SOF size patched; the data is for 109x110)
    /// is refused from the header alone: decoding it would need 9 GB.
    func testOversizedHeaderIsRefusedBeforeDecoding() throws {
        var bytes = [UInt8](try TestData.frame("a_1"))
        let sof = try XCTUnwrap((0 ..< bytes.count - 1).first { bytes[$0] == 0xFF && (bytes[$0 + 1] == 0xC0 || bytes[$0 + 1] == 0xC2) })
        bytes.replaceSubrange(sof + 5 ..< sof + 9, with: [0xC3, 0x50, 0xEA, 0x60])  // height 50000, width 60000
        XCTAssertEqual(try JPEG.header(Data(bytes)), JPEGHeader(width: 60000, height: 50000, colorspace: .ycbcr))
        assertThrows(.tooLarge(width: 60000, height: 50000), Data(bytes))
    }

    func testErrorMessagesAreReadable() {
        XCTAssertEqual(ImageError.tooLarge(width: 3, height: 4).description, "image of 3x4 pixels exceeds the size limits")
        XCTAssertTrue(ImageError.unsupportedColorspace("CMYK").description.contains("CMYK"))
    }
}
