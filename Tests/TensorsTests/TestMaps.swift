import Tensors
import XCTest

extension XCTestCase {
    /// Deterministic values in [-1, 1).
    func values(_ count: Int, seed: UInt64) -> [Float] {
        var z = seed
        return (0..<count).map { _ in
            z = z &* 6364136223846793005 &+ 1442695040888963407
            return Float(z >> 40) * 0x1p-23 - 1
        }
    }

    /// A [C][N][H][W] map of deterministic values.
    func map(_ c: Int, _ n: Int, _ h: Int, _ w: Int, seed: UInt64) -> FeatureMap {
        FeatureMap(channels: c, batch: n, height: h, width: w, values: values(c * n * h * w, seed: seed))
    }
}
