import XCTest
@testable import Video

/// SPEC.md section 2 (dfgaze-video-v1): windows of 32 frames, frames +0, +8, +16, +24, at most W
/// windows spread by round-half-to-even of j * (K - 1) / (W - 1). Expected lists were computed
/// with Python's `round(Fraction(j * (K - 1), W - 1))` (half to even), not with this code.
final class WindowRuleTests: XCTestCase {
    func testWindowCountIsFloorOfNOver32WithOneWindowFrom25Frames() {
        XCTAssertEqual(WindowRule.windowCount(frames: 0), 0)
        XCTAssertEqual(WindowRule.windowCount(frames: 24), 0)
        XCTAssertEqual(WindowRule.windowCount(frames: 25), 1)
        XCTAssertEqual(WindowRule.windowCount(frames: 31), 1)
        XCTAssertEqual(WindowRule.windowCount(frames: 32), 1)
        XCTAssertEqual(WindowRule.windowCount(frames: 63), 1)
        XCTAssertEqual(WindowRule.windowCount(frames: 64), 2)
        XCTAssertEqual(WindowRule.windowCount(frames: 105), 3)   // talking_astronaut
        XCTAssertEqual(WindowRule.windowCount(frames: 75), 2)    // t1face_25fps
        XCTAssertEqual(WindowRule.windowCount(frames: 128), 4)   // face_cat_face
        XCTAssertEqual(WindowRule.windowCount(frames: 1800), 56)  // 60 s at 30 fps
    }

    func testWindowSamplesFrames8Apart() {
        XCTAssertEqual(WindowRule.frames(ofWindow: 0), [0, 8, 16, 24])
        XCTAssertEqual(WindowRule.frames(ofWindow: 2), [64, 72, 80, 88])
    }

    func testUnder25FramesIsTooShort() {
        XCTAssertThrowsError(try WindowRule.windows(frames: 24, maxWindows: 32)) { error in
            XCTAssertEqual(error as? VideoError, .tooShort(frames: 24))
            XCTAssertEqual((error as? VideoError)?.code, "video_too_short")
        }
        XCTAssertThrowsError(try WindowRule.windows(frames: 0, maxWindows: 1))
    }

    func test25To31FramesGiveWindowZero() throws {
        XCTAssertEqual(try WindowRule.windows(frames: 25, maxWindows: 32), [0])
        XCTAssertEqual(try WindowRule.windows(frames: 31, maxWindows: 1), [0])
    }

    func testAllWindowsWhenKIsAtMostW() throws {
        XCTAssertEqual(try WindowRule.windows(frames: 105, maxWindows: 32), [0, 1, 2])
        XCTAssertEqual(try WindowRule.windows(frames: 105, maxWindows: 3), [0, 1, 2])
        XCTAssertEqual(try WindowRule.windows(frames: 32 * 32, maxWindows: 32), Array(0..<32))
    }

    func testOneWindowAllowedIsWindowZero() throws {
        XCTAssertEqual(try WindowRule.windows(frames: 105, maxWindows: 1), [0])
        XCTAssertEqual(try WindowRule.windows(frames: 32 * 1000, maxWindows: 1), [0])
    }

    func testFixtureW2OnThreeWindowsTakesFirstAndLast() throws {
        // talking_astronaut_w2: K = 3 > W = 2: windows 0 and 2.
        XCTAssertEqual(try WindowRule.windows(frames: 105, maxWindows: 2), [0, 2])
    }

    func testTiesRoundHalfToEven() throws {
        // K = 4, W = 3: j * 3 / 2 = 0, 1.5 -> 2, 3.
        XCTAssertEqual(try WindowRule.windows(frames: 4 * 32, maxWindows: 3), [0, 2, 3])
        // K = 6, W = 3: 0, 2.5 -> 2, 5.
        XCTAssertEqual(try WindowRule.windows(frames: 6 * 32, maxWindows: 3), [0, 2, 5])
        // K = 8, W = 3: 0, 3.5 -> 4, 7.
        XCTAssertEqual(try WindowRule.windows(frames: 8 * 32 + 31, maxWindows: 3), [0, 4, 7])
        // K = 6, W = 5: 0, 1.25, 2.5 -> 2, 3.75, 5.
        XCTAssertEqual(try WindowRule.windows(frames: 6 * 32, maxWindows: 5), [0, 1, 2, 4, 5])
        // K = 1000, W = 7: 166.5 -> 166, 499.5 -> 500, 832.5 -> 832.
        XCTAssertEqual(try WindowRule.windows(frames: 1000 * 32, maxWindows: 7), [0, 166, 333, 500, 666, 832, 999])
    }

    func testSpreadOverTheWholeVideo() throws {
        XCTAssertEqual(try WindowRule.windows(frames: 100 * 32, maxWindows: 32),
                       [0, 3, 6, 10, 13, 16, 19, 22, 26, 29, 32, 35, 38, 42, 45, 48, 51, 54, 57, 61, 64, 67,
                        70, 73, 77, 80, 83, 86, 89, 93, 96, 99])
        XCTAssertEqual(try WindowRule.windows(frames: 1800, maxWindows: 32),
                       [0, 2, 4, 5, 7, 9, 11, 12, 14, 16, 18, 20, 21, 23, 25, 27, 28, 30, 32, 34, 35, 37, 39, 41,
                        43, 44, 46, 48, 50, 51, 53, 55])
        XCTAssertEqual(try WindowRule.windows(frames: 33 * 32, maxWindows: 32),
                       Array(0...15) + Array(17...32))
    }

    func testSelectExpressionCoversRunsOfWindows() {
        XCTAssertEqual(VideoDecoder.selectExpression(windows: [0, 1, 2]), "not(mod(n,8))*(between(n,0,88))")
        XCTAssertEqual(VideoDecoder.selectExpression(windows: [0, 2, 3, 7]),
                       "not(mod(n,8))*(between(n,0,24)+between(n,64,120)+between(n,224,248))")
    }
}
