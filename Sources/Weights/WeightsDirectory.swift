import Foundation
import Tensors

/// The networks' parameters from a weights folder, and the manifest they were checked against.
public struct LoadedWeights: Sendable {
    public let directory: URL
    public let manifest: WeightsManifest
    /// By network name (the manifest's `network`).
    public let networks: [String: StateDict]

    public subscript(network: String) -> StateDict? { networks[network] }
}

/// A weights folder: one `<network>.safetensors` per network and `manifest.json` describing them.
public enum WeightsDirectory {
    public static let manifestFileName = "manifest.json"
    /// A manifest lists about 1600 tensors; anything far larger is not one.
    static let maxManifestBytes = 16 << 20

    public static func readManifest(in dir: URL) throws -> WeightsManifest {
        let url = dir.appendingPathComponent(manifestFileName)
        let data: Data
        do {
            let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0
            guard size <= maxManifestBytes else { throw WeightsError.badManifest("\(url.path) is \(size) bytes") }
            data = try Data(contentsOf: url)
        } catch let error as WeightsError { throw error }
        catch { throw WeightsError.unreadable(file: url.path, reason: error.localizedDescription) }
        return try WeightsManifest.decode(data)
    }

    /// Reads every network's parameters. Every file's size and SHA-256 is checked against the
    /// manifest before any of it is parsed, and, given `expecting`, the manifest itself must match
    /// it (name, demo flag, files, tensors; provenance aside).
    public static func load(from dir: URL, expecting: WeightsManifest? = nil) throws -> LoadedWeights {
        let manifest = try readManifest(in: dir)
        if let expecting {
            let differences = expecting.differences(from: manifest)
            guard differences.isEmpty else { throw WeightsError.invalid(differences) }
        }
        let files = manifest.files
        let results = concurrentMap(files.count) { i in Result { try loadFile(files[i], in: dir) } }
        var networks: [String: StateDict] = [:]
        for (file, result) in zip(files, results) { networks[file.network] = try result.get() }
        return LoadedWeights(directory: dir, manifest: manifest, networks: networks)
    }

    /// One file: mapped, checked (size, SHA-256, then the tensor table), then copied out.
    static func loadFile(_ entry: WeightsManifest.File, in dir: URL) throws -> StateDict {
        let file = try SafeTensorsFile(data: checkedData(entry, in: dir))
        // The file hash covers the values; the table catches a manifest inconsistent with its file.
        let table = tensorTable(file, hashing: false)
        let differences = WeightsManifest.tensorDifferences(
            file: entry.file, expected: entry.tensors.map { var t = $0; t.sha256 = ""; return t }, found: table)
        guard differences.isEmpty else { throw WeightsError.invalid(differences) }
        return try file.stateDict()
    }

    /// The file mapped, once its size and SHA-256 are the manifest's.
    static func checkedData(_ entry: WeightsManifest.File, in dir: URL) throws -> Data {
        let url = dir.appendingPathComponent(entry.file)
        let data = try map(url)
        guard data.count == entry.bytes else {
            throw WeightsError.mismatch(file: url.path, what: "size", expected: "\(entry.bytes) bytes", actual: "\(data.count) bytes")
        }
        let sha256 = SHA256.hex(data)
        guard sha256 == entry.sha256 else {
            throw WeightsError.mismatch(file: url.path, what: "SHA-256", expected: entry.sha256, actual: sha256)
        }
        return data
    }

    /// Every difference between the folder and its manifest (and `expecting`, when given), one
    /// line each; empty when the folder is exactly what the manifest says.
    public static func verify(_ dir: URL, expecting: WeightsManifest? = nil) -> [String] {
        let manifest: WeightsManifest
        do { manifest = try readManifest(in: dir) } catch { return ["\(error)"] }
        let out = expecting?.differences(from: manifest) ?? []
        let files = manifest.files
        return out + concurrentMap(files.count) { verifyFile(files[$0], in: dir) }.joined()
    }

