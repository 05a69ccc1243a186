import Tensors
import XCTest

/// The Tensors kernels the backbones add, against direct loops: padding wider than the input,
/// strides, the sliced and in-place convolutions Res2Net uses, and both kinds of its pooling.
final class BackboneKernelTests: XCTestCase {
    func assertClose(_ a: [Float], _ b: [Float], line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, line: line)
        for (u, v) in zip(a, b) where abs(u - v) > 1e-5 * max(1, abs(v)) {
            return XCTFail("\(u) != \(v)", line: line)
        }
    }

    func testConvolutionMatchesDirectLoopsIncludingPaddingWiderThanTheInput() {
        // The last two: strided rows wide enough for the vectorized stride-2 gather.
        for (h, w, k, s, p) in [(7, 5, 3, 1, 1), (9, 8, 3, 2, 1), (2, 3, 7, 2, 3), (6, 6, 1, 2, 0), (5, 5, 1, 1, 0),
                                (6, 41, 3, 2, 1), (7, 44, 7, 2, 3)] {
            let x = map(3, 2, h, w, seed: 1)
            let weight = values(4 * 3 * k * k, seed: 2), bias = values(4, seed: 3)
            let conv = Conv2d(weight: Tensor(shape: [4, 3, k, k], values: weight), bias: Tensor(shape: [4], values: bias),
                              stride: s, padding: p)
            assertClose(conv(x).values, reference(x, weight: weight, bias: bias, out: 4, kernel: k, stride: s, padding: p))
            let expected = reference(x, weight: weight, bias: bias, out: 4, kernel: k, stride: s, padding: p)
            let residual = FeatureMap(channels: 4, batch: 2, height: (h + 2 * p - k) / s + 1, width: (w + 2 * p - k) / s + 1,
                                      values: values(expected.count, seed: 4))
            let held = residual.values
            assertClose(conv(x, relu: true, adding: residual).values, zip(expected, held).map { max($0 + $1, 0) })
            assertClose(conv(x, adding: residual).values, zip(expected, held).map(+))
            // The output is written over the residual's storage only when nothing else holds it:
            // a residual still held here must come back unchanged.
            XCTAssertEqual(residual.values, held)
        }
    }

    func testSlicedAndInPlaceConvolutionsEqualThePlainOne() {
        // 32 channels on 60x60: the im2col path (WinogradTests covers the same on Winograd's).
        let x = map(96, 2, 60, 60, seed: 5)
        let conv = Conv2d(weight: Tensor(shape: [32, 32, 3, 3], values: values(32 * 32 * 9, seed: 6)),
                          bias: Tensor(shape: [32], values: values(32, seed: 7)), padding: 1)
        checkSlicedAndInPlace(conv, on: x, slice: 32..<64, target: map(80, 2, 60, 60, seed: 8), at: 40) { a, b, line in
            self.assertClose(a, b, line: line)
        }
    }

    func testMaxPoolingMatchesDirectLoops() {
        // The ResNet stem's 3x3 stride 2 padding 1, on even and odd sizes, and a 2x2 stride 1;
        // windows clipped at both edges, maps with no window wholly inside a row, and rows wide
        // enough for the interior's vectorized loop.
        for (h, w, k, s, p) in [(8, 8, 3, 2, 1), (7, 9, 3, 2, 1), (5, 4, 2, 1, 0), (1, 3, 3, 2, 1),
                                (6, 7, 3, 1, 1), (4, 5, 5, 3, 2), (3, 2, 3, 2, 1), (9, 9, 2, 2, 0),
                                (5, 40, 3, 2, 1), (4, 45, 3, 2, 1)] {
            let x = map(3, 2, h, w, seed: 10)
            let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1)
            var expected: [Float] = []
            for plane in 0..<6 { for oy in 0..<oh { for ox in 0..<ow {
                var m = -Float.infinity
                for ky in 0..<k { for kx in 0..<k {
                    let (iy, ix) = (oy * s - p + ky, ox * s - p + kx)
                    if iy >= 0 && iy < h && ix >= 0 && ix < w { m = max(m, x.values[(plane * h + iy) * w + ix]) }
                }}
                expected.append(m)
            }}}
            XCTAssertEqual(Pool.max(x, kernel: k, stride: s, padding: p).values, expected, "\(h)x\(w) kernel \(k)")
        }
    }

    func testAveragePoolingMatchesDirectLoops() {
        // Res2Net's two kinds (3x3 padding 1 counting padding, strides 1 and 2; kernel = stride
        // with ceil mode, padding not counted) on even and odd sizes, a padded window not counted,
        // and rows wide enough for the interior's vectorized loops.
        for (h, w, k, s, p, ceil, counted) in [(8, 8, 3, 1, 1, false, true), (7, 9, 3, 2, 1, false, true),
                                               (8, 6, 2, 2, 0, true, false), (7, 5, 2, 2, 0, true, false),
                                               (5, 7, 3, 3, 0, true, false), (6, 5, 3, 2, 1, true, false), (1, 1, 3, 1, 1, false, true),
                                               (4, 40, 2, 2, 0, true, false), (3, 37, 2, 2, 0, true, false),
                                               (5, 38, 3, 1, 1, false, true), (5, 41, 3, 2, 1, false, true)] {
            let x = map(3, 2, h, w, seed: 12)
            let (oh, ow) = Pool.averageOutputSize(height: h, width: w, kernel: k, stride: s, padding: p, ceilMode: ceil)
            var expected: [Float] = []
            for plane in 0..<6 { for oy in 0..<oh { for ox in 0..<ow {
                var (sum, covered): (Double, Int) = (0, 0)
                for ky in 0..<k { for kx in 0..<k {
                    let (iy, ix) = (oy * s - p + ky, ox * s - p + kx)
                    if iy >= 0 && iy < h && ix >= 0 && ix < w { sum += Double(x.values[(plane * h + iy) * w + ix]); covered += 1 }
                }}
                let (ys, xs) = (oy * s - p, ox * s - p)
                let padded = (min(ys + k, h + p) - ys) * (min(xs + k, w + p) - xs)
                expected.append(Float(sum / Double(counted ? padded : covered)))
            }}}
            assertClose(Pool.average(x, kernel: k, stride: s, padding: p, ceilMode: ceil, countIncludePad: counted).values,
                        expected)
        }
    }

    func testRes2NetPoolings() {
        // 3x3 stride 2 padding 1 counting padding: a corner window divides by 9.
        let x = map(2, 2, 5, 5, seed: 9)
        let pooled = Pool.average(x, kernel: 3, stride: 2, padding: 1)
        XCTAssertEqual([pooled.height, pooled.width], [3, 3])
        let v = x.values
        XCTAssertEqual(pooled.values[0], (v[0] + v[1] + v[5] + v[6]) / 9, accuracy: 1e-6)
        // Into a slice of a larger map, the same numbers.
        var target = FeatureMap(channels: 3, batch: 2, height: 3, width: 3)
        Pool.average(x, channels: 1..<2, into: &target, at: 2, kernel: 3, stride: 2, padding: 1)
        assertClose(target.channels(2..<3).values, pooled.channels(1..<2).values)
        // 2x2 stride 2, ceil mode, padding not counted: an odd edge averages what it covers.
        let odd = map(1, 1, 3, 3, seed: 10)
        let down = Pool.average(odd, kernel: 2, stride: 2, ceilMode: true, countIncludePad: false)
        XCTAssertEqual([down.height, down.width], [2, 2])
        XCTAssertEqual(down.values[3], odd.values[8], accuracy: 1e-6)
        XCTAssertEqual(down.values[1], (odd.values[2] + odd.values[5]) / 2, accuracy: 1e-6)
    }

    func testAddingChannelsInPlace() {
        var x = map(3, 2, 2, 2, seed: 11)
        let before = x
        x.add(channels: 0..<1, to: 2)
        assertClose(x.channels(2..<3).values, zip(before.channels(0..<1).values, before.channels(2..<3).values).map(+))
        assertClose(x.channels(0..<2).values, before.channels(0..<2).values)
    }
}
