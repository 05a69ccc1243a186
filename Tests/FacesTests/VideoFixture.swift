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

    static func clipFrames(_ name: String, _ key: String) -> [[Int]] {
        (response(name)[key] as! [[String: Any]]).map { $0["frames"] as! [Int] }
    }
}

func sha256Hex(_ data: Data) -> String { SHA256.hex(data) }
