import Tensors
import XCTest

extension XCTestCase {
    /// Deterministic values in [-1, 1).
    func values(_ count: Int, seed: UInt64) -> [Float] {
        var z = seed
        return (0..<count).map { _ in
            z = z &* 6364136223846793005 &+ 1442695040888963407
            return Float(z >> 40) * 0x1p-23 - 1
        }
    }

    /// A [C][N][H][W] map of deterministic values.
    func map(_ c: Int, _ n: Int, _ h: Int, _ w: Int, seed: UInt64) -> FeatureMap {
        FeatureMap(channels: c, batch: n, height: h, width: w, values: values(c * n * h * w, seed: seed))
    }

    /// Direct convolution in Double, [C][N][H][W] in and out (3x3, stride 1, padding 1 unless told).
    func reference(_ x: FeatureMap, weight: [Float], bias: [Float], out o: Int,
                   kernel k: Int = 3, stride s: Int = 1, padding p: Int = 1) -> [Float] {
        let oh = (x.height + 2 * p - k) / s + 1, ow = (x.width + 2 * p - k) / s + 1
        var y = [Float](repeating: 0, count: o * x.batch * oh * ow)
        for oc in 0..<o { for n in 0..<x.batch { for oy in 0..<oh { for ox in 0..<ow {
            var sum = Double(bias[oc])
            for c in 0..<x.channels { for ky in 0..<k { for kx in 0..<k {
                let iy = oy * s - p + ky, ix = ox * s - p + kx
                guard iy >= 0, iy < x.height, ix >= 0, ix < x.width else { continue }
                sum += Double(weight[((oc * x.channels + c) * k + ky) * k + kx])
                    * Double(x.values[((c * x.batch + n) * x.height + iy) * x.width + ix])
            }}}
            y[((oc * x.batch + n) * oh + oy) * ow + ox] = Float(sum)
        }}}}
        return y
    }

    /// Res2Net's two ways of running `conv` (with ReLU) on channels `slice` of x, into channels
    /// from `at` of `target` and in place, each against the plain convolution of the slice, and
    /// leaving the channels before and around it as they were; `same` compares two arrays.
    func checkSlicedAndInPlace(_ conv: Conv2d, on x: FeatureMap, slice: Range<Int>, target: FeatureMap, at: Int,
                               _ same: ([Float], [Float], UInt) -> Void, line: UInt = #line) {
        let plain = conv(x.channels(slice), relu: true)

        var written = target
        conv(x, channels: slice, into: &written, at: at, relu: true)
        same(written.channels(at..<(at + slice.count)).values, plain.values, line)
        same(written.channels(0..<at).values, target.channels(0..<at).values, line)

        var inPlace = x
        conv.replace(channels: slice, of: &inPlace, relu: true)
        same(inPlace.channels(slice).values, plain.values, line)
        same(inPlace.channels(0..<slice.lowerBound).values, x.channels(0..<slice.lowerBound).values, line)
        same(inPlace.channels(slice.upperBound..<x.channels).values, x.channels(slice.upperBound..<x.channels).values, line)
    }
}
