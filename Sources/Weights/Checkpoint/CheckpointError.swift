/// Why a PyTorch checkpoint was refused. Each message names the archive entry or state-dict key.
public enum CheckpointError: Error, CustomStringConvertible, Sendable, Equatable {
    case notAZipArchive(String)
    case missingDataPickle
    case ambiguousDataPickle([String])
    case corruptEntry(String, reason: String)
    case unsupportedByteOrder(String)
    case malformedPickle(entry: String, PickleError)
    case notAStateDict(found: String)
    case duplicateKey(String)
    case malformedTensor(key: String, reason: String)
    case unsupportedStorageType(key: String, type: String)
    case missingStorageRecord(key: String, storage: String)
    case storageSizeMismatch(key: String, record: String, expectedBytes: Int, foundBytes: UInt64)
    case inconsistentStorage(key: String, storage: String)
    case malformedLegacyFile(String)
    case viewOutOfBounds(key: String, offset: Int, shape: [Int], strides: [Int], storageCount: Int)

    public var description: String {
        switch self {
        case .notAZipArchive(let why):
            "not a PyTorch checkpoint (neither a torch zip archive nor the legacy format): \(why)"
        case .missingDataPickle:
            "the archive has no <root>/data.pkl record"
        case .ambiguousDataPickle(let paths):
            "the archive has several data.pkl records: \(paths.joined(separator: ", "))"
        case .corruptEntry(let path, let reason):
            "archive entry \(path) is corrupt: \(reason)"
        case .unsupportedByteOrder(let order):
            "the checkpoint was saved with byte order '\(order)'; only little-endian checkpoints are supported"
        case .malformedPickle(let entry, let error):
            "\(entry): \(error)"
        case .notAStateDict(let found):
            "the checkpoint holds \(found), not a state dict"
        case .duplicateKey(let key):
            "key \(key) occurs twice once nested dicts are flattened"
        case .malformedTensor(let key, let reason):
            "tensor \(key): \(reason)"
        case .unsupportedStorageType(let key, let type):
            "tensor \(key) is stored as \(type); only torch.FloatStorage (float32) and torch.LongStorage (int64) are supported"
        case .missingStorageRecord(let key, let storage):
            "tensor \(key) refers to storage \(storage), which the file does not hold"
        case .storageSizeMismatch(let key, let record, let expected, let found):
            "tensor \(key): storage record \(record) holds \(found) bytes, its declared element count needs \(expected)"
        case .inconsistentStorage(let key, let storage):
            "tensor \(key) declares storage \(storage) with another type or element count than an earlier tensor"
        case .malformedLegacyFile(let reason):
            "legacy (torch < 1.6) checkpoint: \(reason)"
        case .viewOutOfBounds(let key, let offset, let shape, let strides, let count):
            "tensor \(key): view at offset \(offset) with shape \(shape) and strides \(strides) reaches past its storage of \(count) elements"
        }
    }
}
