import Foundation
import Tensors
import XCTest
@testable import Weights
import TestSupport

final class SafeTensorsTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static let sample = StateDict([
        "layer1.0.conv1.weight": Tensor(shape: [2, 1, 1, 3], values: [1, -2, 3.5, 0, .pi, -0.0]),
        "bn1.bias": Tensor(shape: [3], values: [0.125, -1e-30, 7]),
        "fc.weight": Tensor(shape: [0, 4], values: []),
        "scalar": Tensor(shape: [], values: [42]),
    ])

    func testRoundTripKeepsEveryTensorBitForBit() throws {
        let url = dir.appendingPathComponent("a.safetensors")
        let written = try SafeTensorsWriter.write(Self.sample, metadata: ["k": "v\"/\\"], to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        XCTAssertEqual(file.names, Self.sample.keys)
        XCTAssertEqual(file.metadata, ["k": "v\"/\\"])
        for key in Self.sample.keys {
            let back = try file.tensor(key)
            XCTAssertEqual(back.shape, Self.sample[key]?.shape, key)
            XCTAssertEqual(back.values.map(\.bitPattern), Self.sample[key]?.values.map(\.bitPattern), key)
            XCTAssertEqual(written.tensorSHA256[key], Self.sample[key]?.values.withUnsafeBytes { SHA256.hex($0) }, key)
        }
        let bytes = try Data(contentsOf: url)
        XCTAssertEqual(written.bytes, bytes.count)
        XCTAssertEqual(written.sha256, SHA256.hex(bytes))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["a.safetensors"], "no temporary file left")
    }

    func testHeaderIsSortedCompactAndPaddedToEightBytes() throws {
        let url = dir.appendingPathComponent("a.safetensors")
        try SafeTensorsWriter.write(Self.sample, metadata: ["m": "1"], to: url)
        let bytes = [UInt8](try Data(contentsOf: url))
        let n = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(n % 8, 0)
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        let json = header.trimmingCharacters(in: .whitespaces)
        XCTAssertLessThan(n - json.utf8.count, 8, "only padding spaces after the JSON")
        XCTAssertEqual(json, #"{"__metadata__":{"m":"1"},"bn1.bias":{"data_offsets":[0,12],"dtype":"F32","shape":[3]},"#
            + #""fc.weight":{"data_offsets":[12,12],"dtype":"F32","shape":[0,4]},"#
            + #""layer1.0.conv1.weight":{"data_offsets":[12,36],"dtype":"F32","shape":[2,1,1,3]},"#
            + #""scalar":{"data_offsets":[36,40],"dtype":"F32","shape":[]}}"#)
    }

    func testWritingTwiceGivesTheSameBytes() throws {
        let a = try SafeTensorsWriter.write(Self.sample, to: dir.appendingPathComponent("a.safetensors"))
        let b = try SafeTensorsWriter.write(StateDict(Self.sample.tensors), to: dir.appendingPathComponent("b.safetensors"))
        XCTAssertEqual(a, b)
    }

    func testReadsTheFixtureWrittenByTheReferenceImplementation() throws {
        let fixture = DemoFixture.directory
        let file = try SafeTensorsFile(contentsOf: fixture.appendingPathComponent("expected.safetensors"))
        let crop = try XCTUnwrap(file.entries["a_0.crop_rgb"])
        XCTAssertEqual(crop.dtype, .u8)
        XCTAssertEqual(crop.shape, [224, 224, 3])
        XCTAssertEqual(try file.bytes("a_0.crop_rgb").count, 224 * 224 * 3)
        XCTAssertEqual(try file.tensor("a_0.gam.layer4").shape, [2048, 7, 7])
        XCTAssertEqual(try file.tensor("b_1.gam.yaw_logits").shape, [90])
        XCTAssertThrowsError(try file.tensor("a_0.crop_rgb")) { XCTAssertEqual($0 as? SafeTensorsError, .unsupportedDType("a_0.crop_rgb", "U8")) }

        // The per-head softmax rows match the fake probabilities in expected.json: the bytes
        // were read from the right offsets.
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture.appendingPathComponent("expected.json"))) as? [String: Any]
        let video8 = try XCTUnwrap((expected?["cases"] as? [String: Any])?["video8"] as? [String: Any])
        let clips = try XCTUnwrap(video8["clips"] as? [[String: Any]])
        let heads = try XCTUnwrap(clips.first?["head_fake_probability"] as? [Double])
        let softmax = try file.tensor("video8.clip0.head_softmax")
        XCTAssertEqual(softmax.shape, [3, 2])
        for h in 0..<3 {
            XCTAssertEqual(Double(softmax.values[2 * h] + softmax.values[2 * h + 1]), 1, accuracy: 1e-6)
            XCTAssertEqual(Double(softmax.values[2 * h]), heads[h], accuracy: 1e-6)
        }
    }

    // MARK: malformed files, each refused with its own error

    /// A file from a header string and a payload size.
    func file(header: String, payload: Int = 0, declaredLength: UInt64? = nil) -> Data {
        var d = Data()
        var n = (declaredLength ?? UInt64(header.utf8.count)).littleEndian
        withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
        d.append(contentsOf: Array(header.utf8))
        d.append(contentsOf: [UInt8](repeating: 0, count: payload))
        return d
    }

    func assertRefused(_ data: Data, _ check: (SafeTensorsError) -> Bool, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensorsFile(data: data), file: file, line: line) { error in
            guard let e = error as? SafeTensorsError else { return XCTFail("not a SafeTensorsError: \(error)", file: file, line: line) }
            XCTAssertTrue(check(e), "unexpected error \(e)", file: file, line: line)
        }
    }

    func testTruncatedFiles() throws {
        assertRefused(Data([1, 0, 0])) { if case .truncated = $0 { true } else { false } }
        let url = dir.appendingPathComponent("a.safetensors")
        try SafeTensorsWriter.write(Self.sample, to: url)
        let whole = try Data(contentsOf: url)
        assertRefused(whole.dropLast(4)) { if case .outOfBounds("scalar", _) = $0 { true } else { false } }
    }

    func testHeaderLengthPastTheEnd() {
        assertRefused(file(header: "{}", declaredLength: 1000)) { if case .truncated = $0 { true } else { false } }
        assertRefused(file(header: "{}", declaredLength: 1 << 40)) { if case .badHeader = $0 { true } else { false } }
    }

    func testNonJSONHeader() {
        assertRefused(file(header: "{not json}")) { $0 == .badHeader("header is not JSON") }
        assertRefused(file(header: "[1,2]   ")) { if case .badHeader = $0 { true } else { false } }
    }

    func testUnknownDType() {
        assertRefused(file(header: #"{"w":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}"#, payload: 1)) {
            $0 == .unsupportedDType("w", "F8")
        }
    }

    func testNonIntegerShapesAndOffsets() {
        for bad in ["[1.5]", "[-1]", "[true]", #"["2"]"#] {
            assertRefused(file(header: #"{"w":{"dtype":"U8","shape":\#(bad),"data_offsets":[0,1]}}"#, payload: 1)) {
                if case .badHeader(let m) = $0 { m.contains("bad dimension") } else { false }
            }
        }
    }

    func testOffsetsOutsideThePayload() {
        assertRefused(file(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, payload: 4)) {
            if case .outOfBounds("w", _) = $0 { true } else { false }
        }
        assertRefused(file(header: #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}"#, payload: 4)) {
            if case .outOfBounds("w", _) = $0 { true } else { false }
        }
    }

    func testOffsetsNotMatchingTheShape() {
        assertRefused(file(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, payload: 4)) {
            if case .sizeMismatch("w", _) = $0 { true } else { false }
        }
    }

    func testOverlappingTensors() {
        let h = #"{"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"b":{"dtype":"U8","shape":[3],"data_offsets":[2,5]}}"#
        assertRefused(file(header: h, payload: 5)) { $0 == .overlap("a", "b") }
    }

    func testHolesInTheByteBuffer() {
        let gap = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}}"#
        assertRefused(file(header: gap, payload: 5)) { if case .hole(let m) = $0 { m.contains("before tensor b") } else { false } }
        let tail = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#
        assertRefused(file(header: tail, payload: 3)) { if case .hole(let m) = $0 { m.contains("last 1 bytes") } else { false } }
        let head = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#
        assertRefused(file(header: head, payload: 3)) { if case .hole = $0 { true } else { false } }
    }

    func testDuplicateKeys() {
        let h = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"\u0061":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#
        assertRefused(file(header: h, payload: 1)) { $0 == .badHeader("key \"a\" appears twice") }
        let inner = #"{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#
        assertRefused(file(header: inner, payload: 1)) { $0 == .badHeader("key \"dtype\" appears twice") }
    }

    func testSameStringsInDifferentObjectsAreNotDuplicates() throws {
        let h = #"{"__metadata__":{"a":"dtype"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#
        XCTAssertEqual(try SafeTensorsFile(data: file(header: h, payload: 1)).names, ["a"])
    }

    func testEmptyTensorName() {
        assertRefused(file(header: #"{"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, payload: 1)) {
            $0 == .badHeader("a tensor has an empty name")
        }
    }
}
