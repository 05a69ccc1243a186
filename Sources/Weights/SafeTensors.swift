import Foundation
import Tensors

/// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`,
/// then the tensors' bytes, offsets relative to the end of the header.
public struct SafeTensorsFile: Sendable {
    public enum DType: String, Sendable, Codable {
        case f32 = "F32", u8 = "U8", i64 = "I64", f64 = "F64"
        public var size: Int { switch self { case .u8: 1; case .f32: 4; case .i64, .f64: 8 } }
    }

    public struct Entry: Sendable, Equatable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range inside `data` (absolute, past the header).
        public let range: Range<Int>
    }

    /// The reference implementation's bound on the header size.
    static let maxHeaderBytes: UInt64 = 100_000_000

    /// The whole file.
    public let data: Data
    public let entries: [String: Entry]
    public let metadata: [String: String]

    public var names: [String] { entries.keys.sorted() }

    /// Maps the file rather than reading it: weights files are hundreds of megabytes.
    public init(contentsOf url: URL) throws {
        try self.init(data: Data(contentsOf: url, options: .alwaysMapped))
    }

    /// Parses and validates the header: its size, JSON without duplicate keys, dtypes, shapes
    /// against byte lengths, and offsets that index the byte buffer completely, without overlap
    /// or holes, as the format requires.
    public init(data: Data) throws {
        self.data = data
        guard data.count >= 8 else { throw SafeTensorsError.truncated("file of \(data.count) bytes has no header length") }
        let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n >= 2, n <= Self.maxHeaderBytes else { throw SafeTensorsError.badHeader("header length \(n) out of bounds") }
        guard n <= UInt64(data.count - 8) else { throw SafeTensorsError.truncated("header of \(n) bytes past the end of a \(data.count)-byte file") }
        let headerEnd = 8 + Int(n)
        let headerBytes = [UInt8](data[data.startIndex + 8 ..< data.startIndex + headerEnd])
        guard headerBytes.first == UInt8(ascii: "{") else { throw SafeTensorsError.badHeader("header does not start with {") }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(headerBytes)) }
        catch { throw SafeTensorsError.badHeader("header is not JSON") }
        guard let header = json as? [String: Any] else { throw SafeTensorsError.badHeader("header is not a JSON object") }
        if let key = Self.firstDuplicateKey(inJSON: headerBytes) {
            throw SafeTensorsError.badHeader("key \"\(key)\" appears twice")
        }

        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        let payload = data.count - headerEnd
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: String] else { throw SafeTensorsError.badHeader("__metadata__ must map strings to strings") }
                metadata = m
                continue
            }
            guard !name.isEmpty else { throw SafeTensorsError.badHeader("a tensor has an empty name") }
            let entry = try Self.entry(name: name, info: value, payload: payload)
            entries[name] = Entry(name: name, dtype: entry.dtype, shape: entry.shape,
                                  range: (headerEnd + entry.offsets.lowerBound)..<(headerEnd + entry.offsets.upperBound))
        }
        try Self.checkCoverage(entries.values, from: headerEnd, to: data.count)
        self.entries = entries
        self.metadata = metadata
    }

    /// One tensor's header entry, checked against the payload size.
    private static func entry(name: String, info value: Any, payload: Int) throws -> (dtype: DType, shape: [Int], offsets: Range<Int>) {
        guard let info = value as? [String: Any],
              let dtypeName = info["dtype"] as? String,
              let shapeAny = info["shape"] as? [Any],
              let offsetsAny = info["data_offsets"] as? [Any], offsetsAny.count == 2
        else { throw SafeTensorsError.badHeader("tensor \(name): needs dtype, shape and two data_offsets") }
        guard let dtype = DType(rawValue: dtypeName) else { throw SafeTensorsError.unsupportedDType(name, dtypeName) }
        let shape = try shapeAny.map { d -> Int in
            guard let i = nonNegativeInteger(d), i <= 1 << 31 else { throw SafeTensorsError.badHeader("tensor \(name): bad dimension \(d)") }
            return i
        }
        let offsets = try offsetsAny.map { d -> Int in
            guard let i = nonNegativeInteger(d) else { throw SafeTensorsError.badHeader("tensor \(name): bad offset \(d)") }
            return i
        }
        let (count, overflow) = shape.reduce((1, false)) { acc, d in
            let (m, o) = acc.0.multipliedReportingOverflow(by: d); return (m, acc.1 || o)
        }
        guard !overflow, count <= Int.max / dtype.size else { throw SafeTensorsError.badHeader("tensor \(name): shape \(shape) too large") }
        guard offsets[0] <= offsets[1], offsets[1] <= payload else {
            throw SafeTensorsError.outOfBounds(name, "data_offsets \(offsets) outside the \(payload)-byte payload")
        }
        guard offsets[1] - offsets[0] == count * dtype.size else {
            throw SafeTensorsError.sizeMismatch(name, "shape \(shape) of \(dtypeName) needs \(count * dtype.size) bytes, offsets give \(offsets[1] - offsets[0])")
        }
        return (dtype, shape, offsets[0]..<offsets[1])
    }

    /// JSON integers only: no fractions, booleans or strings. (`is Bool` cannot tell: an NSNumber
    /// holding 0 or 1 casts to Bool; its objCType can, "c" being a JSON boolean.)
    private static func nonNegativeInteger(_ any: Any) -> Int? {
        guard let n = any as? NSNumber, String(cString: n.objCType) != "c",
              n.doubleValue >= 0, n.doubleValue < 0x1p53, let i = Int(exactly: n.doubleValue) else { return nil }
        return i
    }

    /// The tensors must tile the byte buffer exactly: an overlap lets two tensors share bytes,
    /// a hole hides bytes no tensor owns.
    private static func checkCoverage(_ entries: Dictionary<String, Entry>.Values, from start: Int, to end: Int) throws {
        let sorted = entries.sorted { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }
        var cursor = start
        var previous: Entry?
        for e in sorted {
            if e.range.lowerBound < cursor, let previous { throw SafeTensorsError.overlap(previous.name, e.name) }
            if e.range.lowerBound > cursor {
                throw SafeTensorsError.hole("bytes \(cursor - start)..<\(e.range.lowerBound - start) before tensor \(e.name) belong to no tensor")
            }
            cursor = e.range.upperBound
            previous = e
        }
        if cursor < end { throw SafeTensorsError.hole("the last \(end - cursor) bytes belong to no tensor") }
    }

    /// JSONSerialization silently keeps one of two equal keys; a header naming a tensor twice is
    /// ambiguous (two readers may pick different ones), so the keys are scanned here.
    /// `json` has already been parsed, so it is well-formed.
    static func firstDuplicateKey(inJSON json: [UInt8]) -> String? {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var scopes: [Set<String>?] = []  // the keys of each open object; nil for an array
        var expectingKey = false
        var i = 0
        while i < json.count {
            switch json[i] {
            case UInt8(ascii: "{"): scopes.append([]); expectingKey = true
            case UInt8(ascii: "["): scopes.append(nil); expectingKey = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"): _ = scopes.popLast(); expectingKey = false
            case UInt8(ascii: ","): expectingKey = (scopes.last ?? nil) != nil
            case quote:
                var j = i + 1
                while j < json.count, json[j] != quote { j += json[j] == backslash ? 2 : 1 }
                guard j < json.count else { return nil }
                if expectingKey, !scopes.isEmpty {
                    let token = json[i...j]
                    let key = token.contains(backslash)
                        ? (try? JSONSerialization.jsonObject(with: Data(token), options: .fragmentsAllowed)) as? String ?? ""
                        : String(decoding: token.dropFirst().dropLast(), as: UTF8.self)
                    if scopes[scopes.count - 1]?.insert(key).inserted == false { return key }
                    expectingKey = false
                }
                i = j
            default: break
            }
            i += 1
        }
        return nil
    }

    /// A float32 tensor's values.
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw SafeTensorsError.missing(name) }
        guard e.dtype == .f32 else { throw SafeTensorsError.unsupportedDType(name, e.dtype.rawValue) }
        let count = e.range.count / 4
        // Uninitialized: every byte is copied over, and zeroing hundreds of megabytes first costs.
        let values = data.withUnsafeBytes { src in
            [Float](unsafeUninitializedCapacity: count) { dst, initialized in
                UnsafeMutableRawBufferPointer(dst).copyMemory(from: UnsafeRawBufferPointer(rebasing: src[e.range]))
                initialized = count
            }
        }
        return Tensor(shape: e.shape, values: values)
    }

    /// A uint8 tensor's bytes.
    public func bytes(_ name: String) throws -> [UInt8] {
        guard let e = entries[name] else { throw SafeTensorsError.missing(name) }
        guard e.dtype == .u8 else { throw SafeTensorsError.unsupportedDType(name, e.dtype.rawValue) }
        return [UInt8](data[(data.startIndex + e.range.lowerBound)..<(data.startIndex + e.range.upperBound)])
    }

    /// The raw bytes of any tensor, without copying.
    public func withBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let e = entries[name] else { throw SafeTensorsError.missing(name) }
        return try data.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[e.range])) }
    }

    /// Every float32 tensor as a state dict.
    public func stateDict() throws -> StateDict {
        var state = StateDict()
        for e in entries.values where e.dtype == .f32 { state[e.name] = try tensor(e.name) }
        return state
    }
}

public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case truncated(String)
    case badHeader(String)
    case unsupportedDType(String, String)
    case outOfBounds(String, String)
    case sizeMismatch(String, String)
    case overlap(String, String)
    case hole(String)
    case missing(String)
    case io(String)

    public var description: String {
        switch self {
        case .truncated(let m): "safetensors: truncated: \(m)"
        case .badHeader(let m): "safetensors: bad header: \(m)"
        case .unsupportedDType(let n, let d): "safetensors: tensor \(n) has unsupported dtype \(d)"
        case .outOfBounds(let n, let m): "safetensors: tensor \(n): \(m)"
        case .sizeMismatch(let n, let m): "safetensors: tensor \(n): \(m)"
        case .overlap(let a, let b): "safetensors: tensors \(a) and \(b) overlap"
        case .hole(let m): "safetensors: data not fully indexed: \(m)"
        case .missing(let n): "safetensors: no tensor named \(n)"
        case .io(let m): "safetensors: \(m)"
        }
    }
}
