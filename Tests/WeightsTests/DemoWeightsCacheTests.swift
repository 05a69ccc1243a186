import Foundation
import Tensors
import XCTest
@testable import Weights
import TestSupport

final class DemoWeightsCacheTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// The pinned per-tensor hashes are the fixture's: the pin itself is tied to SPEC.md.
    func testPinnedTensorsAreTheFixturesDemoTensors() throws {
        let pinned = try WeightsManifest.decode(Data(contentsOf: DemoFixture.pinnedWeightsManifest))
        let hashes = try DemoFixture.demoHashes()
        let keys = try DemoFixture.checkpointKeys()
        XCTAssertEqual(pinned.name, "dfgaze-demo-v1")
        XCTAssertTrue(pinned.demo)
        XCTAssertEqual(pinned.provenance, DemoWeights.provenance)
        var count = 0
        for file in pinned.files {
            let expected = hashes[file.network] ?? [:]
            let shapes = Dictionary((keys[file.network] ?? []).map { ($0.key, $0.shape) }, uniquingKeysWith: { a, _ in a })
            XCTAssertEqual(Set(file.tensors.map(\.name)), Set(expected.keys), file.network)
            for t in file.tensors {
                XCTAssertEqual(t.sha256, expected[t.name], "\(file.network)/\(t.name)")
                XCTAssertEqual(t.shape, shapes[t.name], "\(file.network)/\(t.name)")
            }
            XCTAssertEqual(file.parameterCount, file.tensors.reduce(0) { $0 + $1.shape.reduce(1, *) })
            count += file.tensors.count
        }
        XCTAssertEqual(count, 1586)
    }

    // MARK: ensure, on small specs

    static let tinyNetworks: [DemoWeights.Network] = [
        tiny("gam", [("conv1.weight", [4, 3, 3, 3]), ("bn1.weight", [4]), ("bn1.running_mean", [4])]),
        tiny("tam", [("fc_head.weight", [2, 8])]),
        tiny("aam", [("fc.weight", [16, 4]), ("fc.bias", [16])]),
        tiny("agg", [("layer1.conv_block.7.weight", [3]), ("layer1.conv_block.7.running_mean", [3])]),
    ]

    static func tiny(_ name: String, _ parameters: [(key: String, shape: [Int])]) -> DemoWeights.Network {
        DemoWeights.Network(name: name, omittedKeys: ["*.num_batches_tracked"], parameters: parameters,
                            isDamped: { $0.hasSuffix("conv_block.7.weight") })
    }

    static func tiny(_ name: String) -> DemoWeights.Network { tinyNetworks.first { $0.name == name }! }

    func testEnsureWritesTheGeneratorsValues() throws {
        try DemoWeights.ensure(in: dir, networks: Self.tinyNetworks)
        let loaded = try WeightsDirectory.load(from: dir)
        XCTAssertTrue(loaded.manifest.demo)
        XCTAssertEqual(loaded.manifest.name, "dfgaze-demo-v1")
        for network in Self.tinyNetworks {
            XCTAssertEqual(loaded[network.name]?.tensors, DemoWeights.generate(network).tensors, network.name)
        }
    }

    func testLoadGeneratesOnceThenReadsTheSameWeightsBack() throws {
        let cold = try DemoWeights.load(in: dir, networks: Self.tinyNetworks)
        let warm = try DemoWeights.load(in: dir, networks: Self.tinyNetworks)
        XCTAssertEqual(warm.manifest, cold.manifest)
        for network in Self.tinyNetworks {
            let expected = DemoWeights.generate(network).tensors
            XCTAssertEqual(cold[network.name]?.tensors, expected, network.name)
            XCTAssertEqual(warm[network.name]?.tensors, expected, network.name)
        }
    }

    func testLoadReplacesACorruptedCache() throws {
        try DemoWeights.ensure(in: dir, networks: Self.tinyNetworks)
        let url = dir.appendingPathComponent("gam.safetensors")
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count - 1] ^= 0x80
        try bytes.write(to: url)
        let loaded = try DemoWeights.load(in: dir, networks: Self.tinyNetworks)
        XCTAssertEqual(loaded["gam"]?.tensors, DemoWeights.generate(Self.tiny("gam")).tensors)
        XCTAssertEqual(WeightsDirectory.verify(dir), [])
    }

    func testEnsureRegeneratesACorruptedFile() throws {
        try DemoWeights.ensure(in: dir, networks: Self.tinyNetworks)
        let url = dir.appendingPathComponent("aam.safetensors")
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count - 1] ^= 0x80
        try bytes.write(to: url)
        XCTAssertFalse(WeightsDirectory.verify(dir).isEmpty)
        try DemoWeights.ensure(in: dir, networks: Self.tinyNetworks)
        XCTAssertEqual(WeightsDirectory.verify(dir), [])
    }

    func testEnsureRegeneratesWhenTheNetworksAskForOtherParameters() throws {
        try DemoWeights.ensure(in: dir, networks: Self.tinyNetworks)
        var networks = Self.tinyNetworks
        networks[1] = Self.tiny("tam", [("fc_head.weight", [2, 9])])
        try DemoWeights.ensure(in: dir, networks: networks)
        XCTAssertEqual(try WeightsDirectory.load(from: dir)["tam"]?["fc_head.weight"]?.shape, [2, 9])
    }

    func testConcurrentEnsuresLeaveOneValidSetAndNoTemporaryFiles() throws {
        let dir = self.dir!
        let failures = concurrentMap(4) { _ in
            do { try DemoWeights.ensure(in: dir, networks: Self.tinyNetworks); return "" } catch { return "\(error)" }
        }
        XCTAssertEqual(failures, ["", "", "", ""])
        XCTAssertEqual(WeightsDirectory.verify(dir), [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(),
                       [".lock", "aam.safetensors", "agg.safetensors", "gam.safetensors", "manifest.json", "tam.safetensors"])
    }

    func testEnsureRegeneratesWhenTheNetworksAreOthers() throws {
        try DemoWeights.ensure(in: dir, networks: Self.tinyNetworks)
        try DemoWeights.ensure(in: dir, networks: Array(Self.tinyNetworks.dropLast()))
        XCTAssertEqual(try WeightsDirectory.load(from: dir).manifest.files.map(\.network), ["gam", "tam", "aam"])
    }

    /// With pins, a cache holding exactly the pinned files is used without asking for the
    /// networks' parameters; a cache with other files is generated afresh.
    func testPinnedCacheIsKeptWithoutAskingForParameters() throws {
        let written = try DemoWeights.load(in: dir, networks: Self.tinyNetworks)
        let pins = written.manifest.files.map { DemoWeights.Pin(network: $0.network, sha256: $0.sha256, bytes: $0.bytes) }
        func notToBeAsked() -> [DemoWeights.Network] {
            XCTFail("the networks' parameters were asked for")
            return Self.tinyNetworks
        }
        let warm = try DemoWeights.load(in: dir, networks: notToBeAsked(), pins: pins)
        XCTAssertEqual(warm.manifest, written.manifest)
        XCTAssertEqual(DemoWeights.differences(warm.manifest, from: pins), [])

        var other = pins
        other[2].sha256 = String(repeating: "0", count: 64)
        XCTAssertEqual(DemoWeights.differences(warm.manifest, from: other).count, 1)
        let gam = dir.appendingPathComponent("gam.safetensors").path
        let inode = try FileManager.default.attributesOfItem(atPath: gam)[.systemFileNumber] as? Int
        _ = try DemoWeights.load(in: dir, networks: Self.tinyNetworks, pins: other)
        XCTAssertNotEqual(try FileManager.default.attributesOfItem(atPath: gam)[.systemFileNumber] as? Int, inode,
                          "a cache without the pinned files is generated again")
    }

    func testDefaultCacheDirectory() {
        XCTAssertEqual(DemoWeights.defaultCacheDirectory(environment: ["DFGAZE_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x", "HOME": "/h"]).path,
                       "/c/dfgaze-demo-v1")
        XCTAssertEqual(DemoWeights.defaultCacheDirectory(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"]).path,
                       "/x/dfgaze/dfgaze-demo-v1")
        XCTAssertEqual(DemoWeights.defaultCacheDirectory(environment: ["XDG_CACHE_HOME": "relative", "HOME": "/h"]).path,
                       "/h/.cache/dfgaze/dfgaze-demo-v1")
    }
}
