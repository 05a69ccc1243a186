import Foundation
import Tensors
#if canImport(Glibc)
import Glibc
#endif

#if _endian(big)
#error("safetensors stores little-endian float32; this writer copies memory as is")
#endif

/// Writes float32 state dicts as safetensors, deterministically: the same tensors give the same
/// bytes on every machine, so a file's SHA-256 can be pinned.
///
/// Tensors are stored in byte order of their names; the header is JSON with keys in byte order
/// and no whitespace, padded with spaces to a multiple of 8 bytes as the reference
/// implementation does, so the data starts 8-byte aligned.
public enum SafeTensorsWriter {
    public struct Written: Sendable, Equatable {
        /// The file's size and SHA-256.
        public let bytes: Int
        public let sha256: String
        /// SHA-256 of each tensor's little-endian float32 bytes, by name.
        public let tensorSHA256: [String: String]
    }

    /// Writes `state` to `url` through a temporary file in the same folder and a rename, so a
    /// reader never sees a partial file and two writers of the same bytes cannot collide.
    @discardableResult
    public static func write(_ state: StateDict, metadata: [String: String] = [:], to url: URL) throws -> Written {
        let tensors = state.tensors.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        let header = Self.header(tensors.map { ($0.key, $0.value.shape) }, metadata: metadata)
        let tensorSHA256 = hashes(tensors.map(\.value))

        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UUID().uuidString).tmp")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SafeTensorsError.io("cannot create \(temp.path): \(String(cString: strerror(errno)))") }
        var renamed = false
        defer { if !renamed { unlink(temp.path) } }

        let hasher = SHA256.Hasher()
        var bytes = 0
        func put(_ buffer: UnsafeRawBufferPointer) throws {
            hasher.update(buffer)
            bytes += buffer.count
            var rest = buffer
            while !rest.isEmpty {
                let n = Glibc.write(fd, rest.baseAddress, rest.count)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw SafeTensorsError.io("cannot write \(temp.path): \(String(cString: strerror(errno)))") }
                rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            }
        }
        do {
            var length = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &length) { try put($0) }
            try header.withUnsafeBytes { try put($0) }
            for (_, tensor) in tensors { try tensor.values.withUnsafeBytes { try put($0) } }
        } catch {
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw SafeTensorsError.io("cannot close \(temp.path): \(String(cString: strerror(errno)))") }
        guard rename(temp.path, url.path) == 0 else {
            throw SafeTensorsError.io("cannot rename \(temp.path) to \(url.path): \(String(cString: strerror(errno)))")
        }
        renamed = true
        return Written(bytes: bytes, sha256: hasher.finalize(),
                       tensorSHA256: Dictionary(uniqueKeysWithValues: zip(tensors.map(\.key), tensorSHA256)))
    }

    /// The header JSON, already padded; `tensors` in storage order.
    static func header(_ tensors: [(name: String, shape: [Int])], metadata: [String: String]) -> [UInt8] {
        var fields: [(key: String, json: String)] = []
        var offset = 0
        for (name, shape) in tensors {
            let end = offset + shape.reduce(1, *) * 4
            let dims = shape.map(String.init).joined(separator: ",")
            fields.append((name, "{\"data_offsets\":[\(offset),\(end)],\"dtype\":\"F32\",\"shape\":[\(dims)]}"))
            offset = end
        }
        if !metadata.isEmpty { fields.append(("__metadata__", object(metadata.map { ($0.key, quoted($0.value)) }))) }
        var json = Array(object(fields).utf8)
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        return json
    }

    private static func object(_ fields: [(key: String, json: String)]) -> String {
        "{" + fields.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            .map { quoted($0.key) + ":" + $0.json }.joined(separator: ",") + "}"
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Each tensor's SHA-256, on all cores.
    private static func hashes(_ tensors: [Tensor]) -> [String] {
        concurrentMap(tensors.count) { i in tensors[i].values.withUnsafeBytes { SHA256.hex($0) } }
    }
}
