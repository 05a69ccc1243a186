import XCTest
@testable import Tensors
import TestSupport

/// F(2x2, 3x3) against a direct convolution in Double: every map size the networks use (112,
/// 56, 28, 14, 7) and odd ones whose last tile hangs over the edge, with bias, residual, ReLU,
/// the sliced and in-place forms Res2Net uses, and a folded BatchNorm.
final class WinogradTests: XCTestCase {
    func conv(out o: Int, in c: Int, seed: UInt64) -> (Conv2d, weight: [Float], bias: [Float]) {
        let weight = values(o * c * 9, seed: seed), bias = values(o, seed: seed + 1)
        let conv = Conv2d(weight: Tensor(shape: [o, c, 3, 3], values: weight), bias: Tensor(shape: [o], values: bias),
                          padding: 1)
        return (conv, weight, bias)
    }

    func testMatchesTheDirectConvolutionAtEveryMapSizeAndOddEdges() {
        for (c, n, h, w) in [(8, 2, 56, 56), (16, 2, 28, 28), (24, 3, 14, 14), (32, 4, 7, 7), (5, 1, 112, 112),
                             (3, 2, 5, 9), (4, 1, 1, 1), (4, 2, 2, 3), (6, 1, 9, 4),
                             (4, 3, 200, 12)] {  // last: a narrow map in blocks of tile rows that start mid-frame
            let (conv, weight, bias) = conv(out: 7, in: c, seed: UInt64(h * 100 + w))
            XCTAssertFalse(conv.winogradFilters.isEmpty, "3x3 stride 1 padding 1 should run as Winograd")
            let x = map(c, n, h, w, seed: UInt64(c))
            let expected = reference(x, weight: weight, bias: bias, out: 7)
            let error = relativeError(conv(x).values, expected)
            XCTAssertLessThan(error, 1e-6, "\(c)x\(n)x\(h)x\(w)")
            // The im2col path, for comparison of the two float results.
            XCTAssertLessThan(relativeError(conv.withoutWinograd()(x).values, expected), 1e-6)

            let residual = FeatureMap(channels: 7, batch: n, height: h, width: w, values: values(expected.count, seed: 9))
            let fused = conv(x, relu: true, adding: residual).values
            XCTAssertLessThan(relativeError(fused, zip(expected, residual.values).map { max($0 + $1, 0) }), 1e-6)
            XCTAssertLessThan(relativeError(conv(x, adding: residual).values, zip(expected, residual.values).map(+)), 1e-6)
            XCTAssertLessThan(relativeError(conv(x, relu: true).values, expected.map { max($0, 0) }), 1e-6)
        }
    }

    func testThe16RunsOfARowOfVOrMStartInDifferentCacheSets() {
        // They are read (and written) together; a stride of a multiple of 4 KiB put all 16 in one
        // set of the 8-way L1 (64 sets of 64-byte lines), where they evicted each other.
        for (rows, columns) in [(256, 196), (512, 64), (64, 3136), (104, 196), (26, 128), (7, 3), (1, 1)] {
            let stride = Winograd.pointStride(rows: rows, columns: columns)
            XCTAssertGreaterThanOrEqual(stride, rows * columns)
            XCTAssertLessThanOrEqual(Winograd.matrixFloats(rows: rows, columns: columns),
                                     16 * (rows * columns + 1023))  // under 4 KiB of padding per point
            let sets = Set((0..<16).map { p in p * stride * MemoryLayout<Float>.size / 64 % 64 })
            XCTAssertEqual(sets.count, 16, "\(rows) rows of \(columns) tiles")
        }
    }

    func testTheInputTransformWritesOnlyTheChannelsItIsGiven() {
        // Parts of a small map transform disjoint channels side by side into one V: the vector
        // stores of one part's last tiles must reach neither the next channel's run nor, after
        // the last channel, the padding or the next point's run. 8 channels of 9x25 (130 tiles
        // of 2 frames): point strides with no padding at all.
        for (c, h, w) in [(5, 28, 28), (5, 9, 20), (8, 9, 25), (5, 14, 14), (5, 7, 7)] {
            let n = 2
            let x = map(c, n, h, w, seed: 3)
            let (th, tw) = Winograd.tiles(height: h, width: w)
            let columns = n * th * tw
            let stride = Winograd.pointStride(rows: c, columns: columns)
            for part in [0..<2, 2..<c] {
                var v = [Float](repeating: .nan, count: Winograd.matrixFloats(rows: c, columns: columns))
                x.values.withUnsafeBufferPointer { src in
                    v.withUnsafeMutableBufferPointer { dst in
                        Winograd.transformInput(src.baseAddress!, channels: part, of: c, batch: n, height: h, width: w,
                                                tileRows: 0..<(n * th), into: dst.baseAddress!)
                    }
                }
                let mine = Set((0..<16).flatMap { p in
                    (p * stride + part.lowerBound * columns)..<(p * stride + part.upperBound * columns)
                })
                let written = Set(v.indices.filter { !v[$0].isNaN })
                let shape = "\(c) channels of \(h)x\(w), part \(part)"
                XCTAssertNil(written.subtracting(mine).min(), "\(shape): first float written outside its runs")
                XCTAssertNil(mine.subtracting(written).min(), "\(shape): first float of its runs not written")
            }
        }
    }

