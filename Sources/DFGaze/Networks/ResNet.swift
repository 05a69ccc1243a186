import Tensors

/// One residual block of a ResNet-style trunk, bound to its state-dict keys.
protocol ResidualBlock: Sendable {
    /// The block's channel multiplier: its output has `planes * expansion` channels.
    static var expansion: Int { get }
    /// Binds block `prefix` (e.g. `layer2.0`); `first` marks the first block of a stage.
    init(_ binder: WeightBinder, _ prefix: String, inChannels: Int, planes: Int, stride: Int, first: Bool)
    /// Consumes x: the last convolution accumulates onto the shortcut in place, which for an
    /// identity shortcut is x itself.
    func callAsFunction(_ x: consuming FeatureMap) -> FeatureMap
}

/// The trunk shared by the three backbones: a stem of convolutions (BatchNorm folded), each
/// followed by ReLU, a 3x3 stride-2 max-pool, then `layer1`...`layer4`, whose planes are
/// 64·2^i and whose first block strides by 2 from `layer2` on. The output is `layer4`.
struct ResNet<Block: ResidualBlock>: Sendable {
    let stem: [Conv2d]
    let blocks: [Block]

    init(_ binder: WeightBinder, stem: [Conv2d], prefix: String, depths: [Int]) {
        self.stem = stem
        var blocks: [Block] = []
        var inChannels = 64
        for (stage, depth) in depths.enumerated() {
            let planes = 64 << stage
            for i in 0..<depth {
                let stride = stage > 0 && i == 0 ? 2 : 1
                blocks.append(Block(binder, "\(prefix)layer\(stage + 1).\(i)", inChannels: inChannels,
                                    planes: planes, stride: stride, first: i == 0))
                inChannels = planes * Block.expansion
            }
        }
        self.blocks = blocks
    }

    func callAsFunction(_ frames: FeatureMap) -> FeatureMap {
        var x = frames
        for conv in stem { x = conv(x, relu: true) }
        x = Pool.max(x, kernel: 3, stride: 2, padding: 1)
        for block in blocks { x = block(consume x) }
        return x
    }
}

/// torchvision's `Bottleneck` (ResNet-50 v1.5, the stride on the 3x3 conv): 1x1, 3x3, 1x1
/// convolutions, a 1x1 strided projection shortcut (`downsample.0/1`) where the shape changes.
struct Bottleneck: ResidualBlock {
    static let expansion = 4
    let conv1: Conv2d
    let conv2: Conv2d
    let conv3: Conv2d
    let downsample: Conv2d?

    init(_ binder: WeightBinder, _ p: String, inChannels: Int, planes: Int, stride: Int, first: Bool) {
        let out = planes * Self.expansion
        conv1 = binder.conv("\(p).conv1", batchNorm: "\(p).bn1", out: planes, in: inChannels, kernel: 1)
        conv2 = binder.conv("\(p).conv2", batchNorm: "\(p).bn2", out: planes, in: planes, kernel: 3,
                            stride: stride, padding: 1)
        conv3 = binder.conv("\(p).conv3", batchNorm: "\(p).bn3", out: out, in: planes, kernel: 1)
        downsample = stride != 1 || inChannels != out
            ? binder.conv("\(p).downsample.0", batchNorm: "\(p).downsample.1", out: out, in: inChannels,
                          kernel: 1, stride: stride)
            : nil
    }

    func callAsFunction(_ x: consuming FeatureMap) -> FeatureMap {
        let branch = conv2(conv1(x, relu: true), relu: true)
        let shortcut = if let downsample { downsample(x) } else { consume x }
        return conv3(branch, relu: true, adding: consume shortcut)
    }
}

/// torchvision's `BasicBlock` (ResNet-34): two 3x3 convolutions, the first strided, and a 1x1
/// strided projection shortcut (`downsample.0/1`) where the shape changes.
struct BasicBlock: ResidualBlock {
    static let expansion = 1
    let conv1: Conv2d
    let conv2: Conv2d
    let downsample: Conv2d?

    init(_ binder: WeightBinder, _ p: String, inChannels: Int, planes: Int, stride: Int, first: Bool) {
        conv1 = binder.conv("\(p).conv1", batchNorm: "\(p).bn1", out: planes, in: inChannels, kernel: 3,
                            stride: stride, padding: 1)
        conv2 = binder.conv("\(p).conv2", batchNorm: "\(p).bn2", out: planes, in: planes, kernel: 3, padding: 1)
        downsample = stride != 1 || inChannels != planes
            ? binder.conv("\(p).downsample.0", batchNorm: "\(p).downsample.1", out: planes, in: inChannels,
                          kernel: 1, stride: stride)
            : nil
    }

    func callAsFunction(_ x: consuming FeatureMap) -> FeatureMap {
        let branch = conv1(x, relu: true)
        let shortcut = if let downsample { downsample(x) } else { consume x }
        return conv2(branch, relu: true, adding: consume shortcut)
    }
}
