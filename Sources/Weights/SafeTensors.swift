import Foundation
import Tensors

/// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`,
/// then the tensors' bytes, offsets relative to the end of the header.
public struct SafeTensorsFile: Sendable {
    public enum DType: String, Sendable {
        case f32 = "F32", u8 = "U8", i64 = "I64", f64 = "F64"
        var size: Int { switch self { case .u8: 1; case .f32: 4; case .i64, .f64: 8 } }
    }

    public struct Entry: Sendable, Equatable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range inside `data` (absolute, past the header).
        public let range: Range<Int>
    }

    /// The whole file.
    public let data: Data
    public let entries: [String: Entry]
    public let metadata: [String: String]

    public var names: [String] { entries.keys.sorted() }

    public init(contentsOf url: URL) throws {
        try self.init(data: Data(contentsOf: url, options: .alwaysMapped))
    }

    /// Parses and validates the header: its size, JSON, dtypes, shapes against byte lengths, and
    /// offsets inside the buffer without overlap.
    public init(data: Data) throws {
        self.data = data
        guard data.count >= 8 else { throw SafeTensorsError.truncated("file of \(data.count) bytes has no header length") }
        let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n >= 2, n <= 100_000_000 else { throw SafeTensorsError.badHeader("header length \(n) out of bounds") }
        guard n <= UInt64(data.count - 8) else { throw SafeTensorsError.truncated("header of \(n) bytes past the end of a \(data.count)-byte file") }
        let headerEnd = 8 + Int(n)
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd)) }
        catch { throw SafeTensorsError.badHeader("header is not JSON") }
        guard let header = json as? [String: Any] else { throw SafeTensorsError.badHeader("header is not a JSON object") }

        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        let payload = data.count - headerEnd
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: String] else { throw SafeTensorsError.badHeader("__metadata__ must map strings to strings") }
                metadata = m
                continue
            }
            guard let info = value as? [String: Any],
                  let dtypeName = info["dtype"] as? String,
                  let shapeAny = info["shape"] as? [Any],
                  let offsetsAny = info["data_offsets"] as? [Any], offsetsAny.count == 2
            else { throw SafeTensorsError.badHeader("tensor \(name): needs dtype, shape and two data_offsets") }
            guard let dtype = DType(rawValue: dtypeName) else { throw SafeTensorsError.unsupportedDType(name, dtypeName) }
            let shape = try shapeAny.map { d -> Int in
                guard let i = (d as? NSNumber)?.intValue, i >= 0, i <= 1 << 31 else { throw SafeTensorsError.badHeader("tensor \(name): bad dimension \(d)") }
                return i
            }
            let offsets = try offsetsAny.map { d -> Int in
                guard let i = (d as? NSNumber)?.intValue, i >= 0 else { throw SafeTensorsError.badHeader("tensor \(name): bad offset \(d)") }
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
            entries[name] = Entry(name: name, dtype: dtype, shape: shape,
                                  range: (headerEnd + offsets[0])..<(headerEnd + offsets[1]))
        }
        let sorted = entries.values.sorted { $0.range.lowerBound < $1.range.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.range.upperBound > b.range.lowerBound {
            throw SafeTensorsError.overlap(a.name, b.name)
        }
        self.entries = entries
        self.metadata = metadata
    }

    /// A float32 tensor's values.
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw SafeTensorsError.missing(name) }
        guard e.dtype == .f32 else { throw SafeTensorsError.unsupportedDType(name, e.dtype.rawValue) }
        var values = [Float](repeating: 0, count: e.range.count / 4)
        values.withUnsafeMutableBytes { dst in _ = data.copyBytes(to: dst, from: e.range) }
        return Tensor(shape: e.shape, values: values)
    }

    /// A uint8 tensor's bytes.
    public func bytes(_ name: String) throws -> [UInt8] {
        guard let e = entries[name] else { throw SafeTensorsError.missing(name) }
        guard e.dtype == .u8 else { throw SafeTensorsError.unsupportedDType(name, e.dtype.rawValue) }
        return [UInt8](data[e.range])
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
    case missing(String)

    public var description: String {
        switch self {
        case .truncated(let m): "safetensors: truncated: \(m)"
        case .badHeader(let m): "safetensors: bad header: \(m)"
        case .unsupportedDType(let n, let d): "safetensors: tensor \(n) has unsupported dtype \(d)"
        case .outOfBounds(let n, let m): "safetensors: tensor \(n): \(m)"
        case .sizeMismatch(let n, let m): "safetensors: tensor \(n): \(m)"
        case .overlap(let a, let b): "safetensors: tensors \(a) and \(b) overlap"
        case .missing(let n): "safetensors: no tensor named \(n)"
        }
    }
}