    func testTheInverseTransformLeavesWhatItReadsZeroAndTouchesNothingElse() {
        // The GEMMs accumulate onto M from the zeros pool: every float of its channels' runs must
        // be zero again after it (the short last step of a run too: 30 and 100 tiles), while
        // another part's channels and the padding between points stay as they were.
        for (o, h, w) in [(4, 5, 9), (5, 9, 20), (3, 7, 7), (4, 28, 28)] {
            let n = 2
            let (th, tw) = Winograd.tiles(height: h, width: w)
            let columns = n * th * tw
            let stride = Winograd.pointStride(rows: o, columns: columns)
            let before = values(Winograd.matrixFloats(rows: o, columns: columns), seed: 21)
            var m = before
            var y = [Float](repeating: 0, count: o * n * h * w)
            let bias = values(o, seed: 22), part = 1..<3
            m.withUnsafeMutableBufferPointer { mp in
                bias.withUnsafeBufferPointer { bp in
                    y.withUnsafeMutableBufferPointer { yp in
                        Winograd.transformOutput(mp.baseAddress!, channels: part, of: o, batch: n, height: h, width: w,
                                                 tileRows: 0..<(n * th), bias: bp.baseAddress!, into: yp.baseAddress!,
                                                 accumulate: false, relu: true)
                    }
                }
            }
            let read = Set((0..<16).flatMap { p in
                (p * stride + part.lowerBound * columns)..<(p * stride + part.upperBound * columns)
            })
            let shape = "\(o) channels of \(h)x\(w), part \(part)"
            XCTAssertNil(read.sorted().first { m[$0] != 0 }, "\(shape): first float read and not zeroed")
            XCTAssertNil(m.indices.first { !read.contains($0) && m[$0] != before[$0] }, "\(shape): first float changed outside")
        }
    }

    func testSlicedAndInPlaceFormsEqualThePlainOne() {
        let x = map(12, 2, 7, 6, seed: 5)
        let (conv, _, _) = conv(out: 4, in: 4, seed: 6)
        checkSlicedAndInPlace(conv, on: x, slice: 4..<8, target: map(9, 2, 7, 6, seed: 8), at: 5) {
            XCTAssertEqual($0, $1, line: $2)
        }
    }

    func testAFoldedBatchNormReachesTheWinogradFilters() {
        var (_, weight, bias) = conv(out: 5, in: 6, seed: 11)
        let scale = values(5, seed: 12), shift = values(5, seed: 13)
        // running_var = 1 - eps, mean 0: the fold's scale is the BN weight itself.
        let conv = Conv2d(weight: Tensor(shape: [5, 6, 3, 3], values: weight), bias: Tensor(shape: [5], values: bias),
                          batchNorm: BatchNorm(weight: Tensor(shape: [5], values: scale), bias: Tensor(shape: [5], values: shift),
                                               runningMean: Tensor(zeros: [5]),
                                               runningVar: Tensor(shape: [5], values: [Float](repeating: 1 - 1e-5, count: 5))),
                          padding: 1)
        XCTAssertFalse(conv.winogradFilters.isEmpty)
        for o in 0..<5 {
            for j in 0..<(6 * 9) { weight[o * 54 + j] *= scale[o] }
            bias[o] = bias[o] * scale[o] + shift[o]
        }
        let x = map(6, 2, 10, 10, seed: 14)
        XCTAssertLessThan(relativeError(conv(x).values, reference(x, weight: weight, bias: bias, out: 5)), 1e-6)
    }

    func testOtherShapesDoNotUseWinograd() {
        for (k, s, p) in [(3, 2, 1), (1, 1, 0), (7, 2, 3), (3, 1, 0)] {
            let conv = Conv2d(weight: Tensor(zeros: [2, 2, k, k]), stride: s, padding: p)
            XCTAssertTrue(conv.winogradFilters.isEmpty, "k\(k) s\(s) p\(p)")
        }
    }
}
