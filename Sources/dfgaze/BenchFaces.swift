import DFGaze
import Faces
import Foundation
import Imaging

/// `dfgaze bench --faces` (issue 17's speed figures): detection per frame at three sizes in both
/// modes, grayscale and crop + JPEG, and a 4-frame clip of whole 1280x720 frames end to end
/// against the same clip's network time alone.
struct FacesBench {
    /// The frame sizes the issue names.
    static let sizes = [(512, 512), (1280, 720), (1920, 1080)]
    static let clipSize = (1280, 720)
    /// The clip's frames: the face moved by a few pixels from frame to frame, as in a video.
    static let clipShifts = [0, 8, 16, 24]

    let source: RGBImage
    let runs: Int

    /// `source` scaled (nearest neighbour, by the largest factor that fits) and centred, moved
    /// `shift` pixels right, on a mid-grey frame of `width` x `height`: one face, as large as
    /// the frame's height allows.
    static func frame(_ source: RGBImage, width: Int, height: Int, shift: Int = 0) -> RGBImage {
        let scale = min(Double(width) / Double(source.width), Double(height) / Double(source.height))
        let sw = Int(Double(source.width) * scale), sh = Int(Double(source.height) * scale)
        let x0 = (width - sw) / 2 + shift, y0 = (height - sh) / 2
        var pixels = [UInt8](repeating: 128, count: width * height * 3)
        for y in 0..<sh {
            let sy = min(source.height - 1, Int(Double(y) / scale))
            for x in 0..<sw where (0..<width).contains(x0 + x) {
                let sx = min(source.width - 1, Int(Double(x) / scale))
                for c in 0..<3 { pixels[((y0 + y) * width + x0 + x) * 3 + c] = source.pixels[(sy * source.width + sx) * 3 + c] }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    static func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s.isEmpty ? 0 : s[s.count / 2] }

    /// Median wall time of `runs` calls after one warm-up call.
    func time(_ body: () throws -> Void) rethrows -> Double {
        try body()
        var samples: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now()
            try body()
            samples.append(Self.seconds(since: start))
        }
        return Self.median(samples)
    }

    static func seconds(since t: DispatchTime) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t.uptimeNanoseconds) / 1e9 }

    func run(model dfgaze: DFGazeModel) throws -> [String: Any] {
        var perSize: [[String: Any]] = []
        for (width, height) in Self.sizes {
            let image = Self.frame(source, width: width, height: height)
            var row: [String: Any] = ["width": width, "height": height]
            row["grayscale_s"] = time { _ = Grayscale.opencv(image) }
            for mode in FaceDetectionMode.allCases {
                let detector = try FaceDetector(mode: mode)
                var found: [FaceDetection] = []
                row["detect_\(mode)_s"] = try time { found = try detector.detect(image) }
                row["faces_\(mode)"] = found.count
                if mode == .exact, let best = FaceCropping.best(found) {
                    row["box"] = best.box.array
                    row["crop_jpeg_s"] = try time {
                        _ = try FaceCropping.crop(image, box: best.box, detected: true, frame: 0, source: 0)
                    }
                }
            }
            perSize.append(row)
        }

        // The clip as `faces=detect` receives it: whole frames as JPEG, decoded, detected and
        // cropped by FaceCropping.wholeFrames (the service's path), then scored; against scoring
        // the same crops alone. The two alternate within each run (the machine drifts).
        let (cw, ch) = Self.clipSize
        let wholeJPEGs = try Self.clipShifts.map { try JPEG.encode(Self.frame(source, width: cw, height: ch, shift: $0)) }
        var clips: [String: Any] = [:]
        for mode in FaceDetectionMode.allCases {
            let detector = try FaceDetector(mode: mode)
            func faces() throws -> [Data] {
                let found = try FaceCropping.wholeFrames(count: wholeJPEGs.count, clips: [Array(wholeJPEGs.indices)],
                                                         detector: detector) { try JPEG.decode(wholeJPEGs[$0]) }
                return found.faces.map { $0!.jpeg }
            }
            let crops = try faces()
            _ = try dfgaze.score(jpegs: crops)
            var endToEnd: [Double] = [], facesOnly: [Double] = [], network: [Double] = []
            for _ in 0..<runs {
                var start = DispatchTime.now()
                let found = try faces()
                facesOnly.append(Self.seconds(since: start))
                _ = try dfgaze.score(jpegs: found)
                endToEnd.append(Self.seconds(since: start))
                start = DispatchTime.now()
                _ = try dfgaze.score(jpegs: crops)
                network.append(Self.seconds(since: start))
            }
            let e2e = Self.median(endToEnd), net = Self.median(network)
            clips[mode.rawValue] = ["end_to_end_s": e2e, "faces_s": Self.median(facesOnly), "network_s": net,
                                    "ratio": e2e / net]
        }
        return ["runs": runs, "sizes": perSize,
                "clip": ["frames": wholeJPEGs.count, "width": cw, "height": ch, "modes": clips]]
    }

    static func printText(_ figures: [String: Any], threads: Int) {
        let runs = figures["runs"] as! Int
        print("DFGaze bench --faces: dlib HOG, upsampling \(FaceDetector.defaultUpsampling), one frame per call, median of \(runs) runs")
        print("  size        grayscale   detect exact   detect fast   crop+JPEG   faces (exact/fast)")
        for row in figures["sizes"] as! [[String: Any]] {
            let size = "\(row["width"]!)x\(row["height"]!)".padding(toLength: 10, withPad: " ", startingAt: 0)
            print(String(format: "  %@  %7.1f ms   %9.1f ms   %8.1f ms   %6.2f ms   %@/%@", size,
                         1000 * (row["grayscale_s"] as! Double), 1000 * (row["detect_exact_s"] as! Double),
                         1000 * (row["detect_fast_s"] as! Double), 1000 * (row["crop_jpeg_s"] as? Double ?? .nan),
                         "\(row["faces_exact"]!)", "\(row["faces_fast"]!)"))
        }
        let clip = figures["clip"] as! [String: Any]
        print("  clip of \(clip["frames"]!) whole \(clip["width"]!)x\(clip["height"]!) JPEG frames, \(threads) thread(s):"
              + " decode + detect + crop + JPEG (FaceCropping.wholeFrames), then the network")
        for mode in FaceDetectionMode.allCases {
            let m = (clip["modes"] as! [String: Any])[mode.rawValue] as! [String: Double]
            print(String(format: "    %@  end to end %.3f s (faces %.3f s), network alone %.3f s: %.2fx (goal <= 1.30x)",
                         mode.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0),
                         m["end_to_end_s"]!, m["faces_s"]!, m["network_s"]!, m["ratio"]!))
        }
    }
}
