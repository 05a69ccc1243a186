import DFGaze
import Foundation

/// The JSON of a score: what `POST /score` returns and `dfgaze score` prints (and what a job's
/// result will embed). The one home of the result's shape: a new field of the result, a clip or a
/// frame is one property of the matching struct below, filled from the model's typed `ScoreReport`.
/// Keys are snake_case and stable across versions.
public struct ScoreJSON: Encodable, Sendable {
    /// The service's id of the request (absent from `dfgaze score`).
    public var requestID: String?
    /// The client's id, echoed.
    public var id: String?
    public var fakeProbability: Double
    public var label: String
    public var threshold: Double
    public var clips: [Clip]
    /// Clips not scored (`no_face`): windows of a video, or whole-frame clips, without a face.
    public var skippedClips: [SkippedClip]
    public var frames: [Frame]
    public var input: Input
    public var model: Model
    public var timings: Timings

    public struct Clip: Encodable, Sendable {
        /// Frame indices: upload order, or video frame indices.
        var frames: [Int]
        var fakeProbability: Double
        var headFakeProbabilities: [Double]
        /// `time_s` of the clip's first and last frames (videos only).
        var startS: Double?
        var endS: Double?
        /// Descriptions of the gaze estimate over the clip (`GazeStatistics`), not the classifier's reason.
        var gazeDispersionDeg: Double?
        var gazeStepDeg: Double?
        enum CodingKeys: String, CodingKey {
            case frames, fakeProbability = "fake_probability", headFakeProbabilities = "head_fake_probabilities"
            case startS = "start_s", endS = "end_s", gazeDispersionDeg = "gaze_dispersion_deg", gazeStepDeg = "gaze_step_deg"
        }

        init(frames: [Int], fakeProbability: Double, headFakeProbabilities: [Double], gaze: [[Double]],
             startS: Double? = nil, endS: Double? = nil) {
            (self.frames, self.fakeProbability, self.headFakeProbabilities) = (frames, fakeProbability, headFakeProbabilities)
            (self.startS, self.endS) = (startS, endS)
            let statistics = GazeStatistics(gaze: gaze)
            (gazeDispersionDeg, gazeStepDeg) = (statistics?.dispersionDeg, statistics?.stepDeg)
        }
    }

    public struct SkippedClip: Encodable, Sendable {
        var frames: [Int]
        var reason: String
    }

    public struct Frame: Encodable, Sendable {
        var index: Int
        /// Presentation time from the video's first frame (videos only).
        var timeS: Double?
        var yawDeg: Double
        var pitchDeg: Double
        var gaze: [Double]
        /// The face found and cropped (faces=detect and videos only).
        var face: Face?
        enum CodingKeys: String, CodingKey { case index, timeS = "time_s", yawDeg = "yaw_deg", pitchDeg = "pitch_deg", gaze, face }
    }

    /// `{box: [left, top, right, bottom], crop: [x, y, size], detected}` (video fixture SPEC section 4).
    public struct Face: Encodable, Sendable {
        var box: [Int]
        var crop: [Int]
        var detected: Bool
    }

    /// What was read: `{kind: "frames", frames_decoded}` or, for a video, also its size, rate and duration.
    public struct Input: Encodable, Sendable {
        var kind: String
        var framesDecoded: Int
        var width: Int?
        var height: Int?
        var fps: Double?
        var durationS: Double?
        enum CodingKeys: String, CodingKey {
            case kind, framesDecoded = "frames_decoded", width, height, fps, durationS = "duration_s"
        }
    }

    public struct Model: Encodable, Sendable {
        var name: String
        var weights: String
        var demo: Bool
        var sha256: [String: String]

        init(_ identity: ScoreReport.ModelIdentity) {
            (name, weights, demo, sha256) = (identity.name, identity.weights, identity.demo, identity.sha256)
        }
    }

    public struct Timings: Encodable, Sendable {
        var decodeSeconds: Double
        var preprocessSeconds: Double
        var forwardSeconds: Double
        var totalSeconds: Double
        /// Time waiting for an inference worker (only the service knows it).
        var queueSeconds: Double?
        var networkSeconds: [String: Double]?
        /// Face detection and cropping (faces=detect and videos).
        var facesSeconds: Double?
        /// Waiting on ffprobe and ffmpeg (videos).
        var videoSeconds: Double?
        enum CodingKeys: String, CodingKey {
            case decodeSeconds = "decode_s", preprocessSeconds = "preprocess_s", forwardSeconds = "forward_s"
            case totalSeconds = "total_s", queueSeconds = "queue_s", networkSeconds = "networks_s"
            case facesSeconds = "faces_s", videoSeconds = "video_s"
        }
    }

    public init(_ report: ScoreReport, requestID: String? = nil, id: String? = nil, queueSeconds: Double? = nil) {
        self.requestID = requestID
        self.id = id
        fakeProbability = report.fakeProbability
        label = report.label
        threshold = report.threshold
        let gaze = Dictionary(report.frames.map { ($0.index, $0.gaze) }, uniquingKeysWith: { first, _ in first })
        clips = report.clips.map { clip in
            Clip(frames: clip.frames, fakeProbability: clip.fakeProbability, headFakeProbabilities: clip.headFakeProbabilities,
                 gaze: clip.frames.compactMap { gaze[$0] })
        }
        skippedClips = []
        frames = report.frames.map { Frame(index: $0.index, yawDeg: $0.yawDeg, pitchDeg: $0.pitchDeg, gaze: $0.gaze) }
        input = Input(kind: "frames", framesDecoded: report.frames.count)
        model = Model(report.model)
        let t = report.timings
        timings = Timings(decodeSeconds: t.decodeSeconds, preprocessSeconds: t.preprocessSeconds, forwardSeconds: t.forwardSeconds,
                          totalSeconds: t.totalSeconds, queueSeconds: queueSeconds, networkSeconds: t.networkSeconds)
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id", id
        case fakeProbability = "fake_probability", label, threshold, clips, frames, model, timings
        case skippedClips = "skipped_clips", input
    }

    /// The service's compact encoder (sorted keys, so bodies are stable).
    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// `dfgaze score`'s, for people.
    public static let prettyEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    public func json(pretty: Bool = false) throws -> Data { try (pretty ? Self.prettyEncoder : Self.encoder).encode(self) }
}
