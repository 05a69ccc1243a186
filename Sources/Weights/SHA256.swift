import COpenSSL
import Foundation

/// SHA-256 through OpenSSL's libcrypto (SHA-NI where the CPU has it).
public enum SHA256 {
    public static func digest<D: ContiguousBytes>(_ bytes: D) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeBytes { buf in
            _ = COpenSSL.SHA256(buf.baseAddress?.assumingMemoryBound(to: UInt8.self), buf.count, &digest)
        }
        return digest
    }

    public static func hex<D: ContiguousBytes>(_ bytes: D) -> String {
        hexString(digest(bytes))
    }

    /// Incremental hashing, for a file hashed while it is written.
    public final class Hasher {
        private let context: OpaquePointer

        public init() {
            // Allocation of a digest context fails only when memory is exhausted.
            guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
                fatalError("OpenSSL: cannot set up a SHA-256 context")
            }
            self.context = context
        }

        deinit { EVP_MD_CTX_free(context) }

        public func update(_ bytes: UnsafeRawBufferPointer) {
            _ = EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
        }

        public func finalize() -> String {
            var digest = [UInt8](repeating: 0, count: 32)
            var length: UInt32 = 0
            _ = EVP_DigestFinal_ex(context, &digest, &length)
            return SHA256.hexString(digest)
        }
    }

    static func hexString(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(digest.count * 2)
        for b in digest { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
