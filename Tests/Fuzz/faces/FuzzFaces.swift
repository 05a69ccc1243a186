import Faces
import Imaging

// Fuzz target for the face detector's input path: FaceDetector.detect(gray:width:height:stride:)
// with sizes, strides, upsampling and buffer lengths from the input (the CDlibFaces shim and dlib's
// header templates are compiled with the sanitizers), in both detection modes (`dfg_detect_faces`
// and `dfg_detect_faces_fast`, the latter's coarse-then-fine scan), then the crop rule on the first
// detection.
// Input: width-1, height-1, stride padding, a flags byte (upsampling, a short buffer), then pixels,
// repeated to fill the buffer. A throw is an acceptable answer for a bad layout only; detections
// out of dlib's order, or a crop of a detected face that does not lie inside the frame, are not.

private let detectors = FaceDetectionMode.allCases.map { mode in
    (0...1).map { try! FaceDetector(upsampling: $0, mode: mode) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 4 else { return 0 }
    let width = Int(data[0]) % 160 + 1, height = Int(data[1]) % 160 + 1
    let stride = width + Int(data[2]) % 9
    let upsampling = Int(data[3] & 1), short = data[3] & 0x80 != 0
    let needed = (height - 1) * stride + width
    let count = short ? needed - 1 - Int(data[3] >> 1 & 0x3F) % needed : needed
    let payload = UnsafeBufferPointer(start: data + 4, count: size - 4)
    let pixels = (0..<max(count, 0)).map { payload.isEmpty ? 0 : payload[$0 % payload.count] }
    for modeDetectors in detectors {
        check(detector: modeDetectors[upsampling], pixels: pixels, width: width, height: height, stride: stride,
              short: short, needed: needed)
    }
    return 0
}

private func check(detector: FaceDetector, pixels: [UInt8], width: Int, height: Int, stride: Int,
                   short: Bool, needed: Int) {
    let count = pixels.count, mode = detector.mode
    let found: [FaceDetection]
    do {
        found = try pixels.withUnsafeBufferPointer {
            try detector.detect(gray: $0, width: width, height: height, stride: stride)
        }
    } catch let error as FaceError {
        guard short, case .badLayout = error else { fatalError("\(mode): \(width)x\(height) stride \(stride): \(error)") }
        return
    } catch {
        fatalError("untyped error \(error)")
    }
    if short { fatalError("\(mode): a buffer of \(count) bytes for \(needed) was accepted") }
    for (a, b) in zip(found, found.dropFirst()) where !(a.score >= b.score) {
        fatalError("\(mode): detections out of order: \(found)")
    }
    for d in found where !(d.score >= 0) || d.box.left > d.box.right || d.box.top > d.box.bottom {
        fatalError("\(mode): bad detection \(d)")
    }
    if let face = found.first {
        // The RGB frame the gray one would come from (R = G = B keeps the gray values).
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height { for x in 0..<width { for c in 0..<3 { rgb[(y * width + x) * 3 + c] = pixels[y * stride + x] } } }
        let image = RGBImage(width: width, height: height, pixels: rgb)
        let crop = FaceCrop(box: face.box, width: width, height: height)
        guard crop.cut(from: image) != nil else { fatalError("\(mode): crop \(crop) of \(face.box) outside \(width)x\(height)") }
        guard (try? detector.detect(image)) == found else { fatalError("\(mode): the RGB path disagrees with the gray one") }
    }
}
