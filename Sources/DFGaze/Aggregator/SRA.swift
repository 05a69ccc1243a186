import Tensors

/// Spatial reconstruction attention (the authors' `SRA`/`SRA2`, keys `<layer>.SRAG.*`), in eval mode.
///
/// Each map gets a channel attention from its own pooled vector and a spatial attention from its
/// embedding and its self-relation maps; each pair (2g, 2g+1) becomes
/// temporal_g + relu(weighted sum of the pair): [C][N/2][h][w].
struct SRA: Sendable {
    let alphiAppearance: Conv2d
    let deltaAppearance: Conv2d
    let ggSpatial: Conv2d
    let spaParamHidden: Conv2d
    let spaParam: Conv2d
    let appChannel: ChannelAttention

    init(_ b: WeightBinder, _ prefix: String, planes c: Int, positions p: Int) {
        alphiAppearance = b.conv(prefix + ".alphi_appearance.0", batchNorm: prefix + ".alphi_appearance.1", out: c / 8, in: c, kernel: 1)
        deltaAppearance = b.conv(prefix + ".delta_appearance.0", batchNorm: prefix + ".delta_appearance.1", out: c / 8, in: c, kernel: 1)
        ggSpatial = b.conv(prefix + ".gg_spatial.0", batchNorm: prefix + ".gg_spatial.1", out: 128, in: 2 * p, kernel: 1)
        spaParamHidden = b.conv(prefix + ".spa_para.0", batchNorm: prefix + ".spa_para.1", out: 128, in: 2 * 128, kernel: 1)
        spaParam = b.conv(prefix + ".spa_para.3", batchNorm: prefix + ".spa_para.4", out: 1, in: 128, kernel: 1)
        appChannel = ChannelAttention(b, prefix + ".app_channel", in: c, hidden: c / 8, out: c)
    }

    /// x, vectors, embedding as for `TRA`; temporal: TRA's output for the same maps ([C][N/2][h][w]).
    func callAsFunction(_ x: FeatureMap, vectors: [Float], embedding: FeatureMap, temporal: FeatureMap) -> FeatureMap {
        let channel = appChannel(vectors, rows: x.batch)
        let alphi = alphiAppearance(x, relu: true)
        let delta = deltaAppearance(x, relu: true)
        let relation = ggSpatial(relationMaps(first: alphi, second: delta, counterpart: { $0 }), relu: true)
        let spatial = spaParam.sigmoid(spaParamHidden(FeatureMap.concatenate([embedding, relation]), relu: true))

        var y = weightedPairSum(x, channelWeights: channel, spatial: spatial)
        precondition(temporal.values.count == y.values.count, "TRA output does not match the SRA pairs")
        y.values.withUnsafeMutableBufferPointer { v in
            temporal.values.withUnsafeBufferPointer { t in
                for i in v.indices { v[i] = t[i] + max(v[i], 0) }
            }
        }
        return y
    }
}
