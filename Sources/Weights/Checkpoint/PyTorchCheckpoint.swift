import Foundation
import Tensors

/// The tensors of a PyTorch state dict.
public struct Checkpoint: Sendable {
    /// The float32 tensors by state-dict key (nested dicts flattened with ".").
    public var floatTensors: StateDict
    /// Keys kept out of `floatTensors`, sorted: int64 tensors such as BatchNorm's
    /// `num_batches_tracked`, and values that are not tensors.
    public var otherKeys: [String]
}

/// Reads checkpoints written by `torch.save` without Python and without running anything, like
/// `torch.load(weights_only=True, map_location="cpu")`.
///
/// Since torch 1.6 a checkpoint is a zip holding `<root>/data.pkl`, a pickle of the state dict
/// whose tensors refer to `<root>/data/<key>` records of raw little-endian elements. The root
/// folder is `archive` in torch 1.8-era files and the file's stem in later ones, so it is found
/// from data.pkl. Older files use the legacy format (`LegacyCheckpoint`), recognised by its magic number.
public enum PyTorchCheckpoint {
    public static func load(contentsOf url: URL) throws -> Checkpoint {
        try load(data: Data(contentsOf: url, options: .mappedIfSafe))
    }

    public static func load(data: Data) throws -> Checkpoint {
        if data.starts(with: LegacyCheckpoint.magic) {
            let legacy = try LegacyCheckpoint(data)
            let entries = try tensorEntries(legacy.state)
            let records = try legacy.storageRecords(for: entries.compactMap(\.tensor))
            return try checkpoint(entries) { records[$0] }
        }
        let archive = try CheckpointArchive(zip: StoredZip(data))
        try archive.checkByteOrder()
        return try checkpoint(try tensorEntries(try archive.statePickle()), records: archive.storageRecord)
    }

    /// The state dict's entries, each with its tensor description when it is a tensor.
    static func tensorEntries(_ state: PickleValue) throws -> [(key: String, tensor: TensorReference?)] {
        try stateDictEntries(state).map { ($0, try TensorReference(key: $0, value: $1)) }
    }

    static func checkpoint(_ entries: [(key: String, tensor: TensorReference?)],
                           records: @escaping (String) -> StorageRecord?) throws -> Checkpoint {
        var storages = StorageCache(records: records)
        var floatTensors = StateDict()
        var otherKeys: [String] = []
        for (key, reference) in entries {
            guard let reference else {
                otherKeys.append(key)
                continue
            }
            let storage = try storages.storage(for: reference, key: key)
            switch reference.storageType {
            case .float32: floatTensors[key] = try reference.tensor(from: storage.floats, key: key)
            case .int64: // checked like a float tensor, though its values are not kept
                _ = try reference.elementCount(key: key)
                otherKeys.append(key)
            }
        }
        return Checkpoint(floatTensors: floatTensors, otherKeys: otherKeys.sorted())
    }

    /// The (key, value) pairs of the pickled dict, nested dicts flattened to "outer.inner" keys.
    static func stateDictEntries(_ root: PickleValue) throws -> [(String, PickleValue)] {
        guard case .dict(let entries) = root else { throw CheckpointError.notAStateDict(found: kind(of: root)) }
        var flat: [(String, PickleValue)] = []
        var seen = Set<String>()
        func visit(_ entries: [PickleValue.DictEntry], prefix: String) throws {
            for entry in entries {
                let name: String
                switch entry.key {
                case .string(let s): name = prefix + s
                case .int(let i): name = prefix + String(i)
                default: throw CheckpointError.notAStateDict(found: "a dict with a \(kind(of: entry.key)) key")
                }
                if case .dict(let inner) = entry.value {
                    try visit(inner, prefix: name + ".")
                    continue
                }
                guard seen.insert(name).inserted else { throw CheckpointError.duplicateKey(name) }
                flat.append((name, entry.value))
            }
        }
        try visit(entries, prefix: "")
        return flat
    }

    static func kind(of value: PickleValue) -> String {
        switch value {
        case .none: "None"
        case .bool: "a bool"
        case .int: "an int"
        case .float: "a float"
        case .string: "a string"
        case .tuple: "a tuple"
        case .list: "a list"
        case .dict: "a dict"
        case .global(let g): "the global \(g)"
        case .persistentID: "a persistent id"
        case .call(let g, _): "a call of \(g)"
        }
    }
}

/// The element types whose storages are read.
enum StorageType {
    case float32, int64

