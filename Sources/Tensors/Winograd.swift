/// Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional
/// Neural Networks", 2016) for 3x3 convolutions with stride 1 and padding 1.
///
/// Each 2x2 output tile is Aᵀ[U ⊙ V]A with U = G g Gᵀ (the filter, transformed once at load) and
/// V = Bᵀ d B (the 4x4 input tile around it): 16 multiplications instead of 36. Summed over input
/// channels, the element-wise products become 16 GEMMs, one per transform point p:
/// U_p [O, C] × V_p [C, tiles] = M_p [O, tiles], with the tiles of every frame as columns.
/// The transforms only add, subtract and halve, so the result stays within float rounding of
/// the direct convolution (see WinogradTests).
enum Winograd {
    static let points = 16

    /// Whether `conv` can run as F(2x2, 3x3).
    static func applies(kernel: Int, stride: Int, padding: Int) -> Bool {
        kernel == 3 && stride == 1 && padding == 1
    }

    /// A block of tiles for one GEMM per point: about this many columns or more (blocks of a part
    /// are equal, so some may fall a little short), so the GEMMs stay efficient (measured, 4
    /// frames at 2 threads: blocks cut to 16-32 columns ran 1.5-4x slower).
    static let blockTiles = 128
    /// Floats of V and M together that one block should not exceed unless `blockTiles` requires:
    /// 1 MiB, twice a Zen 3 core's L2, well within its L3 share (the filters U, repacked per
    /// block, come on top). Measured on 26-64 channels at 56x56 and 52 at 28x28, 4 frames at 2
    /// threads, best of 8 interleaved runs: 1.2-1.5x faster than streaming whole maps, and
    /// faster than 256 KiB or 4 MiB blocks.
    static let cacheFloats = 1 << 18


    /// U = G g Gᵀ for every (o, c) of weights [O, C·9], as 16 row-major [O, C] matrices.
    /// G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].
    static func transformFilters(_ weight: [Float], count: Int) -> [Float] {
        var u = [Float](repeating: 0, count: points * count)
        weight.withUnsafeBufferPointer { w in
            u.withUnsafeMutableBufferPointer { out in
                for f in 0..<count {
                    let g = w.baseAddress! + f * 9
                    // t = G g (4x3) as three columns, in registers (no array per filter:
                    // load time); then U = t Gᵀ (4x4), row by row.
                    func g4(_ g0: Float, _ g1: Float, _ g2: Float) -> SIMD4<Float> {
                        SIMD4(g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2)
                    }
                    let (c0, c1, c2) = (g4(g[0], g[3], g[6]), g4(g[1], g[4], g[7]), g4(g[2], g[5], g[8]))
                    for i in 0..<4 {
                        let row = g4(c0[i], c1[i], c2[i])
                        for j in 0..<4 { out[(4 * i + j) * count + f] = row[j] }
                    }
                }
            }
        }
        return u
    }

    /// Floats from one transform point's matrix to the next in V and M ([16][rows][columns]):
    /// rows·columns rounded up to 16 past a multiple of 1024, so that the 16 runs of one row, read
    /// or written together, start in 16 different cache sets. With strides of a multiple of 4 KiB
    /// (256 channels of 14x14 tiles, 512 of 7x7, 64 of 56x56) they all fell in one set and evicted
    /// each other: measured alone, the inverse transform ran 1.4-3.2x and the input transform
    /// 1.6-1.7x slower on those shapes.
    static func pointStride(rows: Int, columns: Int) -> Int {
        (rows * columns + 1023 - 16) / 1024 * 1024 + 16
    }

    /// Floats of V or M: 16 points of `rows` x `columns`, with the padding `pointStride` adds.
    static func matrixFloats(rows: Int, columns: Int) -> Int { points * pointStride(rows: rows, columns: columns) }

    /// Tiles per frame of an h x w map.
    static func tiles(height h: Int, width w: Int) -> (rows: Int, columns: Int) { ((h + 1) / 2, (w + 1) / 2) }

