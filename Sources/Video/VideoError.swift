import Foundation

/// Why a video could not be probed or decoded. `code` is the stable error code the service
/// returns (SPEC.md sections 2 and 5; issue 18).
public enum VideoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer than 25 decoded frames (SPEC.md section 2). `video_too_short`.
    case tooShort(frames: Int)
    /// The container holds no video stream. `unsupported_video`.
    case noVideoStream
    /// A container the service does not accept (not in `VideoLimits.allowedFormats`), or a frame
    /// size over `VideoLimits.maxFramePixels`. `unsupported_video`.
    case unsupported(String)
    /// ffprobe or ffmpeg cannot read the file (garbage, truncated, inconsistent). `corrupt_video`.
    case corrupt(String)
    /// Over a limit: bytes, seconds, frame count, CPU time or memory of the child. `video_too_long`.
    case tooLong(String)
    /// The wall-clock budget for waiting on ffprobe/ffmpeg ran out; the child was killed. `video_timeout`.
    case timeout(seconds: Double)
    /// The caller's `VideoCancellation` was triggered; the child was killed. `cancelled`.
    case cancelled
    /// ffprobe/ffmpeg missing or could not be started (a server fault, not the client's). `internal`.
    case toolUnavailable(String)

    /// The stable code for the JSON error envelope.
    public var code: String {
        switch self {
        case .tooShort: return "video_too_short"
        case .noVideoStream, .unsupported: return "unsupported_video"
        case .corrupt: return "corrupt_video"
        case .tooLong: return "video_too_long"
        case .timeout: return "video_timeout"
        case .cancelled: return "cancelled"
        case .toolUnavailable: return "internal"
        }
    }

    public var description: String {
        switch self {
        case .tooShort(let n): return "video too short: \(n) frames decoded, at least 25 needed"
        case .noVideoStream: return "the file has no video stream"
        case .unsupported(let m): return "unsupported video: \(m)"
        case .corrupt(let m): return "corrupt video: \(m)"
        case .tooLong(let m): return "video too long: \(m)"
        case .timeout(let s): return "video decoding timed out after \(s) s"
        case .cancelled: return "video decoding cancelled"
        case .toolUnavailable(let m): return "ffmpeg unavailable: \(m)"
        }
    }
}
