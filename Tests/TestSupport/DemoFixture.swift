import Foundation

/// Tests/Fixtures/dfgaze-demo-v1, the ground truth every test target compares against
/// (SPEC.md there): one locator and one reader of each of its files, for all test targets.
public enum DemoFixture {
    /// The repository's root folder.
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // TestSupport
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    public static let directory = repositoryRoot.appendingPathComponent("Tests/Fixtures/dfgaze-demo-v1")

    /// The repository's `weights-manifest.json`: the demo weights' manifest as pinned
    /// (scripts/pin-demo-manifest.sh writes it), every file and tensor.
    public static let pinnedWeightsManifest = repositoryRoot.appendingPathComponent("weights-manifest.json")

    public static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// The 8 frames of `video8`, in order (frames/<name>.jpg).
    public static let frameNames = ["a_0", "a_1", "a_2", "a_3", "b_0", "b_1", "b_2", "b_3"]

    public static func frameURL(_ name: String) -> URL { url("frames/\(name).jpg") }

    /// checkpoint_keys.json: per network, every key of the authors' state dict with its shape,
    /// in checkpoint order.
    public static func checkpointKeys() throws -> [String: [(key: String, shape: [Int])]] {
        guard let all = try JSONSerialization.jsonObject(with: Data(contentsOf: url("checkpoint_keys.json"))) as? [String: [[Any]]] else {
            throw FixtureError("checkpoint_keys.json is not an object of arrays")
        }
        return try all.mapValues { rows in
            try rows.map { row in
                guard let key = row.first as? String, let shape = row.dropFirst().first as? [Int] else {
                    throw FixtureError("malformed checkpoint_keys.json row \(row)")
                }
                return (key, shape)
            }
        }
    }

    /// checkpoint_keys.json for `network`.
    public static func checkpointKeys(_ network: String) throws -> [(key: String, shape: [Int])] {
        guard let keys = try checkpointKeys()[network] else { throw FixtureError("checkpoint_keys.json has no \(network)") }
        return keys
    }

    /// demo_weights_sha256.json: per network, key -> SHA-256 of the demo tensor's bytes.
    public static func demoHashes() throws -> [String: [String: String]] {
        guard let all = try JSONSerialization.jsonObject(with: Data(contentsOf: url("demo_weights_sha256.json"))) as? [String: [String: String]] else {
            throw FixtureError("demo_weights_sha256.json is not an object of objects")
        }
        return all
    }

    /// demo_weights_sha256.json for `network`.
    public static func demoHashes(_ network: String) throws -> [String: String] {
        guard let hashes = try demoHashes()[network] else { throw FixtureError("demo_weights_sha256.json has no \(network)") }
        return hashes
    }
}

/// Largest |actual - expected| relative to the largest |expected| (normwise): how the fixture's
/// tolerances are stated.
public func relativeError(_ actual: [Float], _ expected: [Float]) -> Float {
    precondition(actual.count == expected.count, "relativeError of \(actual.count) against \(expected.count) values")
    var (diff, scale): (Float, Float) = (0, 0)
    for (a, e) in zip(actual, expected) {
        diff = max(diff, abs(a - e))
        scale = max(scale, abs(e))
    }
    return diff / scale
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
