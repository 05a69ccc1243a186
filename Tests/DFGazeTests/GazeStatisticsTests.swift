import XCTest
@testable import DFGaze

/// gaze_dispersion_deg and gaze_step_deg on vectors whose angles can be checked by hand.
final class GazeStatisticsTests: XCTestCase {
    let x = [1.0, 0, 0], y = [0.0, 1, 0], z = [0.0, 0, 1]

    func testSteadyGazeHasNoSpreadAndNoSteps() throws {
        let v = [0.1, -0.3, -0.9]
        let stats = try XCTUnwrap(GazeStatistics(gaze: [v, v, v, v]))
        XCTAssertEqual(stats.dispersionDeg, 0, accuracy: 1e-12)
        XCTAssertEqual(stats.stepDeg, 0, accuracy: 1e-12)
    }

    /// x and y alternate: the mean direction is their bisector, 45 degrees from each; every step
    /// turns 90 degrees.
    func testAlternatingGaze() throws {
        let stats = try XCTUnwrap(GazeStatistics(gaze: [x, y, x, y]))
        XCTAssertEqual(stats.dispersionDeg, 45, accuracy: 1e-12)
        XCTAssertEqual(stats.stepDeg, 90, accuracy: 1e-12)
    }

    /// x, z, -x: the sum is z, so the angles to the mean are 90, 0, 90 (mean 60); both steps 90.
    func testMeanDirectionIsTheNormalisedSum() throws {
        let stats = try XCTUnwrap(GazeStatistics(gaze: [x, z, [-1, 0, 0]]))
        XCTAssertEqual(stats.dispersionDeg, 60, accuracy: 1e-12)
        XCTAssertEqual(stats.stepDeg, 90, accuracy: 1e-12)
    }

    /// Order matters to the steps only: x, x, y, y steps 0, 90, 0 (mean 30); the spread stays 45.
    func testStepsFollowFrameOrder() throws {
        let stats = try XCTUnwrap(GazeStatistics(gaze: [x, x, y, y]))
        XCTAssertEqual(stats.dispersionDeg, 45, accuracy: 1e-12)
        XCTAssertEqual(stats.stepDeg, 30, accuracy: 1e-12)
    }

    /// Lengths do not count: (2, 0, 0) and (0, 3, 0) are x and y. A 1-degree step stays exact.
    func testVectorsAreNormalised() throws {
        let stats = try XCTUnwrap(GazeStatistics(gaze: [[2, 0, 0], [0, 3, 0]]))
        XCTAssertEqual(stats.dispersionDeg, 45, accuracy: 1e-12)
        XCTAssertEqual(stats.stepDeg, 90, accuracy: 1e-12)
        let tilt = 1.0 * .pi / 180
        let small = try XCTUnwrap(GazeStatistics(gaze: [x, [cos(tilt), sin(tilt), 0]]))
        XCTAssertEqual(small.stepDeg, 1, accuracy: 1e-12)
        XCTAssertEqual(small.dispersionDeg, 0.5, accuracy: 1e-12)
    }

    func testUndefinedCases() {
        XCTAssertNil(GazeStatistics(gaze: [x]), "one frame has no step")
        XCTAssertNil(GazeStatistics(gaze: [x, [-1, 0, 0]]), "opposite vectors have no mean direction")
        XCTAssertNil(GazeStatistics(gaze: [x, [0, 0, 0]]), "a zero vector has no direction")
        XCTAssertNil(GazeStatistics(gaze: [x, [1, 0]]), "a gaze vector has 3 components")
    }
}
