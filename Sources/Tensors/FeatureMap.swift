/// Activations of a batch of frames, stored channel-major as [C][N][H][W].
///
/// Why not NCHW: with the batch inside the channel, a convolution over all frames is one GEMM,
/// weights [O, C·kh·kw] × columns [C·kh·kw, N·H·W] = output [O, N·H·W], and a 1x1 stride-1
/// convolution needs no im2col at all. Channel slices (Res2Net's splits, concatenation) are
/// contiguous ranges.
public struct FeatureMap: Sendable {
    public var channels: Int
    public var batch: Int
    public var height: Int
    public var width: Int
    public var values: [Float]

    public init(channels: Int, batch: Int, height: Int, width: Int, values: [Float]) {
        precondition(values.count == channels * batch * height * width, "FeatureMap size mismatch")
        self.channels = channels
        self.batch = batch
        self.height = height
        self.width = width
        self.values = values
    }

    public init(channels: Int, batch: Int, height: Int, width: Int) {
        self.init(channels: channels, batch: batch, height: height, width: width,
                  values: [Float](repeating: 0, count: channels * batch * height * width))
    }

    /// Elements of one (channel, frame) plane.
    @inlinable public var planeSize: Int { height * width }
    /// Elements of one channel across the batch: the GEMM's column count.
    @inlinable public var columns: Int { batch * height * width }

    /// Builds a map from frames stored one after another as [N][C][H][W] (PyTorch's layout).
    public init(nchw: [Float], batch: Int, channels: Int, height: Int, width: Int) {
        let plane = height * width
        precondition(nchw.count == batch * channels * plane, "NCHW size mismatch")
        let out = Self.swappingOuterAxes(nchw, outer: batch, inner: channels, plane: plane)
        self.init(channels: channels, batch: batch, height: height, width: width, values: out)
    }

    /// The frames back in PyTorch's [N][C][H][W] order.
    public func nchw() -> [Float] {
        Self.swappingOuterAxes(values, outer: channels, inner: batch, plane: planeSize)
    }

    /// [outer][inner][plane] -> [inner][outer][plane]: between PyTorch's NCHW and our CNHW.
    private static func swappingOuterAxes(_ values: [Float], outer: Int, inner: Int, plane: Int) -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        out.withUnsafeMutableBufferPointer { dst in
            values.withUnsafeBufferPointer { src in
                for o in 0..<outer {
                    for i in 0..<inner {
                        let s = (o * inner + i) * plane
                        let d = (i * outer + o) * plane
                        for p in 0..<plane { dst[d + p] = src[s + p] }
                    }
                }
            }
        }
        return out
    }

    /// Channels `range` of every frame (contiguous in this layout).
    public func channels(_ range: Range<Int>) -> FeatureMap {
        let per = columns
        return FeatureMap(channels: range.count, batch: batch, height: height, width: width,
                          values: Array(values[(range.lowerBound * per)..<(range.upperBound * per)]))
    }

    /// Adds channels `source` to the as many channels starting at `destination` (in place;
    /// the ranges must not overlap): Res2Net's `sp = sp + spx[i]`.
    public mutating func add(channels source: Range<Int>, to destination: Int) {
        let per = columns
        precondition(source.upperBound <= channels && destination + source.count <= channels
                     && (destination >= source.upperBound || destination + source.count <= source.lowerBound),
                     "channel ranges out of bounds or overlapping")
        let count = source.count * per
        values.withUnsafeMutableBufferPointer { v in
            let (src, dst) = (v.baseAddress! + source.lowerBound * per, v.baseAddress! + destination * per)
            Parallel.forEach(count, granule: 4096) { part in for i in part { dst[i] += src[i] } }
        }
    }

    /// Concatenation along channels (torch.cat(dim=1)).
    public static func concatenate(_ maps: [FeatureMap]) -> FeatureMap {
        precondition(!maps.isEmpty)
        let first = maps[0]
        precondition(maps.allSatisfy { $0.batch == first.batch && $0.height == first.height && $0.width == first.width },
                     "concatenated maps differ in batch or size")
        var values = [Float]()
        values.reserveCapacity(maps.reduce(0) { $0 + $1.values.count })
        for m in maps { values.append(contentsOf: m.values) }
        return FeatureMap(channels: maps.reduce(0) { $0 + $1.channels }, batch: first.batch,
                          height: first.height, width: first.width, values: values)
    }

    /// Maps (frames) taken along the batch in `order`, repeats allowed: map i of the result is map order[i] of self.
    public func selectingBatch(_ order: [Int]) -> FeatureMap {
        var out = FeatureMap(channels: channels, batch: order.count, height: height, width: width)
        let plane = planeSize
        values.withUnsafeBufferPointer { src in
            out.values.withUnsafeMutableBufferPointer { dst in
                for c in 0..<channels {
                    for (i, n) in order.enumerated() {
                        (dst.baseAddress! + (c * order.count + i) * plane)
                            .update(from: src.baseAddress! + (c * batch + n) * plane, count: plane)
                    }
                }
            }
        }
        return out
    }

    /// Concatenation along the batch: the frames of `maps[0]`, then of `maps[1]`, ...
    public static func joiningBatches(_ maps: [FeatureMap]) -> FeatureMap {
        precondition(!maps.isEmpty)
        guard maps.count > 1 else { return maps[0] }
        let first = maps[0]
        precondition(maps.allSatisfy { $0.channels == first.channels && $0.height == first.height && $0.width == first.width },
                     "joined maps differ in channels or size")
        let total = maps.reduce(0) { $0 + $1.batch }
        var out = FeatureMap(channels: first.channels, batch: total, height: first.height, width: first.width)
        let plane = first.planeSize
        out.values.withUnsafeMutableBufferPointer { dst in
            var offset = 0
            for m in maps {
                m.values.withUnsafeBufferPointer { src in
                    for c in 0..<m.channels {
                        (dst.baseAddress! + (c * total + offset) * plane)
                            .update(from: src.baseAddress! + c * m.batch * plane, count: m.batch * plane)
                    }
                }
                offset += m.batch
            }
        }
        return out
    }
}
