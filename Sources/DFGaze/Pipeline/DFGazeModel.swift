import Dispatch
import Foundation
import Imaging
import Tensors
import Weights

/// The DFGaze detector as a frozen forward pass: JPEG frames in, a `ScoreReport` out.
///
/// frames -> (decode, resize 256, crop 224, normalise) -> GAM (gaze logits + layer4),
/// TAM (layer4), AAM (attribute map) per frame -> PSTA per clip of 4 frames -> probabilities.
public final class DFGazeModel: @unchecked Sendable {
    public static let name = "DFGaze"
    public static let framesPerClip = 4

    public let gam: GAM
    public let tam: TAM
    /// nil on the serving path: the attribute maps provably never reach the score (SPEC.md).
    public let aam: AAM?
    public let psta: PSTA
    public let identity: ScoreReport.ModelIdentity
    public let manifest: WeightsManifest

    /// Binds loaded weights to the networks. `fullGraph` also builds AAM and runs it on every
    /// request (same scores, more work); the default skips it.
    public init(weights: LoadedWeights, fullGraph: Bool = false) throws {
        try weights.manifest.require(networks: Networks.names)
        func state(_ network: any WeightedNetwork.Type) throws -> StateDict {
            guard let s = weights.networks[network.name] else { throw ModelError.missingNetwork(network.name) }
            return s
        }
        gam = try GAM(weights: state(GAM.self))
        tam = try TAM(weights: state(TAM.self))
        aam = fullGraph ? try AAM(weights: state(AAM.self)) : nil
        psta = try PSTA(weights: state(PSTA.self))
        manifest = weights.manifest
        identity = ScoreReport.ModelIdentity(
            name: Self.name, weights: weights.manifest.name, demo: weights.manifest.demo,
            sha256: Dictionary(uniqueKeysWithValues: weights.manifest.files.map { ($0.network, $0.sha256) }))
    }

    /// The demo weights from the cache folder, generated there on first use. A cache with the
    /// pinned files is used as it is, without asking the networks for their parameters.
    public static func demo(cacheDirectory: URL? = nil, fullGraph: Bool = false) throws -> DFGazeModel {
        try DFGazeModel(weights: DemoWeights.load(in: cacheDirectory ?? DemoWeights.defaultCacheDirectory(),
                                                  networks: Networks.demo(specs: Networks.parameterSpecs),
                                                  pins: Networks.demoPins),
                        fullGraph: fullGraph)
    }

    /// Whether the network runs on every request (AAM only with the full graph).
    public func runs(_ network: any WeightedNetwork.Type) -> Bool { ObjectIdentifier(network) != ObjectIdentifier(AAM.self) || aam != nil }

    /// Clips of 4 consecutive frames in upload order; when the count is not a multiple of 4,
    /// one more clip made of the last 4 frames (SPEC.md section 2).
    public static func clips(frameCount: Int) -> [[Int]] {
        guard frameCount >= framesPerClip else { return [] }
        var clips = stride(from: 0, to: frameCount - framesPerClip + 1, by: framesPerClip).map { Array($0..<($0 + framesPerClip)) }
        if frameCount % framesPerClip != 0 { clips.append(Array((frameCount - framesPerClip)..<frameCount)) }
        return clips
    }

    /// The one check of a request's frame count: at least one clip, at most `maxFrames`.
    public static func checkFrameCount(_ count: Int, maxFrames: Int) throws(ScoringError) {
        guard count >= framesPerClip else { throw ScoringError(.tooFewFrames, "a clip needs \(framesPerClip) frames, got \(count)") }
        guard count <= maxFrames else { throw ScoringError(.tooManyFrames, "at most \(maxFrames) frames per request, got \(count)") }
    }

    /// Scores one video given as JPEG frames in order: clips of 4 in upload order plus the last 4
    /// (`clips(frameCount:)`).
    public func score(jpegs: [Data], options: ScoringOptions = ScoringOptions()) throws -> ScoreReport {
        try Self.checkFrameCount(jpegs.count, maxFrames: options.maxFrames)
        return try score(jpegs: jpegs, clips: Self.clips(frameCount: jpegs.count), options: options)
    }

