import Tensors

// Small kernels the STAM blocks need beyond Tensors: interleaving maps along the batch,
// the batched 49x49 relation matrices of TRA/SRA, and the attention-weighted pair sums.

extension FeatureMap {
    /// Maps of equal batch interleaved along the batch: result map i·k + j is map i of maps[j]
    /// (the authors' `zip` + `torch.stack(dim=1)`).
    static func interleaving(_ maps: [FeatureMap]) -> FeatureMap {
        let first = maps[0]
        precondition(maps.allSatisfy {
            $0.channels == first.channels && $0.batch == first.batch && $0.height == first.height && $0.width == first.width
        }, "interleaved maps differ in shape")
        let k = maps.count, batch = first.batch, plane = first.planeSize
        var out = FeatureMap(channels: first.channels, batch: batch * k, height: first.height, width: first.width)
        out.values.withUnsafeMutableBufferPointer { dst in
            for (j, map) in maps.enumerated() {
                map.values.withUnsafeBufferPointer { src in
                    for c in 0..<first.channels {
                        for i in 0..<batch {
                            (dst.baseAddress! + ((c * batch + i) * k + j) * plane)
                                .update(from: src.baseAddress! + (c * batch + i) * plane, count: plane)
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Index of the other map of n's pair (2g, 2g+1).
@inline(__always) func pairPartner(_ n: Int) -> Int { n ^ 1 }

/// The relation maps TRA and SRA feed to their `gg_*` convolutions. For map n and its
/// counterpart m = counterpart(n), with P = h·w positions and the [K][P] slices of `first` and
/// `second`, the 2P channels over the h x w grid are
///     [ second_mᵀ · first_n ; first_mᵀ · second_n ]      (each P x P, row = channel).
/// This is the authors' `torch.matmul(aᵀ, b)` followed by `.permute(0, 2, 1).view(b, P, h, w)`
/// (top half, "Gs_in") and by a plain `.view` (bottom half, "Gs_out"): a view keeps the logical
/// order, so the channel is the row of the (possibly transposed) P x P matrix.
func relationMaps(first: FeatureMap, second: FeatureMap, counterpart: (Int) -> Int) -> FeatureMap {
    precondition(first.channels == second.channels && first.batch == second.batch && first.planeSize == second.planeSize)
    let p = first.planeSize, n = first.batch, k = first.channels
    let ld = n * p
    var out = FeatureMap(channels: 2 * p, batch: n, height: first.height, width: first.width)
    BLAS.count(multiplyAccumulates: 2 * n * p * p * k)
    first.values.withUnsafeBufferPointer { a in
        second.values.withUnsafeBufferPointer { b in
            out.values.withUnsafeMutableBufferPointer { c in
                for i in 0..<n {
                    let m = counterpart(i)
                    let top = c.baseAddress! + i * p
                    let bottom = c.baseAddress! + p * n * p + i * p
                    BLAS.sgemm(transposeA: true, m: p, n: p, k: k, a: b.baseAddress! + m * p, lda: ld,
                               b: a.baseAddress! + i * p, ldb: ld, beta: 0, c: top, ldc: ld)
                    BLAS.sgemm(transposeA: true, m: p, n: p, k: k, a: a.baseAddress! + m * p, lda: ld,
                               b: b.baseAddress! + i * p, ldb: ld, beta: 0, c: bottom, ldc: ld)
                }
            }
        }
    }
    return out
}

/// The weighted sum of each pair (2g, 2g+1) of maps in x:
///     y_g[c][q] = (w_{2g}[c]·s_{2g}[q])·x_{2g}[c][q] + (w_{2g+1}[c]·s_{2g+1}[q])·x_{2g+1}[c][q]
/// with channel weights `channelWeights` ([N][C] rows) and spatial weights `spatial` ([1][N][h][w]),
/// multiplied in the authors' order (`para_00 * para_alpha`, then times the map).
func weightedPairSum(_ x: FeatureMap, channelWeights: [Float], spatial: FeatureMap) -> FeatureMap {
    let c = x.channels, n = x.batch, p = x.planeSize
    precondition(n % 2 == 0 && channelWeights.count == n * c && spatial.channels == 1
                 && spatial.batch == n && spatial.planeSize == p)
    var out = FeatureMap(channels: c, batch: n / 2, height: x.height, width: x.width)
    x.values.withUnsafeBufferPointer { xs in
        spatial.values.withUnsafeBufferPointer { s in
            channelWeights.withUnsafeBufferPointer { w in
                out.values.withUnsafeMutableBufferPointer { y in
                    for ch in 0..<c {
                        for g in 0..<(n / 2) {
                            let (i, j) = (2 * g, 2 * g + 1)
                            let (wi, wj) = (w[i * c + ch], w[j * c + ch])
                            let xi = xs.baseAddress! + (ch * n + i) * p
                            let xj = xs.baseAddress! + (ch * n + j) * p
                            let si = s.baseAddress! + i * p, sj = s.baseAddress! + j * p
                            let dst = y.baseAddress! + (ch * (n / 2) + g) * p
                            for q in 0..<p {
                                let a = (wi * si[q]) * xi[q]
                                let b = (wj * sj[q]) * xj[q]
                                dst[q] = a + b
                            }
                        }
                    }
                }
            }
        }
    }
    return out
}

extension Conv2d {
    /// conv + folded BN followed by a sigmoid (the attention heads `te_para`, `spa_para`).
    func sigmoid(_ x: FeatureMap) -> FeatureMap {
        var y = self(x)
        Activation.sigmoid(&y.values)
        return y
    }
}

/// Linear → ReLU → Linear → Sigmoid over rows: the channel attention of TRA (`channel_para`)
/// and SRA (`app_channel`), keys `<prefix>.0.*` and `<prefix>.2.*`.
struct ChannelAttention: Sendable {
    let squeeze: Linear
    let excite: Linear

    init(_ binder: WeightBinder, _ prefix: String, in inFeatures: Int, hidden: Int, out: Int) {
        squeeze = binder.linear(prefix + ".0", out: hidden, in: inFeatures)
        excite = binder.linear(prefix + ".2", out: out, in: hidden)
    }

    func callAsFunction(_ x: [Float], rows: Int) -> [Float] {
        var h = squeeze(x, rows: rows)
        Activation.relu(&h)
        var y = excite(h, rows: rows)
        Activation.sigmoid(&y)
        return y
    }
}
