import Foundation
import XCTest
@testable import Video

enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/dfgaze-video-v1")

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// `expected.json`'s case `name`.
    static func expectedCase(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: url("expected.json"))
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try XCTUnwrap(root["cases"] as? [String: Any])
        return try XCTUnwrap(cases[name] as? [String: Any])
    }

    static let videoCases = ["talking_astronaut", "talking_astronaut_w2", "t1face_25fps", "face_cat_face"]
    static let videoFiles = ["talking_astronaut.mp4", "t1face_25fps.webm", "face_cat_face.mp4"]
}

/// Runs a tool (ffmpeg for making test inputs, or SPEC.md's plain command) to completion with
/// Foundation's Process, independently of the module under test. Returns its stdout.
@discardableResult
func runTool(_ tool: String, _ arguments: [String]) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: VideoTools.which(tool) ?? "/usr/bin/\(tool)")
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw NSError(domain: "runTool", code: Int(process.terminationStatus),
                      userInfo: [NSLocalizedDescriptionKey: "\(tool) \(arguments) failed"])
    }
    return data
}

/// Children of this test process named ffmpeg or ffprobe, alive or zombie (from /proc).
func ffmpegChildren(except: [Int32] = []) -> [String] {
    let me = getpid()
    var found: [String] = []
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int32(entry) != nil {
        guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
        let name = String(stat[stat.index(after: open)..<close])
        let rest = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        guard rest.count > 1, Int32(rest[1]) == me, !except.contains(Int32(entry)!) else { continue }
        if name.hasPrefix("ffmpeg") || name.hasPrefix("ffprobe") { found.append("\(entry) \(name) \(rest[0])") }
    }
    return found
}

/// A scratch directory removed after the test.
func scratchDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("videotests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}
