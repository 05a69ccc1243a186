import Tensors

/// TAM, the texture branch: Res2Net-101 v1b 26w×4s (`res2net_v1b.res2net101_v1b`). Its
/// `layer4` map feeds the aggregator; the training head `fc` (200704 -> 2) is never read.
public final class TAM: Sendable {
    let trunk: ResNet<Bottle2neck>

    public init(_ binder: WeightBinder) {
        // v1b's deep stem: three 3x3 convolutions; the last one's BatchNorm is the top-level `bn1`.
        let stem = [
            binder.conv("conv1.0", batchNorm: "conv1.1", out: 32, in: 3, kernel: 3, stride: 2, padding: 1),
            binder.conv("conv1.3", batchNorm: "conv1.4", out: 32, in: 32, kernel: 3, padding: 1),
            binder.conv("conv1.6", batchNorm: "bn1", out: 64, in: 32, kernel: 3, padding: 1),
        ]
        trunk = ResNet(binder, stem: stem, prefix: "", depths: [3, 4, 23, 3])
    }

    /// frames: [3][N][224][224], normalized -> layer4, [2048][N][7][7].
    public func callAsFunction(_ frames: FeatureMap) -> FeatureMap { trunk(frames) }

}

/// Res2Net's `Bottle2neck` (26w×4s): a 1x1 conv to 4 splits of `width` channels; split i > 0
/// goes through its own 3x3 conv after adding the previous split's output (hierarchical
/// residual), the last split passes unchanged; a 1x1 conv joins them. The first block of a
/// stage ("stage" type) instead convolves every split on its own, strided, and average-pools
/// the last one (3x3, padding 1, counted). v1b's shortcut average-pools before its 1x1 conv.
struct Bottle2neck: ResidualBlock {
    static let expansion = 4
    static let scale = 4
    static let baseWidth = 26
    let width: Int
    let stride: Int
    let isStage: Bool
    let conv1: Conv2d
    /// `convs.0...2` with `bns.0...2` folded.
    let convs: [Conv2d]
    let conv3: Conv2d
    /// `downsample.1/2`, after AvgPool2d(stride, ceil_mode, padding not counted) `downsample.0`.
    let downsample: Conv2d?

    init(_ binder: WeightBinder, _ p: String, inChannels: Int, planes: Int, stride: Int, first: Bool) {
        let width = planes * Self.baseWidth / 64
        let out = planes * Self.expansion
        self.width = width
        self.stride = stride
        isStage = first
        conv1 = binder.conv("\(p).conv1", batchNorm: "\(p).bn1", out: width * Self.scale, in: inChannels, kernel: 1)
        convs = (0..<(Self.scale - 1)).map { i in
            binder.conv("\(p).convs.\(i)", batchNorm: "\(p).bns.\(i)", out: width, in: width, kernel: 3,
                        stride: stride, padding: 1)
        }
        conv3 = binder.conv("\(p).conv3", batchNorm: "\(p).bn3", out: out, in: width * Self.scale, kernel: 1)
        downsample = stride != 1 || inChannels != out
            ? binder.conv("\(p).downsample.1", batchNorm: "\(p).downsample.2", out: out, in: inChannels, kernel: 1)
            : nil
    }

    func callAsFunction(_ x: consuming FeatureMap) -> FeatureMap {
        var splits = conv1(x, relu: true)
        let w = width
        if isStage {
            // Branch outputs go straight into their slices of the concatenated map.
            let (h, wd) = convs[0].outputSize(height: x.height, width: x.width)
            var joined = FeatureMap(channels: w * Self.scale, batch: x.batch, height: h, width: wd)
            for (i, conv) in convs.enumerated() {
                conv(splits, channels: (i * w)..<((i + 1) * w), into: &joined, at: i * w, relu: true)
            }
            let last = (Self.scale - 1) * w
            Pool.average(splits, channels: last..<(last + w), into: &joined, at: last, kernel: 3, stride: stride, padding: 1)
            splits = joined
        } else {
            // In place: split i becomes conv_i(split i + output i-1); the last split stays.
            for (i, conv) in convs.enumerated() {
                if i > 0 { splits.add(channels: ((i - 1) * w)..<(i * w), to: i * w) }
                conv.replace(channels: (i * w)..<((i + 1) * w), of: &splits, relu: true)
            }
        }
        let shortcut = if let downsample { project(x, downsample) } else { consume x }
        return conv3(splits, relu: true, adding: consume shortcut)
    }

    private func project(_ x: FeatureMap, _ downsample: Conv2d) -> FeatureMap {
        // layer1's AvgPool2d(1, 1) is the identity.
        let pooled = stride == 1 ? x
            : Pool.average(x, kernel: stride, stride: stride, ceilMode: true, countIncludePad: false)
        return downsample(pooled)
    }
}

extension TAM: WeightedNetwork {
    /// The 200704x2 training head `fc` is never read.
    public static let facts = NetworkFacts(
        name: "tam", displayName: "TAM", role: "texture: Res2Net-101 v1b 26w4s layer4 map", checkpointFile: "modelcnn_<id>.pt",
        omittedKeys: ["fc.*", "*.num_batches_tracked"], dampedBatchNorms: "layer#.#.bn3.weight")
}
