import Foundation
import Tensors
import Weights

/// Turns the authors' PyTorch checkpoints, one per network (`checkpointFileName(id:)`, e.g.
/// `model1_<id>.pt` for GAM), into a weights folder, with no Python.
public enum CheckpointImport {
    public struct Summary: Sendable {
        public var manifest: WeightsManifest
        /// Per network, the checkpoint keys not stored because the forward pass never reads them.
        public var dropped: [String: [String]]
    }

    /// Reads, checks and binds the four checkpoints (so a wrong or truncated file fails here,
    /// naming the file and key), then writes safetensors files and a manifest into `output`.
    public static func run(from directory: URL, id: Int, to output: URL, name: String? = nil,
                           tool: String = "dfgaze weights import") throws -> Summary {
        var networks: [WeightsDirectory.NetworkState] = []
        var dropped: [String: [String]] = [:]
        var sources: [WeightsManifest.Source] = []
        for type in Networks.all {
            let network = type.name
            let url = directory.appendingPathComponent(type.checkpointFileName(id: id))
            let data: Data
            do { data = try Data(contentsOf: url, options: .alwaysMapped) }
            catch { throw ImportError("cannot read \(url.path): \(error.localizedDescription)") }
            let checkpoint: Checkpoint
            do { checkpoint = try PyTorchCheckpoint.load(data: data) }
            catch { throw ImportError("\(url.lastPathComponent): \(error)") }
            var state = StateDict()
            var left: [String] = checkpoint.otherKeys
            for (key, tensor) in checkpoint.floatTensors.tensors {
                if type.isOmitted(key) { left.append(key) } else { state[key] = tensor }
            }
            do { try type.bind(state) }
            catch { throw ImportError("\(url.lastPathComponent): \(error)") }
            networks.append(.init(network: network, omittedKeys: type.omittedKeys, state: state))
            dropped[network] = left.sorted()
            sources.append(.init(network: network, file: url.lastPathComponent, sha256: SHA256.hex(data), bytes: data.count))
        }
        let provenance = WeightsManifest.Provenance(
            sources: sources, importedAt: ISO8601DateFormatter().string(from: Date()), tool: tool)
        let manifest = try WeightsDirectory.write(networks: networks, name: name ?? "dfgaze-checkpoint-\(id)", demo: false,
                                                  provenance: provenance, to: output)
        return Summary(manifest: manifest, dropped: dropped)
    }
}

public struct ImportError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
