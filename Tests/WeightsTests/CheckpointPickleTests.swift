import Foundation
import XCTest
@testable import Weights

/// The `Pickle` reader on raw bytes: what Python writes, and each refusal.
final class CheckpointPickleTests: XCTestCase {
    func hex(_ s: String) -> [UInt8] {
        stride(from: 0, to: s.count, by: 2).map {
            let start = s.index(s.startIndex, offsetBy: $0)
            return UInt8(s[start..<s.index(start, offsetBy: 2)], radix: 16) ?? 0
        }
    }

    /// pickle.dumps(OrderedDict(a=1.5, b=-300, c=2**40, d=-2**63, e="é", f=[True, False, None],
    ///              g=(1, 2), h={}), protocol=4) from CPython 3: FRAME, MEMOIZE, STACK_GLOBAL,
    /// BINFLOAT, BININT, LONG1, SHORT_BINUNICODE, APPENDS, SETITEMS.
    func testReadsWhatPythonWrites() throws {
        let bytes = hex("80049578000000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c016194473ff80000000000008c0162944ad4feffff8c0163948a060000000000018c0164948a0800000000000000808c0165948c02c3a9948c0166945d942888894e658c0167944b014b0286948c0168947d94752e")
        let expected = PickleValue.dict([
            .init(key: .string("a"), value: .float(1.5)),
            .init(key: .string("b"), value: .int(-300)),
            .init(key: .string("c"), value: .int(1 << 40)),
            .init(key: .string("d"), value: .int(.min)),
            .init(key: .string("e"), value: .string("é")),
            .init(key: .string("f"), value: .list([.bool(true), .bool(false), .none])),
            .init(key: .string("g"), value: .tuple([.int(1), .int(2)])),
            .init(key: .string("h"), value: .dict([])),
        ])
        XCTAssertEqual(try Pickle.load(bytes), expected)
    }

    func testMemoizedDictIsSeenFilled() throws {
        // d = {}; memo[0] = d; d['k'] = 1; (d, d) — BINGET must see the filled dict.
        let bytes: [UInt8] = [0x80, 2, 0x7D, 0x71, 0, 0x58, 1, 0, 0, 0, 0x6B, 0x4B, 1, 0x73, 0x68, 0, 0x86, 0x2E]
        let d = PickleValue.dict([.init(key: .string("k"), value: .int(1))])
        XCTAssertEqual(try Pickle.load(bytes), .tuple([d, d]))
    }

    func testGlobalOffTheAllowListIsRefused() {
        var p = PickleBytes()
        p.global("builtins", "eval"); p.op(0x2E)
        XCTAssertPickleError(p.bytes, .disallowedGlobal(PickleGlobal("builtins", "eval")))
    }

    func testStackGlobalOffTheAllowListIsRefused() {
        var p = PickleBytes()
        p.string("os"); p.string("system"); p.op(0x93); p.op(0x2E)
        XCTAssertPickleError(p.bytes, .disallowedGlobal(PickleGlobal("os", "system")))
    }

    func testReduceOfANonGlobalIsRefused() {
        var p = PickleBytes()
        p.string("eval"); p.op(0x29); p.op(0x52); p.op(0x2E)
        XCTAssertPickleError(p.bytes, .unexpectedType("REDUCE needs an allowed global"))
    }

    func testOrderedDictWithArgumentsIsRefused() {
        var p = PickleBytes()
        p.global("collections", "OrderedDict"); p.op(0x5D); p.op(0x85); p.op(0x52); p.op(0x2E)
        XCTAssertPickleError(p.bytes, .unsupportedReduce(PickleGlobal("collections", "OrderedDict")))
    }

    func testBuildOtherThanMetadataIsRefused() {
        var p = PickleBytes()
        p.op(0x7D); p.op(0x7D); p.string("__class__"); p.int(1); p.op(0x73); p.op(0x62); p.op(0x2E)
        XCTAssertPickleError(p.bytes, .unsupportedBuild)
    }

    func testBuildOfMetadataIsDropped() throws {
        var p = PickleBytes()
        p.op(0x7D); p.op(0x7D); p.string("_metadata"); p.op(0x7D); p.op(0x73); p.op(0x62); p.op(0x2E)
        XCTAssertEqual(try Pickle.load(p.bytes), .dict([]))
    }

    func testUnknownOpcodeIsRefused() {
        // 'S' (protocol-0 STRING) and 0xFF.
        XCTAssertPickleError([0x80, 2, 0x53, 0x27, 0x61, 0x27, 0x0A, 0x2E], .unknownOpcode(0x53))
        XCTAssertPickleError([0xFF], .unknownOpcode(0xFF))
    }

    func testUnsupportedProtocolIsRefused() {
        XCTAssertPickleError([0x80, 6, 0x4E, 0x2E], .unsupportedProtocol(6))
    }

    func testPickleWithoutStopIsTruncated() {
        XCTAssertPickleError([0x80, 2, 0x4E], .truncated)
        XCTAssertPickleError([], .truncated)
    }

