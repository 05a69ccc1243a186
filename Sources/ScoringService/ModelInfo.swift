import DFGaze
import Foundation
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
        var format = "image/jpeg (RGB or grayscale), one face crop per frame, in temporal order"
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

    public var model: ScoreJSON.Model
    public var networks: [Network]
    public var manifest: WeightsManifest
    public var input = Input()
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

    init(_ c: ServiceConfiguration) {
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
