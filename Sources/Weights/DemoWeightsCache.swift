import Foundation
import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// The demo weights on disk: generated on first use into a cache folder, checked on every start.
extension DemoWeights {
    public static let provenance = WeightsManifest.Provenance(
        recipe: name,
        specification: "Tests/Fixtures/dfgaze-demo-v1/SPEC.md section 1 (FNV-1a 64 seed per key, splitmix64 stream, per-kind scaling)")

    /// One demo file as it must come out: generated files are known in advance by size and
    /// SHA-256, which pin their every byte (the model pins its own; `weights-manifest.json` at
    /// the repository root lists them with every tensor).
    public struct Pin: Sendable, Equatable {
        public var network: String
        public var sha256: String
        public var bytes: Int
        public init(network: String, sha256: String, bytes: Int) {
            self.network = network
            self.sha256 = sha256
            self.bytes = bytes
        }
    }

    /// Every way the folder's manifest differs from `pins`, one line each.
    public static func differences(_ manifest: WeightsManifest, from pins: [Pin]) -> [String] {
        let found = manifest.files.map { Pin(network: $0.network, sha256: $0.sha256, bytes: $0.bytes) }
        guard found != pins else { return [] }
        if found.map(\.network) != pins.map(\.network) {
            return ["manifest: files are for \(found.map(\.network)), the pinned demo weights for \(pins.map(\.network))"]
        }
        return zip(found, pins).compactMap { f, p in
            f == p ? nil : "\(f.network): \(f.bytes) bytes with sha256 \(f.sha256), the pinned demo weights have \(p.bytes) bytes with sha256 \(p.sha256)"
        }
    }

    /// `$DFGAZE_CACHE_DIR`, else `$XDG_CACHE_HOME/dfgaze`, else `~/.cache/dfgaze`; then `/dfgaze-demo-v1`.
    public static func defaultCacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        func absolute(_ name: String) -> URL? {
            // XDG: relative paths are invalid and ignored.
            guard let path = environment[name], path.hasPrefix("/") else { return nil }
            return URL(fileURLWithPath: path, isDirectory: true)
        }
        let base = absolute("DFGAZE_CACHE_DIR")
            ?? absolute("XDG_CACHE_HOME")?.appendingPathComponent("dfgaze", isDirectory: true)
            ?? (absolute("HOME") ?? FileManager.default.homeDirectoryForCurrentUser)
                .appendingPathComponent(".cache/dfgaze", isDirectory: true)
        return base.appendingPathComponent(name, isDirectory: true)
    }

    /// Makes `cacheDir` hold the demo weights of exactly `networks` (in order, with their
    /// parameters as the networks ask for them; only evaluated when generating or when there are
    /// no `pins`) and returns it. Files already there are kept when their manifest has the `pins`
    /// (else: describes these parameters) and every file's size and SHA-256 match; otherwise all
    /// are generated again. A lock file makes a second process wait rather than generate too; files
    /// land by rename, so a reader never sees half a file.
    @discardableResult
    public static func ensure(in cacheDir: URL = defaultCacheDirectory(), networks: @autoclosure () -> [Network],
                              pins: [Pin]? = nil) throws -> URL {
        try locked(cacheDir) {
            if let manifest = cachedManifest(cacheDir, networks: networks, pins: pins), intact(cacheDir, manifest) { return }
            _ = try generateAndWrite(cacheDir, networks: networks())
        }
        return cacheDir
    }

    /// `ensure` and `WeightsDirectory.load` in one, hashing each file once: the cached weights
    /// when they check out, else new ones, written for the next start and returned without
    /// being read back.
    public static func load(in cacheDir: URL = defaultCacheDirectory(), networks: @autoclosure () -> [Network],
                            pins: [Pin]? = nil) throws -> LoadedWeights {
        try locked(cacheDir) {
            if let manifest = cachedManifest(cacheDir, networks: networks, pins: pins),
               let loaded = try? WeightsDirectory.load(from: cacheDir, expecting: manifest) {
                return loaded
            }
            return try generateAndWrite(cacheDir, networks: networks())
        }
    }

    private static func generateAndWrite(_ dir: URL, networks: [Network]) throws -> LoadedWeights {
        let states = networks.map {
            WeightsDirectory.NetworkState(network: $0.name, omittedKeys: $0.omittedKeys, state: generate($0))
        }
        let manifest = try WeightsDirectory.write(networks: states, name: name, demo: true, provenance: provenance, to: dir)
        return LoadedWeights(directory: dir, manifest: manifest,
                             networks: Dictionary(uniqueKeysWithValues: states.map { ($0.network, $0.state) }))
    }

    /// The cached manifest, when it is the demo's and has the pins (without pins: lists these
    /// networks' parameters).
    static func cachedManifest(_ dir: URL, networks: () -> [Network], pins: [Pin]?) -> WeightsManifest? {
        guard let manifest = try? WeightsDirectory.readManifest(in: dir), manifest.name == name, manifest.demo else { return nil }
        if let pins { return differences(manifest, from: pins).isEmpty ? manifest : nil }
        return describes(manifest, networks()) ? manifest : nil
    }

    /// Every file has the manifest's size and SHA-256.
    static func intact(_ dir: URL, _ manifest: WeightsManifest) -> Bool {
        let files = manifest.files
        return !concurrentMap(files.count) { (try? WeightsDirectory.checkedData(files[$0], in: dir)) != nil }.contains(false)
    }

    /// `body` under an exclusive lock on `dir/.lock`.
    private static func locked<T>(_ dir: URL, _ body: () throws -> T) throws -> T {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let lock = try lockFile(in: dir)
        defer { close(lock) }  // closing releases the lock
        return try body()
    }

    /// The manifest lists exactly these networks, in order, with these float32 parameters.
    static func describes(_ manifest: WeightsManifest, _ networks: [Network]) -> Bool {
        manifest.files.map(\.network) == networks.map(\.name) && zip(manifest.files, networks).allSatisfy { file, network in
            let expected = network.parameters.map { ($0.key, $0.shape) }
                .sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
            return file.tensors.count == expected.count
                && zip(file.tensors, expected).allSatisfy { $0.name == $1.0 && $0.shape == $1.1 && $0.dtype == "F32" }
        }
    }

    /// An exclusive lock on `dir/.lock`, held until the descriptor is closed.
    private static func lockFile(in dir: URL) throws -> Int32 {
        let path = dir.appendingPathComponent(".lock").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WeightsError.unreadable(file: path, reason: String(cString: strerror(errno))) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw WeightsError.unreadable(file: path, reason: "cannot lock: \(reason)")
            }
        }
        return fd
    }
}
