/// Pooling over every (channel, frame) plane of a [C][N][H][W] map.
public enum Pool {
    /// MaxPool2d(kernel, stride, padding): padding never wins the max.
    public static func max(_ x: FeatureMap, kernel: Int, stride: Int, padding: Int) -> FeatureMap {
        let oh = (x.height + 2 * padding - kernel) / stride + 1
        let ow = (x.width + 2 * padding - kernel) / stride + 1
        var y = FeatureMap(channels: x.channels, batch: x.batch, height: oh, width: ow)
        let (h, w) = (x.height, x.width)
        x.values.withUnsafeBufferPointer { src in
            y.values.withUnsafeMutableBufferPointer { out in
                Parallel.forEach(x.channels * x.batch) { planes in
                    windowRows(src.baseAddress! + planes.lowerBound * h * w, planes: planes.count, height: h, width: w,
                               into: out.baseAddress! + planes.lowerBound * oh * ow, outHeight: oh, outWidth: ow,
                               kernel: kernel, stride: stride, padding: padding, empty: -.infinity, fold: Swift.max) {
                        columnMax, _, _, line in
                        func clipped(_ ox: Int) {
                            let (x0, x1) = clip(ox * stride - padding, kernel, w)
                            var m = -Float.infinity
                            for xx in x0..<x1 { m = Swift.max(m, columnMax[xx]) }
                            line[ox] = m
                        }
                        let inside = interior(outWidth: ow, kernel: kernel, stride: stride, padding: padding, width: w)
                        for ox in 0..<inside.lowerBound { clipped(ox) }
                        if kernel == 3 && stride == 2 {
                            // The stem's pooling, with constant offsets so that the loop vectorizes.
                            let c = columnMax - padding
                            for ox in inside { line[ox] = Swift.max(Swift.max(c[2 * ox], c[2 * ox + 1]), c[2 * ox + 2]) }
                        } else {
                            for ox in inside { clipped(ox) }
                        }
                        for ox in inside.upperBound..<ow { clipped(ox) }
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
                    windowRows(src.baseAddress! + (input.lowerBound * batch + planes.lowerBound) * h * w,
                               planes: planes.count, height: h, width: w,
                               into: out.baseAddress! + (first * batch + planes.lowerBound) * oh * ow, outHeight: oh,
                               outWidth: ow, kernel: kernel, stride: stride, padding: padding, empty: 0, fold: +) {
                        columnSum, ys, rows, line in
                        // PyTorch counts padding up to the padded edge, never past it.
                        let paddedRows = Swift.min(ys + kernel, h + padding) - ys
                        func clipped(_ ox: Int) {
                            let xs = ox * stride - padding
                            let (x0, x1) = clip(xs, kernel, w)
                            var s: Float = 0
                            for xx in x0..<x1 { s += columnSum[xx] }
                            let divisor = countIncludePad
                                ? paddedRows * (Swift.min(xs + kernel, w + padding) - xs)
                                : rows * (x1 - x0)
                            line[ox] = s / Float(divisor)
                        }
                        let inside = interior(outWidth: ow, kernel: kernel, stride: stride, padding: padding, width: w)
                        for ox in 0..<inside.lowerBound { clipped(ox) }
                        // Windows wholly inside the row: one divisor, and for Res2Net's kinds
                        // constant offsets so that the loop vectorizes (the same sums in the same order).
                        let divisor = Float((countIncludePad ? paddedRows : rows) * kernel)
                        let c = columnSum - padding
                        switch (kernel, stride) {
                        case (2, 2): for ox in inside { line[ox] = (c[2 * ox] + c[2 * ox + 1]) / divisor }
                        case (3, 1): for ox in inside { line[ox] = (c[ox] + c[ox + 1] + c[ox + 2]) / divisor }
                        case (3, 2): for ox in inside { line[ox] = (c[2 * ox] + c[2 * ox + 1] + c[2 * ox + 2]) / divisor }
                        default: for ox in inside { clipped(ox) }
                        }
                        for ox in inside.upperBound..<ow { clipped(ox) }
                    }
                }
            }
        }
    }

    /// Both poolings, window rows first: for every output row of `planes` consecutive planes,
    /// the input rows its windows cover are folded column by column into one row (whole rows at
    /// once; `empty` where they cover padding only), then `across(row, first window row incl.
    /// padding, input rows covered, output line)` reduces that row window by window.
    @inline(__always)
    private static func windowRows(_ src: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int,
                                   into dst: UnsafeMutablePointer<Float>, outHeight oh: Int, outWidth ow: Int,
                                   kernel: Int, stride: Int, padding: Int, empty: Float,
                                   fold: (Float, Float) -> Float,
                                   across: (UnsafePointer<Float>, Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: w) { buffer in
            let column = buffer.baseAddress!
            for p in 0..<planes {
                let plane = src + p * h * w
                for oy in 0..<oh {
                    let ys = oy * stride - padding
                    let (y0, y1) = clip(ys, kernel, h)
                    if y0 < y1 {
                        column.update(from: plane + y0 * w, count: w)
                    } else {
                        column.update(repeating: empty, count: w)
                    }
                    for yy in Swift.min(y0 + 1, y1)..<y1 {
                        let row = plane + yy * w
                        for i in 0..<w { column[i] = fold(column[i], row[i]) }
                    }
                    across(column, ys, y1 - y0, dst + (p * oh + oy) * ow)
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

    /// The outputs whose windows lie wholly inside a row of `width` (no padding, no clipping).
    @inline(__always)
    private static func interior(outWidth ow: Int, kernel: Int, stride: Int, padding: Int, width: Int) -> Range<Int> {
        let first = Swift.min(ow, (padding + stride - 1) / stride)
        let lastStart = width - kernel + padding  // the last window start (plus padding) inside the row
        return first..<(lastStart < 0 ? first : Swift.max(first, Swift.min(ow, lastStart / stride + 1)))
    }

    /// The window [start, start+kernel) clipped to [0, size).
    @inline(__always)
    private static func clip(_ start: Int, _ kernel: Int, _ size: Int) -> (Int, Int) {
        (Swift.max(start, 0), Swift.min(start + kernel, size))
    }
}
