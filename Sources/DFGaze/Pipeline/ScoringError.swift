import Imaging

/// Why a request's frames could not be scored. `code` is stable and part of the API;
/// the HTTP layer maps it to a 4xx status.
public struct ScoringError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// Fewer than 4 frames (one clip needs 4).
        case tooFewFrames = "too_few_frames"
        /// More frames than the configured limit.
        case tooManyFrames = "too_many_frames"
        /// A frame is not a JPEG, or is a JPEG we cannot decode (CMYK, corrupt).
        case notAJPEG = "not_a_jpeg"
        /// A frame's header declares more pixels (or a longer side) than the limit.
        case imageTooLarge = "image_too_large"
    }

    public var code: Code
    public var message: String
    /// The 0-based index of the offending frame, when one frame is at fault.
    public var frame: Int?

    public init(_ code: Code, _ message: String, frame: Int? = nil) {
        self.code = code
        self.message = message
        self.frame = frame
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

extension ScoringError {
    /// A frame's decoding problem as an API error.
    public init(imageError error: Error, frame: Int) {
        switch error as? ImageError {
        case .tooLarge?:
            self.init(.imageTooLarge, "frame \(frame): \(error)", frame: frame)
        case .notAJPEG?, .unsupportedColorspace?, .corrupt?, nil:
            self.init(.notAJPEG, "frame \(frame): \(error)", frame: frame)
        }
    }
}
