import DFGaze
import Faces
import ArgumentParser
import Foundation
import ScoringService
import Video

/// `dfgaze bench --video FILE` (issue 18's speed figures): the video scored window by window as
/// the service does (one-run sampled decode, faces found and cropped per window, each window's
/// clip through the networks), with each stage timed. Decoding is the time spent waiting for
/// ffmpeg's frames (the decoder's call minus the time spent in its per-window body); detection
/// is `FaceCropping.window` minus its 4 crops, which are timed by cutting and encoding them again
/// from the boxes found (outside the total).
struct VideoBench {
    let path: String
    let maxWindows: Int
    let mode: FaceDetectionMode

    struct Window {
        var window: Int
        var detectS = 0.0, cropS = 0.0, networkS = 0.0
        var scored = false
    }

    /// The service's own path: `ScoringPipeline` (as `POST /score` with a video body runs it: its
    /// detector, exact; its decoding: the one-run sampled decode), stages as its timings give
    /// them: `video_s` (waiting on ffprobe/ffmpeg), `faces_s` (detection + crop + JPEG), and the
    /// networks' `decode_s + preprocess_s + forward_s`.
    func runService(model dfgaze: DFGazeModel) throws -> [String: Any] {
        let data = try readFile(path)
        let pipeline = ScoringPipeline(maxWindows: max(maxWindows, WindowRule.defaultMaxWindows))
        let start = DispatchTime.now()
        let json = try pipeline.score(ScoreRequest(video: data, maxWindows: maxWindows), scorer: dfgaze).json()
        let wallS = FacesBench.seconds(since: start)
        guard let root = try JSONSerialization.jsonObject(with: json) as? [String: Any],
              let t = root["timings"] as? [String: Any], let input = root["input"] as? [String: Any] else {
            throw ValidationError("the pipeline's JSON has no timings")
        }
        func d(_ key: String) -> Double { (t[key] as? NSNumber)?.doubleValue ?? 0 }
        let clips = (root["clips"] as? [Any])?.count ?? 0, skipped = (root["skipped_clips"] as? [Any])?.count ?? 0
        let windows = clips + skipped, n = Double(max(windows, 1))
        let totalS = d("total_s"), decodeS = d("video_s"), facesS = d("faces_s")
        let networkS = d("decode_s") + d("preprocess_s") + d("forward_s")
        return [
            "video": path, "width": input["width"] ?? 0, "height": input["height"] ?? 0, "fps": input["fps"] ?? 0,
            "frames": input["frames_decoded"] ?? 0, "duration_s": input["duration_s"] ?? 0,
            "max_windows": maxWindows, "windows": windows, "scored_windows": clips,
            "detection_mode": "service (ScoringPipeline: exact; one-run decode)",
            "total_s": totalS, "wall_s": wallS, "decode_s": decodeS, "faces_s": facesS, "network_s": networkS,
            "forward_s": d("forward_s"),
            "per_window_s": ["decode": decodeS / n, "faces": facesS / n, "network": networkS / n],
            "decode_share": decodeS / totalS, "total_over_network": totalS / networkS,
            "children_cpu_s": ResourceUsage.cpuSeconds(children: true),
            "peak_rss_mib": ResourceUsage.peakRSSMiB(children: false),
            "children_peak_rss_mib": ResourceUsage.peakRSSMiB(children: true),
        ]
    }

