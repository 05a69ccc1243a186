import Foundation

/// `manifest.json` of a weights folder (and the repo-root `weights-manifest.json`, which pins the
/// demo weights): what each network's safetensors file must contain, byte for byte. Which
/// networks there are is the model's business (DFGaze's `Networks`), not this format's.
public struct WeightsManifest: Codable, Sendable, Equatable {
    public static let currentFormatVersion = 1

    /// Whether `key` matches one of `patterns`: `prefix.*`, `*.suffix` or the key itself (the
    /// form of `omitted_keys`).
    public static func matches(_ key: String, patterns: [String]) -> Bool {
        patterns.contains { pattern in
            if pattern.hasSuffix(".*") { return key.hasPrefix(pattern.dropLast()) }
            if pattern.hasPrefix("*.") { return key.hasSuffix(pattern.dropFirst()) }
            return key == pattern
        }
    }

    public static func fileName(network: String) -> String { "\(network).safetensors" }

    public var formatVersion: Int
    /// e.g. "dfgaze-demo-v1".
    public var name: String
    /// True for generated weights, which score nothing meaningful.
    public var demo: Bool
    /// One per network, in the model's order.
    public var files: [File]
    public var provenance: Provenance

    public struct File: Codable, Sendable, Equatable {
        public var network: String
        public var file: String
        public var sha256: String
        public var bytes: Int
        public var tensorCount: Int
        public var parameterCount: Int
        /// Patterns of the original checkpoint keys left out (see `matches`).
        public var omittedKeys: [String]
        /// In storage order (byte order of names).
        public var tensors: [TensorEntry]

        public init(network: String, file: String, sha256: String, bytes: Int, tensorCount: Int,
                    parameterCount: Int, omittedKeys: [String], tensors: [TensorEntry]) {
            self.network = network
            self.file = file
            self.sha256 = sha256
            self.bytes = bytes
            self.tensorCount = tensorCount
            self.parameterCount = parameterCount
            self.omittedKeys = omittedKeys
            self.tensors = tensors
        }
    }

    public struct TensorEntry: Codable, Sendable, Equatable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        /// SHA-256 of the tensor's bytes as stored (little-endian float32, C order).
        public var sha256: String

