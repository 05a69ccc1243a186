import Foundation
import Tensors
import Weights
import XCTest
@testable import DFGaze
import TestSupport

/// The three backbones against the authors' PyTorch outputs in the fixture, on demo weights.
final class BackboneForwardTests: XCTestCase {
    static let clipA = ["a_0", "a_1", "a_2", "a_3"]
    static let clipB = ["b_0", "b_1", "b_2", "b_3"]
    /// SPEC.md: about 1e-4 relative on the 2048x7x7 maps.
    static let mapTolerance: Float = 1e-4

    func assertMaps(_ map: FeatureMap, _ key: String, _ names: [String], file: SafeTensorsFile,
                    line: UInt = #line) throws {
        XCTAssertEqual([map.channels, map.batch, map.height, map.width], [2048, names.count, 7, 7], line: line)
        for (n, name) in names.enumerated() {
            let expected = try file.tensor("\(name).\(key)")
            let error = relativeError(Fixture.frame(n, of: map), expected.values)
            print("\(name).\(key): max relative error \(error)")
            XCTAssertLessThan(error, Self.mapTolerance, "\(name).\(key)", line: line)
        }
    }

    func testGAMMatchesLayer4LogitsAndGaze() throws {
        let file = try Fixture.expected()
        let gam = try GAM(weights: Fixture.demoWeights("gam", spec: GAM.parameterSpec))
        let a = try Fixture.frames(Self.clipA, from: file)
        let outA = gam(a)
        try assertMaps(outA.layer4, "gam.layer4", Self.clipA, file: file)
        let outB = gam(try Fixture.frames(Self.clipB, from: file))

        let yaw = outA.yawLogits + outB.yawLogits, pitch = outA.pitchLogits + outB.pitchLogits
        let names = Self.clipA + Self.clipB
        for (n, name) in names.enumerated() {
            let rows = (n * 90)..<((n + 1) * 90)
            for (head, logits) in [("yaw_logits", yaw), ("pitch_logits", pitch)] {
                let error = relativeError(Array(logits[rows]), try file.tensor("\(name).gam.\(head)").values)
                print("\(name).gam.\(head): max relative error \(error)")
                XCTAssertLessThan(error, 1e-5, "\(name).gam.\(head)")
            }
        }
        try assertGaze(GAM.gaze(yawLogits: yaw, pitchLogits: pitch), names)
    }

    /// The decoding alone, from the fixture's own logits.
    func testGazeDecodingOfTheFixtureLogits() throws {
        let file = try Fixture.expected()
        let names = Self.clipA + Self.clipB
        let yaw = try names.flatMap { try file.tensor("\($0).gam.yaw_logits").values }
        let pitch = try names.flatMap { try file.tensor("\($0).gam.pitch_logits").values }
        try assertGaze(GAM.gaze(yawLogits: yaw, pitchLogits: pitch), names)
    }

    func assertGaze(_ gaze: [(yawDeg: Double, pitchDeg: Double, vector: [Double])], _ names: [String],
                    line: UInt = #line) throws {
        let cases = try XCTUnwrap((try Fixture.json("expected.json") as? [String: Any])?["cases"] as? [String: Any])
        let frames = try XCTUnwrap((cases["video8"] as? [String: Any])?["frames"] as? [[String: Any]])
        XCTAssertEqual(gaze.count, names.count, line: line)
        var worst = 0.0
        defer { print("gaze: max angle error \(worst) degrees") }
        for (g, name) in zip(gaze, names) {
            let f = try XCTUnwrap(frames.first { $0["name"] as? String == name })
            worst = max(worst, abs(g.yawDeg - (f["yaw_deg"] as? Double ?? .nan)), abs(g.pitchDeg - (f["pitch_deg"] as? Double ?? .nan)))
            XCTAssertEqual(g.yawDeg, try XCTUnwrap(f["yaw_deg"] as? Double), accuracy: 1e-3, "\(name) yaw", line: line)
            XCTAssertEqual(g.pitchDeg, try XCTUnwrap(f["pitch_deg"] as? Double), accuracy: 1e-3, "\(name) pitch", line: line)
            let vector = try XCTUnwrap(f["vector"] as? [Double])
            for (v, e) in zip(g.vector, vector) { XCTAssertEqual(v, e, accuracy: 1e-5, "\(name) vector", line: line) }
        }
    }

    func testTAMMatchesLayer4() throws {
        let file = try Fixture.expected()
        let tam = try TAM(weights: Fixture.demoWeights("tam", spec: TAM.parameterSpec))
        let a = try Fixture.frames(Self.clipA, from: file)
        let layer4 = tam(a)
        try assertMaps(layer4, "tam.layer4", Self.clipA, file: file)
    }

    func testAAMMatchesItsFcOutput() throws {
        let file = try Fixture.expected()
        let aam = try AAM(weights: Fixture.demoWeights("aam", spec: AAM.parameterSpec))
        let a = try Fixture.frames(Self.clipA, from: file)
        let out = aam(a)
        try assertMaps(out, "aam.out", Self.clipA, file: file)
    }
}
