import CBLAS

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

    /// Measured on the networks' shapes (ConvolutionBenchmarkTests, 4 frames): from 28x28 down
    /// F(2x2, 3x3) is 1.1-3.6x faster than im2col + GEMM; on larger maps its transforms' memory
    /// traffic costs more than the GEMM work it saves (0.6-0.85x on 56x56 with 64 channels and
    /// on TAM's 112x112 stem), except with fewer than 32 input channels, where im2col's GEMM is
    /// too thin to run at speed (1.3-1.7x on 26 channels at 56x56).
    static func pays(channels: Int, height: Int, width: Int) -> Bool {
        enabled && (height * width <= 28 * 28 || channels < 32)
    }

    /// The output tile: F(2x2, 3x3) or F(4x4, 3x3).
    enum Tile: Sendable { case f2, f4 }

    /// The tile a 3x3 stride-1 convolution runs with, or nil for im2col + GEMM.
    /// F(4x4) only on maps above 14x14 (up to 28x28): 128 channels at 28x28 run 1.5-1.65x
    /// faster than im2col against F(2x2)'s 1.0-1.25x (1 thread, 4 frames). On 14x14 and 7x7 its
    /// 4x4 tiles overhang the map (1.3x wasted work) and leave 16-64 GEMM columns, and on 56x56
    /// its transforms outweigh the GEMM work saved: there F(2x2) stays ahead.
    static func tile(channels: Int, height: Int, width: Int) -> Tile? {
        guard pays(channels: channels, height: height, width: width) else { return nil }
        return largeTiles && height * width > 14 * 14 && height * width <= 28 * 28 ? .f4 : .f2
    }

    /// Off only in benchmarks that measure what F(4x4) gains over F(2x2).
    nonisolated(unsafe) static var largeTiles = true

    /// Off only in benchmarks that measure what Winograd gains (set before any inference runs).
    nonisolated(unsafe) static var enabled = true

    /// U = G g Gᵀ for every (o, c) of weights [O, C·9], as 16 row-major [O, C] matrices.
    /// G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].
    static func transformFilters(_ weight: [Float], count: Int) -> [Float] {
        var u = [Float](repeating: 0, count: points * count)
        weight.withUnsafeBufferPointer { w in
            u.withUnsafeMutableBufferPointer { out in
                for f in 0..<count {
                    let g = w.baseAddress! + f * 9
                    // t = G g (4x3), as three columns; then U = t Gᵀ (4x4), row by row.
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

    /// Tiles per frame of an h x w map.
    static func tiles(height h: Int, width w: Int) -> (rows: Int, columns: Int) { ((h + 1) / 2, (w + 1) / 2) }

    /// V_p[c][tile] = (Bᵀ d B)_p for every 4x4 tile d of every channel and frame of x ([C][N][H][W]),
    /// the map zero-padded by 1 (and to even size). Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]].
    static func transformInput(_ x: UnsafePointer<Float>, channels: Int, batch: Int, height h: Int, width w: Int,
                               into v: UnsafeMutablePointer<Float>) {
        let (th, tw) = tiles(height: h, width: w)
        let columns = batch * th * tw
        let pointStride = channels * columns
        let (ph, pw) = (2 * th + 2, 2 * tw + 2)
        for c in 0..<channels {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: ph * pw) { buffer in
                let d = buffer.baseAddress!
                // The border stays zero; the interior is overwritten frame by frame.
                d.initialize(repeating: 0, count: ph * pw)
                for n in 0..<batch {
                    let plane = x + (c * batch + n) * h * w
                    for y in 0..<h { (d + (y + 1) * pw + 1).update(from: plane + y * w, count: w) }
                    let base = v + c * columns + n * th * tw
                    for ty in 0..<th {
                        for tx in 0..<tw {
                            let t = UnsafeRawPointer(d + 2 * ty * pw + 2 * tx)
                            let d0 = t.loadUnaligned(as: SIMD4<Float>.self)
                            let d1 = t.loadUnaligned(fromByteOffset: 4 * pw, as: SIMD4<Float>.self)
                            let d2 = t.loadUnaligned(fromByteOffset: 8 * pw, as: SIMD4<Float>.self)
                            let d3 = t.loadUnaligned(fromByteOffset: 12 * pw, as: SIMD4<Float>.self)
                            let out = base + ty * tw + tx
                            func store(_ i: Int, _ r: SIMD4<Float>) {
                                out[(4 * i) * pointStride] = r[0] - r[2]
                                out[(4 * i + 1) * pointStride] = r[1] + r[2]
                                out[(4 * i + 2) * pointStride] = r[2] - r[1]
                                out[(4 * i + 3) * pointStride] = r[1] - r[3]
                            }
                            store(0, d0 - d2)
                            store(1, d1 + d2)
                            store(2, d2 - d1)
                            store(3, d1 - d3)
                        }
                    }
                }
            }
        }
    }

    /// y += Aᵀ M A for every tile (then ReLU if asked), cropping the padded last row and column:
    /// m holds M_p [O, tiles] for the 16 points; y is [O][N][H][W]. Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]].
    static func transformOutput(_ m: UnsafePointer<Float>, channels: Int, batch: Int, height h: Int, width w: Int,
                                adding y: UnsafeMutablePointer<Float>, relu: Bool) {
        let (th, tw) = tiles(height: h, width: w)
        let columns = batch * th * tw
        let pointStride = channels * columns
        for o in 0..<channels {
            let src = m + o * columns
            for n in 0..<batch {
                let plane = y + (o * batch + n) * h * w
                for ty in 0..<th {
                    for tx in 0..<tw {
                        let t = src + n * th * tw + ty * tw + tx
                        func row(_ i: Int) -> SIMD4<Float> {
                            SIMD4(t[(4 * i) * pointStride], t[(4 * i + 1) * pointStride],
                                  t[(4 * i + 2) * pointStride], t[(4 * i + 3) * pointStride])
                        }
                        let (m0, m1, m2, m3) = (row(0), row(1), row(2), row(3))
                        let s0 = m0 + m1 + m2, s1 = m1 - m2 - m3
                        let (oy, ox) = (2 * ty, 2 * tx)
                        let top = plane + oy * w + ox
                        let wide = ox + 1 < w
                        accumulate(top, s0[0] + s0[1] + s0[2], relu)
                        if wide { accumulate(top + 1, s0[1] - s0[2] - s0[3], relu) }
                        if oy + 1 < h {
                            accumulate(top + w, s1[0] + s1[1] + s1[2], relu)
                            if wide { accumulate(top + w + 1, s1[1] - s1[2] - s1[3], relu) }
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func accumulate(_ p: UnsafeMutablePointer<Float>, _ value: Float, _ relu: Bool) {
        let sum = p.pointee + value
        p.pointee = relu ? max(sum, 0) : sum
    }

    /// The GEMMs M_p = U_p V_p, one per transform point (16 for F(2x2), 36 for F(4x4)).
    static func multiply(filters u: UnsafePointer<Float>, points: Int, outChannels o: Int, inChannels c: Int,
                         input v: UnsafePointer<Float>, columns: Int, into m: UnsafeMutablePointer<Float>) {
        for p in 0..<points {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(o), Int32(columns), Int32(c),
                        1, u + p * o * c, Int32(c), v + p * c * columns, Int32(columns),
                        0, m + p * o * columns, Int32(columns))
        }
    }

    // MARK: F(4x4, 3x3)

    /// F(4x4, 3x3) (Lavin & Gray's interpolation points 0, ±1, ±2, ∞): 36 products per 4x4
    /// output tile, 2.25 per output against F(2x2)'s 4, for a few more additions per point.
    static let points4 = 36

    /// Tiles per frame of an h x w map for F(4x4, 3x3).
    static func tiles4(height h: Int, width w: Int) -> (rows: Int, columns: Int) { ((h + 3) / 4, (w + 3) / 4) }

    /// U = G g Gᵀ for every (o, c) of weights [O, C·9], as 36 row-major [O, C] matrices.
    /// G = [[¼, 0, 0], [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙], [1/24, 1/12, ⅙], [1/24, −1/12, ⅙], [0, 0, 1]].
    /// Done per call (a small cost next to the GEMMs), so the filters are not kept twice.
    static func transformFilters4(_ w: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>) {
        func g6(_ g0: Float, _ g1: Float, _ g2: Float) -> SIMD8<Float> {
            SIMD8(g0 / 4, -(g0 + g1 + g2) / 6, -(g0 - g1 + g2) / 6,
                  g0 / 24 + g1 / 12 + g2 / 6, g0 / 24 - g1 / 12 + g2 / 6, g2, 0, 0)
        }
        for f in 0..<count {
            let g = w + f * 9
            let (c0, c1, c2) = (g6(g[0], g[3], g[6]), g6(g[1], g[4], g[7]), g6(g[2], g[5], g[8]))
            for i in 0..<6 {
                let row = g6(c0[i], c1[i], c2[i])
                for j in 0..<6 { out[(6 * i + j) * count + f] = row[j] }
            }
        }
    }

    /// Bᵀ r for the six used lanes of r. Bᵀ = [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0],
    /// [0, 4, −4, −1, 1, 0], [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]].
    @inline(__always)
    private static func inputRows<V: SIMD>(_ d0: V, _ d1: V, _ d2: V, _ d3: V, _ d4: V, _ d5: V)
        -> (V, V, V, V, V, V) where V.Scalar == Float {
        let (e, f) = (d4 - 4 * d2, d3 - 4 * d1)
        let (g, k) = (d4 - d2, 2 * (d3 - d1))
        return (4 * d0 - 5 * d2 + d4, e + f, e - f, g + k, g - k, 4 * d1 - 5 * d3 + d5)
    }

    /// Bᵀ r for lanes 0...5 of r, as scalars.
    @inline(__always)
    private static func inputColumns(_ r: SIMD8<Float>) -> (Float, Float, Float, Float, Float, Float) {
        let (e, f) = (r[4] - 4 * r[2], r[3] - 4 * r[1])
        let (g, k) = (r[4] - r[2], 2 * (r[3] - r[1]))
        return (4 * r[0] - 5 * r[2] + r[4], e + f, e - f, g + k, g - k, 4 * r[1] - 5 * r[3] + r[5])
    }

    /// V_p[c][tile] = (Bᵀ d B)_p for every 6x6 tile d (stepping by 4) of every channel and frame
    /// of x ([C][N][H][W]), the map zero-padded by 1 (and to a multiple of 4).
    static func transformInput4(_ x: UnsafePointer<Float>, channels: Int, batch: Int, height h: Int, width w: Int,
                                into v: UnsafeMutablePointer<Float>) {
        let (th, tw) = tiles4(height: h, width: w)
        let columns = batch * th * tw
        let ps = channels * columns
        let (ph, pw) = (4 * th + 2, 4 * tw + 2)
        // Rows are read 8 wide: 2 floats past the last one.
        let size = ph * pw + 2
        withUnsafeTemporaryAllocation(of: Float.self, capacity: size) { buffer in
            let d = buffer.baseAddress!
            // The border stays zero; the interior is overwritten plane by plane.
            d.initialize(repeating: 0, count: size)
            for c in 0..<channels {
                for n in 0..<batch {
                    let plane = x + (c * batch + n) * h * w
                    for y in 0..<h { (d + (y + 1) * pw + 1).update(from: plane + y * w, count: w) }
                    let base = v + c * columns + n * th * tw
                    for ty in 0..<th {
                        for tx in 0..<tw {
                            let t = UnsafeRawPointer(d + 4 * ty * pw + 4 * tx)
                            func row(_ i: Int) -> SIMD8<Float> {
                                t.loadUnaligned(fromByteOffset: 4 * i * pw, as: SIMD8<Float>.self)
                            }
                            let r = inputRows(row(0), row(1), row(2), row(3), row(4), row(5))
                            let out = base + ty * tw + tx
                            func store(_ i: Int, _ r: SIMD8<Float>) {
                                let q = inputColumns(r)
                                let p = out + 6 * i * ps
                                (p[0], p[ps], p[2 * ps], p[3 * ps], p[4 * ps], p[5 * ps]) = q
                            }
                            store(0, r.0); store(1, r.1); store(2, r.2); store(3, r.3); store(4, r.4); store(5, r.5)
                        }
                    }
                }
            }
        }
    }

    /// Aᵀ m for the six used lanes of m. Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0],
    /// [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]].
    @inline(__always)
    private static func outputRows<V: SIMD>(_ m0: V, _ m1: V, _ m2: V, _ m3: V, _ m4: V, _ m5: V)
        -> (V, V, V, V) where V.Scalar == Float {
        let (a, b, c, d) = (m1 + m2, m1 - m2, m3 + m4, m3 - m4)
        return (m0 + a + c, b + 2 * d, a + 4 * c, b + 8 * d + m5)
    }

    /// Aᵀ s for lanes 0...5 of s, as the four outputs of one tile row.
    @inline(__always)
    private static func outputColumns(_ s: SIMD8<Float>) -> SIMD4<Float> {
        let (a, b, c, d) = (s[1] + s[2], s[1] - s[2], s[3] + s[4], s[3] - s[4])
        return SIMD4(s[0] + a + c, b + 2 * d, a + 4 * c, b + 8 * d + s[5])
    }

    /// y += Aᵀ M A for every 4x4 tile (then ReLU if asked), cropped to the map: m holds M_p
    /// [O, tiles] for the 36 points; y is [O][N][H][W].
    static func transformOutput4(_ m: UnsafePointer<Float>, channels: Int, batch: Int, height h: Int, width w: Int,
                                 adding y: UnsafeMutablePointer<Float>, relu: Bool) {
        let (th, tw) = tiles4(height: h, width: w)
        let columns = batch * th * tw
        let ps = channels * columns
        for o in 0..<channels {
            let src = m + o * columns
            for n in 0..<batch {
                let plane = y + (o * batch + n) * h * w
                for ty in 0..<th {
                    for tx in 0..<tw {
                        let t = src + n * th * tw + ty * tw + tx
                        func row(_ i: Int) -> SIMD8<Float> {
                            let p = t + 6 * i * ps
                            return SIMD8(p[0], p[ps], p[2 * ps], p[3 * ps], p[4 * ps], p[5 * ps], 0, 0)
                        }
                        let s = outputRows(row(0), row(1), row(2), row(3), row(4), row(5))
                        let (oy, ox) = (4 * ty, 4 * tx)
                        let wide = min(4, w - ox)
                        func emit(_ k: Int, _ s: SIMD8<Float>) {
                            guard oy + k < h else { return }
                            let values = outputColumns(s)
                            let out = plane + (oy + k) * w + ox
                            for j in 0..<wide { accumulate(out + j, values[j], relu) }
                        }
                        emit(0, s.0); emit(1, s.1); emit(2, s.2); emit(3, s.3)
                    }
                }
            }
        }
    }
}
