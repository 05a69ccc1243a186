import Foundation
import Imaging

/// What the probe learns (SPEC.md sections 1, 2 and 5).
public struct VideoProbe: Sendable, Equatable {
    /// `N`: frames ffmpeg writes, counted by SPEC.md section 1's ffprobe command (`probe`) or by
    /// ffmpeg's `showinfo` in the same run that decodes (`decode(_:maxWindows:)`): the same frames.
    public let frameCount: Int
    /// Each frame's presentation time minus the first frame's (seconds), as ffprobe prints it;
    /// nil where ffprobe says N/A.
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
    /// How many windows this decoding delivers in all (for progress).
    public let windowCount: Int
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
    /// `decode(_:maxWindows:)` gets the same probe from one ffmpeg run instead of this second pass.
    public func probe(_ input: VideoInput, cancellation: VideoCancellation? = nil) throws(VideoError) -> VideoProbe {
        let stream = try streamReport(input, countPackets: false, cancellation: cancellation)
        return try stream.probe(times: frameTimes(input, cancellation: cancellation))
    }

    /// What the first, cheap ffprobe pass learns: the stream, the container and, when asked,
    /// the number of packets (a demux, no decoding): the estimate of `N`.
    struct StreamReport {
        var fps: Double?
        var durationSeconds: Double?
        var width: Int, height: Int, rotation: Int
        var codecName: String, formatName: String
        var timeBase: String
        var packetCount: Int?

        func probe(times: [Double?]) -> VideoProbe {
            VideoProbe(frameCount: times.count, frameTimes: times, fps: fps, durationSeconds: durationSeconds,
                       width: width, height: height, rotation: rotation, codecName: codecName, formatName: formatName)
        }
    }

