import Foundation
import Imaging
import Tensors
import Weights
import DFGaze
import XCTest
import TestSupport

/// Paths into Tests/Fixtures/dfgaze-demo-v1 and the fixture's inputs in the networks' layout.
enum Fixture {
    static let directory = DemoFixture.directory

    static func url(_ name: String) -> URL { DemoFixture.url(name) }

    static func expected() throws -> SafeTensorsFile { try SafeTensorsFile(contentsOf: url("expected.safetensors")) }

    static func json(_ name: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(contentsOf: url(name))) }

    /// checkpoint_keys.json for `network`: every key of the authors' state dict with its shape.
    static func checkpointShapes(_ network: String) throws -> [String: [Int]] {
        Dictionary(try DemoFixture.checkpointKeys(network).map { ($0.key, $0.shape) }, uniquingKeysWith: { a, _ in a })
    }

    /// The keys the demo weights generate for `network` (demo_weights_sha256.json).
    static func generatedKeys(_ network: String) throws -> Set<String> { Set(try DemoFixture.demoHashes(network).keys) }

    /// Demo weights for a network whose parameter spec is `spec`.
    static func demoWeights(_ network: String, spec: [(key: String, shape: [Int])]) -> StateDict {
        DemoWeights.generate(network: network, keys: spec, isDamped: Networks.named(network)!.isDamped)
    }

    /// The crops normalised by the Imaging module (SPEC.md section 2), batched as [3][N][224][224].
    static func normalized(crops: [[UInt8]], size: Int = 224) -> FeatureMap {
        let planes = crops.flatMap { Preprocess.normalizedCHW(RGBImage(width: size, height: size, pixels: $0)) }
        return FeatureMap(nchw: planes, batch: crops.count, channels: 3, height: size, width: size)
    }

    /// The normalized crops `<name>.crop_rgb` of frames `names`, batched.
    static func frames(_ names: [String], from file: SafeTensorsFile) throws -> FeatureMap {
        normalized(crops: try names.map { try file.bytes("\($0).crop_rgb") })
    }

    /// Frame `n` of a map, in PyTorch's [C][H][W] order.
    static func frame(_ n: Int, of map: FeatureMap) -> [Float] {
        let per = map.channels * map.planeSize
        return Array(map.nchw()[(n * per)..<((n + 1) * per)])
    }
}
