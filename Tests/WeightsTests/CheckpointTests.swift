import Foundation
import Tensors
import XCTest
import ZIPFoundation
@testable import Weights

/// `PyTorchCheckpoint` against files written by real torch.save
/// (tools/checkpoints/make_test_checkpoints.py) and against hand-built hostile archives.
final class CheckpointTests: XCTestCase {
    static let resources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Resources/checkpoints")

    struct Expected: Decodable {
        struct FloatTensor: Decodable {
            let shape: [Int]
            let bits: [UInt32]
        }

        let float32: [String: FloatTensor]
        let other: [String]
    }

    func resource(_ name: String) -> URL { Self.resources.appendingPathComponent(name) }

    func assertMatchesTorch(_ file: String, line: UInt = #line) throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: resource("expected.json")))
        let checkpoint = try PyTorchCheckpoint.load(contentsOf: resource(file))
        XCTAssertEqual(checkpoint.floatTensors.keys, expected.float32.keys.sorted(), line: line)
        XCTAssertEqual(checkpoint.otherKeys, expected.other, line: line)
        for (key, tensor) in expected.float32 {
            let loaded = try XCTUnwrap(checkpoint.floatTensors[key], key, line: line)
            XCTAssertEqual(loaded.shape, tensor.shape, key, line: line)
            XCTAssertEqual(loaded.values.map(\.bitPattern), tensor.bits, key, line: line)
        }
    }

    // MARK: Files written by torch

    func testCurrentLayoutIsBitIdenticalToTorch() throws {
        try assertMatchesTorch("state_dict.pt")
    }

    func testTorch18LayoutIsBitIdenticalToTorch() throws {
        try assertMatchesTorch("state_dict_torch18.pt")
    }

    func testLegacyFormatIsBitIdenticalToTorch() throws {
        try assertMatchesTorch("state_dict_legacy.pt")
    }

