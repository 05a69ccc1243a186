import Foundation
import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// The demo weights on disk: generated on first use into a cache folder, checked on every start.
extension DemoWeights {
    public typealias ParameterSpecs = [String: [(key: String, shape: [Int])]]

    public static let provenance = WeightsManifest.Provenance(
        recipe: name,
        specification: "Tests/Fixtures/dfgaze-demo-v1/SPEC.md section 1 (FNV-1a 64 seed per key, splitmix64 stream, per-kind scaling)")

    /// The manifest of the demo weights for the parameters the networks read, pinned in the
    /// source so an installed binary needs no checkout (`weights-manifest.json` holds the same).
    public static func pinnedManifest() throws -> WeightsManifest { try pinned.get() }

    /// Decoded once: a start reads it for the parameter list and again to check the cache.
    private static let pinned = Result { try WeightsManifest.decode(Data(pinnedManifestJSON.utf8)) }

    /// The parameters the pinned manifest lists, per network: what the networks read (a test
    /// checks it against their parameter specs), without building four networks to ask them.
    public static func pinnedSpecs() throws -> ParameterSpecs {
        try pinnedManifest().files.reduce(into: [:]) { specs, file in
            specs[file.network] = file.tensors.map { ($0.name, $0.shape) }
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
    /// parameters as the networks ask for them) and returns it. Files already there are
    /// kept when their manifest describes these parameters (and, when they are the pinned ones,
    /// equals the pinned manifest) and every file's size and SHA-256 match; otherwise all are
    /// generated again. A lock file makes a second process wait rather than generate too; files
    /// land by rename, so a reader never sees half a file.
    @discardableResult
    public static func ensure(in cacheDir: URL = defaultCacheDirectory(), networks: [Network]) throws -> URL {
        try locked(cacheDir, networks: networks) {
            if let manifest = cachedManifest(cacheDir, networks: networks), intact(cacheDir, manifest) { return }
            _ = try generateAndWrite(cacheDir, networks: networks)
        }
        return cacheDir
    }

    /// `ensure` and `WeightsDirectory.load` in one, hashing each file once: the cached weights
    /// when they check out, else new ones, written for the next start and returned without
    /// being read back.
    public static func load(in cacheDir: URL = defaultCacheDirectory(), networks: [Network]) throws -> LoadedWeights {
        try locked(cacheDir, networks: networks) {
            if let manifest = cachedManifest(cacheDir, networks: networks),
               let loaded = try? WeightsDirectory.load(from: cacheDir, expecting: manifest) {
                return loaded
            }
            return try generateAndWrite(cacheDir, networks: networks)
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

    /// The cached manifest, when it is the demo's for these parameters (and the pinned one, when
    /// the pinned one is for these parameters).
    static func cachedManifest(_ dir: URL, networks: [Network]) -> WeightsManifest? {
        guard let manifest = try? WeightsDirectory.readManifest(in: dir), manifest.name == name, manifest.demo,
              describes(manifest, networks) else { return nil }
        if let pinned = try? pinnedManifest(), describes(pinned, networks), !pinned.differences(from: manifest).isEmpty {
            return nil
        }
        return manifest
    }

    /// Every file has the manifest's size and SHA-256.
    static func intact(_ dir: URL, _ manifest: WeightsManifest) -> Bool {
        let files = manifest.files
        return !concurrentMap(files.count) { (try? WeightsDirectory.checkedData(files[$0], in: dir)) != nil }.contains(false)
    }

    /// `body` under an exclusive lock on `dir/.lock`.
    private static func locked<T>(_ dir: URL, networks: [Network], _ body: () throws -> T) throws -> T {
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
