import Foundation
import Tensors
import Weights

/// Turns the authors' four PyTorch checkpoints into a weights folder, with no Python:
/// `model1_<id>.pt` (GAM), `modelcnn_<id>.pt` (TAM), `modelatt_<id>.pt` (AAM), `capsule_<id>.pt` (PSTA).
public enum CheckpointImport {
    public static func fileName(network: String, id: Int) -> String {
        switch network {
        case "gam": "model1_\(id).pt"
        case "tam": "modelcnn_\(id).pt"
        case "aam": "modelatt_\(id).pt"
        default: "capsule_\(id).pt"
        }
    }

    public struct Summary: Sendable {
        public var manifest: WeightsManifest
        /// Per network, the checkpoint keys not stored because the forward pass never reads them.
        public var dropped: [String: [String]]
    }

    /// Reads, checks and binds the four checkpoints (so a wrong or truncated file fails here,
    /// naming the file and key), then writes safetensors files and a manifest into `output`.
    public static func run(from directory: URL, id: Int, to output: URL, name: String? = nil,
                           tool: String = "dfgaze weights import") throws -> Summary {
        var networks: [String: StateDict] = [:]
        var dropped: [String: [String]] = [:]
        var sources: [WeightsManifest.Source] = []
        for network in WeightsManifest.networks {
            let url = directory.appendingPathComponent(fileName(network: network, id: id))
            let data: Data
            do { data = try Data(contentsOf: url, options: .alwaysMapped) }
            catch { throw ImportError("cannot read \(url.path): \(error.localizedDescription)") }
            let checkpoint: Checkpoint
            do { checkpoint = try PyTorchCheckpoint.load(data: data) }
            catch { throw ImportError("\(url.lastPathComponent): \(error)") }
            var state = StateDict()
            var left: [String] = checkpoint.otherKeys
            for (key, tensor) in checkpoint.floatTensors.tensors {
                if WeightsManifest.isOmitted(key, network: network) { left.append(key) } else { state[key] = tensor }
            }
            do { try bind(network, state) }
            catch { throw ImportError("\(url.lastPathComponent): \(error)") }
            networks[network] = state
            dropped[network] = left.sorted()
            sources.append(.init(network: network, file: url.lastPathComponent, sha256: SHA256.hex(data), bytes: data.count))
        }
        let provenance = WeightsManifest.Provenance(
            sources: sources, importedAt: ISO8601DateFormatter().string(from: Date()), tool: tool)
        let manifest = try WeightsDirectory.write(networks: networks, name: name ?? "dfgaze-checkpoint-\(id)", demo: false,
                                                  provenance: provenance, to: output)
        return Summary(manifest: manifest, dropped: dropped)
    }

    /// Binds `state` to its network: every missing, misshapen or unexpected key is an error.
    static func bind(_ network: String, _ state: StateDict) throws {
        switch network {
        case "gam": _ = try GAM(weights: state)
        case "tam": _ = try TAM(weights: state)
        case "aam": _ = try AAM(weights: state)
        default: _ = try PSTA(weights: state)
        }
    }
}

public struct ImportError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