    func testHugeDeclaredStringLengthIsRefusedBeforeAllocating() {
        XCTAssertPickleError([0x80, 2, 0x58, 0xFF, 0xFF, 0xFF, 0xFF, 0x61, 0x2E], .truncated)
        XCTAssertPickleError([0x80, 4, 0x8D, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E], .truncated)
        XCTAssertPickleError([0x80, 4, 0x95, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E], .truncated)
    }

    func testDeeplyNestedTuplesAreRefused() {
        let bytes: [UInt8] = [0x80, 2, 0x29] + [UInt8](repeating: 0x85, count: 100_000) + [0x2E]
        XCTAssertPickleError(bytes, .limitExceeded("nesting depth", limit: 64))
    }

    func testDeeplyNestedListsAreRefused() {
        let bytes: [UInt8] = [0x80, 2] + [UInt8](repeating: 0x5D, count: 1000) + [UInt8](repeating: 0x61, count: 999) + [0x2E]
        XCTAssertPickleError(bytes, .limitExceeded("nesting depth", limit: 64))
    }

    func testManyOpenMarksAreRefused() {
        XCTAssertPickleError([0x80, 2] + [UInt8](repeating: 0x28, count: 100_000), .limitExceeded("open marks", limit: 64))
    }

    func testExponentialSharingIsBounded() {
        // t = (); repeat 40 times: t = (t, t) — 2^40 values once expanded.
        var bytes: [UInt8] = [0x80, 2, 0x29]
        for _ in 0..<40 { bytes += [0x71, 0, 0x68, 0, 0x86] }
        XCTAssertPickleError(bytes + [0x2E], .limitExceeded("number of values", limit: 1 << 20))
    }

    func testStackAndMemoAreBounded() {
        var limits = Pickle.Limits()
        limits.maxStack = 10
        limits.maxMemo = 10
        XCTAssertPickleError([0x80, 2] + [UInt8](repeating: 0x4E, count: 11) + [0x2E], .limitExceeded("stack size", limit: 10),
                             limits: limits)
        var memo: [UInt8] = [0x80, 2, 0x4E]
        for i in 0..<11 { memo += [0x71, UInt8(i)] }
        XCTAssertPickleError(memo + [0x2E], .limitExceeded("memo size", limit: 10), limits: limits)
    }

    func testUnknownMemoIndexIsRefused() {
        XCTAssertPickleError([0x80, 2, 0x68, 5, 0x2E], .unknownMemoIndex(5))
    }

    func testStackUnderflowAndMissingMarkAreRefused() {
        XCTAssertPickleError([0x80, 2, 0x85, 0x2E], .stackUnderflow)
        XCTAssertPickleError([0x80, 2, 0x4E, 0x28, 0x73, 0x2E], .stackUnderflow)
        XCTAssertPickleError([0x80, 2, 0x74, 0x2E], .missingMark)
        XCTAssertPickleError([0x80, 2, 0x2E], .stackUnderflow)
    }

    func testMutatingANestedContainerIsRefused() {
        // l = []; (l,); l.append(1)
        XCTAssertPickleError([0x80, 2, 0x5D, 0x71, 0, 0x85, 0x68, 0, 0x4B, 1, 0x61, 0x2E], .mutatedAfterNesting)
        // l = []; l.append(l)
        XCTAssertPickleError([0x80, 2, 0x5D, 0x71, 0, 0x68, 0, 0x61, 0x2E], .mutatedAfterNesting)
    }

    func testSetItemOnAListIsRefused() {
        XCTAssertPickleError([0x80, 2, 0x5D, 0x4E, 0x4E, 0x73, 0x2E], .unexpectedType("expected a dict to add items to"))
    }

    func testUnhashableDictKeyIsRefused() {
        XCTAssertPickleError([0x80, 2, 0x7D, 0x29, 0x4E, 0x73, 0x2E], .unexpectedType("a dict key must be a plain value"))
    }

    func testInvalidUTF8IsRefused() {
        XCTAssertPickleError([0x80, 4, 0x8C, 1, 0xFF, 0x2E], .invalidUTF8)
    }

    func testLongerThan64BitIntegerIsRefused() {
        XCTAssertPickleError([0x80, 2, 0x8A, 9] + [UInt8](repeating: 1, count: 9) + [0x2E], .integerTooLarge)
    }

    /// Random bytes and random mutations of a real state-dict pickle give a value or a PickleError.
    func testRandomInputsThrowOrLoad() throws {
        let state = PickleBytes.stateDict([
            ("a", { $0.tensor(storage: "0", numel: 4, shape: [2, 2], strides: [2, 1]) }),
            ("b", { $0.tensor(type: "LongStorage", storage: "1", numel: 1, shape: [], strides: []) }),
        ])
        var random = SplitMix64(seed: 1)
        for round in 0..<5000 {
            var bytes = state
            if round % 2 == 0 {
                bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
            } else {
                bytes = (0..<Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            }
            do {
                _ = try Pickle.load(bytes)
            } catch is PickleError {
            }
        }
    }
}
