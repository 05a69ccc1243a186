@testable import DFGaze
import Foundation
import Tensors
import Weights
import TestSupport
import XCTest

/// JPEG bytes in, the authors' numbers out: the whole pipeline against expected.json.
final class PipelineTests: XCTestCase {
    static let model = Result { try DFGazeModel.demo() }

    func jpegs(_ names: [String]) throws -> [Data] {
        try names.map { try Data(contentsOf: Fixture.url("frames/\($0).jpg")) }
    }

    func expectedCase(_ name: String) throws -> [String: Any] {
        let json = try XCTUnwrap(Fixture.json("expected.json") as? [String: Any])
        return try XCTUnwrap((json["cases"] as? [String: Any])?[name] as? [String: Any])
    }

    func assertMatches(_ report: ScoreReport, _ expected: [String: Any], file: StaticString = #filePath, line: UInt = #line) throws {
        func number(_ object: [String: Any], _ key: String) throws -> Double {
            try XCTUnwrap(object[key] as? Double, "expected.json lacks \(key)", file: file, line: line)
        }
        XCTAssertEqual(report.fakeProbability, try number(expected, "fake_probability"), accuracy: 1e-5, file: file, line: line)
        let frames = try XCTUnwrap(expected["frames"] as? [[String: Any]], file: file, line: line)
        XCTAssertEqual(report.frames.count, frames.count, file: file, line: line)
        for (got, want) in zip(report.frames, frames) {
            XCTAssertEqual(got.yawDeg, try number(want, "yaw_deg"), accuracy: 1e-3, file: file, line: line)
            XCTAssertEqual(got.pitchDeg, try number(want, "pitch_deg"), accuracy: 1e-3, file: file, line: line)
            let vector = try XCTUnwrap(want["vector"] as? [Double], file: file, line: line)
            for (g, w) in zip(got.gaze, vector) { XCTAssertEqual(g, w, accuracy: 1e-5, file: file, line: line) }
        }
        let clips = try XCTUnwrap(expected["clips"] as? [[String: Any]], file: file, line: line)
        XCTAssertEqual(report.clips.count, clips.count, file: file, line: line)
        for (got, want) in zip(report.clips, clips) {
            XCTAssertEqual(got.frames, want["frames"] as? [Int], file: file, line: line)
            XCTAssertEqual(got.fakeProbability, try number(want, "fake_probability"), accuracy: 1e-5, file: file, line: line)
            let heads = try XCTUnwrap(want["head_fake_probability"] as? [Double], file: file, line: line)
            XCTAssertEqual(got.headFakeProbabilities.count, 3, file: file, line: line)
            for (g, w) in zip(got.headFakeProbabilities, heads) { XCTAssertEqual(g, w, accuracy: 1e-5, file: file, line: line) }
        }
    }

    func testVideo8MatchesTheAuthors() throws {
        let names = ["a_0", "a_1", "a_2", "a_3", "b_0", "b_1", "b_2", "b_3"]
        let report = try Self.model.get().score(jpegs: jpegs(names))
        try assertMatches(report, expectedCase("video8"))
        XCTAssertEqual(report.model.weights, "dfgaze-demo-v1")
        XCTAssertTrue(report.model.demo)
        XCTAssertEqual(report.label, report.fakeProbability >= 0.5 ? "fake" : "real")
    }

    func testVideo6MatchesTheAuthorsWithOverlappingLastClip() throws {
        let report = try Self.model.get().score(jpegs: jpegs(["a_0", "a_1", "a_2", "a_3", "b_0", "b_1"]))
        try assertMatches(report, expectedCase("video6"))
    }

    func testFullGraphGivesIdenticalScores() throws {
        let full = try DFGazeModel.demo(fullGraph: true)
        XCTAssertNotNil(full.aam)
        let frames = try jpegs(["a_0", "a_1", "a_2", "a_3"])
        let fast = try Self.model.get().score(jpegs: frames)
        let slow = try full.score(jpegs: frames)
        XCTAssertEqual(fast.clips, slow.clips, "AAM's maps never reach the score")
        XCTAssertEqual(fast.frames, slow.frames)
    }

