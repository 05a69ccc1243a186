import Dispatch
import Foundation
import Tensors

/// Times the model's forward pass stage by stage on synthetic frames, for `dfgaze bench`.
/// GFLOP figures count the direct convolution's multiply-accumulates (×2), whatever algorithm
/// runs, so GFLOP/s is comparable across implementations and to `BLAS.sgemmGFLOPS`.
public enum ForwardBenchmark {
    public struct Stage: Sendable {
        public let name: String
        /// Best wall time over the repeats.
        public let seconds: Double
        public let multiplyAccumulates: Int
        /// Minor page faults during the best run (fresh memory touched by the stage).
        public let pageFaults: Int
        public var gigaflops: Double { 2 * Double(multiplyAccumulates) / 1e9 }
        public var gigaflopsPerSecond: Double { gigaflops / seconds }
    }

    public struct Report: Sendable {
        public let stages: [Stage]
        /// The reference rate: best of one 2048³ sgemm per round, measured between the stages.
        public let sgemmGFLOPS: Double
        public let blasThreads: Int
        /// The stages' best times summed.
        public var seconds: Double { stages.reduce(0) { $0 + $1.seconds } }
    }

    /// Runs GAM, TAM, AAM (when given) and PSTA on `clips` clips of 4 synthetic 224x224 frames at
    /// the current BLAS threads: one untimed warm-up round, then `repeats` rounds, each timing
    /// every stage once and one 2048³ sgemm, so that on a shared machine the best of each
    /// saw similar load.
    public static func run(gam: GAM, tam: TAM, aam: AAM? = nil, psta: PSTA, clips: Int = 1, repeats: Int = 3) -> Report {
        let frames = syntheticFrames(PSTA.framesPerClip * max(1, clips))
        let n = frames.batch
        let (gaze, texture) = (gam(frames).layer4, tam(frames))
        var work: [(name: String, macs: Int, body: () -> Void)] = [
            ("gam", gam.multiplyAccumulates(frames: n), { _ = gam(frames) }),
            ("tam", tam.multiplyAccumulates(frames: n), { _ = tam(frames) }),
        ]
        if let aam { work.append(("aam", aam.multiplyAccumulates(frames: n), { _ = aam(frames) })) }
        work.append(("psta", psta.multiplyAccumulates(clips: n / PSTA.framesPerClip), {
            _ = psta(gaze: gaze, texture: texture, attribute: nil)
        }))
        var best = work.map { Stage(name: $0.name, seconds: .infinity, multiplyAccumulates: $0.macs, pageFaults: 0) }
        var sgemm = 0.0
        for round in 0...max(1, repeats) {
            for (i, stage) in work.enumerated() {
                let faults = minorPageFaults()
                let start = DispatchTime.now().uptimeNanoseconds
                stage.body()
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if round > 0 && seconds < best[i].seconds {
                    best[i] = Stage(name: stage.name, seconds: seconds, multiplyAccumulates: stage.macs,
                                    pageFaults: minorPageFaults() - faults)
                }
            }
            if round > 0 { sgemm = max(sgemm, BLAS.sgemmGFLOPS(size: 2048, repeats: 1)) }
        }
        return Report(stages: best, sgemmGFLOPS: sgemm, blasThreads: BLAS.threads)
    }

    /// Deterministic values in about [-2, 2), the range of normalized crops.
    static func syntheticFrames(_ count: Int) -> FeatureMap {
        var z: UInt64 = 0x9E37_79B9_7F4A_7C15
        let values = (0..<(3 * count * 224 * 224)).map { _ -> Float in
            z = z &* 6364136223846793005 &+ 1442695040888963407
            return Float(z >> 40) * 0x1p-22 - 2
        }
        return FeatureMap(channels: 3, batch: count, height: 224, width: 224, values: values)
    }

    static func minorPageFaults() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_minflt
    }
}
