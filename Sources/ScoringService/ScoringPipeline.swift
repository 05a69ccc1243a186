import DFGaze
import Faces
import Foundation
import Imaging
import Video

/// From a parsed request to its score: the one place a request is scored (`POST /score` on an
/// inference worker, a job, `dfgaze score`).
///
/// - `faces=given` frames: the network pipeline as before (bit-identical scores).
/// - `faces=detect` frames (video fixture SPEC sections 3 and 5): whole frames decoded with the
///   service's JPEG limits through `FaceCropping.wholeFrames` (at most `FaceCropping.framesAtOnce`
///   full frames at a time), then the crops' JPEG bytes through the unchanged network pipeline,
///   scoring only the clips that can be scored.
/// - a video (SPEC sections 1-2): probed, then decoded window by window (4 sampled frames per
///   window: the only full-resolution frames held), each window's faces found and cropped and its
///   clip scored before the next window is read. Cancellation kills ffprobe/ffmpeg at once and
///   stops between windows.
public struct ScoringPipeline: Sendable {
    public var scoring: ScoringOptions
    public var videoLimits: VideoLimits
    public var videoTools: VideoTools
    /// The default and the bound of a request's `max_windows`.
    public var maxWindows: Int

    public init(scoring: ScoringOptions = ScoringOptions(), videoLimits: VideoLimits = VideoLimits(),
                videoTools: VideoTools = VideoTools(), maxWindows: Int = WindowRule.defaultMaxWindows) {
        self.scoring = scoring
        self.videoLimits = videoLimits
        self.videoTools = videoTools
        self.maxWindows = maxWindows
    }

    public init(_ configuration: ServiceConfiguration) {
        self.init(scoring: configuration.scoring, videoLimits: configuration.video, videoTools: configuration.videoTools,
                  maxWindows: configuration.maxWindows)
    }

    /// What `/v1/model` says of the detector.
    public static let detector = try! FaceDetector()

    /// Scores `request`. `progress(clipsDone, clipsTotal)` is called as clips are scored (videos:
    /// after each window); `isCancelled` is polled between windows and clips and while ffmpeg runs
    /// (its child is then killed): the call throws `cancelled`.
    public func score(_ request: ScoreRequest, scorer: VideoScorer, requestID: String? = nil, queueSeconds: Double? = nil,
                      progress: @escaping @Sendable (_ clipsDone: Int, _ clipsTotal: Int) -> Void = { _, _ in },
                      isCancelled: @escaping @Sendable () -> Bool = { false }) throws(APIError) -> ScoreJSON {
        var options = scoring
        if let threshold = request.threshold { options.threshold = threshold }
        do {
            if isCancelled() { throw APIError(.cancelled, "the work was cancelled") }
            if let video = request.video {
                return try scoreVideo(video, request: request, options: options, scorer: scorer, requestID: requestID,
                                      queueSeconds: queueSeconds, progress: progress, isCancelled: isCancelled)
            }
            switch request.faces {
            case .given:
                let total = DFGazeModel.clips(frameCount: request.frames.count).count
                progress(0, total)
                let report = try scorer.score(jpegs: request.frames, options: options)
                progress(total, total)
                return ScoreJSON(report, requestID: requestID, id: request.id, queueSeconds: queueSeconds)
            case .detect:
                return try scoreWholeFrames(request, options: options, scorer: scorer, requestID: requestID,
                                            queueSeconds: queueSeconds, progress: progress, isCancelled: isCancelled)
            }
        } catch {
            throw Self.apiError(error)
        }
    }

    // MARK: - Whole frames