    /// Scores the given clips (4 indices into `jpegs` each; clips may share frames) of JPEG frames,
    /// e.g. face crops of the clips left after face detection. Every frame is run through the
    /// backbones once, in order; the report's frames are all of `jpegs` (index = position in
    /// `jpegs`), its clips these, the video's probability their mean. With the clips of
    /// `clips(frameCount:)` this is exactly `score(jpegs:options:)`.
    public func score(jpegs: [Data], clips clipIndices: [[Int]], options: ScoringOptions = ScoringOptions()) throws -> ScoreReport {
        let start = DispatchTime.now()
        guard !clipIndices.isEmpty, clipIndices.allSatisfy({ $0.count == Self.framesPerClip && $0.allSatisfy(jpegs.indices.contains) }) else {
            throw ScoringError(.tooFewFrames, "a clip needs \(Self.framesPerClip) frames of the request")
        }
        guard jpegs.count <= options.maxFrames else {
            throw ScoringError(.tooManyFrames, "at most \(options.maxFrames) frames per request, got \(jpegs.count)")
        }
        let (inputs, decodeSeconds, preprocessSeconds) = try preprocess(jpegs, limits: options.jpegLimits)
        let forwardStart = DispatchTime.now()
        let output = forward(inputs, clips: clipIndices)
        let forwardSeconds = seconds(since: forwardStart)

        let clips = zip(clipIndices, output.clips).map { frames, out in
            ScoreReport.Clip(frames: frames, fakeProbability: out.fakeProbability,
                             headFakeProbabilities: out.headSoftmax.map { Double($0[0]) })
        }
        let video = clips.map(\.fakeProbability).reduce(0, +) / Double(clips.count)
        let frames = output.gaze.enumerated().map { i, g in
            ScoreReport.Frame(index: i, yawDeg: g.yawDeg, pitchDeg: g.pitchDeg, gaze: g.vector)
        }
        return ScoreReport(
            fakeProbability: video, label: video >= options.threshold ? "fake" : "real",
            threshold: options.threshold, clips: clips, frames: frames, model: identity,
            timings: .init(decodeSeconds: decodeSeconds, preprocessSeconds: preprocessSeconds,
                           forwardSeconds: forwardSeconds, totalSeconds: seconds(since: start),
                           networkSeconds: output.stageSeconds))
    }

    /// What the networks produce for a video: gaze per frame, heads per clip.
    public struct Output {
        public var gaze: [(yawDeg: Double, pitchDeg: Double, vector: [Double])]
        public var clips: [PSTA.ClipOutput]
        /// Wall seconds per network ("gam", "tam", "aam", "psta").
        public var stageSeconds: [String: Double]
    }

    /// The forward pass over normalised 3x224x224 frames (CHW each). The backbones run on groups
    /// of frames side by side, the aggregator with each operation split (`Parallel`).
    public func forward(_ frames: [[Float]]) -> Output {
        forward(frames, clips: Self.clips(frameCount: frames.count))
    }

    /// The same with the clips given (indices into `frames`).
    public func forward(_ frames: [[Float]], clips clipIndices: [[Int]]) -> Output {
        // Backbones run on batches of up to one clip's frames: memory stays bounded by the batch,
        // not by the request's frame count.
        var yaw: [Float] = [], pitch: [Float] = []
        var gazeMaps: [FeatureMap] = [], textureMaps: [FeatureMap] = [], attributeMaps: [FeatureMap] = []
        var stages: [String: Double] = [:]
        for batch in stride(from: 0, to: frames.count, by: Self.framesPerClip) {
            let chunk = Array(frames[batch..<min(batch + Self.framesPerClip, frames.count)])
            let groups = Parallel.mapGroups(chunk.count) { backbones(Array(chunk[$0])) }
            for group in groups {
                yaw += group.gaze.yawLogits
                pitch += group.gaze.pitchLogits
            }
            gazeMaps.append(FeatureMap.joiningBatches(groups.map(\.gaze.layer4)))
            textureMaps.append(FeatureMap.joiningBatches(groups.map(\.texture)))
            if aam != nil { attributeMaps.append(FeatureMap.joiningBatches(groups.compactMap(\.attribute))) }
            // The groups ran side by side: a stage took as long as its slowest group.
            for stage in groups[0].seconds.keys { stages[stage, default: 0] += groups.map { $0.seconds[stage] ?? 0 }.max()! }
        }
        let all = (gaze: FeatureMap.joiningBatches(gazeMaps), texture: FeatureMap.joiningBatches(textureMaps),
                   attribute: aam == nil ? nil : FeatureMap.joiningBatches(attributeMaps))
        // Clips may share frames (the last clip of a count not divisible by 4): gather per clip.
        let order = clipIndices.flatMap { $0 }
        let start = DispatchTime.now()
        let clips = psta(gaze: all.gaze.selectingBatch(order), texture: all.texture.selectingBatch(order),
                         attribute: all.attribute?.selectingBatch(order))
        stages["psta"] = seconds(since: start)
        return Output(gaze: GAM.gaze(yawLogits: yaw, pitchLogits: pitch), clips: clips, stageSeconds: stages)
    }

    /// What the backbones make of some frames, with each network's wall seconds.
    private struct Backbones {
        var gaze: (yawLogits: [Float], pitchLogits: [Float], layer4: FeatureMap)
        var texture: FeatureMap
        var attribute: FeatureMap?
        var seconds: [String: Double]
    }

    private func backbones(_ frames: [[Float]]) -> Backbones {
        var seconds: [String: Double] = [:]
        func timed<T>(_ stage: String, _ body: () -> T) -> T {
            let start = DispatchTime.now()
            defer { seconds[stage] = self.seconds(since: start) }
            return body()
        }
        let input = FeatureMap(nchw: Array(frames.joined()), batch: frames.count, channels: 3, height: 224, width: 224)
        let gaze = timed(GAM.name) { gam(input) }
        let texture = timed(TAM.name) { tam(input) }
        let attribute = aam.map { aam in timed(AAM.name) { aam(input) } }
        return Backbones(gaze: gaze, texture: texture, attribute: attribute, seconds: seconds)
    }