    func testLegacyStorageCutShortIsRefused() throws {
        let bytes = try Data(contentsOf: resource("state_dict_legacy.pt")).dropLast(4)
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: Data(bytes))) {
            if case .malformedLegacyFile = $0 { true } else { false }
        }
    }

    func testLegacyBigEndianIsRefused() throws {
        var bytes = [UInt8](try Data(contentsOf: resource("state_dict_legacy.pt")))
        let key = try XCTUnwrap(Self.lastIndex(of: Array("little_endian".utf8), in: bytes))
        let flag = try XCTUnwrap(bytes[key...].firstIndex(of: 0x88))  // NEWTRUE after the key's BINPUT
        bytes[flag] = 0x89
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: Data(bytes))) { $0 == .unsupportedByteOrder("big") }
    }

    func testRefusesPickleCallingOsSystem() {
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(contentsOf: resource("hostile_os_system.pt"))) {
            guard case .malformedPickle("hostile/data.pkl", let e) = $0 else { return false }
            return e.kind == .disallowedGlobal(PickleGlobal("posix", "system"))
        }
    }

    func testRefusesTruncatedArchive() {
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(contentsOf: resource("hostile_truncated.pt"))) {
            if case .notAZipArchive = $0 { true } else { false }
        }
    }

    func testRefusesStorageRecordShorterThanItsTensor() {
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(contentsOf: resource("hostile_short_storage.pt"))) {
            $0 == .storageSizeMismatch(key: "0.weight", record: "hostile/data/0", expectedBytes: 216, foundBytes: 212)
        }
    }

    func testRefusesBigEndianCheckpoint() {
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(contentsOf: resource("hostile_big_endian.pt"))) {
            $0 == .unsupportedByteOrder("big")
        }
    }

    func testRefusesFloat16StorageNamingIt() {
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(contentsOf: resource("hostile_float16.pt"))) {
            $0 == .unsupportedStorageType(key: "half", type: "torch.HalfStorage")
        }
    }

    // MARK: Hand-built archives

    static let floats: [Float] = [1.5, -2, 0.25, 8]

    /// `arch/data.pkl` holding `pickle` and `arch/data/0` holding `storage`.
    func archive(_ pickle: [UInt8], storage: [UInt8] = littleEndianBytes(floats),
                 extra: [(String, [UInt8])] = [], compression: CompressionMethod = .none) throws -> Data {
        try zipArchive([("arch/data.pkl", pickle), ("arch/data/0", storage)] + extra, compression: compression)
    }

    func oneTensor(numel: Int32 = 4, offset: Int32 = 0, shape: [Int32], strides: [Int32]) -> [UInt8] {
        PickleBytes.stateDict([("w", { $0.tensor(storage: "0", numel: numel, offset: offset, shape: shape, strides: strides) })])
    }

    func testNestedDictsAreFlattened() throws {
        var pickle = PickleBytes()
        pickle.op(0x7D)
        pickle.string("state_dict"); pickle.op(0x7D)
        pickle.string("w"); pickle.tensor(storage: "0", numel: 4, shape: [2, 2], strides: [2, 1]); pickle.op(0x73)
        pickle.op(0x73)
        pickle.string("epoch"); pickle.int(3); pickle.op(0x73)
        pickle.op(0x2E)
        let checkpoint = try PyTorchCheckpoint.load(data: try archive(pickle.bytes))
        XCTAssertEqual(checkpoint.floatTensors["state_dict.w"], Tensor(shape: [2, 2], values: Self.floats))
        XCTAssertEqual(checkpoint.otherKeys, ["epoch"])
    }

    func testCompressedRecordIsRefused() throws {
        let data = try archive(oneTensor(shape: [4], strides: [1]), compression: .deflate)
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: data)) {
            if case .corruptEntry("arch/data.pkl", _) = $0 { true } else { false }
        }
    }

    /// torch writes a zip64 end record too; a saturated entry count in the classic one sends the
    /// reader to it, and the file must still load.
    func testZip64EndRecordIsFollowed() throws {
        var bytes = [UInt8](try Data(contentsOf: resource("state_dict.pt")))
        let end = try XCTUnwrap(Self.lastIndex(of: [0x50, 0x4B, 0x05, 0x06], in: bytes))
        bytes[end + 10] = 0xFF
        bytes[end + 11] = 0xFF
        let checkpoint = try PyTorchCheckpoint.load(data: Data(bytes))
        XCTAssertEqual(checkpoint.otherKeys, ["1.num_batches_tracked", "step"])
    }

    func testCentralDirectoryPastTheEndIsRefused() throws {
        var bytes = [UInt8](try Data(contentsOf: resource("state_dict.pt")))
        let end = try XCTUnwrap(Self.lastIndex(of: [0x50, 0x4B, 0x05, 0x06], in: bytes))
        bytes.replaceSubrange(end + 16..<end + 20, with: [0xF0, 0xFF, 0xFF, 0x7F])
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: Data(bytes))) {
            if case .notAZipArchive = $0 { true } else { false }
        }
    }

    static func lastIndex(of pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        stride(from: bytes.count - pattern.count, through: 0, by: -1).first { Array(bytes[$0..<$0 + pattern.count]) == pattern }
    }

    func testViewPastItsStorageIsRefused() throws {
        let data = try archive(oneTensor(offset: 2, shape: [3], strides: [1]))
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: data)) {
            $0 == .viewOutOfBounds(key: "w", offset: 2, shape: [3], strides: [1], storageCount: 4)
        }
    }

    func testStridesPastTheStorageAreRefused() throws {
        let data = try archive(oneTensor(shape: [2, 2], strides: [4, 1]))
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: data)) {
            if case .viewOutOfBounds(key: "w", _, _, _, _) = $0 { true } else { false }
        }
    }

    func testNegativeStrideIsRefused() throws {
        let data = try archive(oneTensor(offset: 3, shape: [4], strides: [-1]))
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: data)) {
            if case .malformedTensor(key: "w", _) = $0 { true } else { false }
        }
    }

    func testStorageRecordLongerThanDeclaredIsRefused() throws {
        let data = try archive(oneTensor(numel: 3, shape: [3], strides: [1]))
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: data)) {
            $0 == .storageSizeMismatch(key: "w", record: "arch/data/0", expectedBytes: 12, foundBytes: 16)
        }
    }

    func testHugeDeclaredElementCountIsRefusedBeforeReading() throws {
        let data = try archive(oneTensor(numel: .max, shape: [4], strides: [1]))
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: data)) {
            if case .storageSizeMismatch(key: "w", _, _, foundBytes: 16) = $0 { true } else { false }
        }
    }

    func testMissingStorageRecordIsRefused() throws {
        let pickle = PickleBytes.stateDict([("w", { $0.tensor(storage: "7", numel: 4, shape: [4], strides: [1]) })])
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: try self.archive(pickle))) {
            $0 == .missingStorageRecord(key: "w", storage: "7")
        }
    }

    func testStorageSharedWithAnotherElementCountIsRefused() throws {
        let pickle = PickleBytes.stateDict([
            ("a", { $0.tensor(storage: "0", numel: 4, shape: [4], strides: [1]) }),
            ("b", { $0.tensor(storage: "0", numel: 2, shape: [2], strides: [1]) }),
        ])
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: try self.archive(pickle))) {
            $0 == .inconsistentStorage(key: "b", storage: "0")
        }
    }

    func testCorruptedRecordFailsItsChecksum() throws {
        var data = try archive(oneTensor(shape: [4], strides: [1]))
        let record = try XCTUnwrap(data.firstRange(of: Data(littleEndianBytes(Self.floats))))
        data[record.lowerBound] ^= 1
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: data)) {
            $0 == .corruptEntry("arch/data/0", reason: "its CRC-32 does not match")
        }
    }

    func testUnknownByteOrderIsRefused() throws {
        let data = try archive(oneTensor(shape: [4], strides: [1]), extra: [("arch/byteorder", Array("middle".utf8))])
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: data)) { $0 == .unsupportedByteOrder("middle") }
    }

    func testArchiveWithoutDataPickleIsRefused() throws {
        let data = try zipArchive([("arch/data/0", littleEndianBytes(Self.floats))])
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: data)) { $0 == .missingDataPickle }
    }

    func testArchiveWithTwoDataPicklesIsRefused() throws {
        let pickle = oneTensor(shape: [4], strides: [1])
        let data = try zipArchive([("a/data.pkl", pickle), ("b/data.pkl", pickle)])
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: data)) {
            $0 == .ambiguousDataPickle(["a/data.pkl", "b/data.pkl"])
        }
    }

    func testPickleOfAListIsNotAStateDict() throws {
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: try self.archive([0x80, 2, 0x5D, 0x2E]))) {
            $0 == .notAStateDict(found: "a list")
        }
    }

    func testFlattenedKeyCollisionIsRefused() throws {
        var pickle = PickleBytes()
        pickle.op(0x7D)
        pickle.string("a.b"); pickle.int(1); pickle.op(0x73)
        pickle.string("a"); pickle.op(0x7D); pickle.string("b"); pickle.int(2); pickle.op(0x73); pickle.op(0x73)
        pickle.op(0x2E)
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: try self.archive(pickle.bytes))) {
            $0 == .duplicateKey("a.b")
        }
    }

    func testTensorWithBackwardHooksIsRefused() throws {
        var pickle = PickleBytes()
        pickle.op(0x7D)
        pickle.string("w")
        pickle.global("torch._utils", "_rebuild_tensor_v2")
        pickle.op(0x28)
        pickle.op(0x28); pickle.string("storage"); pickle.global("torch", "FloatStorage"); pickle.string("0")
        pickle.string("cpu"); pickle.int(4); pickle.op(0x74); pickle.op(0x51)
        pickle.int(0); pickle.ints([4]); pickle.ints([1]); pickle.op(0x89)
        pickle.op(0x7D); pickle.string("hook"); pickle.int(1); pickle.op(0x73)  // backward_hooks = {'hook': 1}
        pickle.op(0x74); pickle.op(0x52); pickle.op(0x73); pickle.op(0x2E)
        XCTAssertCheckpointError(try PyTorchCheckpoint.load(data: try self.archive(pickle.bytes))) {
            if case .malformedTensor(key: "w", _) = $0 { true } else { false }
        }
    }
}

/// A small seeded generator so the corruption test is reproducible.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
