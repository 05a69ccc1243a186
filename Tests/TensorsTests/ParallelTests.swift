import Synchronization
@testable import Tensors
import XCTest
import TestSupport

/// Splitting an operation over threads changes who computes what, not what is computed:
/// element-wise kernels give the same bits at any `Parallel.width`; convolutions agree to float
/// rounding (a part's GEMM is smaller, and OpenBLAS blocks it differently).
final class ParallelTests: XCTestCase {
    var savedBLASThreads = 1

    override func setUp() {
        super.setUp()
        savedBLASThreads = BLAS.threads
        BLAS.setThreads(1)  // as served
    }

    override func tearDown() {
        Parallel.width = 1
        BLAS.setThreads(savedBLASThreads)
        super.tearDown()
    }

    /// Normwise (sums of hundreds of products round differently when OpenBLAS orders them
    /// differently; a wrong part is off by O(1)).
    func assertClose(_ a: [Float], _ b: [Float], _ message: String, line: UInt = #line) {
        XCTAssertGreaterThan(b.map(abs).max() ?? 0, 0, message, line: line)
        XCTAssertLessThan(relativeError(a, b), 1e-6, message, line: line)
    }

    /// `body` at widths 1, 2 and 3.
    func atEveryWidth<T>(_ body: () -> T) -> [T] {
        [1, 2, 3].map { width in
            Parallel.width = width
            return body()
        }
    }

    func testRangesCoverTheCountInGranulesWithoutOverlap() {
        for (count, granule, width) in [(100, 16, 2), (7, 1, 3), (5, 16, 4), (1, 1, 2), (0, 1, 2), (64, 16, 8), (1000, 4096, 2)] {
            let parts = Parallel.ranges(count, granule: granule, width: width)
            XCTAssertLessThanOrEqual(parts.count, width)
            XCTAssertEqual(parts.flatMap { Array($0) }, Array(0..<count), "\(count) in granules of \(granule) over \(width)")
            for part in parts.dropLast() { XCTAssertEqual(part.upperBound % granule, 0) }
        }
        XCTAssertEqual(Parallel.ranges(100, granule: 16, width: 2), [0..<48, 48..<100])
    }

    func testFrameGroupsShareTheThreadsSoThatNoGroupHasMoreFramesPerThreadThanNeeded() {
        // (frames, threads) -> groups: 2 frames on each of 2 cores, not 4 frames split over both;
        // 4 frames on 3 threads stay one group (groups of 1, 1 and 2 frames would leave the
        // 2-frame group alone for half the time); wide machines split inside the groups.
        let cases: [(count: Int, width: Int, groups: Int)] = [
            (4, 1, 1), (4, 2, 2), (4, 3, 1), (4, 4, 4), (4, 8, 4), (2, 2, 2), (2, 3, 1), (1, 2, 1), (3, 2, 1), (0, 2, 1)]
        for c in cases { XCTAssertEqual(Parallel.groups(c.count, width: c.width), c.groups, "\(c.count) frames on \(c.width) threads") }
    }

    func testFrameGroupsRunTheirOperationsOnTheirShareOfTheThreads() {
        Parallel.width = 4
        let seen = Mutex<[Range<Int>: Int]>([:])
        let results = Parallel.mapGroups(4) { frames -> [Int] in
            seen.withLock { $0[frames] = Parallel.width }
            return frames.map { $0 * 10 }
        }
        XCTAssertEqual(results, [[0], [10], [20], [30]], "the results in group order")
        XCTAssertEqual(seen.withLock { $0 }, [0..<1: 1, 1..<2: 1, 2..<3: 1, 3..<4: 1])
        XCTAssertEqual(Parallel.width, 4, "the width is the configured one again after the groups")

        Parallel.width = 8  // 4 groups of 1 frame, each operation within split 2 ways
        let widths = Mutex<[Int]>([])
        let inner = Parallel.mapGroups(4) { frames -> Int in
            widths.withLock { $0.append(Parallel.width) }
            // An operation inside a group runs in that group's parts (here 2).
            let parts = Mutex(0)
            Parallel.forEach(100) { _ in parts.withLock { $0 += 1 } }
            return parts.withLock { $0 }
        }
        XCTAssertEqual(widths.withLock { $0 }, [2, 2, 2, 2])
        XCTAssertEqual(inner, [2, 2, 2, 2])

        Parallel.width = 3  // 4 frames on 3 threads: one group, operations split 3 ways
        XCTAssertEqual(Parallel.mapGroups(4) { frames in (frames, Parallel.width) }.map(\.0), [0..<4])
        XCTAssertEqual(Parallel.mapGroups(4) { _ in Parallel.width }, [3])
    }