    var itemSize: Int { self == .float32 ? 4 : 8 }

    init(key: String, global: PickleGlobal) throws {
        switch (global.module, global.name) {
        case ("torch", "FloatStorage"): self = .float32
        case ("torch", "LongStorage"): self = .int64
        default: throw CheckpointError.unsupportedStorageType(key: key, type: global.description)
        }
    }
}

/// A tensor as torch pickles it: a view (offset, shape, strides in elements) of a storage record.
struct TensorReference {
    let storageType: StorageType
    let storageKey: String
    let storageCount: Int
    let offset: Int
    let shape: [Int]
    let strides: [Int]

    static let rebuildTensor = PickleGlobal("torch._utils", "_rebuild_tensor_v2")
    static let rebuildParameter = PickleGlobal("torch._utils", "_rebuild_parameter")

    /// Nil when `value` is not a tensor. A tensor is
    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`
    /// with storage the persistent id `('storage', storage_type, key, location, numel)`, or an
    /// nn.Parameter, `_rebuild_parameter(tensor, requires_grad, backward_hooks)`.
    init?(key: String, value: PickleValue) throws {
        guard case .call(let function, let args) = value else { return nil }
        func malformed(_ reason: String) -> CheckpointError { .malformedTensor(key: key, reason: reason) }
        switch function {
        case Self.rebuildParameter:
            guard args.count == 3, case .bool = args[1], args[2] == .dict([]) else {
                throw malformed("_rebuild_parameter needs (tensor, requires_grad, no backward hooks)")
            }
            guard let tensor = try TensorReference(key: key, value: args[0]) else {
                throw malformed("_rebuild_parameter does not wrap a tensor")
            }
            self = tensor
        case Self.rebuildTensor:
            guard args.count == 6 || args.count == 7, case .bool = args[4], args[5] == .dict([]),
                  args.count == 6 || args[6] == .none || args[6] == .dict([]) else {
                throw malformed("_rebuild_tensor_v2 needs (storage, offset, size, stride, requires_grad, no backward hooks, no metadata)")
            }
            // Legacy files add a sixth item, view_metadata, None unless the storage is a view.
            guard case .persistentID(.tuple(let id)) = args[0], id.count == 5 || id.count == 6 && id[5] == .none,
                  id[0] == .string("storage"),
                  case .global(let type) = id[1], case .string(let storageKey) = id[2], case .string = id[3],
                  case .int(let count) = id[4], let storageCount = Int(exactly: count), storageCount >= 0 else {
                throw malformed("the storage is not ('storage', type, key, location, numel)")
            }
            guard case .int(let offset) = args[1], offset >= 0,
                  let shape = Self.naturals(args[2]), let strides = Self.naturals(args[3]),
                  strides.count == shape.count else {
                throw malformed("offset, size and stride must be non-negative integers, size and stride of equal length")
            }
            storageType = try StorageType(key: key, global: type)
            self.storageKey = storageKey
            self.storageCount = storageCount
            self.offset = Int(offset)
            self.shape = shape
            self.strides = strides
        default:
            throw malformed("\(function) does not build a tensor")
        }
    }

    private static func naturals(_ value: PickleValue) -> [Int]? {
        guard case .tuple(let items) = value else { return nil }
        let ints = items.compactMap { item -> Int? in
            guard case .int(let i) = item, i >= 0 else { return nil }
            return Int(i)
        }
        return ints.count == items.count ? ints : nil
    }

    /// The number of elements, after checking that every one the view reaches lies in the storage.
    func elementCount(key: String) throws -> Int {
        let outOfBounds = CheckpointError.viewOutOfBounds(key: key, offset: offset, shape: shape, strides: strides,
                                                          storageCount: storageCount)
        var count = 1
        var last = offset
        for (size, stride) in zip(shape, strides) {
            let (c, countOverflow) = count.multipliedReportingOverflow(by: size)
            let (reach, reachOverflow) = (size == 0 ? 0 : size - 1).multipliedReportingOverflow(by: stride)
            guard !countOverflow, !reachOverflow else { throw outOfBounds }
            count = c
            let (l, lastOverflow) = last.addingReportingOverflow(reach)
            guard !lastOverflow else { throw outOfBounds }
            last = l
        }
        guard count == 0 || last < storageCount else { throw outOfBounds }
        return count
    }

    /// The view's elements in C order, copied out of its storage.
    func tensor(from storage: [Float], key: String) throws -> Tensor {
        let count = try elementCount(key: key)
        if count == 0 { return Tensor(shape: shape, values: []) }
        if isContiguous { return Tensor(shape: shape, values: Array(storage[offset..<offset + count])) }
        var values: [Float] = []
        values.reserveCapacity(count)
        var index = [Int](repeating: 0, count: shape.count)
        var position = offset
        for _ in 0..<count {
            values.append(storage[position])
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                position += strides[axis]
                if index[axis] < shape[axis] { break }
                position -= strides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return Tensor(shape: shape, values: values)
    }

    /// C order, ignoring the strides of size-1 axes as torch does.
    private var isContiguous: Bool {
        var expected = 1
        for (size, stride) in zip(shape, strides).reversed() where size != 1 {
            guard stride == expected else { return false }
            expected *= size
        }
        return true
    }
}

/// The bytes of one storage, read only when a tensor needs them.
struct StorageRecord {
    let path: String
    let size: UInt64
    let contents: () throws -> Data
}

/// Storages read once each, however many tensors share them.
struct StorageCache {
    struct Storage {
        let type: StorageType
        let count: Int
        /// The decoded elements of a float32 storage; empty for int64, whose values are not kept.
        let floats: [Float]
    }

    let records: (String) -> StorageRecord?
    var storages: [String: Storage] = [:]

    mutating func storage(for reference: TensorReference, key: String) throws -> Storage {
        if let known = storages[reference.storageKey] {
            guard known.type == reference.storageType, known.count == reference.storageCount else {
                throw CheckpointError.inconsistentStorage(key: key, storage: reference.storageKey)
            }
            return known
        }
        guard let record = records(reference.storageKey) else {
            throw CheckpointError.missingStorageRecord(key: key, storage: reference.storageKey)
        }
        let (bytes, overflow) = reference.storageCount.multipliedReportingOverflow(by: reference.storageType.itemSize)
        guard !overflow, record.size == UInt64(bytes) else {
            throw CheckpointError.storageSizeMismatch(key: key, record: record.path, expectedBytes: overflow ? .max : bytes,
                                                      foundBytes: record.size)
        }
        let data = try record.contents()
        let floats = reference.storageType == .float32 ? Self.littleEndianFloats(data) : []
        let storage = Storage(type: reference.storageType, count: reference.storageCount, floats: floats)
        storages[reference.storageKey] = storage
        return storage
    }

    static func littleEndianFloats(_ data: Data) -> [Float] {
        var floats = [Float](repeating: 0, count: data.count / 4)
        floats.withUnsafeMutableBytes { out in data.withUnsafeBytes { out.copyMemory(from: $0) } }
        #if _endian(big)
        floats = floats.map { Float(bitPattern: $0.bitPattern.byteSwapped) }
        #endif
        return floats
    }
}

/// The checkpoint's records under the root folder that holds data.pkl.
struct CheckpointArchive {
    let zip: StoredZip
    let root: String

    init(zip: StoredZip) throws {
        self.zip = zip
        let pickles = zip.records.keys.filter {
            $0.hasSuffix("/data.pkl") && $0.split(separator: "/", omittingEmptySubsequences: false).count == 2
        }.sorted()
        guard let pickle = pickles.first else { throw CheckpointError.missingDataPickle }
        guard pickles.count == 1 else { throw CheckpointError.ambiguousDataPickle(pickles) }
        root = String(pickle.dropLast("/data.pkl".count))
    }

    func record(_ name: String) -> StoredZip.Record? { zip.records[root + "/" + name] }

    func storageRecord(_ key: String) -> StorageRecord? {
        guard let record = record("data/" + key) else { return nil }
        return StorageRecord(path: record.path, size: record.size) { try zip.contents(record) }
    }

    /// torch >= 1.10 records the saving machine's byte order; older files are little-endian.
    func checkByteOrder() throws {
        guard let record = record("byteorder") else { return }
        let order = String(decoding: try zip.contents(record), as: UTF8.self)
        guard order == "little" else { throw CheckpointError.unsupportedByteOrder(order) }
    }

    func statePickle() throws -> PickleValue {
        guard let record = record("data.pkl") else { throw CheckpointError.missingDataPickle }
        do {
            return try Pickle.load([UInt8](try zip.contents(record)))
        } catch let error as PickleError {
            throw CheckpointError.malformedPickle(entry: record.path, error)
        }
    }
}