    /// The same stages one by one with a chosen detection mode (what `--face-detection` selects in the service):
    /// the one-run decode (`decode(_:maxWindows:)`), `FaceCropping.window`, the network.
    func run(model dfgaze: DFGazeModel) throws -> [String: Any] {
        let detector = try FaceDetector(mode: mode)
        let input = try VideoInput(path: path)
        var windows: [Window] = []
        var bodyS = 0.0
        let start = DispatchTime.now()
        let probe = try VideoDecoder().decode(input, maxWindows: maxWindows) { frames in
            let bodyStart = DispatchTime.now()
            defer { bodyS += FacesBench.seconds(since: bodyStart) }
            var w = Window(window: frames.window)
            let images = frames.frames.map(\.image)
            let faces = try FaceCropping.window(images, indices: frames.frames.map(\.index), detector: detector)
            let facesS = FacesBench.seconds(since: bodyStart)
            if let crops = faces.faces {
                let t = DispatchTime.now()
                _ = try dfgaze.score(jpegs: crops.map(\.jpeg))
                w.networkS = FacesBench.seconds(since: t)
                w.scored = true
                let c = DispatchTime.now()
                for (i, crop) in crops.enumerated() {
                    _ = try FaceCropping.crop(images[i], box: crop.face.box, detected: crop.face.detected,
                                              frame: crop.face.source, source: crop.face.source)
                }
                w.cropS = FacesBench.seconds(since: c)
            }
            w.detectS = facesS - w.cropS
            windows.append(w)
        }
        let totalS = FacesBench.seconds(since: start) - windows.reduce(0) { $0 + $1.cropS }
        let decodeS = totalS - (bodyS - windows.reduce(0) { $0 + $1.cropS })
        let detectS = windows.reduce(0) { $0 + $1.detectS }, cropS = windows.reduce(0) { $0 + $1.cropS }
        let networkS = windows.reduce(0) { $0 + $1.networkS }
        let n = Double(max(windows.count, 1))
        return [
            "video": path, "width": probe.width, "height": probe.height, "fps": probe.fps ?? 0,
            "frames": probe.frameCount, "duration_s": probe.durationSeconds ?? 0,
            "max_windows": maxWindows, "windows": windows.count, "scored_windows": windows.filter(\.scored).count,
            "detection_mode": mode.rawValue,
            "total_s": totalS, "decode_s": decodeS, "detect_s": detectS, "crop_s": cropS, "network_s": networkS,
            "per_window_s": ["decode": decodeS / n, "detect": detectS / n, "crop": cropS / n, "network": networkS / n],
            "decode_share": decodeS / totalS, "total_over_network": totalS / networkS,
            "children_cpu_s": ResourceUsage.cpuSeconds(children: true),
            "peak_rss_mib": ResourceUsage.peakRSSMiB(children: false),
            "children_peak_rss_mib": ResourceUsage.peakRSSMiB(children: true),
            "window_detail": windows.map {
                ["window": $0.window, "detect_s": $0.detectS, "crop_s": $0.cropS, "network_s": $0.networkS, "scored": $0.scored]
            },
        ]
    }

    static func printText(_ f: [String: Any], threads: Int) {
        print("DFGaze bench --video: \(f["video"]!), \(f["width"]!)x\(f["height"]!), \(f["frames"]!) frames,"
              + String(format: " %.1f fps, %.1f s; ", f["fps"] as! Double, f["duration_s"] as! Double)
              + "\(f["windows"]!) windows (max \(f["max_windows"]!)), \(f["scored_windows"]!) scored; detection \(f["detection_mode"]!), \(threads) thread(s)")
        let per = f["per_window_s"] as! [String: Double]
        let total = f["total_s"] as! Double
        print("  stage       per window      total    share")
        for stage in ["decode", "faces", "detect", "crop", "network"] {
            guard let t = f["\(stage)_s"] as? Double else { continue }
            print(String(format: "  %@  %8.3f s  %8.2f s  %5.1f %%", stage.padding(toLength: 9, withPad: " ", startingAt: 0),
                         per[stage]!, t, 100 * t / total))
        }
        print(String(format: "  total                  %8.2f s  (decoding %.1f %%, goal <= 10 %%; total / network alone %.2fx, goal <= 1.30x with fast)",
                     total, 100 * (f["decode_share"] as! Double), f["total_over_network"] as! Double))
        // Linux records a child's peak including the memory it had before exec, i.e. this
        // process's at the spawn: the children's figure bounds nothing of ffmpeg's own.
        print(String(format: "  ffmpeg/ffprobe CPU %.2f s; peak RSS %.0f MiB (goal <= 1229 MiB; children's ru_maxrss %.0f MiB, which counts this process's memory at the spawn)",
                     f["children_cpu_s"] as! Double, f["peak_rss_mib"] as! Double, f["children_peak_rss_mib"] as! Double))
    }
}

/// getrusage(2) figures.
enum ResourceUsage {
    static func usage(children: Bool) -> rusage {
        var u = rusage()
        getrusage((children ? RUSAGE_CHILDREN : RUSAGE_SELF).rawValue, &u)
        return u
    }

    /// ru_maxrss (KiB on Linux): of this process, or of its largest waited-for child.
    static func peakRSSMiB(children: Bool) -> Double { Double(usage(children: children).ru_maxrss) / 1024 }

    static func cpuSeconds(children: Bool) -> Double {
        let u = usage(children: children)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }
}
