import CPostgres
import CSQLite
import Foundation

/// One value bound to or read from a statement. The store's columns use only these.
enum SQLValue: Equatable, Sendable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])

    var int: Int64? {
        switch self {
        case .int(let v): return v
        case .double(let v): return Int64(v)
        case .text(let s): return Int64(s)
        default: return nil
        }
    }
    var double: Double? {
        switch self {
        case .double(let v): return v
        case .int(let v): return Double(v)
        case .text(let s): return Double(s)
        default: return nil
        }
    }
    var text: String? {
        switch self {
        case .text(let s): return s
        case .blob(let b): return String(decoding: b, as: UTF8.self)
        case .int(let v): return String(v)
        case .double(let v): return String(v)
        case .null: return nil
        }
    }
    var bytes: [UInt8]? {
        switch self {
        case .blob(let b): return b
        case .text(let s): return Array(s.utf8)
        default: return nil
        }
    }
}

extension Optional where Wrapped == String {
    var sql: SQLValue { map(SQLValue.text) ?? .null }
}
extension Optional where Wrapped == Double {
    var sql: SQLValue { map(SQLValue.double) ?? .null }
}

/// A connection to one of the two databases. Statements use `$1, $2, ...` placeholders (PostgreSQL's
/// spelling; the SQLite connection rewrites them to `?1, ?2, ...`). Not thread-safe: the store
/// serializes access with its own lock.
protocol SQLConnection: AnyObject {
    var dialect: SQLDialect { get }
    /// Runs one statement; returns its rows (empty for statements without rows) and the number of
    /// rows changed.
    @discardableResult
    func run(_ sql: String, _ parameters: [SQLValue]) throws -> (rows: [[SQLValue]], changes: Int)
    /// `BEGIN IMMEDIATE` on SQLite (the write lock up front, so a claim cannot race another
    /// process), `BEGIN` on PostgreSQL.
    func begin() throws
    func close()
}

enum SQLDialect: Sendable { case sqlite, postgres }

extension SQLConnection {
    func query(_ sql: String, _ parameters: [SQLValue] = []) throws -> [[SQLValue]] {
        try run(sql, parameters).rows
    }
    @discardableResult
    func execute(_ sql: String, _ parameters: [SQLValue] = []) throws -> Int {
        try run(sql, parameters).changes
    }
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try begin()
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }
}

// MARK: - SQLite

final class SQLiteConnection: SQLConnection {
    private var db: OpaquePointer?
    let dialect = SQLDialect.sqlite

    init(path: String) throws {
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            throw JobStoreError.database("sqlite: \(message) (\(path))")
        }
        db = handle
        // Another process (or a second store in this one) may hold the write lock briefly.
        sqlite3_busy_timeout(handle, 10_000)
        let mode = try query("PRAGMA journal_mode=WAL").first?.first?.text
        guard mode?.lowercased() == "wal" else {
            throw JobStoreError.database("sqlite: cannot switch \(path) to WAL mode (got \(mode ?? "nothing"))")
        }
        // In WAL mode NORMAL loses no committed transaction on a process crash (only, at worst,
        // the last ones on a power loss).
        try execute("PRAGMA synchronous=NORMAL")
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit { close() }

    func close() {
        if let db { sqlite3_close_v2(db) }
        db = nil
    }

    func begin() throws { try execute("BEGIN IMMEDIATE") }

    private func error(_ what: String) -> JobStoreError {
        .database("sqlite: \(what): \(db.map { String(cString: sqlite3_errmsg($0)) } ?? "closed")")
    }

    func run(_ sql: String, _ parameters: [SQLValue]) throws -> (rows: [[SQLValue]], changes: Int) {
        guard let db else { throw JobStoreError.database("sqlite: connection closed") }
        let text = Self.rewritePlaceholders(sql)
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, text, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw error("prepare")
        }
        defer { sqlite3_finalize(statement) }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (offset, value) in parameters.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(statement, index)
            case .int(let v): rc = sqlite3_bind_int64(statement, index, v)
            case .double(let v): rc = sqlite3_bind_double(statement, index, v)
            case .text(let s): rc = sqlite3_bind_text(statement, index, s, -1, transient)
            case .blob(let b):
                rc = b.withUnsafeBytes { raw in
                    sqlite3_bind_blob64(statement, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), sqlite3_uint64(b.count), transient)
                }
            }
            guard rc == SQLITE_OK else { throw error("bind") }
        }
        var rows: [[SQLValue]] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw error("step") }
            let count = sqlite3_column_count(statement)
            var row: [SQLValue] = []
            row.reserveCapacity(Int(count))
            for column in 0..<count {
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: row.append(.int(sqlite3_column_int64(statement, column)))
                case SQLITE_FLOAT: row.append(.double(sqlite3_column_double(statement, column)))
                case SQLITE_TEXT: row.append(.text(String(cString: sqlite3_column_text(statement, column))))
                case SQLITE_BLOB:
                    let n = Int(sqlite3_column_bytes(statement, column))
                    if n == 0 { row.append(.blob([])) } else {
                        let p = sqlite3_column_blob(statement, column)!
                        row.append(.blob(Array(UnsafeRawBufferPointer(start: p, count: n))))
                    }
                default: row.append(.null)
                }
            }
            rows.append(row)
        }
        return (rows, Int(sqlite3_changes(db)))
    }

    /// `$12` -> `?12` outside string literals (the store's SQL has no `$` inside literals).
    static func rewritePlaceholders(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count)
        var inLiteral = false
        for ch in sql {
            if ch == "'" { inLiteral.toggle() }
            out.append(ch == "$" && !inLiteral ? "?" : ch)
        }
        return out
    }
}