    func testCacheBlocksAreNearlyEqualAndNoLargerThanAsked() {
        for (count, block, width) in [(56, 5, 2), (10, 10, 1), (1, 8, 3), (11, 3, 1), (0, 4, 2), (97, 7, 3)] {
            Parallel.width = width
            let seen = Mutex<[Range<Int>]>([])
            Parallel.forEachBlock(count, atMost: block, scratchFloats: { 2 * $0 }) { rows, scratch in
                scratch.update(repeating: 0, count: 2 * rows.count)  // the buffer holds the whole block
                seen.withLock { $0.append(rows) }
            }
            let blocks = seen.withLock { $0 }.sorted { $0.lowerBound < $1.lowerBound }
            XCTAssertEqual(blocks.flatMap { Array($0) }, Array(0..<count), "\(count) in blocks of \(block) over \(width)")
            for part in Parallel.ranges(count, granule: 1, width: width) {
                let inPart = blocks.filter { part.contains($0.lowerBound) }.map(\.count)
                XCTAssertEqual(inPart.count, (part.count + block - 1) / block)
                XCTAssertLessThanOrEqual((inPart.max() ?? 0) - (inPart.min() ?? 0), 1)
                XCTAssertLessThanOrEqual(inPart.max() ?? 0, block)
            }
        }
        // 28 tile rows in blocks of at most 5: six blocks of 4-5 rows, not five of 5 and one of 3.
        Parallel.width = 2
        let seen = Mutex<[Int]>([])
        Parallel.forEachBlock(56, atMost: 5, scratchFloats: { $0 }) { rows, _ in
            if rows.lowerBound >= 28 { seen.withLock { $0.append(rows.count) } }
        }
        XCTAssertEqual(seen.withLock { $0 }.sorted(), [4, 4, 5, 5, 5, 5])
        Parallel.width = 1
    }

    func testConvolutionsAgreeAtAnyWidth() {
        // (out, in, kernel, stride, padding, map size): the column split (wide maps, few filters;
        // with im2col, by output rows), the filter split (more filters than columns), im2col with
        // stride, and Winograd on a small map (phase by phase) and a large one (blocks of tile rows).
        for (o, c, k, s, p, size) in [(64, 48, 1, 1, 0, 28), (256, 64, 1, 1, 0, 4), (40, 36, 3, 2, 1, 15),
                                      (48, 40, 3, 1, 1, 60), (24, 40, 3, 1, 1, 14), (40, 24, 3, 1, 1, 56)] {
            let conv = Conv2d(weight: Tensor(shape: [o, c, k, k], values: values(o * c * k * k, seed: UInt64(o))),
                              bias: Tensor(shape: [o], values: values(o, seed: 2)), stride: s, padding: p)
            let x = map(c, 3, size, size, seed: UInt64(c))
            let (oh, ow) = conv.outputSize(height: size, width: size)
            let residual = map(o, 3, oh, ow, seed: 9)
            let outputs = atEveryWidth { conv(x, relu: true, adding: residual).values }
            assertClose(outputs[1], outputs[0], "\(o)x\(c)x\(k) stride \(s) on \(size)")
            assertClose(outputs[2], outputs[0], "\(o)x\(c)x\(k) stride \(s) on \(size)")
        }
    }

    func testInPlaceConvolutionReadsTheWholeInputBeforeAnyPartWrites() {
        // In place on 60x60 with 32 channels runs im2col + GEMM; on 56x56, Winograd in blocks of
        // tile rows; on 14x14, Winograd phase by phase.
        for size in [60, 56, 14] {
            let conv = Conv2d(weight: Tensor(shape: [32, 32, 3, 3], values: values(32 * 32 * 9, seed: 3)),
                              bias: Tensor(shape: [32], values: values(32, seed: 4)), padding: 1)
            let x = map(64, 2, size, size, seed: 5)
            Parallel.width = 1
            let expected = conv(x.channels(16..<48), relu: true).values
            let outputs = atEveryWidth { () -> [Float] in
                var y = x
                conv.replace(channels: 16..<48, of: &y, relu: true)
                return y.channels(16..<48).values
            }
            for output in outputs { assertClose(output, expected, "in place on \(size)x\(size)") }
        }
    }

    func testPoolingAndChannelAddsGiveTheSameBitsAtAnyWidth() {
        let x = map(6, 2, 17, 17, seed: 6)
        let maxPooled = atEveryWidth { Pool.max(x, kernel: 3, stride: 2, padding: 1).values }
        let averaged = atEveryWidth { Pool.average(x, kernel: 2, stride: 2, ceilMode: true, countIncludePad: false).values }
        let added = atEveryWidth { () -> [Float] in
            var y = x
            y.add(channels: 0..<3, to: 3)
            return y.values
        }
        for results in [maxPooled, averaged, added] {
            XCTAssertEqual(results[1], results[0])
            XCTAssertEqual(results[2], results[0])
        }
        XCTAssertNotEqual(added[0], x.values, "the add happened")
    }
}
