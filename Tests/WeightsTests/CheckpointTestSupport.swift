import Foundation
import XCTest
import ZIPFoundation
@testable import Weights

/// Builds protocol-2 pickles opcode by opcode, the way torch.save writes a state dict, so tests
/// can make checkpoints torch would never write.
struct PickleBytes {
    var bytes: [UInt8] = [0x80, 2]

    mutating func op(_ code: UInt8) { bytes.append(code) }

    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        op(0x58)
        bytes += withUnsafeBytes(of: UInt32(utf8.count).littleEndian, Array.init) + utf8
    }

    mutating func int(_ i: Int32) {
        op(0x4A)
        bytes += withUnsafeBytes(of: i.littleEndian, Array.init)
    }

    mutating func global(_ module: String, _ name: String) {
        op(0x63)
        bytes += Array("\(module)\n\(name)\n".utf8)
    }

    mutating func ints(_ values: [Int32]) {
        op(0x28)
        values.forEach { int($0) }
        op(0x74)
    }

    /// `_rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, shape, strides, False, OrderedDict())`
    mutating func tensor(type: String = "FloatStorage", storage key: String, numel: Int32, offset: Int32 = 0,
                         shape: [Int32], strides: [Int32]) {
        global("torch._utils", "_rebuild_tensor_v2")
        op(0x28)
        op(0x28); string("storage"); global("torch", type); string(key); string("cpu"); int(numel); op(0x74)
        op(0x51)
        int(offset)
        ints(shape)
        ints(strides)
        op(0x89)
        global("collections", "OrderedDict"); op(0x29); op(0x52)
        op(0x74)
        op(0x52)
    }

    /// A dict of `entries`, each written by its closure, then STOP.
    static func stateDict(_ entries: [(String, (inout PickleBytes) -> Void)]) -> [UInt8] {
        var p = PickleBytes()
        p.op(0x7D)
        for (key, write) in entries {
            p.string(key)
            write(&p)
            p.op(0x73)
        }
        p.op(0x2E)
        return p.bytes
    }
}

/// A zip of `records` (path, bytes) in memory, stored or deflated.
func zipArchive(_ records: [(String, [UInt8])], compression: CompressionMethod = .none) throws -> Data {
    let archive = try Archive(accessMode: .create)
    for (path, bytes) in records {
        try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(bytes.count),
                             compressionMethod: compression) { position, size in
            Data(bytes[Int(position)..<Int(position) + size])
        }
    }
    return try XCTUnwrap(archive.data)
}

func littleEndianBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
}

/// Runs `body`, which must throw a `CheckpointError` that `matches` accepts.
func XCTAssertCheckpointError<T>(_ body: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line,
                                 _ matches: (CheckpointError) -> Bool) {
    do {
        _ = try body()
        XCTFail("no error thrown", file: file, line: line)
    } catch let error as CheckpointError {
        XCTAssertTrue(matches(error), "unexpected error: \(error)", file: file, line: line)
    } catch {
        XCTFail("not a CheckpointError: \(error)", file: file, line: line)
    }
}

/// Reads `bytes`, which must fail with a `PickleError` of `kind`.
func XCTAssertPickleError(_ bytes: [UInt8], _ kind: PickleError.Kind, limits: Pickle.Limits = Pickle.Limits(),
                          file: StaticString = #filePath, line: UInt = #line) {
    do {
        let value = try Pickle.load(bytes, limits: limits)
        XCTFail("read \(value) instead of failing", file: file, line: line)
    } catch let error as PickleError {
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
    } catch {
        XCTFail("not a PickleError: \(error)", file: file, line: line)
    }
}
