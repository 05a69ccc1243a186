/// The model's result for one video, typed. Its JSON (what `POST /score` returns and `dfgaze score`
/// prints) is the service's contract and lives there (`ScoringService.ScoreJSON`).
public struct ScoreReport: Sendable, Equatable {
    /// The video's fake probability: the mean of its clips' fake probabilities.
    public var fakeProbability: Double
    /// "fake" when fakeProbability >= the threshold, else "real".
    public var label: String
    public var threshold: Double
    public var clips: [Clip]
    public var frames: [Frame]
    public var model: ModelIdentity
    /// Wall time per stage, in seconds.
    public var timings: Timings

    public struct Clip: Sendable, Equatable {
        /// Indices (0-based, upload order) of the 4 frames of this clip.
        public var frames: [Int]
        public var fakeProbability: Double
        /// Each of the three PSTA heads' softmax index 0.
        public var headFakeProbabilities: [Double]

        public init(frames: [Int], fakeProbability: Double, headFakeProbabilities: [Double]) {
            self.frames = frames
            self.fakeProbability = fakeProbability
            self.headFakeProbabilities = headFakeProbabilities
        }
    }

    public struct Frame: Sendable, Equatable {
        public var index: Int
        public var yawDeg: Double
        public var pitchDeg: Double
        /// Unit gaze vector (-cos(pitch)sin(yaw), -sin(pitch), -cos(pitch)cos(yaw)).
        public var gaze: [Double]

        public init(index: Int, yawDeg: Double, pitchDeg: Double, gaze: [Double]) {
            self.index = index
            self.yawDeg = yawDeg
            self.pitchDeg = pitchDeg
            self.gaze = gaze
        }
    }

    public struct ModelIdentity: Sendable, Equatable {
        public var name: String
        /// The manifest's name for the weights, e.g. "dfgaze-demo-v1".
        public var weights: String
        /// True for the deterministic demo weights: such scores mean nothing about the video.
        public var demo: Bool
        /// SHA-256 of each weights file, by network (gam, tam, aam, agg).
        public var sha256: [String: String]

        public init(name: String, weights: String, demo: Bool, sha256: [String: String]) {
            self.name = name
            self.weights = weights
            self.demo = demo
            self.sha256 = sha256
        }
    }

    public struct Timings: Sendable, Equatable {
        public var decodeSeconds: Double
        public var preprocessSeconds: Double
        public var forwardSeconds: Double
        public var totalSeconds: Double
        /// Forward time per network: gam, tam, psta (and aam when the full graph runs).
        public var networkSeconds: [String: Double]?

        public init(decodeSeconds: Double = 0, preprocessSeconds: Double = 0, forwardSeconds: Double = 0, totalSeconds: Double = 0,
                    networkSeconds: [String: Double]? = nil) {
            self.decodeSeconds = decodeSeconds
            self.preprocessSeconds = preprocessSeconds
            self.forwardSeconds = forwardSeconds
            self.totalSeconds = totalSeconds
            self.networkSeconds = networkSeconds
        }
    }

    public init(fakeProbability: Double, label: String, threshold: Double, clips: [Clip], frames: [Frame],
                model: ModelIdentity, timings: Timings) {
        self.fakeProbability = fakeProbability
        self.label = label
        self.threshold = threshold
        self.clips = clips
        self.frames = frames
        self.model = model
        self.timings = timings
    }
}
