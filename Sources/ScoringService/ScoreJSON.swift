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
    public var frames: [Frame]
    public var model: Model
    public var timings: Timings

    public struct Clip: Encodable, Sendable {
        var frames: [Int]
        var fakeProbability: Double
        var headFakeProbabilities: [Double]
        enum CodingKeys: String, CodingKey {
            case frames, fakeProbability = "fake_probability", headFakeProbabilities = "head_fake_probabilities"
        }
    }

    public struct Frame: Encodable, Sendable {
        var index: Int
        var yawDeg: Double
        var pitchDeg: Double
        var gaze: [Double]
        enum CodingKeys: String, CodingKey { case index, yawDeg = "yaw_deg", pitchDeg = "pitch_deg", gaze }
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
        enum CodingKeys: String, CodingKey {
            case decodeSeconds = "decode_s", preprocessSeconds = "preprocess_s", forwardSeconds = "forward_s"
            case totalSeconds = "total_s", queueSeconds = "queue_s", networkSeconds = "networks_s"
        }
    }

    public init(_ report: ScoreReport, requestID: String? = nil, id: String? = nil, queueSeconds: Double? = nil) {
        self.requestID = requestID
        self.id = id
        fakeProbability = report.fakeProbability
        label = report.label
        threshold = report.threshold
        clips = report.clips.map { Clip(frames: $0.frames, fakeProbability: $0.fakeProbability, headFakeProbabilities: $0.headFakeProbabilities) }
        frames = report.frames.map { Frame(index: $0.index, yawDeg: $0.yawDeg, pitchDeg: $0.pitchDeg, gaze: $0.gaze) }
        model = Model(report.model)
        let t = report.timings
        timings = Timings(decodeSeconds: t.decodeSeconds, preprocessSeconds: t.preprocessSeconds, forwardSeconds: t.forwardSeconds,
                          totalSeconds: t.totalSeconds, queueSeconds: queueSeconds, networkSeconds: t.networkSeconds)
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id", id
        case fakeProbability = "fake_probability", label, threshold, clips, frames, model, timings
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
