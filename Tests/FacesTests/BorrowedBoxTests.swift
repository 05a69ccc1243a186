import Foundation
import Imaging
import XCTest
@testable import Faces

/// SPEC 3.5: a frame without a face takes the box of the nearest frame that has one (equal
/// distance: the earlier); a window where no frame has a face is not scored.
final class BorrowedBoxTests: XCTestCase {
    let a = FaceBox(left: 1, top: 2, right: 3, bottom: 4)
    let b = FaceBox(left: 5, top: 6, right: 7, bottom: 8)

    func testNearestThenEarlier() {
        let any: (Int, Int) -> Bool = { _, _ in true }
        XCTAssertEqual(FaceCropping.lenders(own: [a, nil, nil, b], eligible: any), [0, 0, 3, 3])
        XCTAssertEqual(FaceCropping.lenders(own: [a, nil, b, nil], eligible: any), [0, 0, 2, 2])
        XCTAssertEqual(FaceCropping.lenders(own: [nil, nil, nil, a], eligible: any), [3, 3, 3, 3])
        XCTAssertEqual(FaceCropping.lenders(own: [nil, a, nil, b, nil], eligible: any), [1, 1, 1, 3, 3])
        XCTAssertEqual(FaceCropping.lenders(own: [nil, nil, nil, nil], eligible: any), [nil, nil, nil, nil])
        XCTAssertEqual(FaceCropping.lenders(own: [], eligible: any), [])
    }

    /// Whole frames borrow only from a frame of the same size, however far.
    func testOnlyEligibleLenders() {
        let sizes = [1, 2, 1, 2, 2, 1]
        let own: [FaceBox?] = [a, b, nil, nil, nil, nil]
        XCTAssertEqual(FaceCropping.lenders(own: own) { sizes[$0] == sizes[$1] }, [0, 1, 0, 1, 1, 0])
        XCTAssertEqual(FaceCropping.lenders(own: [nil, b]) { _, _ in false }, [nil, 1])
    }

    /// A video window: coffee (no face), astronaut, coffee, coffee: every frame takes frame 1's box,
    /// reported by its video frame index, and the crops are cut from each frame's own pixels.
    func testWindowBorrowsWithinTheWindow() throws {
        let coffee = try VideoFixture.frame("coffee_512.jpg"), astronaut = try VideoFixture.frame("astronaut.jpg")
        let window = try FaceCropping.window([coffee, astronaut, coffee, coffee], indices: [32, 40, 48, 56],
                                             detector: try FaceDetector())
        let faces = try XCTUnwrap(window.faces)
        let box = FaceBox(left: 175, top: 76, right: 265, bottom: 166)
        XCTAssertEqual(faces.map(\.face.box), [box, box, box, box])
        XCTAssertEqual(faces.map(\.face.detected), [false, true, false, false])
        XCTAssertEqual(faces.map(\.face.source), [40, 40, 40, 40])
        XCTAssertEqual(faces.map(\.face.crop), Array(repeating: FaceCrop(x: 162, y: 63, size: 117), count: 4))
        XCTAssertEqual(faces[0].jpeg, faces[2].jpeg)
        XCTAssertNotEqual(faces[0].jpeg, faces[1].jpeg)
        XCTAssertEqual(window.detections.map(\.count), [0, 2, 0, 0])
    }

    func testWindowWithoutAFaceIsNotScored() throws {
        let coffee = try VideoFixture.frame("coffee_512.jpg")
        let window = try FaceCropping.window([coffee, coffee, coffee, coffee], indices: [0, 8, 16, 24],
                                             detector: try FaceDetector())
        XCTAssertNil(window.faces)
        XCTAssertEqual(window.detections.map(\.count), [0, 0, 0, 0])
    }
}
