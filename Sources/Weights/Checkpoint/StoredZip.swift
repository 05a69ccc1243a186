import Foundation
import ZIPFoundation

/// The zip container torch.save writes: uncompressed records listed by a central directory,
/// with zip64 records for large files. Read with bounds checks on every offset, because
/// ZIPFoundation's Archive traps on some corrupt offsets (an off_t conversion of an unchecked
/// UInt64 in Data.readStruct, a negative range in its in-memory file) instead of throwing.
struct StoredZip {
    struct Record {
        let path: String
        let method: UInt16
        let crc32: UInt32
        let compressedSize: UInt64
        let size: UInt64
        let localHeaderOffset: UInt64
    }

    let data: Data
    let records: [String: Record]

    init(_ data: Data) throws {
        self.data = data
        let (directoryOffset, directorySize, count) = try Self.centralDirectory(data)
        var records: [String: Record] = [:]
        var position = directoryOffset
        for _ in 0..<count {
            let record = try Self.directoryRecord(data, at: &position)
            guard position <= directoryOffset + directorySize else {
                throw CheckpointError.notAZipArchive("the central directory overruns its declared size")
            }
            guard records.updateValue(record, forKey: record.path) == nil else {
                throw CheckpointError.notAZipArchive("entry \(record.path) occurs twice")
            }
        }
        self.records = records
    }

    /// The bytes of a stored record, after checking they lie in the file and match its CRC-32.
    func contents(_ record: Record) throws -> Data {
        func corrupt(_ reason: String) -> CheckpointError { .corruptEntry(record.path, reason: reason) }
        guard record.method == 0 else {
            throw corrupt("it is compressed (method \(record.method)); torch.save stores records uncompressed")
        }
        guard record.compressedSize == record.size else { throw corrupt("a stored record with two different sizes") }
        let header = try Self.offset(record.localHeaderOffset, in: data)
        guard try Self.integer(data, at: header, as: UInt32.self) == 0x0403_4B50 else {
            throw corrupt("no local file header at offset \(header)")
        }
        let nameLength = Int(try Self.integer(data, at: header + 26, as: UInt16.self))
        let extraLength = Int(try Self.integer(data, at: header + 28, as: UInt16.self))
        let start = header + 30 + nameLength + extraLength
        guard record.size <= UInt64(data.count), start <= data.count - Int(record.size) else {
            throw corrupt("its \(record.size) bytes run past the end of the file")
        }
        let bytes = data[data.startIndex + start..<data.startIndex + start + Int(record.size)]
        guard bytes.crc32(checksum: 0) == record.crc32 else { throw corrupt("its CRC-32 does not match") }
        return bytes
    }

    // MARK: Structure

