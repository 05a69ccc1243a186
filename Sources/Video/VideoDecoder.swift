import Foundation
import Imaging

/// What the probe learns (SPEC.md sections 1, 2 and 5).
public struct VideoProbe: Sendable, Equatable {
    /// `N`: frames ffmpeg writes, counted by SPEC.md section 1's ffprobe command.
    public let frameCount: Int
    /// Each frame's presentation time minus the first frame's (seconds); nil where ffprobe says N/A.
    public let frameTimes: [Double?]
    /// The stream's `avg_frame_rate` as a number (nil when ffprobe gives 0/0).
    public let fps: Double?
    /// The container's `duration` (nil when unknown).
    public let durationSeconds: Double?
    /// Frames as ffmpeg writes them: after rotation (a +-90 degree tag swaps the stream's sizes).
    public let width: Int
    public let height: Int
    /// The display matrix rotation ffprobe reports (degrees; 0 without one).
    public let rotation: Int
    public let codecName: String
    public let formatName: String

    /// `K` of SPEC.md section 2.
    public var windowCount: Int { WindowRule.windowCount(frames: frameCount) }

    /// The windows scored with at most `maxWindows` (SPEC.md section 2); `tooShort` when N < 25.
    public func windows(maxWindows: Int) throws(VideoError) -> [Int] {
        try WindowRule.windows(frames: frameCount, maxWindows: maxWindows)
    }

    public init(frameCount: Int, frameTimes: [Double?], fps: Double?, durationSeconds: Double?,
                width: Int, height: Int, rotation: Int, codecName: String, formatName: String) {
        self.frameCount = frameCount
        self.frameTimes = frameTimes
        self.fps = fps
        self.durationSeconds = durationSeconds
        self.width = width
        self.height = height
        self.rotation = rotation
        self.codecName = codecName
        self.formatName = formatName
    }
}

/// One sampled frame.
public struct VideoFrame: Sendable, Equatable {
    /// Video frame index (0-based, among the frames ffmpeg writes).
    public let index: Int
    /// `time_s` (nil when ffprobe had no timestamp for it).
    public let time: Double?
    public let image: RGBImage
}

/// One window's 4 sampled frames, `32k + 0, 8, 16, 24`.
public struct VideoWindowFrames: Sendable, Equatable {
    /// `k`.
    public let window: Int
    public let frames: [VideoFrame]
    /// `time_s` of its first and last frames.
    public var startSeconds: Double? { frames.first?.time }
    public var endSeconds: Double? { frames.last?.time }
}

/// Probe and sampled decoding of a video with Debian's ffprobe/ffmpeg as limited child processes.
public struct VideoDecoder: Sendable {
    public var tools: VideoTools
    public var limits: VideoLimits

    public init(tools: VideoTools = VideoTools(), limits: VideoLimits = VideoLimits()) {
        self.tools = tools
        self.limits = limits
    }

    private var inputArguments: [String] {
        ["-protocol_whitelist", "file", "-format_whitelist", limits.allowedFormats.joined(separator: ","),
         "-threads", String(max(1, limits.decoderThreads))]
    }
    private static let inputURL = "file:/dev/fd/\(ChildProcess.inputFDNumber)"

