import DFGaze
import Foundation
import HTTPServer
import Logging
import ScoringService
import XCTest

enum Fixture {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/dfgaze-demo-v1")
    static func frame(_ name: String) -> URL { root.appendingPathComponent("frames/\(name).jpg") }
    static let video8 = ["a_0", "a_1", "a_2", "a_3", "b_0", "b_1", "b_2", "b_3"]

    /// expected.json's case (video8, video6).
    static func expected(_ name: String) throws -> [String: Any] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("expected.json"))) as! [String: Any]
        return (json["cases"] as! [String: Any])[name] as! [String: Any]
    }
}

/// The real model on the demo weights, loaded once for the whole test process.
enum SharedModel {
    static let demo: Result<DFGazeModel, Error> = Result { try DFGazeModel.demo() }
    static func get() throws -> DFGazeModel { try demo.get() }
}

/// A response as curl saw it.
struct CurlResponse {
    var status: Int
    var headers: [String: String]
    var body: Data
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
    var errorCode: String? { (json?["error"] as? [String: Any])?["code"] as? String }
}

/// Runs curl (a real HTTP client) and parses its `-i` output, skipping interim 1xx responses.
func curl(_ arguments: [String]) throws -> CurlResponse {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["-s", "-S", "-i", "--max-time", "60"] + arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw NSError(domain: "curl", code: Int(process.terminationStatus),
                      userInfo: [NSLocalizedDescriptionKey: String(decoding: errors, as: UTF8.self)])
    }
    var rest = data[...]
    while true {
        guard let end = rest.firstRange(of: Data("\r\n\r\n".utf8)) else { throw NSError(domain: "curl", code: -1) }
        let head = String(decoding: rest[rest.startIndex..<end.lowerBound], as: UTF8.self)
        rest = rest[end.upperBound...]
        let lines = head.components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1])!
        if (100..<200).contains(status) { continue }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return CurlResponse(status: status, headers: headers, body: Data(rest))
    }
}

extension XCTestCase {
    /// A started service on a free loopback port, shut down when the test ends.
    func startService(scorer: VideoScorer?, _ configure: (inout ServiceConfiguration, inout ServerConfiguration) -> Void = { _, _ in })
        throws -> (service: ScoringService, url: String) {
        var service = ServiceConfiguration()
        var server = ServerConfiguration()
        server.port = 0
        configure(&service, &server)
        let app = try ScoringService(scorer: scorer, configuration: service, server: server,
                                     logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try app.start()
        addTeardownBlock { app.shutdown(grace: 2) }
        return (app, "http://127.0.0.1:\(app.server.port)")
    }
}

/// A stand-in model that takes `delay` seconds, for queueing and overload tests only: the
/// numbers it returns are not scores.
final class SlowScorer: VideoScorer, @unchecked Sendable {
    let delay: TimeInterval
    private let lock = NSLock()
    private var calls = 0
    init(delay: TimeInterval) { self.delay = delay }
    var callCount: Int { lock.withLock { calls } }

    func score(jpegs: [Data], options: ScoringOptions) throws -> ScoreReport {
        lock.withLock { calls += 1 }
        Thread.sleep(forTimeInterval: delay)
        return ScoreReport(fakeProbability: 0, label: "real", threshold: options.threshold, clips: [], frames: [],
                           model: identity, timings: .init())
    }

    let identity = ScoreReport.ModelIdentity(name: "stand-in", weights: "none", demo: true, sha256: [:])
    var modelInfo: ModelInfo { fatalError("the stand-in has no model description; not used by these tests") }
}

/// A response body's field as `T`, or a test failure naming the field (instead of a crash on `as!`).
func field<T>(_ object: [String: Any]?, _ key: String, as type: T.Type = T.self,
              file: StaticString = #filePath, line: UInt = #line) throws -> T {
    try XCTUnwrap(object?[key] as? T, "field '\(key)' is missing or not \(T.self): \(String(describing: object?[key]))",
                  file: file, line: line)
}
