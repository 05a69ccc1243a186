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

    /// Tiles per frame of an h x w map.
    static func tiles(height h: Int, width w: Int) -> (rows: Int, columns: Int) { ((h + 1) / 2, (w + 1) / 2) }

    /// V_p[c][tile] = (Bᵀ d B)_p for every 4x4 tile d of every channel and frame of x ([C][N][H][W]),
    /// the map zero-padded by 1 (and to even size). Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]].
    /// Only input `channels` (of `count`) are transformed, so parts can run side by side.
    static func transformInput(_ x: UnsafePointer<Float>, channels: Range<Int>, of count: Int, batch: Int,
                               height h: Int, width w: Int, into v: UnsafeMutablePointer<Float>) {
        let (th, tw) = tiles(height: h, width: w)
        let columns = batch * th * tw
        let pointStride = count * columns
        let (ph, pw) = (2 * th + 2, 2 * tw + 2)
        for c in channels {
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
    /// Only output `channels` (of `count`) are written, so parts can run side by side.
    static func transformOutput(_ m: UnsafePointer<Float>, channels: Range<Int>, of count: Int, batch: Int,
                                height h: Int, width w: Int, adding y: UnsafeMutablePointer<Float>, relu: Bool) {
        let (th, tw) = tiles(height: h, width: w)
        let columns = batch * th * tw
        let pointStride = count * columns
        for o in channels {
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

    /// The GEMMs M_p = U_p V_p for the transform `points` given (of the 16).
    static func multiply(filters u: UnsafePointer<Float>, points: Range<Int>, outChannels o: Int, inChannels c: Int,
                         input v: UnsafePointer<Float>, columns: Int, into m: UnsafeMutablePointer<Float>) {
        for p in points {
            BLAS.sgemm(m: o, n: columns, k: c, a: u + p * o * c, lda: c, b: v + p * c * columns, ldb: columns,
                       beta: 0, c: m + p * o * columns, ldc: columns)
        }
    }
}