    private func scoreWholeFrames(_ request: ScoreRequest, options: ScoringOptions, scorer: VideoScorer, requestID: String?,
                                  queueSeconds: Double?, progress: @Sendable (Int, Int) -> Void,
                                  isCancelled: @escaping @Sendable () -> Bool) throws -> ScoreJSON {
        let start = DispatchTime.now()
        let jpegs = request.frames
        try DFGazeModel.checkFrameCount(jpegs.count, maxFrames: options.maxFrames)
        let clips = DFGazeModel.clips(frameCount: jpegs.count)
        progress(0, clips.count)
        let limits = options.jpegLimits
        let found = try FaceCropping.wholeFrames(count: jpegs.count, clips: clips, detector: Self.detector) { i in
            if isCancelled() { throw APIError(.cancelled, "the work was cancelled") }
            do { return try JPEG.decode(jpegs[i], limits: limits) } catch { throw ScoringError(imageError: error, frame: i) }
        }
        let facesSeconds = Self.seconds(since: start)
        if isCancelled() { throw APIError(.cancelled, "the work was cancelled") }
        // Each frame of a scored clip once, by increasing index.
        let needed = Set(found.scoredClips.joined()).sorted()
        let position = Dictionary(uniqueKeysWithValues: needed.enumerated().map { ($1, $0) })
        let crops = needed.map { found.faces[$0]! }
        let report = try scorer.score(jpegs: crops.map(\.jpeg), clips: found.scoredClips.map { $0.map { position[$0]! } },
                                      options: options)
        progress(found.scoredClips.count, clips.count)
        var json = ScoreJSON(report, requestID: requestID, id: request.id, queueSeconds: queueSeconds)
        json.clips = zip(found.scoredClips, report.clips).map { frames, clip in
            ScoreJSON.Clip(frames: frames, fakeProbability: clip.fakeProbability, headFakeProbabilities: clip.headFakeProbabilities,
                           gaze: clip.frames.map { report.frames[$0].gaze })
        }
        json.skippedClips = found.skippedClips.map { ScoreJSON.SkippedClip(frames: $0, reason: "no_face") }
        json.frames = zip(needed, report.frames).map { index, frame in
            ScoreJSON.Frame(index: index, yawDeg: frame.yawDeg, pitchDeg: frame.pitchDeg, gaze: frame.gaze,
                            face: ScoreJSON.Face(found.faces[index]!.face))
        }
        json.input = ScoreJSON.Input(kind: "frames", framesDecoded: jpegs.count)
        json.timings.facesSeconds = facesSeconds
        json.timings.totalSeconds = Self.seconds(since: start)
        return json
    }

    // MARK: - Video

    private func scoreVideo(_ data: Data, request: ScoreRequest, options: ScoringOptions, scorer: VideoScorer,
                            requestID: String?, queueSeconds: Double?, progress: @Sendable (Int, Int) -> Void,
                            isCancelled: @escaping @Sendable () -> Bool) throws -> ScoreJSON {
        let start = DispatchTime.now()
        let windowsAsked = request.maxWindows ?? maxWindows
        guard (1...maxWindows).contains(windowsAsked) else {
            throw APIError(.badRequest, "max_windows must be 1...\(maxWindows), got \(windowsAsked)")
        }
        // ffprobe/ffmpeg watch this token; a watcher turns the caller's flag into it.
        let cancellation = VideoCancellation()
        let watcher = CancellationWatcher(isCancelled: isCancelled, cancellation: cancellation)
        defer { watcher.stop() }

        let decoder = VideoDecoder(tools: videoTools, limits: videoLimits)
        let input = try VideoInput(data: data, maxBytes: videoLimits.maxBytes)
        let probe = try decoder.probe(input, cancellation: cancellation)
        let windows = try probe.windows(maxWindows: windowsAsked)
        progress(0, windows.count)

        var clips: [ScoreJSON.Clip] = [], skipped: [ScoreJSON.SkippedClip] = [], frames: [ScoreJSON.Frame] = []
        var noFaceFrames: [Int] = []
        var timings = ScoreReport.Timings()
        var networks: [String: Double] = [:]
        var facesSeconds = 0.0, insideSeconds = 0.0
        var done = 0
        try decoder.decode(input, probe: probe, windows: windows, cancellation: cancellation) { window in
            let windowStart = DispatchTime.now()
            defer { insideSeconds += Self.seconds(since: windowStart) }
            if isCancelled() { throw VideoError.cancelled }
            let indices = window.frames.map(\.index)
            let faces = try FaceCropping.window(window.frames.map(\.image), indices: indices, detector: Self.detector)
            facesSeconds += Self.seconds(since: windowStart)
            noFaceFrames += zip(indices, faces.detections).filter { $0.1.isEmpty }.map(\.0)
            if let crops = faces.faces {
                if isCancelled() { throw VideoError.cancelled }
                let report = try scorer.score(jpegs: crops.map(\.jpeg), clips: [Array(crops.indices)], options: options)
                let clip = report.clips[0]
                clips.append(ScoreJSON.Clip(frames: indices, fakeProbability: clip.fakeProbability,
                                            headFakeProbabilities: clip.headFakeProbabilities,
                                            gaze: report.frames.map(\.gaze), startS: window.startSeconds, endS: window.endSeconds))
                for (k, frame) in report.frames.enumerated() {
                    frames.append(ScoreJSON.Frame(index: indices[k], timeS: window.frames[k].time, yawDeg: frame.yawDeg,
                                                  pitchDeg: frame.pitchDeg, gaze: frame.gaze, face: ScoreJSON.Face(crops[k].face)))
                }
                timings.decodeSeconds += report.timings.decodeSeconds
                timings.preprocessSeconds += report.timings.preprocessSeconds
                timings.forwardSeconds += report.timings.forwardSeconds
                for (name, s) in report.timings.networkSeconds ?? [:] { networks[name, default: 0] += s }
            } else {
                skipped.append(ScoreJSON.SkippedClip(frames: indices, reason: "no_face"))
            }
            done += 1
            progress(done, windows.count)
        }
        let videoSeconds = Self.seconds(since: start) - insideSeconds
        guard !clips.isEmpty else {
            throw APIError(.noFace, "no face found in any window of the video (no face in sampled frames \(noFaceFrames))",
                           frames: noFaceFrames)
        }
        let probability = clips.map(\.fakeProbability).reduce(0, +) / Double(clips.count)
        timings.totalSeconds = Self.seconds(since: start)
        timings.networkSeconds = networks
        let report = ScoreReport(fakeProbability: probability, label: probability >= options.threshold ? "fake" : "real",
                                 threshold: options.threshold, clips: [], frames: [], model: scorer.identity, timings: timings)
        var json = ScoreJSON(report, requestID: requestID, id: request.id, queueSeconds: queueSeconds)
        json.clips = clips
        json.skippedClips = skipped
        json.frames = frames
        json.input = ScoreJSON.Input(kind: "video", framesDecoded: probe.frameCount, width: probe.width, height: probe.height,
                                     fps: probe.fps, durationS: probe.durationSeconds)
        json.timings.facesSeconds = facesSeconds
        json.timings.videoSeconds = videoSeconds
        return json
    }

