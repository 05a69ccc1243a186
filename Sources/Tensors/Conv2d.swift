/// A 2-D convolution (or Conv1d with k = 1, as a 1x1 convolution) with its BatchNorm folded in.
///
/// The weights are kept as the GEMM's left operand [O, C·kh·kw]; BatchNorm becomes a per-output
/// scale on the weights and a bias, so inference is one GEMM accumulating onto the bias (or onto
/// the residual, in place), then one pass over the output for the ReLU (and the bias, when the
/// GEMM accumulated onto the residual).
public struct Conv2d: Sendable {
    public let outChannels: Int
    public let inChannels: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let stride: Int
    public let padding: Int
    /// [O, C·kh·kw], row-major.
    public private(set) var weight: [Float]
    /// [O]
    public private(set) var bias: [Float]
    /// The filters transformed for F(2x2, 3x3) ([16][O][C]) when this is a 3x3, stride-1,
    /// padding-1 convolution, else empty.
    private(set) var winogradFilters: [Float] = []

    /// `weight` is [O, C, kh, kw], [O, C, k] (Conv1d) or [O, C] (treated as 1x1); an eval-mode
    /// `batchNorm` that follows the convolution is folded in before the Winograd filters are made.
    public init(weight: Tensor, bias: Tensor? = nil, batchNorm: BatchNorm? = nil, stride: Int = 1, padding: Int = 0) {
        let s = weight.shape
        precondition(s.count >= 2 && s.count <= 4, "conv weight must be rank 2...4, got \(s)")
        outChannels = s[0]
        inChannels = s[1]
        kernelHeight = s.count == 4 ? s[2] : 1
        kernelWidth = s.count == 4 ? s[3] : (s.count == 3 ? s[2] : 1)
        precondition(s.count != 3 || s[2] == 1, "only Conv1d with kernel 1 is supported")
        self.stride = stride
        self.padding = padding
        self.weight = weight.values
        if let bias {
            precondition(bias.count == outChannels, "conv bias has \(bias.count) values for \(outChannels) outputs")
            self.bias = bias.values
        } else {
            self.bias = [Float](repeating: 0, count: outChannels)
        }
        if let batchNorm { fold(batchNorm: batchNorm) }
        // Once, after folding: the transform is a sizeable part of the cold start.
        prepareWinograd()
    }

    private mutating func prepareWinograd() {
        guard Winograd.applies(kernel: kernelHeight, stride: stride, padding: padding), kernelWidth == 3 else { return }
        winogradFilters = Winograd.transformFilters(weight, count: outChannels * inChannels)
    }

    /// This convolution without the Winograd path (always im2col + GEMM): the reference in tests
    /// and benchmarks.
    public func withoutWinograd() -> Conv2d {
        var plain = self
        plain.winogradFilters = []
        return plain
    }

