import Foundation

/// nn.Linear: y = x·Wᵀ + b over rows of x.
public struct Linear: Sendable {
    public let inFeatures: Int
    public let outFeatures: Int
    /// [O, I], row-major, as stored in the checkpoint.
    public private(set) var weight: [Float]
    public private(set) var bias: [Float]

    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.shape.count == 2, "linear weight must be rank 2, got \(weight.shape)")
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        self.weight = weight.values
        self.bias = bias?.values ?? [Float](repeating: 0, count: outFeatures)
        precondition(self.bias.count == outFeatures)
    }

    /// Folds an eval-mode BatchNorm1d that precedes this layer: W·(s∘x + t) + b.
    public mutating func fold(precedingBatchNorm bn: BatchNorm) {
        precondition(bn.channels == inFeatures)
        for o in 0..<outFeatures {
            var extra: Float = 0
            for i in 0..<inFeatures {
                extra += weight[o * inFeatures + i] * bn.shift[i]
                weight[o * inFeatures + i] *= bn.scale[i]
            }
            bias[o] += extra
        }
    }

    /// x: `rows` rows of `inFeatures` -> `rows` rows of `outFeatures`.
    public func callAsFunction(_ x: [Float], rows: Int) -> [Float] {
        precondition(x.count == rows * inFeatures, "linear expects rows of \(inFeatures)")
        BLAS.count(multiplyAccumulates: rows * inFeatures * outFeatures)
        var y = [Float](repeating: 0, count: rows * outFeatures)
        for r in 0..<rows { for o in 0..<outFeatures { y[r * outFeatures + o] = bias[o] } }
        weight.withUnsafeBufferPointer { w in
            x.withUnsafeBufferPointer { xs in
                y.withUnsafeMutableBufferPointer { ys in
                    BLAS.sgemm(transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                               a: xs.baseAddress!, lda: inFeatures, b: w.baseAddress!, ldb: inFeatures,
                               beta: 1, c: ys.baseAddress!, ldc: outFeatures)
                }
            }
        }
        return y
    }
}

/// Element-wise activations and the row softmax.
public enum Activation {
    public static func relu(_ v: inout [Float]) {
        v.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = max(p[i], 0) } }
    }

    public static func sigmoid(_ v: inout [Float]) {
        v.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = 1 / (1 + Foundation.exp(-p[i])) } }
    }

    /// Softmax over each row of `width` values, max-subtracted for stability.
    public static func softmax(_ v: [Float], width: Int) -> [Float] {
        precondition(width > 0 && v.count % width == 0)
        var out = v
        for r in 0..<(v.count / width) {
            let row = v[(r * width)..<((r + 1) * width)]
            let m = row.max()!
            var s: Float = 0
            for i in 0..<width { let e = Foundation.exp(row[r * width + i] - m); out[r * width + i] = e; s += e }
            for i in 0..<width { out[r * width + i] /= s }
        }
        return out
    }
}
