import Foundation

/// The format torch.save wrote before 1.6 (and still writes with
/// `_use_new_zipfile_serialization=False`), used by checkpoints published around 2019: five
/// pickles in a row — a magic number, the protocol version 1001, sys_info, the state dict and
/// the list of its storage keys — then each storage as an 8-byte element count and raw elements.
struct LegacyCheckpoint {
    /// The pickled magic number 0x1950a86a20f9469cfc6c, which starts every legacy file.
    static let magic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
    static let protocolVersion: Int64 = 1001

    let data: Data
    let state: PickleValue
    let storageKeys: [String]
    /// Where the first storage's element count starts.
    let storagesStart: Int

    init(_ data: Data) throws {
        self.data = data
        var offset = Self.magic.count
        func next(_ what: String) throws -> PickleValue {
            do {
                return try Pickle.load(data, at: &offset)
            } catch let error as PickleError {
                throw CheckpointError.malformedPickle(entry: "legacy \(what) pickle", error)
            }
        }
        guard try next("protocol version") == .int(Self.protocolVersion) else {
            throw CheckpointError.malformedLegacyFile("the protocol version is not \(Self.protocolVersion)")
        }
        guard case .dict(let sysInfo) = try next("sys_info") else {
            throw CheckpointError.malformedLegacyFile("sys_info is not a dict")
        }
        guard sysInfo.contains(.init(key: .string("little_endian"), value: .bool(true))) else {
            throw CheckpointError.unsupportedByteOrder("big")
        }
        state = try next("state")
        guard case .list(let keys) = try next("storage keys") else {
            throw CheckpointError.malformedLegacyFile("the storage keys are not a list")
        }
        storageKeys = try keys.map {
            guard case .string(let key) = $0 else { throw CheckpointError.malformedLegacyFile("a storage key is not a string") }
            return key
        }
        storagesStart = offset
    }

    /// The storages in file order. Their element sizes come from the tensors referring to them,
    /// so a storage no tensor uses cannot be stepped over.
    func storageRecords(for tensors: [TensorReference]) throws -> [String: StorageRecord] {
        let types = Dictionary(tensors.map { ($0.storageKey, $0.storageType) }, uniquingKeysWith: { first, _ in first })
        var records: [String: StorageRecord] = [:]
        var offset = storagesStart
        for key in storageKeys {
            guard let type = types[key] else {
                throw CheckpointError.malformedLegacyFile("storage \(key) is used by no tensor, so its size is unknown")
            }
            guard offset <= data.count - 8 else { throw CheckpointError.malformedLegacyFile("the file ends before storage \(key)") }
            let count = data[data.startIndex + offset..<data.startIndex + offset + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            offset += 8
            let (size, overflow) = count.multipliedReportingOverflow(by: UInt64(type.itemSize))
            guard !overflow, size <= UInt64(data.count - offset) else {
                throw CheckpointError.malformedLegacyFile("storage \(key) declares \(count) elements, past the end of the file")
            }
            let range = data.startIndex + offset..<data.startIndex + offset + Int(size)
            records[key] = StorageRecord(path: "storage \(key)", size: size) { [data] in data[range] }
            offset += Int(size)
        }
        return records
    }
}