    /// Decodes each frame and at once resizes, crops and normalises it, so a full-resolution frame
    /// lives only until its 224x224 input is made: at most `framesInFlight` of them at a time,
    /// whatever the request's frame count (peak memory follows the limits, not the content).
    /// Returns the inputs and the wall time split between the two stages by their share of the work.
    private func preprocess(_ jpegs: [Data], limits: JPEGLimits) throws -> ([[Float]], Double, Double) {
        let start = DispatchTime.now()
        var inputs: [[Float]] = []
        inputs.reserveCapacity(jpegs.count)
        var decodeWork = 0.0, resizeWork = 0.0
        for first in stride(from: 0, to: jpegs.count, by: Self.framesInFlight) {
            let batch = first..<min(first + Self.framesInFlight, jpegs.count)
            let results = concurrentMap(batch.count) { i in
                Result { () throws -> (input: [Float], decode: Double, resize: Double) in
                    let t0 = DispatchTime.now()
                    let image = try JPEG.decode(jpegs[batch.lowerBound + i], limits: limits)
                    let t1 = DispatchTime.now()
                    let input = Preprocess.networkInput(image: image).input
                    return (input, seconds(from: t0, to: t1), seconds(from: t1, to: .now()))
                }
            }
            for (i, result) in results.enumerated() {
                switch result {
                case .success(let frame):
                    inputs.append(frame.input)
                    decodeWork += frame.decode
                    resizeWork += frame.resize
                case .failure(let error):
                    throw ScoringError(imageError: error, frame: batch.lowerBound + i)
                }
            }
        }
        let wall = seconds(since: start)
        let decodeShare = decodeWork + resizeWork > 0 ? decodeWork / (decodeWork + resizeWork) : 0
        return (inputs, wall * decodeShare, wall * (1 - decodeShare))
    }

    /// Full-resolution frames one request decodes at once: the cores, at most 4 (the 2-core
    /// reference machine keeps 2). Bounds a request's decode memory to this x `--max-pixels` x 3 bytes.
    public static let framesInFlight = min(4, max(1, ProcessInfo.processInfo.activeProcessorCount))

    private func seconds(since t: DispatchTime) -> Double { seconds(from: t, to: .now()) }

    private func seconds(from t0: DispatchTime, to t1: DispatchTime) -> Double {
        Double(t1.uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9
    }
}

public struct ScoringOptions: Sendable {
    /// The fake probability at or above which a video is labelled "fake".
    public var threshold: Double = 0.5
    public var maxFrames: Int = 64
    public var jpegLimits = JPEGLimits()
    public init(threshold: Double = 0.5, maxFrames: Int = 64, jpegLimits: JPEGLimits = JPEGLimits()) {
        self.threshold = threshold
        self.maxFrames = maxFrames
        self.jpegLimits = jpegLimits
    }
}

public enum ModelError: Error, CustomStringConvertible {
    case missingNetwork(String)
    public var description: String {
        switch self {
        case .missingNetwork(let n): "the weights have no \(n) network"
        }
    }
}

extension DFGazeModel {
    /// Multiply-accumulates per network for `frames` frames (and their clips), as run: AAM only
    /// with the full graph. See `multiplyAccumulates(gam:tam:aam:psta:frames:)`.
    public func multiplyAccumulates(frames: Int) -> [String: Int] {
        Self.multiplyAccumulates(gam: gam, tam: tam, aam: aam, psta: psta, frames: frames)
    }

    /// Multiply-accumulates per network ("psta" for the aggregator) for `frames` frames of
    /// 224x224 and their clips, counted by the layers as they run (`BLAS.count`): each network
    /// runs once on blank frames with `BLAS.accounting` on, which is restored after. For
    /// `dfgaze bench`: it also discards the GEMM totals of these runs.
    public static func multiplyAccumulates(gam: GAM, tam: TAM, aam: AAM?, psta: PSTA, frames: Int) -> [String: Int] {
        let accounting = BLAS.accounting
        BLAS.accounting = true
        defer {
            BLAS.accounting = accounting
            _ = BLAS.takeGEMMTotals()
        }
        _ = BLAS.takeMultiplyAccumulates()
        func counted(_ body: () -> Void) -> Int {
            body()
            return BLAS.takeMultiplyAccumulates()
        }
        let input = FeatureMap(channels: 3, batch: frames, height: 224, width: 224)
        var maps = (gaze: FeatureMap(channels: 0, batch: 0, height: 0, width: 0), texture: FeatureMap(channels: 0, batch: 0, height: 0, width: 0))
        var macs = [GAM.name: counted { maps.gaze = gam(input).layer4 }, TAM.name: counted { maps.texture = tam(input) }]
        if let aam { macs[AAM.name] = counted { _ = aam(input) } }
        let order = clips(frameCount: frames).flatMap { $0 }
        macs["psta"] = counted {
            _ = psta(gaze: maps.gaze.selectingBatch(order), texture: maps.texture.selectingBatch(order), attribute: nil)
        }
        return macs
    }
}
