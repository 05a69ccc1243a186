import Tensors

/// AAM, the attribute branch: FairFace's torchvision ResNet-34 (`attributecnn.ResNet34`, keys
/// under `base.`) and a Linear(512, 2048) `fc` that lifts its `layer4` map to the aggregator's
/// 2048 channels.
public final class AAM: Sendable {
    let trunk: ResNet<BasicBlock>
    let fc: Linear

    public init(_ binder: WeightBinder) {
        let stem = binder.conv("base.conv1", batchNorm: "base.bn1", out: 64, in: 3, kernel: 7, stride: 2, padding: 3)
        trunk = ResNet(binder, stem: [stem], prefix: "base.", depths: [3, 4, 6, 3])
        fc = binder.linear("fc", out: 2048, in: 512)
    }

    /// frames: [3][N][224][224], normalized -> the fc output as (N, 2048, 7, 7), in [C][N][H][W].
    ///
    /// The authors apply `fc` as `layer4.view(b*h*w, c)` on PyTorch's [N][C][H][W] buffer: each
    /// row is a run of 512 consecutive floats of one frame's [c][h][w] memory (not the channels
    /// of one position), and the (b*h*w, 2048) result is read back as (b, 2048, h, w). Taken
    /// literally, that is one GEMM over the NCHW buffer whose output is the NCHW result.
    public func callAsFunction(_ frames: FeatureMap) -> FeatureMap {
        let layer4 = trunk(frames)
        let rows = layer4.batch * layer4.planeSize
        let out = fc(layer4.nchw(), rows: rows)
        return FeatureMap(nchw: out, batch: layer4.batch, channels: fc.outFeatures,
                          height: layer4.height, width: layer4.width)
    }
}

extension AAM: WeightedNetwork {
    /// FairFace's 18-way head `base.fc`, replaced by `fc`, is never read.
    public static let facts = NetworkFacts(
        name: "aam", displayName: "AAM", role: "attributes: FairFace ResNet-34 + fc; its maps never reach the score",
        checkpointFile: "modelatt_<id>.pt", omittedKeys: ["base.fc.*", "*.num_batches_tracked"],
        dampedBatchNorms: "base.layer#.#.bn2.weight")
}