    func testFramesInGroupsAndOperationsSplitOverThreadsGiveTheAuthorsScores() throws {
        // Width 2: the 4-frame batch in 2 groups of 2 frames, the 2-frame one in 2 groups of 1;
        // 3: every operation split 3 ways; 4: groups of 1 frame (4, then 2 groups split 2 ways
        // within). A part's or a group's GEMM is smaller than the whole one and OpenBLAS blocks
        // it differently, so the last bits may differ; the scores stay the authors' at every width.
        let frames = try jpegs(["a_0", "a_1", "a_2", "a_3", "b_0", "b_1"])
        // As served: OpenBLAS on one thread per call, our parts around it.
        let saved = (Parallel.width, BLAS.threads)
        defer { Parallel.width = saved.0; BLAS.setThreads(saved.1) }
        BLAS.setThreads(1)
        var reports: [ScoreReport] = []
        for width in [1, 2, 3, 4] {
            Parallel.width = width
            let report = try Self.model.get().score(jpegs: frames)
            try assertMatches(report, expectedCase("video6"))
            reports.append(report)
        }
        for report in reports.dropFirst() {
            for (a, b) in zip(reports[0].clips, report.clips) { XCTAssertEqual(a.fakeProbability, b.fakeProbability, accuracy: 1e-6) }
        }
    }

    func testClipRule() {
        XCTAssertEqual(DFGazeModel.clips(frameCount: 3), [])
        XCTAssertEqual(DFGazeModel.clips(frameCount: 4), [[0, 1, 2, 3]])
        XCTAssertEqual(DFGazeModel.clips(frameCount: 6), [[0, 1, 2, 3], [2, 3, 4, 5]])
        XCTAssertEqual(DFGazeModel.clips(frameCount: 8), [[0, 1, 2, 3], [4, 5, 6, 7]])
        XCTAssertEqual(DFGazeModel.clips(frameCount: 9), [[0, 1, 2, 3], [4, 5, 6, 7], [5, 6, 7, 8]])
    }

    func testBadInputIsAScoringErrorNamingTheFrame() throws {
        let model = try Self.model.get()
        var frames = try jpegs(["a_0", "a_1", "a_2", "a_3"])
        XCTAssertThrowsError(try model.score(jpegs: Array(frames.prefix(3)))) {
            XCTAssertEqual(($0 as? ScoringError)?.code, .tooFewFrames)
        }
        frames[2] = Data("GIF89a".utf8)
        XCTAssertThrowsError(try model.score(jpegs: frames)) {
            XCTAssertEqual(($0 as? ScoringError)?.code, .notAJPEG)
            XCTAssertEqual(($0 as? ScoringError)?.frame, 2)
        }
        XCTAssertThrowsError(try model.score(jpegs: Array(repeating: frames[0], count: 9),
                                             options: ScoringOptions(maxFrames: 8))) {
            XCTAssertEqual(($0 as? ScoringError)?.code, .tooManyFrames)
        }
    }

    func testNetworksReadExactlyThePinnedDemoKeys() throws {
        // The pinned demo weights (weights-manifest.json) list exactly the fixture's keys
        // (WeightsTests); the networks ask for the same names and shapes.
        let pinned = try WeightsManifest.decode(Data(contentsOf: DemoFixture.pinnedWeightsManifest))
        XCTAssertEqual(pinned.files.map(\.network), Networks.names)
        for (network, spec) in Networks.parameterSpecs {
            let file = try XCTUnwrap(pinned.file(network: network), network)
            XCTAssertEqual(Dictionary(uniqueKeysWithValues: spec.map { ($0.key, $0.shape) }),
                           Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.shape) }), network)
        }
    }
}
