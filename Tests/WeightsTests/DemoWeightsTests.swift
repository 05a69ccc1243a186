import Foundation
import Tensors
import XCTest
@testable import Weights

/// The demo generator must reproduce SPEC.md section 1 bit for bit.
final class DemoWeightsTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/dfgaze-demo-v1")

    func testEveryDemoTensorMatchesTheFixtureSHA256() throws {
        let keys = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.fixture.appendingPathComponent("checkpoint_keys.json"))) as! [String: [[Any]]]
        let hashes = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.fixture.appendingPathComponent("demo_weights_sha256.json"))) as! [String: [String: String]]
        var checked = 0
        for network in ["gam", "tam", "aam", "agg"] {
            let expected = hashes[network]!
            let spec = keys[network]!.compactMap { row -> (key: String, shape: [Int])? in
                let key = row[0] as! String
                return expected[key] == nil ? nil : (key, row[1] as! [Int])
            }
            XCTAssertEqual(spec.count, expected.count, "\(network): every hashed key is in checkpoint_keys.json")
            let state = DemoWeights.generate(network: network, keys: spec)
            for (key, sha) in expected {
                let t = try XCTUnwrap(state[key], "\(network)/\(key) not generated")
                XCTAssertEqual(t.values.withUnsafeBytes { SHA256.hex($0) }, sha, "\(network)/\(key)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 1586)
    }

    func testSeedIsFNV1a64OfTheKeyPath() {
        // FNV-1a 64 test vectors (empty string is the offset basis; "a" is well known).
        XCTAssertEqual(DemoWeights.fnv1a64(""), 0xCBF2_9CE4_8422_2325)
        XCTAssertEqual(DemoWeights.fnv1a64("a"), 0xAF63_DC4C_8601_EC8C)
    }

    func testDampedBatchNormsAreTheLastOfEachResidualBranch() {
        XCTAssertTrue(DemoWeights.isDamped(network: "gam", key: "layer1.0.bn3.weight"))
        XCTAssertFalse(DemoWeights.isDamped(network: "gam", key: "layer1.0.bn2.weight"))
        XCTAssertFalse(DemoWeights.isDamped(network: "gam", key: "layer1.0.bn3.bias"))
        XCTAssertTrue(DemoWeights.isDamped(network: "aam", key: "base.layer4.2.bn2.weight"))
        XCTAssertTrue(DemoWeights.isDamped(network: "agg", key: "layer2.conv_block.7.weight"))
        XCTAssertFalse(DemoWeights.isDamped(network: "agg", key: "layer2.conv_block.4.weight"))
    }
}
