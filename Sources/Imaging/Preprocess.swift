import Foundation

/// The DFGaze test-time transform, bit-exact to the authors' torchvision pipeline on PIL images:
/// `Resize(256)`, `CenterCrop(224)`, `ToTensor()`, `Normalize(mean, std)`.
public enum Preprocess {
    public static let resizeSide = 256
    public static let cropSize = 224
    /// The authors' normalisation constants (test.py), per RGB channel.
    public static let mean: [Double] = [0.643, 0.466, 0.387]
    public static let std: [Double] = [0.259, 0.220, 0.203]

    /// Pillow `image.resize((width, height), Image.BILINEAR)`.
    public static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        PillowBilinear.resize(image, width: width, height: height, columns: 0 ..< width, rows: 0 ..< height)
    }

    /// torchvision `Resize(side)`: the shorter side becomes `side`, the longer `int(side * long / short)`.
    public static func resizeShorterSide(_ image: RGBImage, to side: Int) -> RGBImage {
        let (width, height) = resizedSize(width: image.width, height: image.height, shorterSide: side)
        return resize(image, width: width, height: height)
    }

    /// torchvision `CenterCrop(size)`: origin `int(round((length - size) / 2))` per axis;
    /// an image smaller than `size` is padded with black first, as torchvision does.
    public static func centerCrop(_ image: RGBImage, size: Int) -> RGBImage {
        let left = cropOrigin(length: image.width, crop: size)
        let top = cropOrigin(length: image.height, crop: size)
        return PillowBilinear.crop(image, columns: left ..< left + size, rows: top ..< top + size)
    }

    /// `ToTensor()` then `Normalize(mean, std)`: planar CHW float32, each value computed as
    /// torch does, `(Float32(p) / 255 - Float32(mean)) / Float32(std)`, one rounding per operation.
    public static func normalizedCHW(_ crop: RGBImage) -> [Float] {
        let plane = crop.width * crop.height
        // Only 256 values per channel exist; look them up.
        let table: [[Float]] = (0..<3).map { c in
            let mean = Float(Self.mean[c]), std = Float(Self.std[c])
            return (0...255).map { p in (Float(p) / 255 - mean) / std }
        }
        var input = [Float](repeating: 0, count: 3 * plane)
        crop.pixels.withUnsafeBufferPointer { pixels in
            input.withUnsafeMutableBufferPointer { input in
                for c in 0..<3 {
                    table[c].withUnsafeBufferPointer { table in
                        for i in 0..<plane { input[c * plane + i] = table[Int(pixels[i * 3 + c])] }
                    }
                }
            }
        }
        return input
    }

    /// JPEG bytes to the network's input: the 224x224 RGB crop and its 3x224x224 CHW tensor.
    /// Only the cropped window of the resized image is computed (bit-identical, and its cost
    /// and memory stay bounded however elongated the upload is).
    public static func networkInput(jpeg: Data, limits: JPEGLimits = .default) throws
        -> (crop: RGBImage, input: [Float]) {
        networkInput(image: try JPEG.decode(jpeg, limits: limits))
    }

    /// A decoded image to the network's input (see `networkInput(jpeg:limits:)`).
    public static func networkInput(image: RGBImage) -> (crop: RGBImage, input: [Float]) {
        let (width, height) = resizedSize(width: image.width, height: image.height, shorterSide: resizeSide)
        let left = cropOrigin(length: width, crop: cropSize)
        let top = cropOrigin(length: height, crop: cropSize)
        let crop = PillowBilinear.resize(image, width: width, height: height,
                                         columns: left ..< left + cropSize, rows: top ..< top + cropSize)
        return (crop, normalizedCHW(crop))
    }

    static func resizedSize(width: Int, height: Int, shorterSide side: Int) -> (width: Int, height: Int) {
        let (short, long) = (min(width, height), max(width, height))
        // Python: int(side * long / short), a true division in float64, then truncation.
        let newLong = Int(Double(side * long) / Double(short))
        return width <= height ? (side, newLong) : (newLong, side)
    }

    /// `int(round((length - crop) / 2))` with Python's round half to even; negative when
    /// the image is smaller, by the left/top padding torchvision adds: `(crop - length) // 2`.
    static func cropOrigin(length: Int, crop: Int) -> Int {
        guard length >= crop else { return -((crop - length) / 2) }
        let excess = length - crop
        let half = excess / 2
        return excess % 2 == 0 || half % 2 == 0 ? half : half + 1
    }
}
