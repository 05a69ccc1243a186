import Foundation
import XCTest
@testable import Imaging
import TestSupport

/// Reference files: the shared fixture (Tests/Fixtures/dfgaze-demo-v1) and this target's Data/.
enum TestData {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let fixture = DemoFixture.directory
    static let frameNames = DemoFixture.frameNames

    static func frame(_ name: String) throws -> Data {
        try Data(contentsOf: fixture.appendingPathComponent("frames/\(name).jpg"))
    }

    static func local(_ file: String) throws -> Data {
        try Data(contentsOf: testsDirectory.appendingPathComponent("Data/\(file)"))
    }

    /// The synthetic RGB pattern of Data/make_test_data.py.
    static func syntheticImage(width: Int, height: Int) -> RGBImage {
        var pixels = [UInt8]()
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 {
                    pixels.append(UInt8(truncatingIfNeeded: (x * 73856093) ^ (y * 19349663) ^ (c * 83492791)))
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}

/// Minimal safetensors reader for uint8 tensors: u64 LE header length, JSON header, data.
struct SafetensorsU8 {
    let header: [String: Any]
    let data: Data

    init(_ url: URL) throws {
        let file = try Data(contentsOf: url)
        let length = file.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let json = try JSONSerialization.jsonObject(with: file.subdata(in: 8 ..< 8 + length))
        header = try XCTUnwrap(json as? [String: Any])
        data = file.subdata(in: 8 + length ..< file.count)
    }

    func tensor(_ name: String) throws -> (shape: [Int], bytes: [UInt8]) {
        let entry = try XCTUnwrap(header[name] as? [String: Any], "no tensor \(name)")
        XCTAssertEqual(entry["dtype"] as? String, "U8")
        let shape = try XCTUnwrap(entry["shape"] as? [Int])
        let offsets = try XCTUnwrap(entry["data_offsets"] as? [Int])
        return (shape, [UInt8](data[data.startIndex + offsets[0] ..< data.startIndex + offsets[1]]))
    }
}

/// Byte equality of two RGB buffers; a failure names the count and first differing pixel
/// instead of printing whole arrays.
func assertSameBytes(_ actual: [UInt8], _ expected: [UInt8], width: Int, _ context: String = "",
                     file: StaticString = #filePath, line: UInt = #line) {
    guard actual != expected else { return }
    guard actual.count == expected.count else {
        return XCTFail("\(context): \(actual.count) bytes, expected \(expected.count)", file: file, line: line)
    }
    let differing = actual.indices.filter { actual[$0] != expected[$0] }
    let i = differing[0]
    XCTFail("\(context): \(differing.count) bytes differ; first at x=\(i / 3 % width) y=\(i / 3 / width) "
            + "channel \(i % 3): \(actual[i]), expected \(expected[i])", file: file, line: line)
}
