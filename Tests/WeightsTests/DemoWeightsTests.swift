import Foundation
import Tensors
import XCTest
@testable import Weights

/// The demo generator must reproduce SPEC.md section 1 bit for bit (per network, with the
/// networks' damping rules: DFGazeTests.RegistryTests).
final class DemoWeightsTests: XCTestCase {
    func testSeedIsFNV1a64OfTheKeyPath() {
        // FNV-1a 64 test vectors (empty string is the offset basis; "a" is well known).
        XCTAssertEqual(DemoWeights.fnv1a64(""), 0xCBF2_9CE4_8422_2325)
        XCTAssertEqual(DemoWeights.fnv1a64("a"), 0xAF63_DC4C_8601_EC8C)
    }
}
