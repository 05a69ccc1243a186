import DFGaze
import Foundation
import Tensors
import Weights
import TestSupport

/// The aggregator's inputs and ground truth from Tests/Fixtures/dfgaze-demo-v1: clip a's maps
/// (frames a_0..a_3), the authors' head outputs for it, the `agg` checkpoint keys, and a PSTA
/// bound to the demo weights. Loaded once for all aggregator tests.
struct AggregatorFixture: Sendable {
    static let directory = DemoFixture.directory
    static let shared = Result { try AggregatorFixture() }

    /// Shape of every key of the authors' `agg` state dict.
    let checkpointShapes: [String: [Int]]
    /// The keys SPEC.md's demo weights are generated for (demo_weights_sha256.json, `agg`).
    let generatedKeys: Set<String>
    let weights: StateDict
    let psta: PSTA
    /// Clip a, 4 frames: [2048][4][7][7] each.
    let gaze: FeatureMap
    let texture: FeatureMap
    let attribute: FeatureMap
    /// `video8.clip0.head_logits` / `.head_softmax`, 3x2 row-major.
    let headLogits: [Float]
    let headSoftmax: [Float]

    init() throws {
        checkpointShapes = Dictionary(try DemoFixture.checkpointKeys("agg").map { ($0.key, $0.shape) },
                                      uniquingKeysWith: { a, _ in a })
        generatedKeys = Set(try DemoFixture.demoHashes("agg").keys)
        weights = DemoWeights.generate(PSTA.demo(parameters: PSTA.parameterSpec))
        psta = try PSTA(weights: weights)

        let expected = try SafeTensorsFile(contentsOf: Self.directory.appendingPathComponent("expected.safetensors"))
        func frames(_ suffix: String) throws -> FeatureMap {
            let nchw = try (0..<4).flatMap { try expected.tensor("a_\($0).\(suffix)").values }
            return FeatureMap(nchw: nchw, batch: 4, channels: 2048, height: 7, width: 7)
        }
        gaze = try frames("gam.layer4")
        texture = try frames("tam.layer4")
        attribute = try frames("aam.out")
        headLogits = try expected.tensor("video8.clip0.head_logits").values
        headSoftmax = try expected.tensor("video8.clip0.head_softmax").values
    }
}
