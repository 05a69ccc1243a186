import Foundation
import Imaging
import Weights
import XCTest

/// The video fixture (Tests/Fixtures/dfgaze-video-v1): its whole frames and expected.json's cases.
enum VideoFixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/dfgaze-video-v1")

    nonisolated(unsafe) static let cases: [String: Any] = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("expected.json"))
        let json = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
        return json["cases"] as! [String: Any]
    }()

    static func `case`(_ name: String) -> [String: Any] { cases[name] as! [String: Any] }

    static func frameFiles(_ name: String) -> [String] {
        (self.case(name)["request"] as! [String: Any])["frame_files"] as! [String]
    }

    static func jpeg(_ file: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent("frames/\(file)"))
    }

    static func frame(_ file: String) throws -> RGBImage { try JPEG.decode(try jpeg(file)) }

    /// `debug.detections[i]`: every detection `[left, top, right, bottom, score]` of frame i.
    static func detections(_ name: String) -> [[(box: [Int], score: Double)]] {
        let debug = self.case(name)["debug"] as! [String: Any]
        let byFrame = debug["detections"] as! [String: [[Double]]]
        return (0..<byFrame.count).map { i in
            byFrame[String(i)]!.map { d in (d[0..<4].map { Int($0) }, d[4]) }
        }
    }

    static func response(_ name: String) -> [String: Any] { self.case(name)["response"] as! [String: Any] }

    /// The response's `frames[]`, by index.
    static func responseFrames(_ name: String) -> [Int: [String: Any]] {
        let frames = response(name)["frames"] as! [[String: Any]]
        return Dictionary(uniqueKeysWithValues: frames.map { ($0["index"] as! Int, $0) })
    }

    /// The frames `wanted` of `file` as ffmpeg writes them (rgb24), reading one frame at a time.
    static func sampledFrames(_ file: String, width: Int, height: Int, wanted: Set<Int>) throws -> [Int: RGBImage] {
        let ffmpeg = Process()
        ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        ffmpeg.arguments = ["-nostdin", "-v", "error", "-i", VideoFixture.directory.appendingPathComponent(file).path,
                            "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        let pipe = Pipe()
        ffmpeg.standardOutput = pipe
        try ffmpeg.run()
        var frames: [Int: RGBImage] = [:]
        let frameBytes = width * height * 3
        var index = 0
        while let data = try pipe.fileHandleForReading.read(upToCount: frameBytes), !data.isEmpty {
            var frame = data
            while frame.count < frameBytes, let more = try pipe.fileHandleForReading.read(upToCount: frameBytes - frame.count),
                  !more.isEmpty {
                frame += more
            }
            XCTAssertEqual(frame.count, frameBytes, "\(file): frame \(index) is whole")
            if wanted.contains(index) { frames[index] = RGBImage(width: width, height: height, pixels: [UInt8](frame)) }
            index += 1
        }
        ffmpeg.waitUntilExit()
        XCTAssertEqual(ffmpeg.terminationStatus, 0, file)
        return frames
    }

    static func clipFrames(_ name: String, _ key: String) -> [[Int]] {
        (response(name)[key] as! [[String: Any]]).map { $0["frames"] as! [Int] }
    }
}

func sha256Hex(_ data: Data) -> String { SHA256.hex(data) }
