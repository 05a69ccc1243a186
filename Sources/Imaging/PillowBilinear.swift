/// Pillow's `Image.resize(..., BILINEAR)` for 8-bit images (libImaging's two-pass fixed-point
/// resampler), reimplemented so that every output byte is the one Pillow produces.
///
/// Each output pixel depends only on its own row and column coefficients, so any window of the
/// resized image can be computed alone, bit-identical to cutting it out of the full resize.
enum PillowBilinear {
    /// Fixed-point fraction bits of the coefficients: 32 bits, less 8 for the pixel, less 2 spare.
    static let precisionBits: Int32 = 32 - 8 - 2

    /// The taps of one axis for the output indices of `window`: output `i` sums
    /// `count[i]` inputs starting at `first[i]`, with `weights[i * ksize ..< i * ksize + count[i]]`.
    struct Axis {
        let first: [Int]
        let count: [Int]
        let ksize: Int
        let weights: [Int32]

        init(inSize: Int, outSize: Int, window: Range<Int>) {
            // Pillow passes the box as floats, so the scale is computed from Float(inSize).
            let scale = Double(Float(inSize)) / Double(outSize)
            // The triangle's support widens with the reduction factor (antialiasing).
            let filterScale = max(scale, 1.0)
            let support = 1.0 * filterScale
            let inverseScale = 1.0 / filterScale
            let ksize = Int(support.rounded(.up)) * 2 + 1
            var first = [Int](), count = [Int]()
            var weights = [Int32](repeating: 0, count: window.count * ksize)
            var taps = [Double](repeating: 0, count: ksize)
            for (slot, index) in window.enumerated() {
                let center = (Double(index) + 0.5) * scale
                let lower = max(Int(center - support + 0.5), 0)
                let upper = min(Int(center + support + 0.5), inSize)
                let n = max(upper - lower, 0)
                var total = 0.0
                for tap in 0..<n {
                    let w = triangle((Double(tap + lower) - center + 0.5) * inverseScale)
                    taps[tap] = w
                    total += w
                }
                for tap in 0..<n {
                    let k = total != 0 ? taps[tap] / total : taps[tap]
                    weights[slot * ksize + tap] = fixedPoint(k)
                }
                first.append(lower)
                count.append(n)
            }
            self.first = first
            self.count = count
            self.ksize = ksize
            self.weights = weights
        }

        /// The input indices the taps read, first to last.
        var inputRange: Range<Int> {
            first[0] ..< first[first.count - 1] + count[count.count - 1]
        }
    }

    static func triangle(_ x: Double) -> Double {
        let x = abs(x)
        return x < 1.0 ? 1.0 - x : 0.0
    }

    /// Rounds half away from zero, truncating like C's (int) cast.
    static func fixedPoint(_ k: Double) -> Int32 {
        let scaled = k * Double(Int32(1) << precisionBits)
        return Int32(k < 0 ? scaled - 0.5 : scaled + 0.5)
    }

    @inline(__always)
    static func clip8(_ sum: Int32) -> UInt8 {
        let v = sum >> precisionBits
        return v < 0 ? 0 : v > 255 ? 255 : UInt8(truncatingIfNeeded: v)
    }

    /// The window `columns` x `rows` of `image` resized to `width` x `height`.
    /// Like Pillow: horizontal pass first (only over the input rows the vertical pass reads),
    /// then vertical, each rounded to 8 bits; a pass is skipped when its dimension is unchanged.
    static func resize(_ image: RGBImage, width: Int, height: Int,
                       columns: Range<Int>, rows: Range<Int>) -> RGBImage {
        precondition(width > 0 && height > 0 && image.width > 0 && image.height > 0
                     && columns.lowerBound >= 0 && columns.upperBound <= width
                     && rows.lowerBound >= 0 && rows.upperBound <= height && !rows.isEmpty && !columns.isEmpty,
                     "resize window must lie inside the output")
        let vertical = height != image.height ? Axis(inSize: image.height, outSize: height, window: rows) : nil
        // Input rows read by the vertical pass, or the window's own rows when there is none.
        let inputRows = vertical?.inputRange ?? rows
        let horizontal: RGBImage
        if width != image.width {
            let axis = Axis(inSize: image.width, outSize: width, window: columns)
            horizontal = resampleRows(image, rows: inputRows, axis: axis)
        } else {
            horizontal = crop(image, columns: columns, rows: inputRows)
        }
        guard let vertical else { return horizontal }
        return resampleColumns(horizontal, firstRow: inputRows.lowerBound, axis: vertical)
    }

