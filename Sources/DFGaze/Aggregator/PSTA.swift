import Tensors

/// The DFGaze aggregator: `models/PSTA_8_att.PSTA(num_classes=2, seq_len=12)` in eval mode
/// (checkpoint `capsule_<id>.pt`, network "agg"). Per clip of 4 frames it aggregates the GAM
/// (gaze) and TAM (texture) layer4 maps through three STAM layers and three classifier heads.
///
/// What the authors' code computes, and what this port does:
/// - `down_channel` (1x1 conv + BN + ReLU, 2048 -> 1024) on every map, then the maps interleaved
///   per frame as (gaze, texture, attribute) x 4 = 12 maps.
/// - layer1 is `STAM2`: its TRA2/SRA2 loops run `for idx in range(0, t, 3)` and read maps idx and
///   idx + 1 only, i.e. (gaze_f, texture_f) of each frame; every earlier step is map-wise. So the
///   attribute maps never reach the output, and this port feeds layer1 the 8 (gaze, texture) maps.
///   (The constructor's `seq_len=t/3` etc. are floats, but STAM swallows them in `**kwargs`: the
///   loops use the runtime map count.) 8 -> 4 maps, one per frame.
/// - layer2, layer3 are `STAM` (pairs `range(0, t, 2)`): 4 -> 2 -> 1 maps.
/// - Layer j's feature is the spatial mean of the mean of its maps; head i (BatchNorm1d +
///   Linear(1024, 2), `bottleneck.i`, `classifier.i`) reads the mean of the features of layers
///   1...i+1. Softmax gives [fake, real].
/// The `base.*` ResNet-50 in the checkpoint is never used.
public final class PSTA: Sendable {
    static let inPlanes = 2048
    static let planes = 1024
    static let midPlanes = 256
    static let framesPerClip = 4
    /// The STAM relation maps turn a 7x7 grid's 49x49 affinities into 98 channels.
    static let mapSize = 7

    let downChannel: Conv2d
    let layers: [STAM]
    /// `classifier.i` with `bottleneck.i` folded in.
    let heads: [Linear]

    public struct ClipOutput: Sendable, Equatable {
        /// Per head (3), the logits [fake, real].
        public let headLogits: [[Float]]
        /// Per head (3), softmax of the logits: [fake, real].
        public let headSoftmax: [[Float]]
        /// Mean over the heads of the fake probability (index 0).
        public let fakeProbability: Double

        public init(headLogits: [[Float]], headSoftmax: [[Float]], fakeProbability: Double) {
            self.headLogits = headLogits
            self.headSoftmax = headSoftmax
            self.fakeProbability = fakeProbability
        }
    }

    public init(_ b: WeightBinder) {
        let positions = Self.mapSize * Self.mapSize
        downChannel = b.conv("down_channel.0", batchNorm: "down_channel.1", out: Self.planes, in: Self.inPlanes, kernel: 1)
        layers = (1...3).map { STAM(b, "layer\($0)", planes: Self.planes, midPlanes: Self.midPlanes, positions: positions) }
        heads = (0..<3).map { i in
            let bottleneck = b.batchNorm("bottleneck.\(i)", channels: Self.planes)
            var classifier = b.linear("classifier.\(i)", out: 2, in: Self.planes)
            classifier.fold(precedingBatchNorm: bottleneck)
            return classifier
        }
    }

    /// gaze, texture: layer4 maps [2048][4·clips][7][7] (frames of clip k are 4k..4k+3);
    /// attribute: AAM's output of the same shape, or nil. It is accepted for fidelity to the
    /// authors' interface and shape-checked, but never read: it provably cannot change the output
    /// (see the type's documentation).
    public func callAsFunction(gaze: FeatureMap, texture: FeatureMap, attribute: FeatureMap?) -> [ClipOutput] {
        func fits(_ m: FeatureMap) -> Bool {
            m.channels == Self.inPlanes && m.batch == gaze.batch && m.height == Self.mapSize && m.width == Self.mapSize
        }
        precondition(fits(gaze) && fits(texture) && attribute.map(fits) != false,
                     "PSTA expects gaze, texture (and attribute) maps of equal shape [2048][4·clips][7][7]")
        precondition(gaze.batch > 0 && gaze.batch % Self.framesPerClip == 0, "PSTA expects whole clips of 4 frames")
        let clips = gaze.batch / Self.framesPerClip

        var maps = downChannel(FeatureMap.interleaving([gaze, texture]), relu: true)
        var layerFeatures: [[Float]] = []
        for layer in layers {
            maps = layer(maps)
            layerFeatures.append(Self.clipFeatures(maps, clips: clips))
        }

        let perHead = (0..<heads.count).map { i -> (logits: [Float], softmax: [Float]) in
            let logits = heads[i](Self.mean(layerFeatures[0...i]), rows: clips)
            return (logits, Activation.softmax(logits, width: 2))
        }
        return (0..<clips).map { k in
            let logits = perHead.map { Array($0.logits[(2 * k)..<(2 * k + 2)]) }
            let softmax = perHead.map { Array($0.softmax[(2 * k)..<(2 * k + 2)]) }
            let fake = softmax.reduce(0.0) { $0 + Double($1[0]) } / Double(softmax.count)
            return ClipOutput(headLogits: logits, headSoftmax: softmax, fakeProbability: fake)
        }
    }

    /// A layer's feature per clip, [clips][C]: `avg_2d(torch.mean(maps, 1))`.
    static func clipFeatures(_ x: FeatureMap, clips: Int) -> [Float] {
        let t = x.batch / clips, p = x.planeSize, c = x.channels
        var out = [Float](repeating: 0, count: clips * c)
        var temporalMean = [Float](repeating: 0, count: p)
        x.values.withUnsafeBufferPointer { v in
            for ch in 0..<c {
                for k in 0..<clips {
                    for q in 0..<p { temporalMean[q] = 0 }
                    for m in 0..<t {
                        let plane = v.baseAddress! + (ch * x.batch + k * t + m) * p
                        for q in 0..<p { temporalMean[q] += plane[q] }
                    }
                    var s: Float = 0
                    for q in 0..<p { s += temporalMean[q] / Float(t) }
                    out[k * c + ch] = s / Float(p)
                }
            }
        }
        return out
    }

    /// Element-wise mean of equally long feature rows (`torch.mean(torch.stack(list, 1), 1)`).
    static func mean(_ features: ArraySlice<[Float]>) -> [Float] {
        var sum = features.first!
        for f in features.dropFirst() { for i in sum.indices { sum[i] += f[i] } }
        let n = Float(features.count)
        return sum.map { $0 / n }
    }
}

extension PSTA: WeightedNetwork {
    /// The unused ResNet-50 `base` is never read; damped: each STAM conv block's last BatchNorm.
    public static let facts = NetworkFacts(
        name: "agg", displayName: "PSTA", role: "spatial-temporal aggregator: three STAM layers, three heads",
        checkpointFile: "capsule_<id>.pt", omittedKeys: ["base.*", "*.num_batches_tracked"], dampedBatchNorms: "layer#.conv_block.7.weight")
}
