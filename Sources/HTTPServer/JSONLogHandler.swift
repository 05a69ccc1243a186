import Foundation
import JSONText
import Logging

/// A swift-log handler writing one JSON object per line to stderr:
/// `{"ts":"…Z","level":"info","label":"http","message":"request", …metadata}`.
/// Integer, floating-point and Bool metadata (`.stringConvertible`) stay JSON numbers/booleans.
/// Bootstrap it once: `LoggingSystem.bootstrap(JSONLogHandler.init)`.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let write: @Sendable (String) -> Void

    public init(label: String) {
        self.init(label: label, write: JSONLogHandler.writeToStandardError)
    }

    /// `write` receives each complete line including its newline (tests capture it).
    public init(label: String, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let explicit = event.metadata { fields.merge(explicit) { $1 } }
        if let error = event.error { fields["error"] = .string("\(error)") }
        var json = #"{"ts":"# + jsonString(Self.timestamp()) + #","level":"# + jsonString(event.level.rawValue)
            + #","label":"# + jsonString(label) + #","message":"# + jsonString(event.message.description)
        for key in fields.keys.sorted() where !["ts", "level", "label", "message"].contains(key) {
            if let value = fields[key] { json += "," + jsonString(key) + ":" + Self.encode(value) }
        }
        write(json + "}\n")
    }

    static func encode(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return jsonString(s)
        case .stringConvertible(let v):
            switch v {
            case let n as Int: return String(n)
            case let d as Double where d.isFinite: return String(d)
            case let b as Bool: return String(b)
            default: return jsonString(v.description)
            }
        case .array(let values): return "[" + values.map(encode).joined(separator: ",") + "]"
        case .dictionary(let d):
            return "{" + d.keys.sorted().map { jsonString($0) + ":" + encode(d[$0] ?? .string("")) }.joined(separator: ",") + "}"
        }
    }

    /// UTC with milliseconds, e.g. 2025-01-31T12:00:00.123Z.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(now.tv_nsec / 1_000_000, 3))Z"
    }

    private static let standardErrorLock = NSLock()

    /// One write(2) per line under a lock, so concurrent lines never interleave.
    @Sendable static func writeToStandardError(_ line: String) {
        let bytes = Array(line.utf8)
        standardErrorLock.withLock {
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
