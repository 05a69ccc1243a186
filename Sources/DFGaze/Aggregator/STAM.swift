import Tensors

/// One spatial-temporal aggregation layer (the authors' `STAM`; `STAM2` for layer1 differs only
/// in which maps its TRA/SRA loops read, see `PSTA`), keys `<layer>.*`, in eval mode.
///
/// Input: the maps the layer reads, as adjacent pairs (2g, 2g+1), [C][N][h][w].
/// Output: one map per pair, [C][N/2][h][w]. Everything before the pairing (pooling, `Embeding`,
/// the 1x1 convolutions, BatchNorm in eval mode) is map-wise, so maps the authors' loops skip
/// need not be computed at all.
struct STAM: Sendable {
    let embeddingHidden: Conv2d
    let embedding: Conv2d
    let tra: TRA
    let sra: SRA
    let convBlockReduce: Conv2d
    let convBlockSpatial: Conv2d
    let convBlockExpand: Conv2d

    init(_ b: WeightBinder, _ prefix: String, planes c: Int, midPlanes mid: Int, positions p: Int) {
        embeddingHidden = b.conv(prefix + ".Embeding.0", batchNorm: prefix + ".Embeding.1", out: mid, in: c, kernel: 1)
        embedding = b.conv(prefix + ".Embeding.3", batchNorm: prefix + ".Embeding.4", out: 128, in: mid, kernel: 1)
        tra = TRA(b, prefix + ".TRAG", planes: c, positions: p)
        sra = SRA(b, prefix + ".SRAG", planes: c, positions: p)
        convBlockReduce = b.conv(prefix + ".conv_block.0", batchNorm: prefix + ".conv_block.1", out: mid, in: c, kernel: 1)
        convBlockSpatial = b.conv(prefix + ".conv_block.3", batchNorm: prefix + ".conv_block.4", out: mid, in: mid,
                                  kernel: 3, padding: 1)
        convBlockExpand = b.conv(prefix + ".conv_block.6", batchNorm: prefix + ".conv_block.7", out: c, in: mid, kernel: 1)
    }

    func callAsFunction(_ x: FeatureMap) -> FeatureMap {
        let vectors = Pool.globalAverage(x)
        let embedded = embedding(embeddingHidden(x, relu: true), relu: true)
        let temporal = tra(x, vectors: vectors, embedding: embedded)
        let aggregated = sra(x, vectors: vectors, embedding: embedded, temporal: temporal)
        return convBlockExpand(convBlockSpatial(convBlockReduce(aggregated, relu: true), relu: true), relu: true)
    }
}