    func streamReport(_ input: VideoInput, countPackets: Bool,
                      cancellation: VideoCancellation?) throws(VideoError) -> StreamReport {
        if let bytes = input.byteCount, bytes > limits.maxBytes {
            throw VideoError.tooLong("\(bytes) bytes, the limit is \(limits.maxBytes)")
        }
        let streamArgs = ["-v", "error"] + inputArguments + (countPackets ? ["-count_packets"] : []) + [
            "-select_streams", "v:0",
            "-show_entries", "stream=codec_type,codec_name,width,height,avg_frame_rate,time_base\(countPackets ? ",nb_read_packets" : ""):stream_side_data=rotation:format=duration,format_name",
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
        return StreamReport(fps: VideoDecoder.rational(stream["avg_frame_rate"] as? String), durationSeconds: duration,
                            width: width, height: height, rotation: rotation,
                            codecName: stream["codec_name"] as? String ?? "", formatName: formatName,
                            timeBase: stream["time_base"] as? String ?? "",
                            packetCount: (stream["nb_read_packets"] as? String).flatMap { Int($0) })
    }

    /// Every frame's time (SPEC.md section 1): a frame is a non-empty line, its time the first field.
    func frameTimes(_ input: VideoInput, cancellation: VideoCancellation?) throws(VideoError) -> [Double?] {
        let frameArgs = ["-v", "error"] + inputArguments + [
            "-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time",
            "-of", "csv=p=0", VideoDecoder.inputURL]
        let frames = try ChildProcess(executable: tools.ffprobe, arguments: frameArgs, inputFD: input.fd,
                                      limits: limits, cancellation: cancellation)
        var times = FrameTimes(limits: limits)
        var line: [UInt8] = []
        func take(_ line: [UInt8]) throws(VideoError) {
            if line.isEmpty { return }
            let field = line.split(separator: UInt8(ascii: ","), maxSplits: 1, omittingEmptySubsequences: false).first ?? []
            try times.append(Double(String(decoding: field, as: UTF8.self)))
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
        return times.relative
    }

    /// Frame times as ffprobe prints them (seconds, 6 decimals), counted within `maxFrames` and
    /// `maxSeconds`, made relative to the first frame that has one.
    struct FrameTimes {
        let limits: VideoLimits
        private(set) var absolute: [Double?] = []
        private var first: Double?

        init(limits: VideoLimits) { self.limits = limits }

        var count: Int { absolute.count }

        mutating func append(_ t: Double?) throws(VideoError) {
            if first == nil, let t { first = t }
            absolute.append(t)
            if absolute.count > limits.maxFrames { throw VideoError.tooLong("more than \(limits.maxFrames) frames") }
            if let t, let first, t - first > limits.maxSeconds { throw VideoError.tooLong("frames past \(limits.maxSeconds) s") }
        }

        /// Each time minus the first, to the microsecond (nil where there is none).
        var relative: [Double?] {
            guard let first else { return absolute }
            return absolute.map { $0.map { VideoDecoder.microseconds($0 - first) } }
        }
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
                            let batch = VideoWindowFrames(window: window, frames: pending, windowCount: windows.count)
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

    /// Probe and sampled decode of the windows SPEC.md section 2 scores with at most `maxWindows`,
    /// mostly in one decoding ffmpeg run instead of `probe`'s full ffprobe pass plus a decode.
    /// A cheap ffprobe pass gives the stream, the container and the packet count, the estimate of
    /// `N`; then ffmpeg runs SPEC.md section 1's command with `showinfo` ahead of the `select` of
    /// the windows the estimate gives: it reports every decoded frame (so `N`) and its timestamp,
    /// and holds the selected frames until the input ends, so `N` is known before the first frame
    /// leaves. When the windows of the true `N` are among those selected, `body` gets them as they
    /// come, in order (one window held here); otherwise that run is stopped and a second one
    /// decodes them, as `decode(_:probe:windows:)`. Containers other than MP4/QuickTime and
    /// Matroska/WebM (whose frames may lack presentation times, where ffmpeg's and ffprobe's
    /// best-effort timestamps can differ), a report whose timestamps are missing or not
    /// increasing, and selections over `limits.maxHeldBytes` take `probe`'s ffprobe pass then
    /// `decode(_:probe:windows:)`. The returned probe, the windows and every frame's bytes and time
    /// equal that two-pass path's. Throws as `probe`, `tooShort` when `N < 25` (before `body` is
    /// called), and as `decode(_:probe:windows:)`.
    @discardableResult
    public func decode(_ input: VideoInput, maxWindows: Int, cancellation: VideoCancellation? = nil,
                       _ body: (VideoWindowFrames) throws -> Void) throws -> VideoProbe {
        precondition(maxWindows >= 1, "maxWindows must be at least 1")
        let stream = try streamReport(input, countPackets: true, cancellation: cancellation)
        let guess = VideoDecoder.speculativeWindows(estimate: stream.packetCount ?? 0, maxWindows: maxWindows)
        let frameBytes = stream.width * stream.height * 3
        if VideoDecoder.oneRunFormats.contains(stream.formatName),
           guess.count * WindowRule.framesPerWindow <= limits.maxHeldBytes / frameBytes {
            switch try sampledRun(input, stream: stream, guess: guess, maxWindows: maxWindows,
                                  cancellation: cancellation, body) {
            case .done(let probe):
                return probe
            case .otherWindows(let probe):
                try decode(input, probe: probe, windows: probe.windows(maxWindows: maxWindows), cancellation: cancellation, body)
                return probe
            case .timesUnproven:
                break
            }
        }
        let probe = try stream.probe(times: frameTimes(input, cancellation: cancellation))
        try decode(input, probe: probe, windows: probe.windows(maxWindows: maxWindows), cancellation: cancellation, body)
        return probe
    }

    /// Containers whose every frame carries its presentation time, so that ffmpeg (with
    /// `-copyts`) and ffprobe agree on each frame's best-effort timestamp (ffprobe's format_name).
    static let oneRunFormats: Set<String> = ["mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"]

    /// The windows to decode before `N` is known: those of the estimate when it gives more than
    /// `maxWindows` windows; otherwise all of them and one more (a true `N` a little above the
    /// estimate then needs no second run), within `maxWindows`.
    static func speculativeWindows(estimate: Int, maxWindows: Int) -> [Int] {
        let k = WindowRule.windowCount(frames: estimate)
        if k > maxWindows { return (try? WindowRule.windows(frames: estimate, maxWindows: maxWindows)) ?? [0] }
        return Array(0..<min(maxWindows, k + 1))
    }

    /// How the single run ended: all windows delivered; stopped before any frame left because the
    /// true `N` picks windows not selected (its probe, with exact times); or stopped because
    /// ffmpeg's timestamps are not provably ffprobe's.
    enum SampledRunEnd {
        case done(VideoProbe)
        case otherWindows(VideoProbe)
        case timesUnproven
    }

    private enum Stop: Error { case otherWindows(VideoProbe), timesUnproven }

    /// SPEC.md section 1's ffmpeg command with `showinfo` (every frame's number and pts, before
    /// any is dropped) ahead of the `select` of `guess`, then `reverse,reverse`: the selected
    /// frames wait inside ffmpeg, unchanged and in the decoder's pixel format (half of RGB's bytes
    /// for 4:2:0), until the input ends, so every showinfo line precedes the first frame written.
    /// `-copyts` keeps each pts the decoder's best-effort timestamp (no start-time shift).
    func sampledRun(_ input: VideoInput, stream: StreamReport, guess: [Int], maxWindows: Int,
                    cancellation: VideoCancellation?, _ body: (VideoWindowFrames) throws -> Void) throws -> SampledRunEnd {
        let indices = guess.flatMap(WindowRule.frames(ofWindow:))
        let args = ["-nostdin", "-hide_banner", "-nostats", "-v", "repeat+level+info", "-copyts"] + inputArguments +
            ["-i", VideoDecoder.inputURL, "-map", "0:v:0",
             "-vf", "showinfo=checksum=0,select='\(VideoDecoder.selectExpression(windows: guess))',reverse,reverse",
             "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        let child = try ChildProcess(executable: tools.ffmpeg, arguments: args, inputFD: input.fd,
                                     limits: limits, cancellation: cancellation)
        let frameBytes = stream.width * stream.height * 3
        var report = ShowinfoReport(limits: limits)
        var probe: VideoProbe?
        var windows: Set<Int> = []
        // Once every frame is counted: the probe and the windows, or why this run cannot give them.
        func decide() throws {
            guard report.increasing, report.timeBase == stream.timeBase else { throw Stop.timesUnproven }
            let p = stream.probe(times: report.times.relative)
            let chosen = try p.windows(maxWindows: maxWindows)
            guard Set(chosen).isSubset(of: guess) else { throw Stop.otherWindows(p) }
            probe = p
            windows = Set(chosen)
        }
        var pixels: [UInt8] = []
        var filled = 0
        var pending: [VideoFrame] = []
        var written = 0
        do {
            try child.readStdout({ chunk in
                if probe == nil { try decide() }
                var offset = 0
                while offset < chunk.count {
                    guard written < indices.count else {
                        throw VideoError.corrupt("ffmpeg wrote more frames than the \(indices.count) selected")
                    }
                    let index = indices[written]
                    let scored = windows.contains(index / WindowRule.windowLength)   // else skipped
                    let n = min(frameBytes - filled, chunk.count - offset)
                    if scored {
                        if pixels.isEmpty { pixels.reserveCapacity(frameBytes) }
                        pixels.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[offset..<(offset + n)]))
                    }
                    offset += n
                    filled += n
                    if filled == frameBytes {
                        if scored {
                            pending.append(VideoFrame(index: index, time: probe!.frameTimes[index],
                                                      image: RGBImage(width: stream.width, height: stream.height, pixels: pixels)))
                            pixels = []
                        }
                        filled = 0
                        written += 1
                        if pending.count == WindowRule.framesPerWindow {
                            let batch = VideoWindowFrames(window: index / WindowRule.windowLength, frames: pending, windowCount: windows.count)
                            pending = []
                            try body(batch)
                        }
                    }
                }
            }, stderrLine: { line in try report.take(line) })
        } catch Stop.otherWindows(let p) {
            _ = child.finish()
            return .otherWindows(p)
        } catch Stop.timesUnproven {
            _ = child.finish()
            return .timesUnproven
        } catch {
            _ = child.finish()
            throw error
        }
        try VideoDecoder.check(child.finish(), tool: "ffmpeg", limits: limits)
        if probe == nil {   // no frame written at all
            do { try decide() } catch Stop.otherWindows(let p) { return .otherWindows(p) } catch Stop.timesUnproven { return .timesUnproven }
        }
        let n = report.times.count
        guard filled == 0, written == indices.prefix(while: { $0 < n }).count else {
            throw VideoError.corrupt("ffmpeg wrote \(written) sampled frames of \(n) decoded")
        }
        return .done(probe!)
    }

    /// Reads ffmpeg's stderr at `-v repeat+level+info`: `showinfo`'s frame lines (`n:` counting from 0,
    /// `pts:` in the stream's time base) and its input time base; keeps error lines for the message.
    struct ShowinfoReport {
        var times: FrameTimes
        var timeBase = ""
        private var lastPTS: Int64?
        /// Every pts present and strictly increasing: the decoder's pts were used throughout, as
        /// ffprobe's best-effort timestamps then are (see docs/video.md).
        private(set) var increasing = true

        init(limits: VideoLimits) { times = FrameTimes(limits: limits) }

        private static let prefix = Array("[Parsed_showinfo_0 @ 0x".utf8)
        private static let tag = Array("] [info] ".utf8)

        /// True for a line kept for the error message.
        mutating func take(_ line: ArraySlice<UInt8>) throws -> Bool {
            guard line.starts(with: ShowinfoReport.prefix) else {
                return ["[error]", "[fatal]", "[panic]"].contains { line.firstRange(of: Array($0.utf8)) != nil }
            }
            guard let tag = line.firstRange(of: ShowinfoReport.tag) else { return false }
            let text = String(decoding: line[tag.upperBound...], as: UTF8.self)
            if text.hasPrefix("config in time_base: ") {
                timeBase = String(text.dropFirst("config in time_base: ".count).prefix { $0 != "," })
                return false
            }
            guard text.hasPrefix("n:") else { return false }
            // "n:   7 pts:   3584 pts_time:0.233333 ...", or "pts:NOPTS".
            guard let n = ShowinfoReport.field("n:", in: text), let ptsText = ShowinfoReport.field("pts:", in: text),
                  Int(n) == times.count else {
                throw VideoError.corrupt("ffmpeg's frame report is out of order: \(text.prefix(80))")
            }
            let p = Int64(ptsText)   // nil for NOPTS
            try times.append(p.flatMap(seconds))
            if let p, let last = lastPTS, p <= last { increasing = false }
            if p == nil { increasing = false }
            lastPTS = p ?? lastPTS
            return false
        }

        /// The token after `key` and any spaces.
        static func field(_ key: String, in text: String) -> Substring? {
            guard let r = text.range(of: key) else { return nil }
            let rest = text[r.upperBound...].drop { $0 == " " }
            let token = rest.prefix { $0 != " " }
            return token.isEmpty ? nil : token
        }

        /// The pts in seconds as ffprobe prints `best_effort_timestamp_time` ("%f" of pts times the
        /// time base as a double), read back: the same number `probe` reads.
        private func seconds(_ pts: Int64) -> Double? {
            let parts = timeBase.split(separator: "/")
            guard parts.count == 2, let num = Double(parts[0]), let den = Double(parts[1]), den != 0 else { return nil }
            return Double(String(format: "%f", Double(pts) * (num / den)))
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
