import Foundation
import JSONText
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
        let values = tensors.map(\.value)
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UUID().uuidString).tmp")
        // Job 0 writes the file and hashes it in order; the others hash one tensor each, meanwhile.
        let jobs = concurrentMap(values.count + 1) { i in
            i == 0 ? Result { try writeFile(header: header, tensors: values, to: temp) }
                   : .success(values[i - 1].values.withUnsafeBytes { SHA256.hex($0) })
        }
        let sha256: String
        do {
            sha256 = try jobs[0].get()
            guard rename(temp.path, url.path) == 0 else {
                throw SafeTensorsError.io("cannot rename \(temp.path) to \(url.path): \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temp.path)
            throw error
        }
        let tensorSHA256 = jobs.dropFirst().map { (try? $0.get()) ?? "" }
        return Written(bytes: 8 + header.count + values.reduce(0) { $0 + 4 * $1.count }, sha256: sha256,
                       tensorSHA256: Dictionary(uniqueKeysWithValues: zip(tensors.map(\.key), tensorSHA256)))
    }

    /// Creates `url` and writes the length, header and tensors; returns the file's SHA-256.
    private static func writeFile(header: [UInt8], tensors: [Tensor], to url: URL) throws -> String {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SafeTensorsError.io("cannot create \(url.path): \(String(cString: strerror(errno)))") }
        let hasher = SHA256.Hasher()
        func put(_ buffer: UnsafeRawBufferPointer) throws {
            hasher.update(buffer)
            var rest = buffer
            while !rest.isEmpty {
                let n = Glibc.write(fd, rest.baseAddress, rest.count)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw SafeTensorsError.io("cannot write \(url.path): \(String(cString: strerror(errno)))") }
                rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            }
        }
        do {
            var length = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &length) { try put($0) }
            try header.withUnsafeBytes { try put($0) }
            for tensor in tensors { try tensor.values.withUnsafeBytes { try put($0) } }
        } catch {
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw SafeTensorsError.io("cannot close \(url.path): \(String(cString: strerror(errno)))") }
        return hasher.finalize()
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
        if !metadata.isEmpty { fields.append(("__metadata__", object(metadata.map { ($0.key, jsonString($0.value)) }))) }
        var json = Array(object(fields).utf8)
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        return json
    }

    private static func object(_ fields: [(key: String, json: String)]) -> String {
        "{" + fields.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            .map { jsonString($0.key) + ":" + $0.json }.joined(separator: ",") + "}"
    }
}