    /// Two ffprobe passes: the stream and container (video stream present, allowed container,
    /// size after rotation within `maxFramePixels`, duration within `maxSeconds`), then every
    /// frame's time by SPEC.md section 1's command (count within `maxFrames`, times within
    /// `maxSeconds`). Throws `noVideoStream`, `unsupported`, `corrupt`, `tooLong`, `timeout`,
    /// `cancelled`, `toolUnavailable`. Does not check `N >= 25` (see `windows(maxWindows:)`).
    public func probe(_ input: VideoInput, cancellation: VideoCancellation? = nil) throws(VideoError) -> VideoProbe {
        if let bytes = input.byteCount, bytes > limits.maxBytes {
            throw VideoError.tooLong("\(bytes) bytes, the limit is \(limits.maxBytes)")
        }
        // 1. Stream and container.
        let streamArgs = ["-v", "error"] + inputArguments + [
            "-select_streams", "v:0",
            "-show_entries", "stream=codec_type,codec_name,width,height,avg_frame_rate:stream_side_data=rotation:format=duration,format_name",
            "-of", "json", VideoDecoder.inputURL]
        let child = try ChildProcess(executable: tools.ffprobe, arguments: streamArgs, inputFD: input.fd,
                                     limits: limits, cancellation: cancellation)
        var json = Data()
        do {
            try child.readStdout { chunk in
                guard json.count + chunk.count <= 1 << 20 else { throw VideoError.corrupt("ffprobe's stream report is over 1 MiB") }
                json.append(contentsOf: chunk)
            }
        } catch let e as VideoError { _ = child.finish(); throw e } catch { _ = child.finish(); throw VideoError.corrupt("\(error)") }
        let exit = child.finish()
        try VideoDecoder.check(exit, tool: "ffprobe", limits: limits)
        guard let root = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw VideoError.corrupt("ffprobe gave no stream report")
        }
        let format = root["format"] as? [String: Any]
        let formatName = format?["format_name"] as? String ?? ""
        let duration = (format?["duration"] as? String).flatMap(Double.init)
        guard let stream = (root["streams"] as? [[String: Any]])?.first, stream["codec_type"] as? String == "video" else {
            throw VideoError.noVideoStream
        }
        guard let sw = stream["width"] as? Int, let sh = stream["height"] as? Int, sw > 0, sh > 0 else {
            throw VideoError.corrupt("the video stream has no frame size")
        }
        var rotation = 0
        for side in stream["side_data_list"] as? [[String: Any]] ?? [] {
            if let r = side["rotation"] as? Int { rotation = r } else if let r = side["rotation"] as? Double { rotation = Int(r.rounded()) }
        }
        // ffmpeg's autorotate transposes for +-90 and 270 degrees.
        let swap = ((rotation % 360) + 360) % 180 == 90
        let (width, height) = swap ? (sh, sw) : (sw, sh)
        guard width.multipliedReportingOverflow(by: height).overflow == false, width * height <= limits.maxFramePixels else {
            throw VideoError.unsupported("frame size \(width)x\(height) is over the limit of \(limits.maxFramePixels) pixels")
        }
        if let d = duration, d > limits.maxSeconds {
            throw VideoError.tooLong("\(d) s, the limit is \(limits.maxSeconds) s")
        }
        let fps = VideoDecoder.rational(stream["avg_frame_rate"] as? String)