    /// Folds an eval-mode BatchNorm that follows this convolution:
    /// y = gamma·(conv(x) + b − mean)/sqrt(var + eps) + beta.
    private mutating func fold(batchNorm bn: BatchNorm) {
        precondition(bn.channels == outChannels, "BatchNorm has \(bn.channels) channels, conv has \(outChannels)")
        let k = inChannels * kernelHeight * kernelWidth
        weight.withUnsafeMutableBufferPointer { w in
            for o in 0..<outChannels {
                let scale = bn.scale[o]
                let row = w.baseAddress! + o * k
                for j in 0..<k { row[j] *= scale }
            }
        }
        for o in 0..<outChannels { bias[o] = bias[o] * bn.scale[o] + bn.shift[o] }
    }

    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        ((height + 2 * padding - kernelHeight) / stride + 1, (width + 2 * padding - kernelWidth) / stride + 1)
    }

    /// Multiply-accumulates of one call on `batch` frames of `height`x`width` (for GFLOP/s figures).
    public func multiplyAccumulates(height: Int, width: Int, batch: Int = 1) -> Int {
        let (oh, ow) = outputSize(height: height, width: width)
        return outChannels * inChannels * kernelHeight * kernelWidth * oh * ow * batch
    }

    /// conv(x) + bias, then ReLU if asked. x: [C][N][H][W] -> [O][N][H'][W'].
    public func callAsFunction(_ x: FeatureMap, relu: Bool = false) -> FeatureMap {
        precondition(x.channels == inChannels, "conv expects \(inChannels) channels, got \(x.channels)")
        let (oh, ow) = outputSize(height: x.height, width: x.width)
        let count = outChannels * x.batch * oh * ow
        // `run` writes every output element, so the buffer starts uninitialized.
        let values = [Float](unsafeUninitializedCapacity: count) { dst, initialized in
            x.values.withUnsafeBufferPointer { src in
                run(src.baseAddress!, batch: x.batch, height: x.height, width: x.width, into: dst.baseAddress!,
                    relu: relu, accumulate: false)
            }
            initialized = count
        }
        return FeatureMap(channels: outChannels, batch: x.batch, height: oh, width: ow, values: values)
    }

    /// conv(x) + bias + residual, then ReLU if asked, written over the residual: the GEMM
    /// accumulates onto it (beta = 1), so the shortcut is not copied into a fresh output first.
    /// Pass a residual nothing else holds (`consume`), or it is copied here.
    public func callAsFunction(_ x: FeatureMap, relu: Bool = false, adding residual: consuming FeatureMap) -> FeatureMap {
        precondition(x.channels == inChannels, "conv expects \(inChannels) channels, got \(x.channels)")
        let (oh, ow) = outputSize(height: x.height, width: x.width)
        precondition(residual.channels == outChannels && residual.batch == x.batch && residual.height == oh
                     && residual.width == ow, "residual shape differs from conv output")
        var y = residual
        x.values.withUnsafeBufferPointer { src in
            y.values.withUnsafeMutableBufferPointer { dst in
                run(src.baseAddress!, batch: x.batch, height: x.height, width: x.width, into: dst.baseAddress!,
                    relu: relu, accumulate: true)
            }
        }
        return y
    }

    /// Convolves channels `input` of x and writes the result to channels `at..<at+O` of y
    /// (same batch, y sized for the output): Res2Net's branches fill one preallocated map.
    public func callAsFunction(_ x: FeatureMap, channels input: Range<Int>, into y: inout FeatureMap, at first: Int, relu: Bool) {
        precondition(input.count == inChannels && input.upperBound <= x.channels, "conv expects \(inChannels) input channels")
        let (oh, ow) = outputSize(height: x.height, width: x.width)
        precondition(y.batch == x.batch && y.height == oh && y.width == ow && first + outChannels <= y.channels,
                     "conv output does not fit the target map")
        let outColumns = y.columns
        x.values.withUnsafeBufferPointer { src in
            y.values.withUnsafeMutableBufferPointer { dst in
                run(src.baseAddress! + input.lowerBound * x.columns, batch: x.batch, height: x.height, width: x.width,
                    into: dst.baseAddress! + first * outColumns, relu: relu, accumulate: false)
            }
        }
    }

    /// Replaces channels `range` of x by conv(those channels): for a size-preserving convolution
    /// with as many outputs as inputs. The input is unfolded before the output is written.
    public func replace(channels range: Range<Int>, of x: inout FeatureMap, relu: Bool) {
        precondition(range.count == inChannels && inChannels == outChannels && range.upperBound <= x.channels,
                     "in-place conv needs \(inChannels) channels in and out")
        precondition(outputSize(height: x.height, width: x.width) == (x.height, x.width), "in-place conv must keep the size")
        let (batch, height, width, columns) = (x.batch, x.height, x.width, x.columns)
        x.values.withUnsafeMutableBufferPointer { v in
            let slice = v.baseAddress! + range.lowerBound * columns
            run(slice, batch: batch, height: height, width: width, into: slice, relu: relu, accumulate: false,
                forceUnfold: true)
        }
    }

    /// The kernel: GEMM weights [O, K] x columns [K, N·H'·W'] accumulates (beta = 1) onto an
    /// output that starts as the bias, or that already holds the residual (`accumulate`, the
    /// bias then added with the ReLU pass); 3x3 stride-1 convolutions run as F(2x2, 3x3)
    /// instead (`Winograd`). `input` holds C channel rows of N·H·W; `output` O rows of N·H'·W',
    /// written in full. When `forceUnfold`, output may alias the input: it is unfolded (or, for
    /// Winograd, transformed or copied) in full before any output is written.
    func run(_ input: UnsafePointer<Float>, batch: Int, height: Int, width: Int,
             into output: UnsafeMutablePointer<Float>, relu: Bool, accumulate: Bool,
             forceUnfold: Bool = false) {
        BLAS.count(multiplyAccumulates: multiplyAccumulates(height: height, width: width, batch: batch))
        // 3x3 stride 1 runs as Winograd F(2x2, 3x3): on every such shape of the networks it beats
        // im2col + GEMM at 1 and 2 threads (1.1-2x; docs/performance.md). `withoutWinograd()`
        // gives the plain path, for tests and benchmarks.
        if !winogradFilters.isEmpty {
            return runWinograd(input, batch: batch, height: height, width: width, into: output, relu: relu,
                               accumulate: accumulate, aliased: forceUnfold)
        }
        let (oh, ow) = outputSize(height: height, width: width)
        let n = batch * oh * ow
        let k = inChannels * kernelHeight * kernelWidth
        let direct = kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0 && !forceUnfold
        if n > outChannels && !direct && !forceUnfold {
            // Wide maps (early layers): each part unfolds and multiplies its own output rows, a
            // block at a time, so no part waits for another and the columns stay in the core's
            // cache. Measured on the stems (4 frames, best of 8 interleaved runs): blocks of about
            // 512 KiB of columns ran 1.2-1.5x faster than unfolding each part whole (29 MB per
            // part at 2 threads, 58 MB at 1), at 1 and 2 threads. A block keeps about as many
            // columns as filters or more: the GEMM packs the filters again for every block, which
            // must not cost more than packing the columns.
            let block = Swift.max((1 << 17) / (k * ow), (outChannels + ow - 1) / ow)
            Parallel.forEachBlock(batch * oh, atMost: block, scratchFloats: { $0 * k * ow }) { outputRows, columns in
                let (first, count) = (outputRows.lowerBound * ow, outputRows.count * ow)
                im2col(input, channels: 0..<inChannels, outputRows: outputRows, batch: batch, height: height,
                       width: width, outHeight: oh, outWidth: ow, into: columns, rowLength: count)
                multiply(columns, ldb: count, filters: 0..<outChannels, columns: first, count: count,
                         into: output, ldc: n, relu: relu, accumulate: accumulate)
            }
            return
        }
        Scratch.with(count: direct ? 0 : k * n) { columns in
            if !direct {
                Parallel.forEach(inChannels) { channels in
                    im2col(input, channels: channels, outputRows: 0..<(batch * oh), batch: batch, height: height,
                           width: width, outHeight: oh, outWidth: ow, into: columns, rowLength: n)
                }
            }
            let b = direct ? input : UnsafePointer(columns)
            // Parts split the filters when the columns are the cheaper operand for each part to
            // pack again (deep layers), else the columns (early layers: few filters, wide maps).
            let byRows = n <= outChannels
            Parallel.forEach(byRows ? outChannels : n, granule: 16) { part in
                let (rows, cols) = byRows ? (part, 0..<n) : (0..<outChannels, part)
                multiply(b + cols.lowerBound, ldb: n, filters: rows, columns: cols.lowerBound, count: cols.count,
                         into: output, ldc: n, relu: relu, accumulate: accumulate)
            }
        }
    }

    /// One GEMM and its epilogue: output rows `filters`, columns `first..<first+count` (rows
    /// `ldc` long) = bias (+ what they hold, when `accumulate`) + weight[filters] × b, then ReLU
    /// if asked. b holds K rows of `count` columns, `ldb` apart.
    private func multiply(_ b: UnsafePointer<Float>, ldb: Int, filters rows: Range<Int>, columns first: Int,
                          count: Int, into output: UnsafeMutablePointer<Float>, ldc n: Int, relu: Bool,
                          accumulate: Bool) {
        let k = inChannels * kernelHeight * kernelWidth
        let c = output + rows.lowerBound * n + first
        bias.withUnsafeBufferPointer { bias in
            if !accumulate {
                for (r, o) in rows.enumerated() { (c + r * n).update(repeating: bias[o], count: count) }
            }
            weight.withUnsafeBufferPointer { w in
                BLAS.sgemm(m: rows.count, n: count, k: k, a: w.baseAddress! + rows.lowerBound * k, lda: k,
                           b: b, ldb: ldb, beta: 1, c: c, ldc: n)
            }
            guard accumulate || relu else { return }
            for (r, o) in rows.enumerated() {
                let (row, bo) = (c + r * n, accumulate ? bias[o] : 0)
                if relu {
                    for i in 0..<count { row[i] = max(row[i] + bo, 0) }
                } else {
                    for i in 0..<count { row[i] += bo }
                }
            }
        }
    }

    /// F(2x2, 3x3). When `aliased`, output may overlap input.
    func runWinograd(_ input: UnsafePointer<Float>, batch: Int, height: Int, width: Int,
                     into output: UnsafeMutablePointer<Float>, relu: Bool, accumulate: Bool, aliased: Bool = false) {
        let (th, tw) = Winograd.tiles(height: height, width: width)
        let (points, tileRows) = (Winograd.points, batch * th)
        guard tileRows * tw >= 2 * Winograd.blockTiles * Parallel.width else {
            // Small maps (fewer than 2·blockTiles tiles per part: with 4 frames at 2 threads, 14x14
            // and 7x7): too few tiles to share out, so the parts split the channels,
            // then the points, then the outputs, each phase over all tiles. The input is
            // transformed in full before any output is written, so output may alias input.
            let tiles = tileRows * tw
            return Scratch.with(count: Winograd.matrixFloats(rows: inChannels, columns: tiles)) { v in
                Scratch.withZeros(count: Winograd.matrixFloats(rows: outChannels, columns: tiles)) { m in
                    Parallel.forEach(inChannels) { channels in
                        Winograd.transformInput(input, channels: channels, of: inChannels, batch: batch, height: height,
                                                width: width, tileRows: 0..<tileRows, into: v)
                    }
                    winogradFilters.withUnsafeBufferPointer { u in
                        Parallel.forEach(points) { points in
                            Winograd.multiply(filters: u.baseAddress!, points: points, outChannels: outChannels,
                                              inChannels: inChannels, input: v, columns: tiles, into: m)
                        }
                    }
                    bias.withUnsafeBufferPointer { bias in
                        Parallel.forEach(outChannels) { rows in
                            Winograd.transformOutput(m, channels: rows, of: outChannels, batch: batch, height: height,
                                                     width: width, tileRows: 0..<tileRows, bias: bias.baseAddress!,
                                                     into: output, accumulate: accumulate, relu: relu)
                        }
                    }
                }
            }
        }
        if aliased {
            // Blocks write their outputs while later blocks still read the input: read a copy.
            let count = inChannels * batch * height * width
            return Scratch.with(count: count) { copy in
                copy.update(from: input, count: count)
                runWinograd(copy, batch: batch, height: height, width: width, into: output, relu: relu, accumulate: accumulate)
            }
        }
        // Large maps (with 4 frames at 2 threads, 56x56 and 28x28): each part runs the whole
        // convolution on its own tile rows, a block at a time (transform, 16 GEMMs, inverse
        // transform), the blocks sized so that their V and M stay in cache instead of streaming
        // through memory between the phases.
        let perTileRow = points * (inChannels + outChannels) * tw
        let block = Swift.max(Winograd.cacheFloats / perTileRow, (Winograd.blockTiles + tw - 1) / tw)
        winogradFilters.withUnsafeBufferPointer { u in
            bias.withUnsafeBufferPointer { bias in
                Parallel.forEachBlock(tileRows, atMost: block, scratchFloats: {
                    Winograd.matrixFloats(rows: inChannels, columns: $0 * tw)
                }) { rows, v in
                    let tiles = rows.count * tw
                    Scratch.withZeros(count: Winograd.matrixFloats(rows: outChannels, columns: tiles)) { m in
                        Winograd.transformInput(input, channels: 0..<inChannels, of: inChannels, batch: batch,
                                                height: height, width: width, tileRows: rows, into: v)
                        Winograd.multiply(filters: u.baseAddress!, points: 0..<points, outChannels: outChannels,
                                          inChannels: inChannels, input: v, columns: tiles, into: m)
                        Winograd.transformOutput(m, channels: 0..<outChannels, of: outChannels, batch: batch,
                                                 height: height, width: width, tileRows: rows, bias: bias.baseAddress!,
                                                 into: output, accumulate: accumulate, relu: relu)
                    }
                }
            }
        }
    }

    /// Unfolds input `channels` at output rows `outputRows` (frame-major over N·H') into their
    /// rows of the GEMM's right operand [C·kh·kw, rows·W'], `rowLength` apart, writing every
    /// element (zeros where the window reads padding).
    private func im2col(_ src: UnsafePointer<Float>, channels: Range<Int>, outputRows: Range<Int>, batch: Int,
                        height h: Int, width w: Int, outHeight oh: Int, outWidth ow: Int,
                        into dst: UnsafeMutablePointer<Float>, rowLength: Int) {
        let (s, p, kh, kw) = (stride, padding, kernelHeight, kernelWidth)
        for c in channels {
            for ky in 0..<kh {
                for kx in 0..<kw {
                    // Output columns [ox0, ox1) read inside the row; the rest read padding.
                    let ox0 = min(ow, max(0, (p - kx + s - 1) / s))
                    let last = w - 1 + p - kx
                    let ox1 = last < 0 ? ox0 : max(ox0, min(ow, last / s + 1))
                    let rowBase = dst + ((c * kh + ky) * kw + kx) * rowLength
                    for (j, outputRow) in outputRows.enumerated() {
                        let (b, oy) = outputRow.quotientAndRemainder(dividingBy: oh)
                        let plane = src + (c * batch + b) * h * w
                        let iy = oy * s - p + ky
                        let out = rowBase + j * ow
                        if iy < 0 || iy >= h {
                            out.update(repeating: 0, count: ow)
                            continue
                        }
                        out.update(repeating: 0, count: ox0)
                        let line = plane + iy * w + (ox0 * s - p + kx)
                        if s == 1 {
                            (out + ox0).update(from: line, count: ox1 - ox0)
                        } else if s == 2 {
                            // Every strided convolution of the networks: a constant stride lets
                            // the gather vectorize.
                            let row = out + ox0
                            for i in 0..<(ox1 - ox0) { row[i] = line[2 &* i] }
                        } else {
                            // Wrapping arithmetic: the bounds are already clipped, and the
                            // checks kept this gather scalar.
                            let row = out + ox0
                            for i in 0..<(ox1 - ox0) { row[i] = line[i &* s] }
                        }
                        (out + ox1).update(repeating: 0, count: ow - ox1)
                    }
                }
            }
        }
    }
}

/// An eval-mode BatchNorm reduced to y = scale·x + shift (also used for BatchNorm1d).
public struct BatchNorm: Sendable {
    public let scale: [Float]
    public let shift: [Float]
    public var channels: Int { scale.count }

    public init(weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor, eps: Float = 1e-5) {
        let c = weight.count
        precondition(bias.count == c && runningMean.count == c && runningVar.count == c, "BatchNorm parameter sizes differ")
        var scale = [Float](repeating: 0, count: c)
        var shift = [Float](repeating: 0, count: c)
        for i in 0..<c {
            scale[i] = weight.values[i] / (runningVar.values[i] + eps).squareRoot()
            shift[i] = bias.values[i] - runningMean.values[i] * scale[i]
        }
        self.scale = scale
        self.shift = shift
    }
}
