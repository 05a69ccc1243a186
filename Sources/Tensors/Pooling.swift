/// Pooling over every (channel, frame) plane of a [C][N][H][W] map.
public enum Pool {
    /// MaxPool2d(kernel, stride, padding): padding never wins the max.
    public static func max(_ x: FeatureMap, kernel: Int, stride: Int, padding: Int) -> FeatureMap {
        let oh = (x.height + 2 * padding - kernel) / stride + 1
        let ow = (x.width + 2 * padding - kernel) / stride + 1
        var y = FeatureMap(channels: x.channels, batch: x.batch, height: oh, width: ow)
        let (h, w) = (x.height, x.width)
        // Output columns whose window lies wholly inside the row (none when the kernel is wider
        // than the row and its right padding: the division below must not round up from -1).
        let first = (padding + stride - 1) / stride
        let lastStart = w + padding - kernel
        let interior = lastStart < 0 ? first..<first : first..<Swift.max(first, Swift.min(ow, lastStart / stride + 1))
        x.values.withUnsafeBufferPointer { src in
            y.values.withUnsafeMutableBufferPointer { out in
                Parallel.forEach(x.channels * x.batch) { planes in
                    // The window's maximum down each column (whole rows at once), then across.
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: w) { buffer in
                        let columnMax = buffer.baseAddress!
                        for p in planes {
                            let plane = src.baseAddress! + p * h * w
                            let dst = out.baseAddress! + p * oh * ow
                            for oy in 0..<oh {
                                let (y0, y1) = clip(oy * stride - padding, kernel, h)
                                guard y0 < y1 else {  // a window of padding only
                                    (dst + oy * ow).update(repeating: -.infinity, count: ow)
                                    continue
                                }
                                columnMax.update(from: plane + y0 * w, count: w)
                                for yy in (y0 + 1)..<y1 {
                                    let row = plane + yy * w
                                    for i in 0..<w { columnMax[i] = Swift.max(columnMax[i], row[i]) }
                                }
                                let line = dst + oy * ow
                                for ox in 0..<ow where !interior.contains(ox) {
                                    let (x0, x1) = clip(ox * stride - padding, kernel, w)
                                    var m = -Float.infinity
                                    for xx in x0..<x1 { m = Swift.max(m, columnMax[xx]) }
                                    line[ox] = m
                                }
                                // Windows inside the row need no clipping: a plain strided loop.
                                for ox in interior {
                                    let window = columnMax + (ox * stride - padding)
                                    var m = window[0]
                                    for j in 1..<kernel { m = Swift.max(m, window[j]) }
                                    line[ox] = m
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// AvgPool2d(kernel, stride, padding, ceil_mode, count_include_pad).
    ///
    /// Res2Net uses two kinds: 3x3 pad 1 counting padding (stage blocks) and
    /// kernel = stride with ceil_mode and padding not counted (downsample paths).
    public static func average(_ x: FeatureMap, kernel: Int, stride: Int, padding: Int = 0,
                               ceilMode: Bool = false, countIncludePad: Bool = true) -> FeatureMap {
        let size = averageOutputSize(height: x.height, width: x.width, kernel: kernel, stride: stride,
                                     padding: padding, ceilMode: ceilMode)
        var y = FeatureMap(channels: x.channels, batch: x.batch, height: size.height, width: size.width)
        average(x, channels: 0..<x.channels, into: &y, at: 0, kernel: kernel, stride: stride, padding: padding,
                ceilMode: ceilMode, countIncludePad: countIncludePad)
        return y
    }

    /// Average-pools channels `input` of x into channels `at..<at+input.count` of y (sized for
    /// the output): Res2Net's untouched split joins the branch outputs without a concatenation.
    public static func average(_ x: FeatureMap, channels input: Range<Int>, into y: inout FeatureMap, at first: Int,
                               kernel: Int, stride: Int, padding: Int = 0,
                               ceilMode: Bool = false, countIncludePad: Bool = true) {
        let (oh, ow) = averageOutputSize(height: x.height, width: x.width, kernel: kernel, stride: stride,
                                         padding: padding, ceilMode: ceilMode)
        precondition(input.upperBound <= x.channels && y.batch == x.batch && y.height == oh && y.width == ow
                     && first + input.count <= y.channels, "pooled channels do not fit the target map")
        let (h, w, batch) = (x.height, x.width, x.batch)
        x.values.withUnsafeBufferPointer { src in
            y.values.withUnsafeMutableBufferPointer { out in
                Parallel.forEach(input.count * batch) { planes in
                    // The window's sum down each column (whole rows at once), then across.
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: w) { buffer in
                        let columnSum = buffer.baseAddress!
                        for p in planes {
                            let plane = src.baseAddress! + (input.lowerBound * batch + p) * h * w
                            let dst = out.baseAddress! + (first * batch + p) * oh * ow
                            for oy in 0..<oh {
                                let ys = oy * stride - padding
                                let (y0, y1) = clip(ys, kernel, h)
                                // PyTorch counts padding up to the padded edge, never past it.
                                let paddedRows = Swift.min(ys + kernel, h + padding) - ys
                                columnSum.update(repeating: 0, count: w)
                                for yy in y0..<y1 {
                                    let row = plane + yy * w
                                    for i in 0..<w { columnSum[i] += row[i] }
                                }
                                for ox in 0..<ow {
                                    let xs = ox * stride - padding
                                    let (x0, x1) = clip(xs, kernel, w)
                                    var s: Float = 0
                                    for xx in x0..<x1 { s += columnSum[xx] }
                                    let divisor = countIncludePad
                                        ? paddedRows * (Swift.min(xs + kernel, w + padding) - xs)
                                        : (y1 - y0) * (x1 - x0)
                                    dst[oy * ow + ox] = s / Float(divisor)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// AvgPool2d's output size; with ceil_mode the last window must start inside the input
    /// or its left padding (as PyTorch).
    public static func averageOutputSize(height: Int, width: Int, kernel: Int, stride: Int, padding: Int,
                                         ceilMode: Bool) -> (height: Int, width: Int) {
        func outSize(_ n: Int) -> Int {
            let span = n + 2 * padding - kernel
            var o = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
            if ceilMode && (o - 1) * stride >= n + padding { o -= 1 }
            return o
        }
        return (outSize(height), outSize(width))
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

    /// The window [start, start+kernel) clipped to [0, size).
    @inline(__always)
    private static func clip(_ start: Int, _ kernel: Int, _ size: Int) -> (Int, Int) {
        (Swift.max(start, 0), Swift.min(start + kernel, size))
    }
}
