import Foundation
import XCTest
@testable import Jobs

/// A clock the tests move by hand (leases and TTLs without waiting).
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date(timeIntervalSince1970: 1_800_000_000)
    var now: Date { lock.withLock { current } }
    func advance(_ seconds: Double) { lock.withLock { current = current.addingTimeInterval(seconds) } }
    var function: @Sendable () -> Date { { [self] in now } }
}

/// Opens stores on one fresh database of one backend.
struct Backend: Sendable {
    let name: String
    let configuration: JobStoreConfiguration

    func open(_ options: JobStoreOptions = JobStoreOptions(), clock: (@Sendable () -> Date)? = nil) throws -> JobStore {
        try JobStore(configuration: configuration, options: options, clock: clock ?? { Date() })
    }

    /// SQLite: a new file in a new temporary folder.
    static func sqlite() -> Backend {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dfgaze-jobs-\(UUID().uuidString)")
        return Backend(name: "sqlite", configuration: .sqlite(inDirectory: dir.path))
    }

    /// PostgreSQL: the server `Tests/Jobs/postgres.sh start` set up (`make test` does), emptied.
    static func postgres() throws -> Backend {
        guard let url = ProcessInfo.processInfo.environment["DFGAZE_TEST_POSTGRES_URL"] else {
            throw XCTSkip("PostgreSQL tests skipped: DFGAZE_TEST_POSTGRES_URL is not set (run `eval \"$(Tests/Jobs/postgres.sh start)\"` first; `make test` does)")
        }
        let configuration = try JobStoreConfiguration.parse(url)
        try JobStore.dropTablesForTesting(configuration)
        return Backend(name: "postgres", configuration: configuration)
    }
}

/// Polls until the condition holds (fails after a generous minute; nothing here measures time).
func eventually(_ what: String, timeout: Double = 60, file: StaticString = #filePath, line: UInt = #line,
                _ condition: () throws -> Bool) rethrows {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        Thread.sleep(forTimeInterval: 0.02)
    }
    XCTFail("timed out waiting for: \(what)", file: file, line: line)
}

func jsonObject(_ data: Data?) -> [String: Any]? {
    data.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
}

/// The executor the runner tests use: the result is derived from the payload, so a test can tell
/// which job's result it is: {"echo": "<payload text>", "length": n}.
func echoResult(_ payload: Data) -> Data {
    let text = String(decoding: payload, as: UTF8.self)
    return try! JSONSerialization.data(withJSONObject: ["echo": text, "length": payload.count], options: [.sortedKeys])
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: Int] = [:]
    func add(_ key: String) { lock.withLock { values[key, default: 0] += 1 } }
    subscript(_ key: String) -> Int { lock.withLock { values[key] ?? 0 } }
    var total: Int { lock.withLock { values.values.reduce(0, +) } }
}
