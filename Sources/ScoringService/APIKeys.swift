import Foundation
import Weights

/// Bearer keys, kept only as SHA-256 digests and compared in constant time.
///
/// File format: one key per line, or `sha256:<64 hex digits>` for a key given by its hash;
/// blank lines and lines starting with `#` are ignored.
public struct APIKeys: Sendable {
    private let digests: [[UInt8]]

    public init(digests: [[UInt8]]) { self.digests = digests }

    public init(fileContents: String) throws {
        var digests: [[UInt8]] = []
        for (number, raw) in fileContents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("sha256:") {
                guard let d = Self.bytes(hex: String(line.dropFirst(7))), d.count == 32 else {
                    throw APIKeysError("line \(number + 1): sha256: must be followed by 64 hex digits")
                }
                digests.append(d)
            } else {
                digests.append(SHA256.digest(Array(line.utf8)))
            }
        }
        guard !digests.isEmpty else { throw APIKeysError("the API keys file has no key") }
        self.digests = digests
    }

    public init(contentsOf url: URL) throws {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) }
        catch { throw APIKeysError("cannot read API keys file \(url.path): \(error.localizedDescription)") }
        try self.init(fileContents: text)
    }

    /// Whether `Authorization` carries a known bearer key. Every digest is compared in full, so
    /// the time taken does not tell which key (or how much of one) matched.
    public func accepts(authorization: String?) -> Bool {
        guard let authorization else { return false }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        let given = SHA256.digest(Array(parts[1].trimmingCharacters(in: .whitespaces).utf8))
        var matched: UInt8 = 1
        for d in digests {
            var diff: UInt8 = 0
            for i in 0..<32 { diff |= d[i] ^ given[i] }
            matched &= (diff == 0 ? 0 : 1)
        }
        return matched == 0
    }

    static func bytes(hex: String) -> [UInt8]? {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: chars.count, by: 2) {
            guard let b = UInt8(String(decoding: chars[i...i + 1], as: UTF8.self), radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }
}

public struct APIKeysError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
