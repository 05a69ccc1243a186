import Foundation
import XCTest

/// The real `dfgaze serve` process: it starts on the demo weights, reports readiness, and on
/// SIGTERM finishes the request in flight, then exits 0.
final class ServeCommandTests: XCTestCase {
    /// The `dfgaze` executable built beside this test bundle.
    var binary: URL {
        let runner = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        return runner.resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("dfgaze")
    }

    func testSIGTERMDrainsInFlightWorkAndExitsZero() throws {
        let dfgaze = binary
        guard FileManager.default.isExecutableFile(atPath: dfgaze.path) else {
            return XCTFail("no dfgaze executable at \(dfgaze.path): build the package's products before testing")
        }
        let process = Process()
        process.executableURL = dfgaze
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("dfgaze-serve-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", "0", "--drain-seconds", "20", "--data-dir", data]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // The JSON log says where it listens, then when it is ready.
        let log = LogLines(stderr.fileHandleForReading)
        let listening = try XCTUnwrap(log.first(containing: "\"listening\"", within: 30))
        let port = try XCTUnwrap(Self.field("port", in: listening))
        XCTAssertNotNil(log.first(containing: "\"ready\"", within: 120), "weights loaded")
        let url = "http://127.0.0.1:\(port)"
        XCTAssertEqual(try curl(["\(url)/readyz"]).status, 200)

        let frames = Fixture.video8.prefix(4).flatMap { ["-F", "f=@\(Fixture.frame($0).path)"] }
        let done = DispatchSemaphore(value: 0)
        let result = StatusBox()
        DispatchQueue.global().async {
            result.add((try? curl(frames + ["\(url)/score"]))?.status ?? -1)
            done.signal()
        }
        // Once the request is being scored, ask the process to stop.
        let deadline = Date().addingTimeInterval(30)
        var scoring = false
        while !scoring && Date() < deadline {
            let metrics = String(decoding: (try? curl(["\(url)/metrics"]))?.body ?? Data(), as: UTF8.self)
            scoring = metrics.contains("dfgaze_inference_in_flight 1")
            if !scoring { Thread.sleep(forTimeInterval: 0.02) }
        }
        XCTAssertTrue(scoring, "the request was being scored when SIGTERM came")
        kill(process.processIdentifier, SIGTERM)
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(result.all, [200], "the request in flight was answered")
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertNotNil(log.first(containing: "\"draining\"", within: 1))
    }

    /// Runs `dfgaze serve <arguments>` expecting it to refuse its settings; returns (status, stderr).
    private func refusal(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", "0"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    /// The job flags: a password in the database URL is refused without echoing it; bad values are
    /// refused before anything starts.
    func testJobFlagsAreCheckedAndThePasswordNeverComesFromTheURL() throws {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { return XCTFail("no dfgaze at \(binary.path)") }
        let (status, text) = try refusal(["--jobs-database", "postgres://dfgaze:hunter2secret@127.0.0.1:1/db"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(text.contains("DFGAZE_JOBS_DATABASE_PASSWORD"), text)
        XCTAssertFalse(text.contains("hunter2secret"), "the password was echoed: \(text)")
        for bad in [["--job-ttl", "soon"], ["--job-workers", "-1"], ["--max-queued-jobs", "0"], ["--jobs-database", "mysql://x"]] {
            let (code, message) = try refusal(bad)
            XCTAssertNotEqual(code, 0, "\(bad): \(message)")
        }
        let (envCode, envText) = try refusal([], environment: ["DFGAZE_JOB_WORKERS": "many"])
        XCTAssertNotEqual(envCode, 0)
        XCTAssertTrue(envText.contains("DFGAZE_JOB_WORKERS"), envText)
    }

    /// `"name":"value"` or `"name":value` in a JSON log line.
    static func field(_ name: String, in line: String) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        return object[name].map { "\($0)" }
    }
}

/// Lines of a child's stderr, collected in the background.
final class LogLines: @unchecked Sendable {
    private let lock = NSCondition()
    private var lines: [String] = []

    init(_ handle: FileHandle) {
        Thread {
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending = Data(pending[(newline + 1)...])
                    self.lock.lock(); self.lines.append(line); self.lock.broadcast(); self.lock.unlock()
                }
            }
        }.start()
    }

    func first(containing needle: String, within seconds: TimeInterval) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        lock.lock()
        defer { lock.unlock() }
        while true {
            if let line = lines.first(where: { $0.contains(needle) }) { return line }
            if !lock.wait(until: deadline) { return lines.first { $0.contains(needle) } }
        }
    }
}
