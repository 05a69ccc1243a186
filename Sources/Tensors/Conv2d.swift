import CBLAS

/// A 2-D convolution (or Conv1d with k = 1, as a 1x1 convolution) with its BatchNorm folded in.
///
/// The weights are kept as the GEMM's left operand [O, C·kh·kw]; BatchNorm becomes a per-output
/// scale on the weights and a bias, so inference is one GEMM plus one pass for
/// bias (+ residual) (+ ReLU) over the output.
public struct Conv2d: Sendable {
    public let outChannels: Int
    public let inChannels: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let stride: Int
    public let padding: Int
    /// [O, C·kh·kw], row-major.
    public private(set) var weight: [Float]
    /// [O]
    public private(set) var bias: [Float]

    /// `weight` is [O, C, kh, kw], [O, C, k] (Conv1d) or [O, C] (treated as 1x1).
    public init(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) {
        let s = weight.shape
        precondition(s.count >= 2 && s.count <= 4, "conv weight must be rank 2...4, got \(s)")
        outChannels = s[0]
        inChannels = s[1]
        kernelHeight = s.count == 4 ? s[2] : 1
        kernelWidth = s.count == 4 ? s[3] : (s.count == 3 ? s[2] : 1)
        precondition(s.count != 3 || s[2] == 1, "only Conv1d with kernel 1 is supported")
        self.stride = stride
        self.padding = padding
        self.weight = weight.values
        if let bias {
            precondition(bias.count == outChannels, "conv bias has \(bias.count) values for \(outChannels) outputs")
            self.bias = bias.values
        } else {
            self.bias = [Float](repeating: 0, count: outChannels)
        }
    }

    /// Folds an eval-mode BatchNorm that follows this convolution:
    /// y = gamma·(conv(x) + b − mean)/sqrt(var + eps) + beta.
    public mutating func fold(batchNorm bn: BatchNorm) {
        precondition(bn.channels == outChannels, "BatchNorm has \(bn.channels) channels, conv has \(outChannels)")
        let k = inChannels * kernelHeight * kernelWidth
        for o in 0..<outChannels {
            let scale = bn.scale[o]
            for j in 0..<k { weight[o * k + j] *= scale }
            bias[o] = bias[o] * scale + bn.shift[o]
        }
    }

    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        ((height + 2 * padding - kernelHeight) / stride + 1, (width + 2 * padding - kernelWidth) / stride + 1)
    }

    /// conv(x) + bias (+ residual), then ReLU if asked. x: [C][N][H][W] -> [O][N][H'][W'].
    public func callAsFunction(_ x: FeatureMap, relu: Bool = false, adding residual: FeatureMap? = nil) -> FeatureMap {
        precondition(x.channels == inChannels, "conv expects \(inChannels) channels, got \(x.channels)")
        let (oh, ow) = outputSize(height: x.height, width: x.width)
        var y = FeatureMap(channels: outChannels, batch: x.batch, height: oh, width: ow)
        let n = y.columns
        let k = inChannels * kernelHeight * kernelWidth
        let direct = kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0
        let columns = direct ? x.values : im2col(x, outHeight: oh, outWidth: ow)
        weight.withUnsafeBufferPointer { w in
            columns.withUnsafeBufferPointer { c in
                y.values.withUnsafeMutableBufferPointer { out in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                                Int32(outChannels), Int32(n), Int32(k),
                                1, w.baseAddress, Int32(k), c.baseAddress, Int32(n),
                                0, out.baseAddress, Int32(n))
                }
            }
        }
        if let residual {
            precondition(residual.values.count == y.values.count, "residual shape differs from conv output")
        }
        y.values.withUnsafeMutableBufferPointer { out in
            for o in 0..<outChannels {
                let b = bias[o]
                let row = out.baseAddress! + o * n
                if let residual {
                    residual.values.withUnsafeBufferPointer { r in
                        let rr = r.baseAddress! + o * n
                        if relu { for i in 0..<n { row[i] = max(row[i] + b + rr[i], 0) } }
                        else { for i in 0..<n { row[i] = row[i] + b + rr[i] } }
                    }
                } else if relu {
                    for i in 0..<n { row[i] = max(row[i] + b, 0) }
                } else {
                    for i in 0..<n { row[i] += b }
                }
            }
        }
        return y
    }

    /// Unfolds x into the GEMM's right operand [C·kh·kw, N·H'·W'] with zero padding.
    private func im2col(_ x: FeatureMap, outHeight oh: Int, outWidth ow: Int) -> [Float] {
        let n = x.batch * oh * ow
        var cols = [Float](repeating: 0, count: inChannels * kernelHeight * kernelWidth * n)
        let (h, w, s, p, kh, kw) = (x.height, x.width, stride, padding, kernelHeight, kernelWidth)
        cols.withUnsafeMutableBufferPointer { dst in
            x.values.withUnsafeBufferPointer { src in
                for c in 0..<inChannels {
                    for ky in 0..<kh {
                        for kx in 0..<kw {
                            let rowBase = ((c * kh + ky) * kw + kx) * n
                            for b in 0..<x.batch {
                                let plane = src.baseAddress! + (c * x.batch + b) * h * w
                                for oy in 0..<oh {
                                    let iy = oy * s - p + ky
                                    let out = dst.baseAddress! + rowBase + (b * oh + oy) * ow
                                    if iy < 0 || iy >= h { continue }  // stays zero
                                    let line = plane + iy * w
                                    for ox in 0..<ow {
                                        let ix = ox * s - p + kx
                                        if ix >= 0 && ix < w { out[ox] = line[ix] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return cols
    }
}

/// An eval-mode BatchNorm reduced to y = scale·x + shift (also used for BatchNorm1d).
public struct BatchNorm: Sendable {
    public let scale: [Float]
    public let shift: [Float]
    public var channels: Int { scale.count }

    public init(weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor, eps: Float = 1e-5) {
        let c = weight.count
        precondition(bias.count == c && runningMean.count == c && runningVar.count == c, "BatchNorm parameter sizes differ")
        var scale = [Float](repeating: 0, count: c)
        var shift = [Float](repeating: 0, count: c)
        for i in 0..<c {
            scale[i] = weight.values[i] / (runningVar.values[i] + eps).squareRoot()
            shift[i] = bias.values[i] - runningMean.values[i] * scale[i]
        }
        self.scale = scale
        self.shift = shift
    }

    /// Applies the BatchNorm to x, [C][N][H][W].
    public func callAsFunction(_ x: FeatureMap) -> FeatureMap {
        precondition(x.channels == channels)
        var y = x
        let n = x.columns
        y.values.withUnsafeMutableBufferPointer { v in
            for c in 0..<channels {
                let (a, b) = (scale[c], shift[c])
                for i in 0..<n { v[c * n + i] = v[c * n + i] * a + b }
            }
        }
        return y
    }
}