    /// V_p[c][tile] = (Bᵀ d B)_p for every 4x4 tile d of every channel and frame of x ([C][N][H][W]),
    /// the map zero-padded by 1 (and to even size). Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]].
    /// Only input `channels` (of `count`) and `tileRows` (of the batch·th tile rows of every frame)
    /// are transformed, so parts can run side by side; V's columns are those rows' tiles.
    static func transformInput(_ x: UnsafePointer<Float>, channels: Range<Int>, of count: Int, batch: Int,
                               height h: Int, width w: Int, tileRows: Range<Int>, into v: UnsafeMutablePointer<Float>) {
        let (th, tw) = tiles(height: h, width: w)
        if w <= shortRowsWidth {
            return transformShortRows(x, channels: channels, of: count, batch: batch, height: h, width: w,
                                      tileRows: tileRows, into: v)
        }
        let columns = tileRows.count * tw
        let pointStride = Self.pointStride(rows: count, columns: columns)
        // The padded row: one zero column left, one or two right, and 16 more that the last
        // step's loads may read (lanes past the row's tiles are never stored).
        let pw = 2 * tw + 2 + 16
        // Bᵀ d B as two passes, each running along whole rows: Bᵀ down every 4-row strip (all
        // columns at once; rows outside the map read a zero row), then B across, 8 tiles a step
        // from the even and odd columns, writing each point's tiles as one contiguous run. The
        // same additions in the same order as tile by tile, so the same bits.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * pw + w) { buffer in
            let strip = buffer.baseAddress!, zero = strip + 4 * pw
            // Only columns 1...w of the strip are ever written: the padding columns stay zero.
            buffer.initialize(repeating: 0)
            for c in channels {
                for tileRow in tileRows {
                    let (n, ty) = tileRow.quotientAndRemainder(dividingBy: th)
                    let plane = x + (c * batch + n) * h * w
                    let base = v + c * columns + (tileRow - tileRows.lowerBound) * tw
                    func row(_ i: Int) -> UnsafePointer<Float> {
                        let y = 2 * ty - 1 + i
                        return y >= 0 && y < h ? plane + y * w : UnsafePointer(zero)
                    }
                    let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3))
                    let (t0, t1, t2, t3) = (strip + 1, strip + pw + 1, strip + 2 * pw + 1, strip + 3 * pw + 1)
                    for i in 0..<w {
                        let (d0, d1, d2, d3) = (r0[i], r1[i], r2[i], r3[i])
                        t0[i] = d0 - d2
                        t1[i] = d1 + d2
                        t2[i] = d2 - d1
                        t3[i] = d1 - d3
                    }
                    for k in 0..<4 {
                        let row = strip + k * pw
                        let p0 = base + 4 * k * pointStride
                        let (p1, p2, p3) = (p0 + pointStride, p0 + 2 * pointStride, p0 + 3 * pointStride)
                        for tx in stride(from: 0, to: tw, by: 8) {
                            // Columns 2tx... (t) and 2tx + 2... (u): e0, o0 and e1, o1 of 8 tiles.
                            let t = UnsafeRawPointer(row + 2 * tx).loadUnaligned(as: SIMD16<Float>.self)
                            let u = UnsafeRawPointer(row + 2 * tx + 2).loadUnaligned(as: SIMD16<Float>.self)
                            let (e0, o0, e1, o1) = (t.evenHalf, t.oddHalf, u.evenHalf, u.oddHalf)
                            // Lanes past the row's tiles spill into the next tile rows' run, or
                            // the next channel's, both written after; past the last channel's
                            // they would hit another point's run, or another part's channels.
                            let spills = (tileRows.upperBound - tileRow) * tw - tx >= 8 || c + 1 < channels.upperBound
                            let lanes = spills ? 8 : tw - tx
                            store(e0 - e1, at: p0 + tx, lanes: lanes)
                            store(o0 + e1, at: p1 + tx, lanes: lanes)
                            store(e1 - o0, at: p2 + tx, lanes: lanes)
                            store(o0 - o1, at: p3 + tx, lanes: lanes)
                        }
                    }
                }
            }
        }
    }

    /// Maps at most this wide (14x14 and 7x7): rows of 7 or 4 tiles are too short for the loops of
    /// `transformInput` to vectorize, so a whole row of tiles is done at once in SIMD registers.
    static let shortRowsWidth = 16

    /// `transformInput` for w <= 16: each plane copied into a zero-padded buffer (so loads never
    /// leave it), then per tile row Bᵀ down the four rows as SIMD16, and B across from the even and
    /// odd columns as SIMD8, one tile per lane. The same operations on the same values, so the
    /// same bits.
    private static func transformShortRows(_ x: UnsafePointer<Float>, channels: Range<Int>, of count: Int,
                                           batch: Int, height h: Int, width w: Int, tileRows: Range<Int>,
                                           into v: UnsafeMutablePointer<Float>) {
        let (th, tw) = tiles(height: h, width: w)
        let columns = tileRows.count * tw
        let pointStride = Self.pointStride(rows: count, columns: columns)
        let stride = 24  // floats per padded row: SIMD16 loads from columns 0 and 2
        // Plane row y at padded row y + 1, column i at padded column i + 1; the rest stays zero.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: (2 * th + 2) * stride) { buffer in
            let padded = buffer.baseAddress!
            buffer.initialize(repeating: 0)
            for c in channels {
                var plane = -1
                for tileRow in tileRows {
                    let (n, ty) = tileRow.quotientAndRemainder(dividingBy: th)
                    if n != plane {
                        plane = n
                        let source = x + (c * batch + n) * h * w
                        for y in 0..<h { (padded + (y + 1) * stride + 1).update(from: source + y * w, count: w) }
                    }
                    let rows = UnsafeRawPointer(padded + 2 * ty * stride)
                    func load(_ row: Int, _ column: Int) -> SIMD16<Float> {
                        rows.loadUnaligned(fromByteOffset: (row * stride + column) * 4, as: SIMD16<Float>.self)
                    }
                    // Bᵀ down, at padded columns 0..<16 (t) and 2..<18 (u).
                    let (d0, d1, d2, d3) = (load(0, 0), load(1, 0), load(2, 0), load(3, 0))
                    let (e0, e1, e2, e3) = (load(0, 2), load(1, 2), load(2, 2), load(3, 2))
                    let base = v + c * columns + (tileRow - tileRows.lowerBound) * tw
                    // Lanes past tw spill into the next tile rows' run, written after, where the
                    // channel's run goes on for all 8 lanes; beyond it they would hit another run.
                    let lanes = (tileRows.upperBound - tileRow) * tw >= 8 ? 8 : tw
                    // B across strip k: t at columns 2tx, 2tx + 1 (even, odd), u at 2tx + 2, 2tx + 3.
                    func across(_ k: Int, _ t: SIMD16<Float>, _ u: SIMD16<Float>) {
                        let (even, odd, even1, odd1) = (t.evenHalf, t.oddHalf, u.evenHalf, u.oddHalf)
                        let p = base + 4 * k * pointStride
                        store(even - even1, at: p, lanes: lanes)
                        store(odd + even1, at: p + pointStride, lanes: lanes)
                        store(even1 - odd, at: p + 2 * pointStride, lanes: lanes)
                        store(odd - odd1, at: p + 3 * pointStride, lanes: lanes)
                    }
                    across(0, d0 - d2, e0 - e2)
                    across(1, d1 + d2, e1 + e2)
                    across(2, d2 - d1, e2 - e1)
                    across(3, d1 - d3, e1 - e3)
                }
            }
        }
    }

    /// y = Aᵀ M A + bias for every tile (added to what y holds when `accumulate`: the residual),
    /// then ReLU if asked, cropping the padded last row and column: m holds M_p [O, tiles] for
    /// the 16 points; y is [O][N][H][W]. Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]. What is read of m
    /// is left zero for the next GEMMs to accumulate onto.
    /// Only output `channels` (of `count`) and `tileRows` (m's columns) are written, so parts can
    /// run side by side.
    static func transformOutput(_ m: UnsafeMutablePointer<Float>, channels: Range<Int>, of count: Int, batch: Int,
                                height h: Int, width w: Int, tileRows: Range<Int>, bias: UnsafePointer<Float>,
                                into y: UnsafeMutablePointer<Float>, accumulate: Bool, relu: Bool) {
        let (th, tw) = tiles(height: h, width: w)
        let columns = tileRows.count * tw
        let pointStride = Self.pointStride(rows: count, columns: columns)
        // Per channel, two passes. First Aᵀ M A of all the channel's tiles at once, 8 tiles a
        // step (each point's tiles are one contiguous run, so whole rows of tiles never have to
        // be short loops), zeroing M as it is read, into the four outputs of every tile (+ bias,
        // and the ReLU when nothing is added after). Then each tile row's outputs interleaved
        // into its two output rows. The same additions in the same order as tile by tile.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * columns) { buffer in
            let (y00, y01) = (buffer.baseAddress!, buffer.baseAddress! + columns)
            let (y10, y11) = (y01 + columns, y01 + 2 * columns)
            let rectifyNow = relu && !accumulate
            for o in channels {
                let b = bias[o]
                let channel = m + o * columns
                // Tiles t..<t+lanes (lanes <= 8: the last step may be short).
                func step(_ t: Int, _ lanes: Int) {
                    func load(_ p: Int) -> SIMD8<Float> {
                        let run = channel + p * pointStride + t
                        var v = SIMD8<Float>()
                        if lanes == 8 {
                            v = UnsafeRawPointer(run).loadUnaligned(as: SIMD8<Float>.self)
                            UnsafeMutableRawPointer(run).storeBytes(of: SIMD8<Float>(), as: SIMD8<Float>.self)
                        } else {
                            for lane in 0..<lanes { v[lane] = run[lane]; run[lane] = 0 }
                        }
                        return v
                    }
                    // Aᵀ down the 4x4 M (point 4i + j at row i, column j): s0_j, s1_j; then A across.
                    let (m0, m1, m2, m3) = (load(0), load(1), load(2), load(3))
                    let (m4, m5, m6, m7) = (load(4), load(5), load(6), load(7))
                    let (m8, m9, m10, m11) = (load(8), load(9), load(10), load(11))
                    let (m12, m13, m14, m15) = (load(12), load(13), load(14), load(15))
                    let (a0, a1, a2, a3) = (m0 + m4 + m8, m1 + m5 + m9, m2 + m6 + m10, m3 + m7 + m11)
                    let (c0, c1, c2, c3) = (m4 - m8 - m12, m5 - m9 - m13, m6 - m10 - m14, m7 - m11 - m15)
                    let bv = SIMD8<Float>(repeating: b)
                    func put(_ v: SIMD8<Float>, _ output: UnsafeMutablePointer<Float>) {
                        var v = v
                        if rectifyNow { v.replace(with: 0, where: v .<= 0) }  // as max(x, 0)
                        store(v, at: output + t, lanes: lanes)
                    }
                    put(a0 + a1 + a2 + bv, y00)
                    put(a1 - a2 - a3 + bv, y01)
                    put(c0 + c1 + c2 + bv, y10)
                    put(c1 - c2 - c3 + bv, y11)
                }
                var t = 0
                while t + 8 <= columns { step(t, 8); t += 8 }
                if t < columns { step(t, columns - t) }
                for (r, tileRow) in tileRows.enumerated() {
                    let (n, ty) = tileRow.quotientAndRemainder(dividingBy: th)
                    let plane = y + (o * batch + n) * h * w
                    for half in 0..<2 where 2 * ty + half < h {
                        let (even, odd) = half == 0 ? (y00 + r * tw, y01 + r * tw) : (y10 + r * tw, y11 + r * tw)
                        let out = plane + (2 * ty + half) * w
                        let pairs = w / 2
                        switch (accumulate, relu) {  // one loop per case: no branch inside
                        case (false, _):
                            for i in 0..<pairs { out[2 * i] = even[i]; out[2 * i + 1] = odd[i] }
                            if w & 1 == 1 { out[w - 1] = even[pairs] }
                        case (true, false):
                            for i in 0..<pairs { out[2 * i] += even[i]; out[2 * i + 1] += odd[i] }
                            if w & 1 == 1 { out[w - 1] += even[pairs] }
                        case (true, true):
                            for i in 0..<pairs {
                                out[2 * i] = max(out[2 * i] + even[i], 0)
                                out[2 * i + 1] = max(out[2 * i + 1] + odd[i], 0)
                            }
                            if w & 1 == 1 { out[w - 1] = max(out[w - 1] + even[pairs], 0) }
                        }
                    }
                }
            }
        }
    }

    /// Stores the first `lanes` of `values` at p, all 8 in one store when `lanes` is 8 (which the
    /// transforms also pass when the lanes past their run land where a later store overwrites them).
    @inline(__always)
    private static func store(_ values: SIMD8<Float>, at p: UnsafeMutablePointer<Float>, lanes: Int) {
        if lanes == 8 {
            UnsafeMutableRawPointer(p).storeBytes(of: values, as: SIMD8<Float>.self)
        } else {
            for lane in 0..<lanes { p[lane] = values[lane] }
        }
    }

    /// The GEMMs M_p = U_p V_p for the transform `points` given (of the 16), accumulated onto m,
    /// which must hold zeros (`Scratch.withZeros`): beta = 0 would cost a pass zeroing it.
    static func multiply(filters u: UnsafePointer<Float>, points: Range<Int>, outChannels o: Int, inChannels c: Int,
                         input v: UnsafePointer<Float>, columns: Int, into m: UnsafeMutablePointer<Float>) {
        for p in points {
            BLAS.sgemm(m: o, n: columns, k: c, a: u + p * o * c, lda: c, b: v + p * pointStride(rows: c, columns: columns),
                       ldb: columns, beta: 1, c: m + p * pointStride(rows: o, columns: columns), ldc: columns)
        }
    }
}
