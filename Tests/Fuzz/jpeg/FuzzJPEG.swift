import Foundation
import Imaging

// Fuzz target for the upload path of an image: JPEG.header, JPEG.decode with limits, then
// Preprocess.networkInput(image:) (Pillow-exact resize of the crop window, normalisation). Limits
// smaller than the service's keep each run fast under ASan; the checks are the same code. A throw
// is an acceptable answer; a decode that disagrees with its own header, or an output of the wrong
// size, is not. libturbojpeg itself is not instrumented: coverage guides through the Swift side only.

private let limits = JPEGLimits(maxPixels: 1 << 20, maxSide: 8192)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let jpeg = Data(bytes: data, count: size)
    guard let header = try? JPEG.header(jpeg) else { return 0 }
    guard let image = try? JPEG.decode(jpeg, limits: limits) else { return 0 }
    guard image.width == header.width, image.height == header.height,
          image.pixels.count == image.width * image.height * 3 else {
        fatalError("decoded \(image.width)x\(image.height) (\(image.pixels.count) bytes), header \(header)")
    }
    let (crop, input) = Preprocess.networkInput(image: image)
    let side = Preprocess.cropSize
    guard crop.width == side, crop.height == side, input.count == 3 * side * side,
          input.allSatisfy(\.isFinite) else {
        fatalError("network input \(crop.width)x\(crop.height), \(input.count) values")
    }
    return 0
}