    static func verifyFile(_ entry: WeightsManifest.File, in dir: URL) -> [String] {
        let name = entry.file
        let data: Data
        do { data = try map(dir.appendingPathComponent(name)) } catch { return ["\(error)"] }
        var out: [String] = []
        if data.count != entry.bytes { out.append("\(name): size is \(data.count) bytes, manifest says \(entry.bytes)") }
        let sha256 = SHA256.hex(data)
        if sha256 != entry.sha256 { out.append("\(name): sha256 is \(sha256), manifest says \(entry.sha256)") }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(data: data) } catch { return out + ["\(name): \(error)"] }
        let table = tensorTable(file, hashing: true)
        if table.count != entry.tensorCount { out.append("\(name): holds \(table.count) tensors, manifest says \(entry.tensorCount)") }
        let parameters = table.reduce(0) { $0 + $1.shape.reduce(1, *) }
        if parameters != entry.parameterCount { out.append("\(name): holds \(parameters) parameters, manifest says \(entry.parameterCount)") }
        return out + WeightsManifest.tensorDifferences(file: name, expected: entry.tensors, found: table)
    }

    /// The file's tensors in storage order, with their SHA-256 when `hashing`.
    static func tensorTable(_ file: SafeTensorsFile, hashing: Bool) -> [WeightsManifest.TensorEntry] {
        file.entries.values.sorted { $0.range.lowerBound < $1.range.lowerBound }.map { e in
            let sha256 = hashing ? ((try? file.withBytes(e.name) { SHA256.hex($0) }) ?? "") : ""
            return WeightsManifest.TensorEntry(name: e.name, dtype: e.dtype.rawValue, shape: e.shape, sha256: sha256)
        }
    }

    static func map(_ url: URL) throws -> Data {
        do { return try Data(contentsOf: url, options: .alwaysMapped) }
        catch { throw WeightsError.unreadable(file: url.path, reason: error.localizedDescription) }
    }

    /// One network's parameters to write, and the checkpoint keys left out of them.
    public struct NetworkState: Sendable {
        public var network: String
        public var omittedKeys: [String]
        public var state: StateDict
        public init(network: String, omittedKeys: [String], state: StateDict) {
            self.network = network
            self.omittedKeys = omittedKeys
            self.state = state
        }
    }

    /// Writes the networks' files, then `manifest.json` describing them in the same order (last,
    /// so a folder with a manifest is complete). Each file goes through a temporary file and a rename.
    @discardableResult
    public static func write(networks: [NetworkState], name: String, demo: Bool,
                             provenance: WeightsManifest.Provenance, to dir: URL) throws -> WeightsManifest {
        guard Set(networks.map(\.network)).count == networks.count else {
            throw WeightsError.badManifest("a network more than once in \(networks.map(\.network))")
        }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let files = try networks.map { try writeFile($0, name: name, to: dir) }
        let manifest = WeightsManifest(name: name, demo: demo, files: files, provenance: provenance)
        try writeAtomically(manifest.encoded(), to: dir.appendingPathComponent(manifestFileName))
        return manifest
    }

    /// One network's safetensors file and its manifest entry.
    static func writeFile(_ entry: NetworkState, name: String, to dir: URL) throws -> WeightsManifest.File {
        let (network, state) = (entry.network, entry.state)
        let fileName = WeightsManifest.fileName(network: network)
        let written = try SafeTensorsWriter.write(state, metadata: ["dfgaze.network": network, "dfgaze.weights": name],
                                                  to: dir.appendingPathComponent(fileName))
        let tensors = state.tensors.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map {
            WeightsManifest.TensorEntry(name: $0.key, dtype: "F32", shape: $0.value.shape,
                                        sha256: written.tensorSHA256[$0.key] ?? "")
        }
        return WeightsManifest.File(
            network: network, file: fileName, sha256: written.sha256, bytes: written.bytes,
            tensorCount: tensors.count, parameterCount: state.tensors.values.reduce(0) { $0 + $1.count },
            omittedKeys: entry.omittedKeys, tensors: tensors)
    }

    static func writeAtomically(_ data: Data, to url: URL) throws {
        do { try data.write(to: url, options: .atomic) }
        catch { throw WeightsError.unreadable(file: url.path, reason: "cannot write: \(error.localizedDescription)") }
    }
}
