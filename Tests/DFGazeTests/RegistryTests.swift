import Foundation
import Tensors
import Weights
import XCTest
@testable import DFGaze
import TestSupport

/// The registry's per-network facts against the fixture (SPEC.md section 1): the demo recipe with
/// each network's damping rule reproduces every demo tensor, and the omitted-key patterns are
/// exactly the checkpoint keys without demo values.
final class RegistryTests: XCTestCase {
    func testNetworksInTheOrderOfTheManifest() {
        XCTAssertEqual(Networks.names, ["gam", "tam", "aam", "agg"])
        XCTAssertEqual(Networks.all.map { $0.checkpointFileName(id: 7) },
                       ["model1_7.pt", "modelcnn_7.pt", "modelatt_7.pt", "capsule_7.pt"])
    }

    func testEveryDemoTensorMatchesTheFixtureSHA256() throws {
        var checked = 0
        for network in Networks.all {
            let expected = try DemoFixture.demoHashes(network.name)
            let spec = try DemoFixture.checkpointKeys(network.name).filter { expected[$0.key] != nil }
            XCTAssertEqual(spec.count, expected.count, "\(network.name): every hashed key is in checkpoint_keys.json")
            let state = DemoWeights.generate(network.demo(parameters: spec))
            for (key, sha) in expected {
                let t = try XCTUnwrap(state[key], "\(network.name)/\(key) not generated")
                XCTAssertEqual(t.values.withUnsafeBytes { SHA256.hex($0) }, sha, "\(network.name)/\(key)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 1586)
    }

    func testOmittedKeysAreTheKeysWithoutDemoValues() throws {
        for network in Networks.all {
            let hashes = try DemoFixture.demoHashes(network.name)
            for (key, _) in try DemoFixture.checkpointKeys(network.name) {
                XCTAssertEqual(network.isOmitted(key), hashes[key] == nil, "\(network.name)/\(key)")
            }
        }
    }

    func testDampedBatchNormsAreTheLastOfEachResidualBranch() {
        XCTAssertTrue(GAM.isDamped("layer1.0.bn3.weight"))
        XCTAssertFalse(GAM.isDamped("layer1.0.bn2.weight"))
        XCTAssertFalse(GAM.isDamped("layer1.0.bn3.bias"))
        XCTAssertTrue(TAM.isDamped("layer3.22.bn3.weight"))
        XCTAssertTrue(AAM.isDamped("base.layer4.2.bn2.weight"))
        XCTAssertFalse(AAM.isDamped("layer4.2.bn2.weight"))
        XCTAssertTrue(PSTA.isDamped("layer2.conv_block.7.weight"))
        XCTAssertFalse(PSTA.isDamped("layer2.conv_block.4.weight"))
    }

    /// The demo generator and writer, given what the networks read, give exactly the pinned
    /// manifest (weights-manifest.json), so drift in either fails here.
    func testRegeneratedDemoWeightsAreExactlyThePinnedManifest() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let specs = try Dictionary(uniqueKeysWithValues: Networks.all.map { network in
            (network.name, try DemoFixture.checkpointKeys(network.name).filter { !network.isOmitted($0.key) })
        })
        let cold = try DemoWeights.load(in: dir, networks: Networks.demo(specs: specs))
        let written = try Data(contentsOf: dir.appendingPathComponent(WeightsDirectory.manifestFileName))
        let pinnedData = try Data(contentsOf: DemoFixture.pinnedWeightsManifest)
        let pinned = try WeightsManifest.decode(pinnedData)
        XCTAssertEqual(cold.manifest, pinned)
        XCTAssertEqual(String(decoding: written, as: UTF8.self), String(decoding: pinnedData, as: UTF8.self))
        XCTAssertEqual(DemoWeights.differences(cold.manifest, from: Networks.demoPins), [],
                       "the binary's pins are weights-manifest.json's (scripts/pin-demo-manifest.sh)")
        XCTAssertEqual(WeightsDirectory.verify(dir, expecting: pinned), [])
        // The next start reads the files back instead of generating.
        let gam = dir.appendingPathComponent("gam.safetensors").path
        let inode = try FileManager.default.attributesOfItem(atPath: gam)[.systemFileNumber] as? Int
        let warm = try DemoWeights.load(in: dir, networks: Networks.demo(specs: specs))
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: gam)[.systemFileNumber] as? Int, inode)
        for network in Networks.names {
            XCTAssertEqual(warm[network]?.keys, specs[network]?.map(\.key).sorted(), network)
            XCTAssertTrue(warm[network]?.tensors == cold[network]?.tensors, network)
        }
    }

    func testAModelNeedsEveryNetworkInOrder() throws {
        var manifest = try WeightsManifest.decode(Data(contentsOf: DemoFixture.pinnedWeightsManifest))
        manifest.files.swapAt(0, 1)
        XCTAssertThrowsError(try manifest.require(networks: Networks.names)) {
            XCTAssertTrue("\($0)".contains("expected [\"gam\", \"tam\", \"aam\", \"agg\"]"), "\($0)")
        }
    }
}