    /// Horizontal pass over the input rows `rows`.
    static func resampleRows(_ image: RGBImage, rows: Range<Int>, axis: Axis) -> RGBImage {
        let outWidth = axis.first.count
        let half = Int32(1) << (precisionBits - 1)
        let pixels = [UInt8](unsafeUninitializedCapacity: outWidth * rows.count * 3) { out, count in
            image.pixels.withUnsafeBufferPointer { src in
                axis.weights.withUnsafeBufferPointer { weights in
                    for (row, y) in rows.enumerated() {
                        let line = src.baseAddress! + y * image.width * 3
                        let dst = out.baseAddress! + row * outWidth * 3
                        for x in 0..<outWidth {
                            let k = weights.baseAddress! + x * axis.ksize
                            var p = line + axis.first[x] * 3
                            var r = half, g = half, b = half
                            for tap in 0..<axis.count[x] {
                                let w = k[tap]
                                r &+= Int32(p[0]) &* w
                                g &+= Int32(p[1]) &* w
                                b &+= Int32(p[2]) &* w
                                p += 3
                            }
                            dst[x * 3] = clip8(r)
                            dst[x * 3 + 1] = clip8(g)
                            dst[x * 3 + 2] = clip8(b)
                        }
                    }
                }
            }
            count = out.count
        }
        return RGBImage(width: outWidth, height: rows.count, pixels: pixels)
    }

    /// Vertical pass; row 0 of `image` is input row `firstRow` of the axis.
    /// The same taps apply to every byte of a row, so channels need no distinction here.
    static func resampleColumns(_ image: RGBImage, firstRow: Int, axis: Axis) -> RGBImage {
        let stride = image.width * 3
        let outHeight = axis.first.count
        let half = Int32(1) << (precisionBits - 1)
        var sums = [Int32](repeating: 0, count: stride)
        let pixels = [UInt8](unsafeUninitializedCapacity: stride * outHeight) { out, count in
            image.pixels.withUnsafeBufferPointer { src in
                sums.withUnsafeMutableBufferPointer { sums in
                    for y in 0..<outHeight {
                        for i in 0..<stride { sums[i] = half }
                        for tap in 0..<axis.count[y] {
                            let w = axis.weights[y * axis.ksize + tap]
                            let line = src.baseAddress! + (axis.first[y] - firstRow + tap) * stride
                            for i in 0..<stride { sums[i] &+= Int32(line[i]) &* w }
                        }
                        let dst = out.baseAddress! + y * stride
                        for i in 0..<stride { dst[i] = clip8(sums[i]) }
                    }
                }
            }
            count = out.count
        }
        return RGBImage(width: image.width, height: outHeight, pixels: pixels)
    }

    /// Copies a window, with black where it falls outside the image (torchvision pads with 0).
    static func crop(_ image: RGBImage, columns: Range<Int>, rows: Range<Int>) -> RGBImage {
        let width = columns.count
        var pixels = [UInt8](repeating: 0, count: width * rows.count * 3)
        let inside = columns.clamped(to: 0 ..< image.width)
        guard !inside.isEmpty else { return RGBImage(width: width, height: rows.count, pixels: pixels) }
        for (row, y) in rows.enumerated() where (0 ..< image.height).contains(y) {
            let from = (y * image.width + inside.lowerBound) * 3
            let to = (row * width + inside.lowerBound - columns.lowerBound) * 3
            pixels.replaceSubrange(to ..< to + inside.count * 3, with: image.pixels[from ..< from + inside.count * 3])
        }
        return RGBImage(width: width, height: rows.count, pixels: pixels)
    }
}