        public init(name: String, dtype: String, shape: [Int], sha256: String) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.sha256 = sha256
        }
    }

    /// Where the weights come from: a recipe for demo weights, checkpoint files for imports.
    public struct Provenance: Codable, Sendable, Equatable {
        public var recipe: String?
        public var specification: String?
        public var sources: [Source]?
        /// ISO 8601, UTC.
        public var importedAt: String?
        /// The program and version that wrote the folder.
        public var tool: String?

        public init(recipe: String? = nil, specification: String? = nil, sources: [Source]? = nil,
                    importedAt: String? = nil, tool: String? = nil) {
            self.recipe = recipe
            self.specification = specification
            self.sources = sources
            self.importedAt = importedAt
            self.tool = tool
        }
    }

    public struct Source: Codable, Sendable, Equatable {
        public var network: String
        public var file: String
        public var sha256: String
        public var bytes: Int

        public init(network: String, file: String, sha256: String, bytes: Int) {
            self.network = network
            self.file = file
            self.sha256 = sha256
            self.bytes = bytes
        }
    }

    public init(formatVersion: Int = WeightsManifest.currentFormatVersion, name: String, demo: Bool,
                files: [File], provenance: Provenance) {
        self.formatVersion = formatVersion
        self.name = name
        self.demo = demo
        self.files = files
        self.provenance = provenance
    }

    public func file(network: String) -> File? { files.first { $0.network == network } }

    /// Throws unless the files are for exactly `networks`, in that order (what a model reads).
    public func require(networks: [String]) throws {
        guard files.map(\.network) == networks else {
            throw WeightsError.badManifest("files are for \(files.map(\.network)), expected \(networks)")
        }
    }

    /// Decodes and checks the structure: a known format version, each network once, with file
    /// names `<network>.safetensors` (never a path elsewhere).
    public static func decode(_ data: Data) throws -> WeightsManifest {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let manifest: WeightsManifest
        do { manifest = try decoder.decode(WeightsManifest.self, from: data) }
        catch { throw WeightsError.badManifest("not a weights manifest: \(error)") }
        guard manifest.formatVersion == currentFormatVersion else {
            throw WeightsError.badManifest("format version \(manifest.formatVersion), this program reads \(currentFormatVersion)")
        }
        guard Set(manifest.files.map(\.network)).count == manifest.files.count else {
            throw WeightsError.badManifest("files are for \(manifest.files.map(\.network)), a network more than once")
        }
        for f in manifest.files where f.file != fileName(network: f.network) {
            throw WeightsError.badManifest("file of \(f.network) is \"\(f.file)\", expected \(fileName(network: f.network))")
        }
        return manifest
    }

    /// Pretty JSON with sorted snake_case keys and a final newline: stable across machines.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Only strings, integers and booleans: encoding cannot fail.
        guard let json = try? encoder.encode(self) else { fatalError("WeightsManifest is not encodable") }
        return json + Data("\n".utf8)
    }

    /// Every way `actual` differs from this manifest, one line each; provenance is not compared.
    public func differences(from actual: WeightsManifest) -> [String] {
        var out: [String] = []
        if actual.name != name { out.append("manifest: name is \(actual.name), expected \(name)") }
        if actual.demo != demo { out.append("manifest: demo is \(actual.demo), expected \(demo)") }
        for expected in files {
            guard let found = actual.file(network: expected.network) else {
                out.append("manifest: no entry for \(expected.network)")
                continue
            }
            let f = expected.file
            if found.sha256 != expected.sha256 { out.append("\(f): sha256 is \(found.sha256), expected \(expected.sha256)") }
            if found.bytes != expected.bytes { out.append("\(f): size is \(found.bytes) bytes, expected \(expected.bytes)") }
            if found.tensorCount != expected.tensorCount { out.append("\(f): \(found.tensorCount) tensors, expected \(expected.tensorCount)") }
            if found.parameterCount != expected.parameterCount {
                out.append("\(f): \(found.parameterCount) parameters, expected \(expected.parameterCount)")
            }
            if found.omittedKeys != expected.omittedKeys { out.append("\(f): omitted keys \(found.omittedKeys), expected \(expected.omittedKeys)") }
            out += Self.tensorDifferences(file: f, expected: expected.tensors, found: found.tensors)
        }
        return out
    }

    /// Tensor by tensor: missing, unexpected, and differing dtype, shape or SHA-256.
    static func tensorDifferences(file: String, expected: [TensorEntry], found: [TensorEntry]) -> [String] {
        let foundByName = Dictionary(found.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let expectedNames = Set(expected.map(\.name))
        var out: [String] = []
        for e in expected {
            guard let t = foundByName[e.name] else { out.append("\(file): tensor \(e.name) missing"); continue }
            if t.dtype != e.dtype { out.append("\(file): tensor \(e.name) has dtype \(t.dtype), expected \(e.dtype)") }
            if t.shape != e.shape { out.append("\(file): tensor \(e.name) has shape \(t.shape), expected \(e.shape)") }
            if t.sha256 != e.sha256 { out.append("\(file): tensor \(e.name) has sha256 \(t.sha256), expected \(e.sha256)") }
        }
        for t in found where !expectedNames.contains(t.name) { out.append("\(file): unexpected tensor \(t.name)") }
        return out
    }
}

public enum WeightsError: Error, CustomStringConvertible, Equatable {
    case badManifest(String)
    /// A file that is not what the manifest says, checked before any of it is used.
    case mismatch(file: String, what: String, expected: String, actual: String)
    case unreadable(file: String, reason: String)
    case invalid([String])

    public var description: String {
        switch self {
        case .badManifest(let m): "weights: manifest: \(m)"
        case .mismatch(let file, let what, let expected, let actual):
            "weights: \(file): \(what) is \(actual), the manifest expects \(expected); refusing to use it"
        case .unreadable(let file, let reason): "weights: cannot read \(file): \(reason)"
        case .invalid(let lines): (["weights do not match their manifest:"] + lines.map { "  " + $0 }).joined(separator: "\n")
        }
    }
}