        // 2. Every frame's time (SPEC.md section 1): a frame is a non-empty line, its time the first field.
        let frameArgs = ["-v", "error"] + inputArguments + [
            "-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time",
            "-of", "csv=p=0", VideoDecoder.inputURL]
        let frames = try ChildProcess(executable: tools.ffprobe, arguments: frameArgs, inputFD: input.fd,
                                      limits: limits, cancellation: cancellation)
        var times: [Double?] = []
        var line: [UInt8] = []
        var first: Double?
        let maxFrames = limits.maxFrames, maxSeconds = limits.maxSeconds
        func take(_ line: [UInt8]) throws(VideoError) {
            if line.isEmpty { return }
            let field = line.split(separator: UInt8(ascii: ","), maxSplits: 1, omittingEmptySubsequences: false).first ?? []
            let t = Double(String(decoding: field, as: UTF8.self))
            if first == nil, let t { first = t }
            let relative = t.flatMap { t in first.map { t - $0 } }
            times.append(relative)
            if times.count > maxFrames { throw VideoError.tooLong("more than \(maxFrames) frames") }
            if let r = relative, r > maxSeconds { throw VideoError.tooLong("frames past \(maxSeconds) s") }
        }
        do {
            try frames.readStdout { chunk in
                for byte in chunk {
                    if byte == UInt8(ascii: "\n") { try take(line); line.removeAll(keepingCapacity: true) }
                    else if line.count < 256 { line.append(byte) }
                }
            }
            try take(line)
        } catch let e as VideoError { _ = frames.finish(); throw e } catch { _ = frames.finish(); throw VideoError.corrupt("\(error)") }
        try VideoDecoder.check(frames.finish(), tool: "ffprobe", limits: limits)
        if first == nil && !times.isEmpty { times = times.map { _ in nil } }
        return VideoProbe(frameCount: times.count, frameTimes: times.map { $0.map(VideoDecoder.microseconds) },
                          fps: fps, durationSeconds: duration, width: width, height: height, rotation: rotation,
                          codecName: stream["codec_name"] as? String ?? "", formatName: formatName)
    }

    /// Decodes only the sampled frames of `windows` (increasing window indices, as
    /// `VideoProbe.windows(maxWindows:)` gives) with SPEC.md section 1's ffmpeg command plus a
    /// `select` filter, so the pipe carries only them, and hands them to `body` one window at a
    /// time, in order: at most one window's frames are held. Errors: `corrupt` when ffmpeg fails
    /// or writes another number of frames than asked, `tooLong` (CPU time / memory of the child),
    /// `timeout`, `cancelled`, `toolUnavailable`, or whatever `body` throws (the child is then killed).
    public func decode(_ input: VideoInput, probe: VideoProbe, windows: [Int],
                       cancellation: VideoCancellation? = nil,
                       _ body: (VideoWindowFrames) throws -> Void) throws {
        if windows.isEmpty { return }
        precondition(zip(windows, windows.dropFirst()).allSatisfy { $0 < $1 }, "windows must increase")
        let indices = windows.flatMap(WindowRule.frames(ofWindow:))
        guard let last = indices.last, last < probe.frameCount else {
            throw VideoError.corrupt("window \(windows.last!) needs frame \(indices.last!) of \(probe.frameCount)")
        }
        let args = ["-nostdin", "-v", "error"] + inputArguments + ["-i", VideoDecoder.inputURL,
                    "-map", "0:v:0", "-vf", "select='\(VideoDecoder.selectExpression(windows: windows))'",
                    "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        let child = try ChildProcess(executable: tools.ffmpeg, arguments: args, inputFD: input.fd,
                                     limits: limits, cancellation: cancellation)
        let frameBytes = probe.width * probe.height * 3
        var pixels: [UInt8] = []
        pixels.reserveCapacity(frameBytes)
        var pending: [VideoFrame] = []
        var written = 0
        do {
            try child.readStdout { chunk in
                var offset = 0
                while offset < chunk.count {
                    guard written < indices.count else {
                        throw VideoError.corrupt("ffmpeg wrote more frames than the \(indices.count) selected")
                    }
                    let n = min(frameBytes - pixels.count, chunk.count - offset)
                    pixels.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[offset..<(offset + n)]))
                    offset += n
                    if pixels.count == frameBytes {
                        let index = indices[written]
                        pending.append(VideoFrame(index: index, time: probe.frameTimes[index],
                                                  image: RGBImage(width: probe.width, height: probe.height, pixels: pixels)))
                        pixels = []
                        pixels.reserveCapacity(frameBytes)
                        written += 1
                        if pending.count == WindowRule.framesPerWindow {
                            let window = windows[written / WindowRule.framesPerWindow - 1]
                            let batch = VideoWindowFrames(window: window, frames: pending)
                            pending = []
                            try body(batch)
                        }
                    }
                }
            }
        } catch {
            _ = child.finish()
            throw error
        }
        try VideoDecoder.check(child.finish(), tool: "ffmpeg", limits: limits)
        guard written == indices.count, pixels.isEmpty else {
            throw VideoError.corrupt("ffmpeg wrote \(written) of the \(indices.count) selected frames")
        }
    }

    /// ffmpeg's `select` expression keeping exactly the sampled frames of `windows`: multiples of
    /// 8 within `[32a, 32b + 24]` for each run `a...b` of consecutive windows.
    static func selectExpression(windows: [Int]) -> String {
        var runs: [(Int, Int)] = []
        for w in windows {
            if let lastRun = runs.last, lastRun.1 + 1 == w { runs[runs.count - 1].1 = w } else { runs.append((w, w)) }
        }
        let ranges = runs.map { "between(n,\(32 * $0.0),\(32 * $0.1 + 24))" }.joined(separator: "+")
        return "not(mod(n,8))*(\(ranges))"
    }

    /// Maps a child's end to an error: killed by the CPU limit -> `tooLong`; memory exhausted ->
    /// `tooLong`; other failure -> `corrupt` with its stderr.
    static func check(_ exit: ChildExit, tool: String, limits: VideoLimits) throws(VideoError) {
        if exit.status == 0 { return }
        if exit.killedByUs { throw VideoError.cancelled }   // only a cancellation kills after stdout ended
        if let s = exit.signal, s == SIGXCPU || (s == SIGKILL && !exit.killedByUs) {
            throw VideoError.tooLong("\(tool) used its \(limits.cpuSeconds) s of CPU time")
        }
        if exit.stderr.contains("Cannot allocate memory") || exit.stderr.contains("out of memory") {
            throw VideoError.tooLong("\(tool) reached its memory limit")
        }
        let how = exit.signal.map { "was killed by signal \($0)" } ?? "exited with status \(exit.status ?? -1)"
        let message = exit.stderr.isEmpty ? "\(tool) \(how)" : "\(tool) \(how): \(exit.stderr)"
        throw VideoError.corrupt(message)
    }

    static func rational(_ text: String?) -> Double? {
        guard let text else { return nil }
        let parts = text.split(separator: "/")
        if parts.count == 2, let n = Double(parts[0]), let d = Double(parts[1]) { return d == 0 ? nil : n / d }
        return Double(text)
    }

    /// ffprobe prints 6 decimals; rounding the difference to microseconds keeps 0.266667 - 0 exact.
    static func microseconds(_ t: Double) -> Double { (t * 1e6).rounded() / 1e6 }
}