    // MARK: - Errors

    /// Every error of the pipeline as the API's: the model's, the faces', the video's.
    static func apiError(_ error: Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as ScoringError:
            return APIError(error)
        case let error as VideoError:
            switch error {
            case .tooShort: return APIError(.videoTooShort, error.description)
            case .noVideoStream, .unsupported: return APIError(.unsupportedVideo, error.description)
            case .corrupt: return APIError(.corruptVideo, error.description)
            case .tooLong: return APIError(.videoTooLong, error.description)
            case .timeout: return APIError(.videoTimeout, error.description)
            case .cancelled: return APIError(.cancelled, "the work was cancelled")
            case .toolUnavailable: return APIError(.internalError, "video decoding is unavailable")
            }
        case let error as FaceError:
            switch error {
            case .noFace(let frames): return APIError(.noFace, error.description, frames: frames)
            case .tooLarge: return APIError(.imageTooLarge, error.description)
            case .emptyImage: return APIError(.notAJPEG, error.description)
            case .badLayout, .badUpsampling, .detectorFailed, .badCrop: return APIError(.internalError, "face detection failed")
            }
        default:
            return APIError(.internalError, "scoring failed")
        }
    }

    static func seconds(since t: DispatchTime) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t.uptimeNanoseconds) / 1e9 }
}

extension ScoreJSON.Face {
    init(_ face: Faces.Face) { self.init(box: face.box.array, crop: face.crop.array, detected: face.detected) }
}

/// Polls the caller's cancellation flag while a video is decoded and triggers the token the
/// child processes watch (they are then killed at once).
private final class CancellationWatcher: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false

    init(isCancelled: @escaping @Sendable () -> Bool, cancellation: VideoCancellation) {
        let thread = Thread { [self] in
            while !self.isStopped {
                if isCancelled() { cancellation.cancel(); return }
                usleep(50_000)
            }
        }
        thread.stackSize = 1 << 16
        thread.start()
    }

    private var isStopped: Bool { lock.withLock { stopped } }
    func stop() { lock.withLock { stopped = true } }
}

extension VideoScorer {
    /// For a scorer without its own: the clips' frames in clip order scored as consecutive clips.
    public func score(jpegs: [Data], clips: [[Int]], options: ScoringOptions) throws -> ScoreReport {
        let flat = clips.flatMap { $0.map { jpegs[$0] } }
        var report = try score(jpegs: flat, options: options)
        var frames: [ScoreReport.Frame?] = Array(repeating: nil, count: jpegs.count)
        for (position, index) in clips.joined().enumerated() where frames[index] == nil && position < report.frames.count {
            var frame = report.frames[position]
            frame.index = index
            frames[index] = frame
        }
        for i in report.clips.indices where i < clips.count { report.clips[i].frames = clips[i] }
        report.frames = frames.compactMap { $0 }
        return report
    }
}
