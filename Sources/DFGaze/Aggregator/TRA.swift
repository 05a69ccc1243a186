import Tensors

/// Temporal reconstruction attention (the authors' `TRA`/`TRA2`, keys `<layer>.TRAG.*`), in eval mode.
///
/// Input: the maps a STAM layer reads, as adjacent pairs (2g, 2g+1) of [C][N][h][w]. For each pair it
/// weights both maps by a channel attention (from the pair's pooled vectors, in both orders) times a
/// spatial attention (from the pair's embeddings and its cross-map relation maps), sums them, and
/// returns relu(sum)² per pair: [C][N/2][h][w].
struct TRA: Sendable {
    let gammaTemporal: Conv2d
    let betaTemporal: Conv2d
    let ggTemporal: Conv2d
    let tteParam: Conv2d
    let teParam: Conv2d
    /// Conv1d(C, C/8, k=1, no bias) over the pooled vectors: a bias-free Linear on rows.
    let thetaChannel: Linear
    let channelParam: ChannelAttention

    init(_ b: WeightBinder, _ prefix: String, planes c: Int, positions p: Int) {
        gammaTemporal = b.conv(prefix + ".gamma_temporal.0", batchNorm: prefix + ".gamma_temporal.1", out: c / 8, in: c, kernel: 1)
        betaTemporal = b.conv(prefix + ".beta_temporal.0", batchNorm: prefix + ".beta_temporal.1", out: c / 8, in: c, kernel: 1)
        ggTemporal = b.conv(prefix + ".gg_temporal.0", batchNorm: prefix + ".gg_temporal.1", out: 128, in: 2 * p, kernel: 1)
        tteParam = b.conv(prefix + ".tte_para.0", batchNorm: prefix + ".tte_para.1", out: 128, in: 2 * 128, kernel: 1)
        teParam = b.conv(prefix + ".te_para.0", batchNorm: prefix + ".te_para.1", out: 1, in: 2 * 128, kernel: 1)
        let theta = b.take(prefix + ".theta_channel.0.weight", shape: [c / 8, c, 1])
        thetaChannel = Linear(weight: Tensor(shape: [c / 8, c], values: theta.values), bias: nil)
        channelParam = ChannelAttention(b, prefix + ".channel_para", in: c / 4, hidden: c / 8, out: c)
    }

    /// x: the layer's maps; vectors: their global averages ([N][C] rows); embedding: `Embeding(x)`.
    func callAsFunction(_ x: FeatureMap, vectors: [Float], embedding: FeatureMap) -> FeatureMap {
        let n = x.batch
        let partners = (0..<n).map(pairPartner)

        // Channel attention of map i: channel_para(cat(theta_i, theta_partner)) ("para_00"/"para_01").
        var theta = thetaChannel(vectors, rows: n)
        Activation.relu(&theta)
        let k = thetaChannel.outFeatures
        var pairedTheta = [Float]()
        pairedTheta.reserveCapacity(n * 2 * k)
        for i in 0..<n {
            pairedTheta.append(contentsOf: theta[(i * k)..<((i + 1) * k)])
            pairedTheta.append(contentsOf: theta[(partners[i] * k)..<((partners[i] + 1) * k)])
        }
        let channel = channelParam(pairedTheta, rows: n)

        // Spatial attention of map i ("para_alpha"/"para_beta"): te_para(cat(tte_para(cat(embed_i,
        // embed_partner)), gg_temporal(cat(Gs_in, Gs_out)))) with the cross-map relations.
        let gamma = gammaTemporal(x, relu: true)
        let beta = betaTemporal(x, relu: true)
        let relation = ggTemporal(relationMaps(first: gamma, second: beta, counterpart: pairPartner), relu: true)
        let embedded = tteParam(FeatureMap.concatenate([embedding, embedding.selectingBatch(partners)]), relu: true)
        let spatial = teParam.sigmoid(FeatureMap.concatenate([embedded, relation]))

        var y = weightedPairSum(x, channelWeights: channel, spatial: spatial)
        y.values.withUnsafeMutableBufferPointer { v in
            for i in v.indices { let r = max(v[i], 0); v[i] = r * r }
        }
        return y
    }
}
