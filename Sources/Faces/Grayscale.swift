import Imaging

public enum Grayscale {
    /// OpenCV 4's `cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)` on 8-bit input, 15-bit fixed point:
    /// `(R*9798 + G*19235 + B*3735 + 16384) >> 15` (not OpenCV 3's 14-bit weights).
    public static func opencv(_ image: RGBImage) -> [UInt8] {
        let count = image.width * image.height
        return [UInt8](unsafeUninitializedCapacity: count) { gray, initialized in
            image.pixels.withUnsafeBufferPointer { rgb in
                for i in 0..<count {
                    let r = UInt32(rgb[3 * i]), g = UInt32(rgb[3 * i + 1]), b = UInt32(rgb[3 * i + 2])
                    gray[i] = UInt8(truncatingIfNeeded: (r &* 9798 &+ g &* 19235 &+ b &* 3735 &+ 16384) >> 15)
                }
            }
            initialized = count
        }
    }
}
