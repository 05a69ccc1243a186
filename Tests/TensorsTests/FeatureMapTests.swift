import Tensors
import XCTest

/// [C][N][H][W] layout: conversion from PyTorch's NCHW and moving frames along the batch.
final class FeatureMapTests: XCTestCase {
    /// Value = 1000·n + 100·c + i, so any misplaced element shows which frame/channel it came from.
    func nchw(batch: Int, channels: Int, plane: Int, frameOffset: Int = 0) -> [Float] {
        (0..<batch).flatMap { n in (0..<channels).flatMap { c in (0..<plane).map { Float(1000 * (n + frameOffset) + 100 * c + $0) } } }
    }

    func testNCHWRoundTrip() {
        let values = nchw(batch: 3, channels: 2, plane: 4)
        let map = FeatureMap(nchw: values, batch: 3, channels: 2, height: 2, width: 2)
        XCTAssertEqual(Array(map.values.prefix(8)), [0, 1, 2, 3, 1000, 1001, 1002, 1003], "channel 0 of frames 0 and 1")
        XCTAssertEqual(map.nchw(), values)
    }

    func testSelectingFramesKeepsOrderAndRepeats() {
        let map = FeatureMap(nchw: nchw(batch: 4, channels: 2, plane: 1), batch: 4, channels: 2, height: 1, width: 1)
        let picked = map.selectingBatch([3, 1, 1])
        XCTAssertEqual(picked.batch, 3)
        XCTAssertEqual(picked.nchw(), [3000, 3100, 1000, 1100, 1000, 1100])
    }

    func testJoiningBatchesAppendsFrames() {
        let a = FeatureMap(nchw: nchw(batch: 2, channels: 2, plane: 1), batch: 2, channels: 2, height: 1, width: 1)
        let b = FeatureMap(nchw: nchw(batch: 1, channels: 2, plane: 1, frameOffset: 2), batch: 1, channels: 2, height: 1, width: 1)
        let joined = FeatureMap.joiningBatches([a, b])
        XCTAssertEqual(joined.batch, 3)
        XCTAssertEqual(joined.nchw(), nchw(batch: 3, channels: 2, plane: 1))
    }
}
