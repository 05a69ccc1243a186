import CDlibFaces
import Imaging

/// dlib's rectangle: inclusive corners in frame pixels. It may reach past the frame
/// (e.g. `bottom` 116 in a 112-pixel frame); the crop rule uses it as it is.
public struct FaceBox: Hashable, Sendable, CustomStringConvertible {
    public var left: Int
    public var top: Int
    public var right: Int
    public var bottom: Int

    public init(left: Int, top: Int, right: Int, bottom: Int) {
        (self.left, self.top, self.right, self.bottom) = (left, top, right, bottom)
    }

    /// `[left, top, right, bottom]`, as the API reports it.
    public var array: [Int] { [left, top, right, bottom] }
    public var description: String { "\(array)" }
}

/// One detection: the box and dlib's detection confidence (above 0 by construction).
public struct FaceDetection: Equatable, Sendable {
    public var box: FaceBox
    public var score: Double

    public init(box: FaceBox, score: Double) {
        self.box = box
        self.score = score
    }
}

/// How `FaceDetector` scans a frame.
public enum FaceDetectionMode: String, Sendable, CaseIterable {
    /// The reference's detector on the whole frame: the fixture's boxes, exactly.
    case exact
    /// dlib's scan of the coarse pyramid levels (faces of about 83 pixels and up at upsampling 1),
    /// then of the fine levels only around what those found: each detection is dlib's own (box
    /// and score to the bit), but a small face away from every larger detection is missed. A
    /// frame where the coarse levels find nothing is scanned exactly. About 2.2x faster at
    /// 1280x720; on the fixture every face and crop is the exact mode's (docs/faces.md).
    case fast
}

/// dlib 19.24's HOG frontal face detector (Debian's libdlib-dev), called as the Python binding's
/// `dlib.get_frontal_face_detector()(gray, upsampling)`: the detector the FaceForensics++ crops and
/// the authors' requirements name. The model is read once per process; calls may run concurrently
/// (each scans with its own copy of it).
public struct FaceDetector: Sendable {
    /// The library and version, as `/v1/model` may describe it.
    public static let library = "dlib"
    public static let version = "19.24"
    /// FaceForensics++'s `detect_from_video.py` upsamples once.
    public static let defaultUpsampling = 1
    /// Upsampling counts the shim accepts.
    public static let upsamplingRange = 0...3
    /// The largest image the detector takes after upsampling (`width * height * 4^upsampling`).
    public static let maxUpsampledPixels = Int(DFG_FACES_MAX_UPSAMPLED_PIXELS)

    public let upsampling: Int
    public let mode: FaceDetectionMode

    public init(upsampling: Int = FaceDetector.defaultUpsampling, mode: FaceDetectionMode = .exact) throws {
        guard Self.upsamplingRange.contains(upsampling) else {
            throw FaceError.badUpsampling(upsampling)
        }
        self.upsampling = upsampling
        self.mode = mode
    }

    /// Detections in an RGB frame, in dlib's order (descending score); grayscale as OpenCV makes it.
    public func detect(_ image: RGBImage) throws -> [FaceDetection] {
        let gray = Grayscale.opencv(image)
        return try gray.withUnsafeBufferPointer { buffer in
            try detect(gray: buffer, width: image.width, height: image.height, stride: image.width)
        }
    }

    /// Detections in an 8-bit gray buffer whose rows start `stride` bytes apart, in dlib's order.
    /// The buffer must hold `(height - 1) * stride + width` bytes.
    public func detect(gray: UnsafeBufferPointer<UInt8>, width: Int, height: Int, stride: Int) throws
        -> [FaceDetection] {
        guard width > 0, height > 0 else { throw FaceError.emptyImage(width: width, height: height) }
        guard stride >= width else { throw FaceError.badLayout("stride \(stride) is shorter than width \(width)") }
        let (rows, overflow) = (height - 1).multipliedReportingOverflow(by: stride)
        guard !overflow, rows <= gray.count - width, let base = gray.baseAddress else {
            throw FaceError.badLayout("\(gray.count) bytes do not hold \(height) rows of \(width) at stride \(stride)")
        }
        // Rarely more than a few faces; a frame with more than this many is scanned again.
        var capacity = 256
        while true {
            var found = [dfg_face_detection](repeating: dfg_face_detection(), count: capacity)
            let scan = mode == .exact ? dfg_detect_faces : dfg_detect_faces_fast
            let count = scan(base, Int64(width), Int64(height), Int64(stride), Int32(upsampling),
                                         &found, Int64(capacity))
            switch Int(count) {
            case Int(DFG_FACES_TOO_LARGE):
                throw FaceError.tooLarge(width: width, height: height, upsampling: upsampling)
            case Int(DFG_FACES_BAD_ARGUMENT):
                throw FaceError.badLayout("the detector refused \(width)x\(height) at stride \(stride)")
            case ..<0:
                throw FaceError.detectorFailed
            case ...capacity:
                return found.prefix(Int(count)).map { d in
                    FaceDetection(box: FaceBox(left: Int(d.left), top: Int(d.top), right: Int(d.right),
                                               bottom: Int(d.bottom)), score: d.score)
                }
            default:
                capacity = Int(count)
            }
        }
    }
}
