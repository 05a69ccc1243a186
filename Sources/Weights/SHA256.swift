import COpenSSL
import Foundation

/// SHA-256 through OpenSSL's libcrypto.
public enum SHA256 {
    public static func digest<D: ContiguousBytes>(_ bytes: D) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeBytes { buf in
            _ = COpenSSL.SHA256(buf.baseAddress?.assumingMemoryBound(to: UInt8.self), buf.count, &digest)
        }
        return digest
    }

    public static func hex<D: ContiguousBytes>(_ bytes: D) -> String {
        digest(bytes).map { String(format: "%02x", $0) }.joined()
    }
}