    /// Offset, size and entry count of the central directory, from the end-of-central-directory
    /// record or, when that one is saturated, its zip64 counterpart.
    static func centralDirectory(_ data: Data) throws -> (offset: Int, size: Int, count: Int) {
        let end = try endOfCentralDirectory(data)
        var count = UInt64(try integer(data, at: end + 10, as: UInt16.self))
        var size = UInt64(try integer(data, at: end + 12, as: UInt32.self))
        var offset = UInt64(try integer(data, at: end + 16, as: UInt32.self))
        if count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
            guard end >= 20, try integer(data, at: end - 20, as: UInt32.self) == 0x0706_4B50 else {
                throw CheckpointError.notAZipArchive("a saturated end record without a zip64 locator")
            }
            let zip64 = try self.offset(try integer(data, at: end - 12, as: UInt64.self), in: data)
            guard try integer(data, at: zip64, as: UInt32.self) == 0x0606_4B50 else {
                throw CheckpointError.notAZipArchive("no zip64 end record where its locator points")
            }
            count = try integer(data, at: zip64 + 32, as: UInt64.self)
            size = try integer(data, at: zip64 + 40, as: UInt64.self)
            offset = try integer(data, at: zip64 + 48, as: UInt64.self)
        }
        let start = try self.offset(offset, in: data)
        guard size <= UInt64(data.count - start), count <= size / 46 else {
            throw CheckpointError.notAZipArchive("the central directory does not fit in the file")
        }
        return (start, Int(size), Int(count))
    }

    /// The end-of-central-directory record: 22 bytes plus a comment of up to 65535 at the end.
    static func endOfCentralDirectory(_ data: Data) throws -> Int {
        guard data.count >= 22 else { throw CheckpointError.notAZipArchive("\(data.count) bytes are too few for a zip") }
        for candidate in stride(from: data.count - 22, through: max(0, data.count - 22 - 0xFFFF), by: -1) {
            if try integer(data, at: candidate, as: UInt32.self) == 0x0605_4B50 { return candidate }
        }
        throw CheckpointError.notAZipArchive("no end-of-central-directory record (a truncated file?)")
    }

    /// One central directory file header at `position`, which moves past it.
    static func directoryRecord(_ data: Data, at position: inout Int) throws -> Record {
        let at = position
        guard try integer(data, at: at, as: UInt32.self) == 0x0201_4B50 else {
            throw CheckpointError.notAZipArchive("no central directory header at offset \(at)")
        }
        let nameLength = Int(try integer(data, at: at + 28, as: UInt16.self))
        let extraLength = Int(try integer(data, at: at + 30, as: UInt16.self))
        let commentLength = Int(try integer(data, at: at + 32, as: UInt16.self))
        let name = try bytes(data, at: at + 46, count: nameLength)
        guard let path = String(validating: name, as: UTF8.self) else {
            throw CheckpointError.notAZipArchive("an entry name at offset \(at) is not UTF-8")
        }
        var compressed = UInt64(try integer(data, at: at + 20, as: UInt32.self))
        var size = UInt64(try integer(data, at: at + 24, as: UInt32.self))
        var localHeader = UInt64(try integer(data, at: at + 42, as: UInt32.self))
        let extra = try bytes(data, at: at + 46 + nameLength, count: extraLength)
        try zip64Sizes(extra, path: path, size: &size, compressed: &compressed, localHeader: &localHeader)
        position = at + 46 + nameLength + extraLength + commentLength
        return Record(path: path, method: try integer(data, at: at + 10, as: UInt16.self),
                      crc32: try integer(data, at: at + 16, as: UInt32.self),
                      compressedSize: compressed, size: size, localHeaderOffset: localHeader)
    }

    /// Replaces saturated 32-bit fields by the zip64 extended information extra field (id 1),
    /// which lists them in the order size, compressed size, local header offset.
    static func zip64Sizes(_ extra: Data, path: String, size: inout UInt64, compressed: inout UInt64,
                           localHeader: inout UInt64) throws {
        let saturated = [size, compressed, localHeader].filter { $0 == 0xFFFF_FFFF }.count
        guard saturated > 0 else { return }
        var field = 0
        while field + 4 <= extra.count {
            let id = try integer(extra, at: field, as: UInt16.self)
            let length = Int(try integer(extra, at: field + 2, as: UInt16.self))
            if id == 1 {
                guard length >= 8 * saturated else { break }
                var next = field + 4
                func take() throws -> UInt64 {
                    defer { next += 8 }
                    return try integer(extra, at: next, as: UInt64.self)
                }
                if size == 0xFFFF_FFFF { size = try take() }
                if compressed == 0xFFFF_FFFF { compressed = try take() }
                if localHeader == 0xFFFF_FFFF { localHeader = try take() }
                return
            }
            field += 4 + length
        }
        throw CheckpointError.corruptEntry(path, reason: "its zip64 sizes are missing")
    }

    // MARK: Bounds-checked reading

    static func offset(_ value: UInt64, in data: Data) throws -> Int {
        guard value < UInt64(data.count) else {
            throw CheckpointError.notAZipArchive("offset \(value) lies past the end of the \(data.count)-byte file")
        }
        return Int(value)
    }

    static func bytes(_ data: Data, at offset: Int, count: Int) throws -> Data {
        guard offset >= 0, count >= 0, offset <= data.count, count <= data.count - offset else {
            throw CheckpointError.notAZipArchive("a header at offset \(offset) runs past the end of the file")
        }
        return data[data.startIndex + offset..<data.startIndex + offset + count]
    }

    static func integer<T: FixedWidthInteger>(_ data: Data, at offset: Int, as: T.Type) throws -> T {
        let field = try bytes(data, at: offset, count: MemoryLayout<T>.size)
        return T(littleEndian: field.withUnsafeBytes { $0.loadUnaligned(as: T.self) })
    }
}
