import XCTest
@testable import Tensors

/// The kernels' workspace pool: nested calls get different buffers, and a request takes the
/// smallest idle buffer that fits, so buffers keep their sizes instead of all growing to the largest.
final class ScratchTests: XCTestCase {
    func testARequestTakesTheSmallestIdleBufferThatFitsAndGrowsTheLargestOtherwise() {
        let pool = Scratch()
        // Two buffers, of 100 and 1000 floats, both idle afterwards.
        let (small, large) = pool.with(count: 100) { a in pool.with(count: 1000) { b in (a, b) } }
        XCTAssertNotEqual(small, large, "nested calls must not share a buffer")

        XCTAssertEqual(pool.with(count: 50) { $0 }, small)
        XCTAssertEqual(pool.with(count: 100) { $0 }, small)
        XCTAssertEqual(pool.with(count: 101) { $0 }, large)
        // Nested: the small request still gets the small buffer while the large one is taken.
        pool.with(count: 900) { outer in
            XCTAssertEqual(outer, large)
            XCTAssertEqual(pool.with(count: 10) { $0 }, small)
        }
        // Too big for both: the largest grows (a new allocation), the small one stays as it was.
        let grown = pool.with(count: 5000) { $0 }
        XCTAssertNotEqual(grown, small)
        XCTAssertEqual(pool.with(count: 100) { $0 }, small)
        XCTAssertEqual(pool.with(count: 4000) { $0 }, grown)
    }

    func testTheZerosPoolHandsOutZerosAlsoWhenItGrows() {
        let pool = Scratch(zeroed: true)
        func allZero(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> Bool { (0..<n).allSatisfy { p[$0] == 0 } }
        let first = pool.with(count: 100) { p in
            XCTAssertTrue(allZero(p, 100))
            return p
        }
        // The same buffer again (not cleared by the pool: its users leave it zero).
        XCTAssertEqual(pool.with(count: 80) { p in
            XCTAssertTrue(allZero(p, 80))
            return p
        }, first)
        // Growing allocates anew: freed memory of that size, dirtied first, must not show through.
        for _ in 0..<4 {
            let dirty = UnsafeMutablePointer<Float>.allocate(capacity: 10_000)
            dirty.initialize(repeating: 1, count: 10_000)
            dirty.deallocate()
        }
        pool.with(count: 10_000) { p in XCTAssertTrue(allZero(p, 10_000)) }
    }
}
