/// Why faces could not be found or cropped. Each case carries a message fit for an API client.
public enum FaceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A frame without pixels.
    case emptyImage(width: Int, height: Int)
    /// A gray buffer too short for its size and stride, or a stride shorter than a row.
    case badLayout(String)
    /// The frame, upsampled for the detector, exceeds `FaceDetector.maxUpsampledPixels`.
    case tooLarge(width: Int, height: Int, upsampling: Int)
    /// An upsampling count outside `FaceDetector.upsamplingRange`.
    case badUpsampling(Int)
    /// dlib failed (out of memory, or another exception).
    case detectorFailed
    /// A face's crop is empty or outside its frame (e.g. a box far past the frame's edge).
    case badCrop(frame: Int, crop: FaceCrop)
    /// No clip could be scored: `frames` are the 0-based frames of the request where no face was found.
    case noFace(frames: [Int])

    public var description: String {
        switch self {
        case .emptyImage(let width, let height):
            return "frame of \(width)x\(height) pixels has no pixels to search for a face"
        case .badLayout(let reason):
            return "gray image layout: \(reason)"
        case .tooLarge(let width, let height, let upsampling):
            return "frame of \(width)x\(height) pixels is too large for face detection at upsampling \(upsampling)"
        case .badUpsampling(let count):
            return "upsampling \(count) is outside \(FaceDetector.upsamplingRange)"
        case .detectorFailed:
            return "the face detector failed"
        case .badCrop(let frame, let crop):
            return "frame \(frame): the face crop \(crop.array) does not lie inside the frame"
        case .noFace(let frames):
            return "no face found in any clip (no face in frames \(frames))"
        }
    }
}
