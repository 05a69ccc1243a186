import Imaging

/// The square FaceForensics++ cut around a face (`get_boundingbox` in its `detect_from_video.py`,
/// scale 1.3), clipped to the frame: columns `x ..< x + size`, rows `y ..< y + size`.
public struct FaceCrop: Hashable, Sendable {
    public var x: Int
    public var y: Int
    public var size: Int

    public init(x: Int, y: Int, size: Int) {
        (self.x, self.y, self.size) = (x, y, size)
    }

    public static let scale = 1.3
    /// The rule in words, as `/v1/model` may describe it.
    public static let rule = "FaceForensics++ get_boundingbox: a square of 1.3x the box's larger side, centred on the box, clipped to the frame"

    /// The crop of `box` in a `width` x `height` frame, in FaceForensics++'s integer steps
    /// (Python's `int()` truncation and floor division).
    public init(box: FaceBox, width: Int, height: Int) {
        var size = Int(Double(max(box.right - box.left, box.bottom - box.top)) * Self.scale)
        let cx = floorDivide(box.left + box.right, 2), cy = floorDivide(box.top + box.bottom, 2)
        let x = max(cx - floorDivide(size, 2), 0)
        let y = max(cy - floorDivide(size, 2), 0)
        size = min(width - x, size)
        size = min(height - y, size)
        self.init(x: x, y: y, size: size)
    }

    /// `[x, y, size]`, as the API reports it.
    public var array: [Int] { [x, y, size] }

    /// The crop's pixels; nil when it is empty or does not lie inside `image` (a box far outside
    /// the frame, or one borrowed from a frame of another size).
    public func cut(from image: RGBImage) -> RGBImage? {
        guard size > 0, x >= 0, y >= 0, x + size <= image.width, y + size <= image.height else { return nil }
        var pixels = [UInt8]()
        pixels.reserveCapacity(size * size * 3)
        for row in y ..< y + size {
            let start = (row * image.width + x) * 3
            pixels.append(contentsOf: image.pixels[start ..< start + size * 3])
        }
        return RGBImage(width: size, height: size, pixels: pixels)
    }
}

/// Python's `//` on integers.
@inline(__always)
func floorDivide(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}
