import DFGaze
import Faces
import Foundation
import Video
import Imaging
import Weights

/// `GET /v1/model`: what is loaded and what the service accepts.
public struct ModelInfo: Encodable, Sendable {
    public struct Network: Encodable, Sendable {
        public var name: String
        public var role: String
        public var parameters: Int
        /// False for AAM on the default path: its maps provably never reach the score.
        public var runs: Bool
    }

    public struct Input: Encodable, Sendable {
        var format = "image/jpeg (RGB or grayscale), in temporal order: one face crop per frame (faces=given), or whole frames whose faces the service finds (faces=detect)"
        var framesPerClip = DFGazeModel.framesPerClip
        var clipRule = "consecutive groups of 4; if the count is not a multiple of 4, one more clip of the last 4 frames"
        var resizeShorterSide = Preprocess.resizeSide
        var centerCrop = Preprocess.cropSize
        var mean = Preprocess.mean
        var std = Preprocess.std
        enum CodingKeys: String, CodingKey {
            case format, mean, std
            case framesPerClip = "frames_per_clip", clipRule = "clip_rule"
            case resizeShorterSide = "resize_shorter_side", centerCrop = "center_crop"
        }
    }

    /// The face detector and crop rule of `faces=detect` and of videos (issue 17).
    public struct Detector: Encodable, Sendable {
        var library = FaceDetector.library
        var version = FaceDetector.version
        var detector = "HOG frontal face detector (get_frontal_face_detector), on OpenCV's 8-bit grayscale"
        var upsampling = FaceDetector.defaultUpsampling
        var face = "the highest-scoring detection (dlib's first); a frame without one borrows the box of the nearest frame of its clip (whole frames: of the same size)"
        var cropRule = FaceCrop.rule
        var cropEncoding = "JPEG quality 95, 4:2:0, accurate DCT (TurboJPEG), then the network input above"
        enum CodingKeys: String, CodingKey {
            case library, version, detector, upsampling, face, cropRule = "crop_rule", cropEncoding = "crop_encoding"
        }
    }

    /// How a video is read (issue 18).
    public struct VideoInputRule: Encodable, Sendable {
        var mediaTypes = ScoreRequest.videoMediaTypes.sorted()
        var decoder = "ffmpeg/ffprobe (child processes), every frame in display orientation"
        var windowFrames = WindowRule.windowLength
        var sampledFrames = (0..<WindowRule.framesPerWindow).map { $0 * WindowRule.spacing }
        var minimumFrames = WindowRule.minimumFrames
        var windowRule = "windows of 32 frames, frames +0, +8, +16, +24 of each; at most max_windows of them spread evenly over the video; one clip per window"
        enum CodingKeys: String, CodingKey {
            case mediaTypes = "media_types", decoder, windowFrames = "window_frames", sampledFrames = "sampled_frames"
            case minimumFrames = "minimum_frames", windowRule = "window_rule"
        }
    }

    public var model: ScoreJSON.Model
    public var networks: [Network]
    public var manifest: WeightsManifest
    public var input = Input()
    public var detector = Detector()
    public var video = VideoInputRule()
    public var limits: Limits?

    public init(model: ScoreReport.ModelIdentity, networks: [Network], manifest: WeightsManifest) {
        self.model = ScoreJSON.Model(model)
        self.networks = networks
        self.manifest = manifest
    }
}

/// The request limits in force, as `/v1/model` reports them.
public struct Limits: Encodable, Sendable {
    var maxFrames: Int
    var maxPixelsPerFrame: Int
    var maxSide: Int
    var threshold: Double
    var workers: Int
    var queueDepth: Int
    var maxVideoBytes: Int
    var maxVideoSeconds: Double
    var maxWindows: Int
    var maxQueuedVideoBytes: Int
    var videoTimeoutSeconds: Double

    init(_ c: ServiceConfiguration) {
        maxVideoBytes = c.video.maxBytes
        maxVideoSeconds = c.video.maxSeconds
        maxWindows = c.maxWindows
        maxQueuedVideoBytes = c.maxQueuedVideoBytes
        videoTimeoutSeconds = c.video.timeoutSeconds
        maxFrames = c.scoring.maxFrames
        maxPixelsPerFrame = c.scoring.jpegLimits.maxPixels
        maxSide = c.scoring.jpegLimits.maxSide
        threshold = c.scoring.threshold
        workers = c.workers
        queueDepth = c.queueDepth
    }

    enum CodingKeys: String, CodingKey {
        case maxFrames = "max_frames", maxPixelsPerFrame = "max_pixels_per_frame", maxSide = "max_side"
        case threshold, workers, queueDepth = "queue_depth"
        case maxVideoBytes = "max_video_bytes", maxVideoSeconds = "max_video_seconds", maxWindows = "max_windows"
        case maxQueuedVideoBytes = "max_queued_video_bytes", videoTimeoutSeconds = "video_timeout_seconds"
    }
}

extension DFGazeModel: VideoScorer {
    public var modelInfo: ModelInfo {
        ModelInfo(model: identity, networks: Networks.all.map { network in
            .init(name: network.displayName, role: network.role,
                  parameters: manifest.file(network: network.name)?.parameterCount ?? 0, runs: runs(network))
        }, manifest: manifest)
    }
}
