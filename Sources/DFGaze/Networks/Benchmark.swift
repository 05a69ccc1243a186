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

    /// Runs GAM, TAM, AAM (when given) and PSTA on `clips` clips of 4 synthetic 224x224 frames,
    /// each stage `repeats` times after one untimed warm-up call, at the current BLAS threads.
    public static func run(gam: GAM, tam: TAM, aam: AAM? = nil, psta: PSTA, clips: Int = 1, repeats: Int = 3) -> [Stage] {
        let frames = syntheticFrames(PSTA.framesPerClip * max(1, clips))
        let n = frames.batch
        var stages = [measure("gam", macs: gam.multiplyAccumulates(frames: n), repeats: repeats) { gam(frames).layer4 }]
        stages.append(measure("tam", macs: tam.multiplyAccumulates(frames: n), repeats: repeats) { tam(frames) })
        if let aam {
            stages.append(measure("aam", macs: aam.multiplyAccumulates(frames: n), repeats: repeats) { aam(frames) })
        }
        let (gaze, texture) = (gam(frames).layer4, tam(frames))
        stages.append(measure("psta", macs: psta.multiplyAccumulates(clips: n / PSTA.framesPerClip), repeats: repeats) {
            psta(gaze: gaze, texture: texture, attribute: nil)
        })
        return stages
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

    static func measure<T>(_ name: String, macs: Int, repeats: Int, _ body: () -> T) -> Stage {
        _ = body()
        var best = Stage(name: name, seconds: .infinity, multiplyAccumulates: macs, pageFaults: 0)
        for _ in 0..<max(1, repeats) {
            let faults = minorPageFaults()
            let start = DispatchTime.now().uptimeNanoseconds
            _ = body()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if seconds < best.seconds {
                best = Stage(name: name, seconds: seconds, multiplyAccumulates: macs, pageFaults: minorPageFaults() - faults)
            }
        }
        return best
    }

    static func minorPageFaults() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_minflt
    }
}
