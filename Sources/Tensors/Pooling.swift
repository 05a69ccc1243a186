/// Pooling over every (channel, frame) plane of a [C][N][H][W] map.
public enum Pool {
    /// MaxPool2d(kernel, stride, padding): padding never wins the max.
    public static func max(_ x: FeatureMap, kernel: Int, stride: Int, padding: Int) -> FeatureMap {
        let oh = (x.height + 2 * padding - kernel) / stride + 1
        let ow = (x.width + 2 * padding - kernel) / stride + 1
        return window(x, outHeight: oh, outWidth: ow, kernel: kernel, stride: stride, padding: padding) { plane, y0, y1, x0, x1, w, _ in
            var m = -Float.infinity
            for yy in y0..<y1 { for xx in x0..<x1 { m = Swift.max(m, plane[yy * w + xx]) } }
            return m
        }
    }

    /// AvgPool2d(kernel, stride, padding, ceil_mode, count_include_pad).
    ///
    /// Res2Net uses two kinds: 3x3 pad 1 counting padding (stage blocks) and
    /// kernel = stride with ceil_mode and padding not counted (downsample paths).
    public static func average(_ x: FeatureMap, kernel: Int, stride: Int, padding: Int = 0,
                               ceilMode: Bool = false, countIncludePad: Bool = true) -> FeatureMap {
        func outSize(_ n: Int) -> Int {
            let span = n + 2 * padding - kernel
            var o = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
            // PyTorch: the last window must start inside the input or left padding.
            if ceilMode && (o - 1) * stride >= n + padding { o -= 1 }
            return o
        }
        let oh = outSize(x.height), ow = outSize(x.width)
        return window(x, outHeight: oh, outWidth: ow, kernel: kernel, stride: stride, padding: padding) { plane, y0, y1, x0, x1, w, window in
            var s: Float = 0
            for yy in y0..<y1 { for xx in x0..<x1 { s += plane[yy * w + xx] } }
            let divisor = countIncludePad ? window : (y1 - y0) * (x1 - x0)
            return s / Float(divisor)
        }
    }

    /// AdaptiveAvgPool2d(1): the mean of each plane, as [N][C] rows (ready for a Linear).
    public static func globalAverage(_ x: FeatureMap) -> [Float] {
        let plane = x.planeSize
        var out = [Float](repeating: 0, count: x.batch * x.channels)
        x.values.withUnsafeBufferPointer { v in
            for c in 0..<x.channels {
                for n in 0..<x.batch {
                    let p = v.baseAddress! + (c * x.batch + n) * plane
                    var s: Float = 0
                    for i in 0..<plane { s += p[i] }
                    out[n * x.channels + c] = s / Float(plane)
                }
            }
        }
        return out
    }

    /// Runs `reduce` over each output window. It gets the plane, the window clipped to the
    /// input ([y0, y1) x [x0, x1)), the plane width, and the window's size with padding
    /// (clipped to input + padding, as PyTorch counts it for count_include_pad).
    private static func window(
        _ x: FeatureMap, outHeight oh: Int, outWidth ow: Int, kernel: Int, stride: Int, padding: Int,
        _ reduce: (UnsafePointer<Float>, Int, Int, Int, Int, Int, Int) -> Float
    ) -> FeatureMap {
        var y = FeatureMap(channels: x.channels, batch: x.batch, height: oh, width: ow)
        let (h, w) = (x.height, x.width)
        y.values.withUnsafeMutableBufferPointer { out in
            x.values.withUnsafeBufferPointer { src in
                for p in 0..<(x.channels * x.batch) {
                    let plane = src.baseAddress! + p * h * w
                    let dst = out.baseAddress! + p * oh * ow
                    for oy in 0..<oh {
                        let ys = oy * stride - padding
                        let ye = Swift.min(ys + kernel, h + padding)
                        let (y0, y1) = (Swift.max(ys, 0), Swift.min(ye, h))
                        for ox in 0..<ow {
                            let xs = ox * stride - padding
                            let xe = Swift.min(xs + kernel, w + padding)
                            let (x0, x1) = (Swift.max(xs, 0), Swift.min(xe, w))
                            dst[oy * ow + ox] = reduce(plane, y0, y1, x0, x1, w, (ye - ys) * (xe - xs))
                        }
                    }
                }
            }
        }
        return y
    }
}
