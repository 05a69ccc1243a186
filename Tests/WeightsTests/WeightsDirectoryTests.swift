import Foundation
import Tensors
import XCTest
@testable import Weights

final class WeightsDirectoryTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("weights-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static let networks: [WeightsDirectory.NetworkState] = [
        .init(network: "gam", omittedKeys: ["fc_finetune.*"],
              state: StateDict(["conv1.weight": Tensor(shape: [2, 1, 1, 1], values: [1, 2]),
                                "bn1.running_var": Tensor(shape: [3], values: [1, 1.5, 2])])),
        .init(network: "tam", omittedKeys: [], state: StateDict(["conv1.0.weight": Tensor(shape: [1, 1, 1, 1], values: [-3])])),
        .init(network: "aam", omittedKeys: ["base.fc.*", "*.num_batches_tracked"],
              state: StateDict(["fc.weight": Tensor(shape: [2, 2], values: [1, 0, 0, 1]), "fc.bias": Tensor(shape: [2], values: [0.5, -0.5])])),
        .init(network: "agg", omittedKeys: ["base.*"], state: StateDict(["classifier.weight": Tensor(shape: [2, 1], values: [4, 5])])),
    ]

    static let provenance = WeightsManifest.Provenance(
        sources: [.init(network: "gam", file: "model1_x.pt", sha256: String(repeating: "0", count: 64), bytes: 1)],
        importedAt: "2025-01-01T00:00:00Z", tool: "dfgaze test")

    func testWriteThenLoadGivesTheSameParametersAndAnAccurateManifest() throws {
        let manifest = try WeightsDirectory.write(networks: Self.networks, name: "tiny", demo: false, provenance: Self.provenance, to: dir)
        XCTAssertEqual(try WeightsDirectory.readManifest(in: dir), manifest)
        XCTAssertEqual(manifest.files.map(\.network), ["gam", "tam", "aam", "agg"])
        for file in manifest.files {
            let bytes = try Data(contentsOf: dir.appendingPathComponent(file.file))
            XCTAssertEqual(file.file, "\(file.network).safetensors")
            XCTAssertEqual(file.bytes, bytes.count)
            XCTAssertEqual(file.sha256, SHA256.hex(bytes))
            let state = try XCTUnwrap(Self.networks.first { $0.network == file.network }?.state)
            XCTAssertEqual(file.tensorCount, state.tensors.count)
            XCTAssertEqual(file.parameterCount, state.tensors.values.reduce(0) { $0 + $1.count })
            XCTAssertEqual(file.omittedKeys, Self.networks.first { $0.network == file.network }?.omittedKeys)
            XCTAssertEqual(file.tensors.map(\.name), state.keys)
            for t in file.tensors { XCTAssertEqual(t.sha256, state[t.name]?.values.withUnsafeBytes { SHA256.hex($0) }) }
        }
        let loaded = try WeightsDirectory.load(from: dir, expecting: manifest)
        for n in Self.networks { XCTAssertEqual(loaded[n.network]?.tensors, n.state.tensors, n.network) }
        XCTAssertEqual(WeightsDirectory.verify(dir, expecting: manifest), [])
    }

    func testLoadRefusesAFileWhoseSHA256DiffersNamingTheFileAndBothHashes() throws {
        let manifest = try WeightsDirectory.write(networks: Self.networks, name: "tiny", demo: false, provenance: Self.provenance, to: dir)
        let url = dir.appendingPathComponent("tam.safetensors")
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count - 1] ^= 1  // same size, one bit of the last value
        try bytes.write(to: url)
        XCTAssertThrowsError(try WeightsDirectory.load(from: dir)) { error in
            XCTAssertEqual(error as? WeightsError, .mismatch(file: url.path, what: "SHA-256",
                                                             expected: manifest.file(network: "tam")?.sha256 ?? "", actual: SHA256.hex(bytes)))
            XCTAssertTrue("\(error)".contains("tam.safetensors"))
        }
    }

    func testLoadRefusesAFileOfTheWrongSize() throws {
        try WeightsDirectory.write(networks: Self.networks, name: "tiny", demo: false, provenance: Self.provenance, to: dir)
        let url = dir.appendingPathComponent("agg.safetensors")
        let size = try Data(contentsOf: url).count
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0]))
        try handle.close()
        XCTAssertThrowsError(try WeightsDirectory.load(from: dir)) {
            XCTAssertEqual($0 as? WeightsError, .mismatch(file: url.path, what: "size", expected: "\(size) bytes", actual: "\(size + 1) bytes"))
        }
    }

    func testLoadRefusesAManifestOtherThanTheExpectedOne() throws {
        var manifest = try WeightsDirectory.write(networks: Self.networks, name: "tiny", demo: false, provenance: Self.provenance, to: dir)
        let actual = manifest.files[0].sha256
        manifest.files[0].sha256 = String(repeating: "a", count: 64)
        manifest.demo = true
        XCTAssertThrowsError(try WeightsDirectory.load(from: dir, expecting: manifest)) {
            XCTAssertEqual($0 as? WeightsError, .invalid([
                "manifest: demo is false, expected true",
                "gam.safetensors: sha256 is \(actual), expected \(String(repeating: "a", count: 64))",
            ]))
        }
    }

    func testVerifyListsEveryDifferenceExactly() throws {
        let manifest = try WeightsDirectory.write(networks: Self.networks, name: "tiny", demo: false, provenance: Self.provenance, to: dir)
        let gam = dir.appendingPathComponent("gam.safetensors")
        try SafeTensorsWriter.write(StateDict([
            "conv1.weight": Tensor(shape: [2, 1, 1, 1], values: [1, 3]),
            "bn1.running_var": Tensor(shape: [1, 3], values: [1, 1.5, 2]),
            "extra": Tensor(shape: [1], values: [0]),
        ]), to: gam)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("agg.safetensors"))
        let gamBytes = try Data(contentsOf: gam)
        let expected = try XCTUnwrap(manifest.file(network: "gam"))
        let newConv = [Float](arrayLiteral: 1, 3).withUnsafeBytes { SHA256.hex($0) }
        let oldConv = try XCTUnwrap(expected.tensors.first { $0.name == "conv1.weight" }?.sha256)
        let lines = WeightsDirectory.verify(dir)
        XCTAssertEqual(Array(lines.dropLast()), [
            "gam.safetensors: size is \(gamBytes.count) bytes, manifest says \(expected.bytes)",
            "gam.safetensors: sha256 is \(SHA256.hex(gamBytes)), manifest says \(expected.sha256)",
            "gam.safetensors: holds 3 tensors, manifest says 2",
            "gam.safetensors: holds 6 parameters, manifest says 5",
            "gam.safetensors: tensor bn1.running_var has shape [1, 3], expected [3]",
            "gam.safetensors: tensor conv1.weight has sha256 \(newConv), expected \(oldConv)",
            "gam.safetensors: unexpected tensor extra",
        ])
        XCTAssertTrue(lines.last?.contains("cannot read \(dir.appendingPathComponent("agg.safetensors").path)") == true, "\(lines)")
    }

    func testVerifyReportsAMissingManifest() throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let lines = WeightsDirectory.verify(dir)
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines[0].contains("manifest.json"), "\(lines)")
    }

    func testManifestMustNameEachNetworksFileInsideTheFolder() throws {
        var manifest = try WeightsDirectory.write(networks: Self.networks, name: "tiny", demo: false, provenance: Self.provenance, to: dir)
        manifest.files[1].file = "../tam.safetensors"
        XCTAssertThrowsError(try WeightsManifest.decode(manifest.encoded())) {
            XCTAssertEqual($0 as? WeightsError, .badManifest("file of tam is \"../tam.safetensors\", expected tam.safetensors"))
        }
        manifest.files[1] = manifest.files[0]
        XCTAssertThrowsError(try WeightsManifest.decode(manifest.encoded())) {
            guard case .badManifest(let m) = $0 as? WeightsError else { return XCTFail("\($0)") }
            XCTAssertTrue(m.contains("a network more than once"), m)
        }
        // Which networks a model needs is the model's to say.
        manifest.files.removeLast()
        XCTAssertThrowsError(try manifest.require(networks: ["gam", "gam", "aam", "agg"])) {
            guard case .badManifest(let m) = $0 as? WeightsError else { return XCTFail("\($0)") }
            XCTAssertTrue(m.contains("expected [\"gam\", \"gam\", \"aam\", \"agg\"]"), m)
        }
        XCTAssertThrowsError(try WeightsManifest.decode(Data("{}".utf8)))
    }

    func testManifestJSONUsesSnakeCaseAndRoundTrips() throws {
        let manifest = try WeightsDirectory.write(networks: Self.networks, name: "tiny", demo: false, provenance: Self.provenance, to: dir)
        let json = String(decoding: manifest.encoded(), as: UTF8.self)
        for key in ["\"format_version\" : 1", "\"tensor_count\"", "\"parameter_count\"", "\"omitted_keys\"", "\"imported_at\""] {
            XCTAssertTrue(json.contains(key), key)
        }
        XCTAssertEqual(try WeightsManifest.decode(manifest.encoded()), manifest)
    }

    func testWriteRefusesANetworkTwice() {
        XCTAssertThrowsError(try WeightsDirectory.write(networks: Self.networks + [Self.networks[0]], name: "x", demo: false,
                                                        provenance: Self.provenance, to: dir))
    }

    func testOmittedKeyPatterns() {
        XCTAssertTrue(WeightsManifest.matches("base.fc.weight", patterns: ["base.fc.*"]))
        XCTAssertFalse(WeightsManifest.matches("base.fc_x", patterns: ["base.fc.*"]))
        XCTAssertTrue(WeightsManifest.matches("layer1.0.bn1.num_batches_tracked", patterns: ["*.num_batches_tracked"]))
        XCTAssertTrue(WeightsManifest.matches("fc", patterns: ["fc"]))
        XCTAssertFalse(WeightsManifest.matches("fc.weight", patterns: ["fc"]))
    }
}
