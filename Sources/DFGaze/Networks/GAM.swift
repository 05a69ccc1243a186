import Foundation
import Tensors

/// GAM, the gaze branch: L2CS-Net (`l2cs1.L2CS` with torchvision's Bottleneck, [3, 4, 6, 3],
/// 90 bins of 4 degrees). Per frame it gives yaw and pitch logits, and its `layer4` map feeds
/// the aggregator.
public final class GAM: Sendable {
    public static let bins = 90
    let trunk: ResNet<Bottleneck>
    let fcYawGaze: Linear
    let fcPitchGaze: Linear

    public init(_ binder: WeightBinder) {
        let stem = binder.conv("conv1", batchNorm: "bn1", out: 64, in: 3, kernel: 7, stride: 2, padding: 3)
        trunk = ResNet(binder, stem: [stem], prefix: "", depths: [3, 4, 6, 3])
        fcYawGaze = binder.linear("fc_yaw_gaze", out: Self.bins, in: 2048)
        fcPitchGaze = binder.linear("fc_pitch_gaze", out: Self.bins, in: 2048)
    }

    /// frames: [3][N][224][224], normalized. Logits are N rows of 90; layer4 is [2048][N][7][7].
    public func callAsFunction(_ frames: FeatureMap) -> (yawLogits: [Float], pitchLogits: [Float], layer4: FeatureMap) {
        let layer4 = trunk(frames)
        let pooled = Pool.globalAverage(layer4)
        return (fcYawGaze(pooled, rows: layer4.batch), fcPitchGaze(pooled, rows: layer4.batch), layer4)
    }

    /// L2CS decoding: the expected bin under the softmax, in degrees (`bin * 4 - 180`), and the
    /// unit gaze vector (-cos p sin y, -sin p, -cos p cos y). Logits are rows of 90 per frame.
    public static func gaze(yawLogits: [Float], pitchLogits: [Float]) -> [(yawDeg: Double, pitchDeg: Double, vector: [Double])] {
        precondition(yawLogits.count == pitchLogits.count && yawLogits.count % bins == 0,
                     "gaze needs rows of \(bins) yaw and pitch logits")
        func degrees(_ logits: ArraySlice<Float>) -> Double {
            let m = Double(logits.max() ?? 0)
            var (total, weighted) = (0.0, 0.0)
            for (bin, l) in logits.enumerated() {
                let e = Foundation.exp(Double(l) - m)
                total += e
                weighted += e * Double(bin)
            }
            return weighted / total * 4 - 180
        }
        return (0..<(yawLogits.count / bins)).map { frame in
            let rows = (frame * bins)..<((frame + 1) * bins)
            let (yaw, pitch) = (degrees(yawLogits[rows]), degrees(pitchLogits[rows]))
            let (y, p) = (yaw * .pi / 180, pitch * .pi / 180)
            return (yaw, pitch, [-Foundation.cos(p) * Foundation.sin(y), -Foundation.sin(p), -Foundation.cos(p) * Foundation.cos(y)])
        }
    }
}

extension GAM: WeightedNetwork {
    /// `fc_finetune`, the L2CS fine-tuning head, is never read.
    public static let facts = NetworkFacts(
        name: "gam", displayName: "GAM", role: "gaze: L2CS ResNet-50, yaw/pitch over 90 bins and its layer4 map",
        checkpointFile: "model1_<id>.pt", omittedKeys: ["fc_finetune.*", "*.num_batches_tracked"], dampedBatchNorms: "layer#.#.bn3.weight")
}