// MARK: - PostgreSQL (libpq)

final class PostgresConnection: SQLConnection {
    private var conn: OpaquePointer?
    let dialect = SQLDialect.postgres

    /// `settings` are libpq connection keywords (host, port, dbname, user, password, sslmode, ...).
    init(settings: [(String, String)]) throws {
        let keys = settings.map { strdup($0.0) } + [nil]
        let values = settings.map { strdup($0.1) } + [nil]
        defer {
            keys.forEach { free($0) }
            values.forEach { free($0) }
        }
        let handle = keys.map { UnsafePointer($0) }.withUnsafeBufferPointer { k in
            values.map { UnsafePointer($0) }.withUnsafeBufferPointer { v in
                PQconnectdbParams(k.baseAddress, v.baseAddress, 0)
            }
        }
        guard let handle else { throw JobStoreError.database("postgres: out of memory") }
        conn = handle
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = Self.message(handle)
            PQfinish(handle)
            conn = nil
            throw JobStoreError.database("postgres: cannot connect: \(message)")
        }
        // Notices (e.g. "relation already exists, skipping") are not for our logs.
        try execute("SET client_min_messages = warning")
    }

    deinit { close() }

    func close() {
        if let conn { PQfinish(conn) }
        conn = nil
    }

    func begin() throws { try execute("BEGIN") }

    private static func message(_ conn: OpaquePointer?) -> String {
        guard let conn, let p = PQerrorMessage(conn) else { return "no connection" }
        return String(cString: p).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func run(_ sql: String, _ parameters: [SQLValue]) throws -> (rows: [[SQLValue]], changes: Int) {
        guard let conn else { throw JobStoreError.database("postgres: connection closed") }
        // A server restart or a dropped socket: reconnect once, outside any transaction.
        if PQstatus(conn) != CONNECTION_OK {
            PQreset(conn)
            guard PQstatus(conn) == CONNECTION_OK else {
                throw JobStoreError.database("postgres: connection lost: \(Self.message(conn))")
            }
        }
        // Text parameters except bytes, which travel binary (no escaping, no hex doubling).
        var buffers: [[UInt8]?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        for value in parameters {
            switch value {
            case .null: buffers.append(nil); lengths.append(0); formats.append(0)
            case .int(let v): buffers.append(Array(String(v).utf8) + [0]); lengths.append(0); formats.append(0)
            case .double(let v): buffers.append(Array("\(v)".utf8) + [0]); lengths.append(0); formats.append(0)
            case .text(let s): buffers.append(Array(s.utf8) + [0]); lengths.append(0); formats.append(0)
            case .blob(let b): buffers.append(b.isEmpty ? [0] : b); lengths.append(Int32(b.count)); formats.append(1)
            }
        }
        let result: OpaquePointer? = withPointers(buffers) { pointers in
            PQexecParams(conn, sql, Int32(parameters.count), nil, pointers, lengths, formats, 0)
        }
        guard let result else { throw JobStoreError.database("postgres: \(Self.message(conn))") }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            if state == "23505" { throw JobStoreError.uniqueViolation }
            throw JobStoreError.database("postgres: \(message)")
        }
        var rows: [[SQLValue]] = []
        let nRows = PQntuples(result), nColumns = PQnfields(result)
        for r in 0..<nRows {
            var row: [SQLValue] = []
            for c in 0..<nColumns {
                if PQgetisnull(result, r, c) == 1 { row.append(.null); continue }
                let text = String(cString: PQgetvalue(result, r, c))
                switch PQftype(result, c) {
                case 20, 21, 23: row.append(Int64(text).map(SQLValue.int) ?? .text(text))  // int8, int2, int4
                case 700, 701, 1700: row.append(Double(text).map(SQLValue.double) ?? .text(text))
                case 17: row.append(.blob(Self.decodeBytea(text)))
                default: row.append(.text(text))
                }
            }
            rows.append(row)
        }
        let changes = Int(String(cString: PQcmdTuples(result))) ?? 0
        return (rows, changes)
    }

    private func withPointers<R>(_ buffers: [[UInt8]?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafePointer<CChar>?] = []
        func recurse(_ i: Int) -> R {
            if i == buffers.count { return body(pointers) }
            guard let buffer = buffers[i] else {
                pointers.append(nil)
                return recurse(i + 1)
            }
            return buffer.withUnsafeBufferPointer { p in
                p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { c in
                    pointers.append(c)
                    return recurse(i + 1)
                }
            }
        }
        return recurse(0)
    }

    /// bytea in text output is `\x` followed by hex (bytea_output = hex, the default since 9.0).
    static func decodeBytea(_ text: String) -> [UInt8] {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x") else { return utf8 }
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return 0
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity((utf8.count - 2) / 2)
        var i = 2
        while i + 1 < utf8.count {
            out.append(nibble(utf8[i]) << 4 | nibble(utf8[i + 1]))
            i += 2
        }
        return out
    }
}
