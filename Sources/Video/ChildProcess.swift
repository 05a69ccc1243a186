import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A token the caller triggers when the result is no longer wanted (client gone, server
/// draining). Every child running under it is killed at once (SIGKILL to its process group);
/// the call that started it then throws `VideoError.cancelled`. Thread-safe; cancel is idempotent.
public final class VideoCancellation: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    private var handlers: [Int: () -> Void] = [:]
    private var nextID = 0

    public init() {}

    public var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }

    public func cancel() {
        lock.lock()
        if cancelled { lock.unlock(); return }
        cancelled = true
        let pending = Array(handlers.values)
        handlers.removeAll()
        lock.unlock()
        for h in pending { h() }
    }

    /// Runs `handler` on cancel; nil (and `handler` not kept) when already cancelled.
    func register(_ handler: @escaping () -> Void) -> Int? {
        lock.lock(); defer { lock.unlock() }
        if cancelled { return nil }
        nextID += 1
        handlers[nextID] = handler
        return nextID
    }

    func unregister(_ id: Int) {
        lock.lock(); handlers[id] = nil; lock.unlock()
    }
}

/// Limits of one probe/decode (issue 18). Defaults: the service's documented ones.
public struct VideoLimits: Sendable, Equatable {
    /// Largest input accepted (`--max-video-bytes`, default 256 MiB): `video_too_long`.
    public var maxBytes: Int = 256 << 20
    /// Longest video accepted (`--max-video-seconds`, default 600): by the container's duration,
    /// and by the frames' times while counting them: `video_too_long`.
    public var maxSeconds: Double = 600
    /// Most frames counted before giving up (a short video with absurdly many frames): `video_too_long`.
    public var maxFrames: Int = 600 * 120
    /// Largest frame, width * height after rotation (default 8K, 7680x4320): `unsupported_video`.
    public var maxFramePixels: Int = 7680 * 4320
    /// Wall-clock budget of each child (ffprobe, ffmpeg), counting only the time spent waiting
    /// on it (not the time the caller's frame callback takes): `video_timeout`.
    public var timeoutSeconds: Double = 120
    /// RLIMIT_CPU of each child (seconds; SIGXCPU then SIGKILL one second later): `video_too_long`.
    public var cpuSeconds: Int = 300
    /// RLIMIT_AS of each child (bytes; default 3 GiB): allocation failures give `video_too_long`.
    public var addressSpaceBytes: Int = 3 << 30
    /// Containers accepted (ffmpeg demuxer names, passed to `-format_whitelist`, so ffmpeg probes
    /// no other: no playlists, no concat lists, no image sequences).
    public var allowedFormats: [String] = VideoLimits.defaultFormats
    /// Decoder threads of each child (`-threads`, an input option; decoding is bit-exact at any
    /// count). Bounded so that a many-core host does not multiply the child's memory.
    public var decoderThreads: Int = 2
    /// Most bytes of selected frames, counted as RGB (4 per window selected; 338 MiB for 32
    /// windows at 1280x720, 759 MiB at 1920x1080), that `decode(_:maxWindows:)` lets its single
    /// ffmpeg run hold until `N` is known. ffmpeg holds them in the decoder's pixel format (half
    /// of that for 8-bit 4:2:0, up to twice for 16-bit 4:4:4), under `addressSpaceBytes`.
    /// Above it, the two-pass path (ffprobe's frame pass, then a streaming decode) is taken.
    /// 384 MiB: 32 windows of 1280x720 take the one run (ffmpeg ~270 MiB), 1920x1080 the two
    /// passes (~120 MiB instead of ~530), so that the server (~835 MiB) and two decoding children
    /// stay under the deployments' 1536 MiB (docs/performance.md, "Faces and video").
    public var maxHeldBytes: Int = 384 << 20
    /// Bytes of a child's stderr kept for the error message.
    public var stderrBytes: Int = 8192

    public static let defaultFormats = ["mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm",
                                        "avi", "flv", "mpegts", "mpeg", "ogg"]

    public init() {}
}

/// Where ffprobe and ffmpeg are. `init()` looks them up on PATH (then /usr/bin).
public struct VideoTools: Sendable, Equatable {
    public var ffmpeg: String
    public var ffprobe: String

    public init(ffmpeg: String, ffprobe: String) {
        self.ffmpeg = ffmpeg
        self.ffprobe = ffprobe
    }

    public init() {
        self.init(ffmpeg: VideoTools.which("ffmpeg") ?? "/usr/bin/ffmpeg",
                  ffprobe: VideoTools.which("ffprobe") ?? "/usr/bin/ffprobe")
    }

    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin"] {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}

// glibc functions Swift's Glibc module does not import.
private typealias PrlimitFn = @convention(c) (pid_t, Int32, UnsafePointer<rlimit>?, UnsafeMutablePointer<rlimit>?) -> Int32
private typealias CloseFromFn = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
private let prlimitFn: PrlimitFn? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prlimit").map { unsafeBitCast($0, to: PrlimitFn.self) }
private typealias Pipe2Fn = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
private let pipe2Fn: Pipe2Fn = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pipe2")!, to: Pipe2Fn.self)
private func pipe2(_ fds: inout [Int32], _ flags: Int32) -> Int32 { fds.withUnsafeMutableBufferPointer { pipe2Fn($0.baseAddress, flags) } }
private let closeFromFn: CloseFromFn? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: CloseFromFn.self) }

/// How a child ended.
struct ChildExit {
    var status: Int32?        // exit status, when it exited
    var signal: Int32?        // terminating signal, when killed
    var stderr: String
    var killedByUs: Bool
}

/// One ffprobe/ffmpeg child: posix_spawn (no shell, argv array, minimal environment, own
/// process group, default signal dispositions, stdin /dev/null, every other fd closed except an
/// optional input fd as fd 3), rlimits set by prlimit(2) right after the spawn, stdout and stderr
/// as pipes. Always reaped; killed (its whole group) on timeout, cancellation or error.
final class ChildProcess {
    let pid: pid_t
    private let stdoutFD: Int32
    private let stderrFD: Int32
    private let lock = NSLock()
    private var reaped = false
    private var killed = false
    private var stderrData = Data()
    private var stderrDropped = 0
    private let limits: VideoLimits
    private var cancelID: Int?
    private let cancellation: VideoCancellation?
    private var budget: Double
    private var stdoutOpen = true
    private var stderrOpen = true

    /// The fd number the input is given as in the child (`file:/dev/fd/3`).
    static let inputFDNumber: Int32 = 3

    init(executable: String, arguments: [String], inputFD: Int32?, limits: VideoLimits,
         cancellation: VideoCancellation?) throws(VideoError) {
        self.limits = limits
        self.cancellation = cancellation
        self.budget = limits.timeoutSeconds
        if cancellation?.isCancelled == true { throw VideoError.cancelled }
        guard access(executable, X_OK) == 0 else {
            throw VideoError.toolUnavailable("\(executable) is not an executable file")
        }
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard pipe2(&outPipe, O_CLOEXEC) == 0 else { throw VideoError.toolUnavailable("pipe: \(String(cString: strerror(errno)))") }
        guard pipe2(&errPipe, O_CLOEXEC) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw VideoError.toolUnavailable("pipe: \(String(cString: strerror(errno)))")
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        if let fd = inputFD { posix_spawn_file_actions_adddup2(&actions, fd, ChildProcess.inputFDNumber) }
        // Nothing else of the server (sockets, files) leaks into the child.
        if let closeFrom = closeFromFn { _ = closeFrom(&actions, inputFD == nil ? 3 : 4) }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var noSignals = sigset_t(); sigemptyset(&noSignals)
        var defaults = sigset_t(); sigemptyset(&defaults)
        for s in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGXCPU, SIGXFSZ, SIGCHLD, SIGQUIT] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attr, &noSignals)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = [executable] + arguments
        let env = ["PATH=/usr/bin:/bin", "LC_ALL=C"]
        var cArgv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cEnv: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { for p in cArgv { free(p) }; for p in cEnv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attr, &cArgv, &cEnv)
        close(outPipe[1]); close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw VideoError.toolUnavailable("posix_spawn \(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
        stdoutFD = outPipe[0]
        stderrFD = errPipe[0]
        _ = fcntl(stdoutFD, F_SETFL, fcntl(stdoutFD, F_GETFL) | O_NONBLOCK)
        _ = fcntl(stderrFD, F_SETFL, fcntl(stderrFD, F_GETFL) | O_NONBLOCK)

        // Limits right after the spawn (glibc's posix_spawn returns once the child has exec'd).
        let cpu = rlim_t(max(1, limits.cpuSeconds))
        let limited = setLimit(Int32(RLIMIT_CPU.rawValue), rlimit(rlim_cur: cpu, rlim_max: cpu + 1))
            && setLimit(Int32(RLIMIT_AS.rawValue), rlimit(rlim_cur: rlim_t(limits.addressSpaceBytes), rlim_max: rlim_t(limits.addressSpaceBytes)))
            && setLimit(Int32(RLIMIT_FSIZE.rawValue), rlimit(rlim_cur: 0, rlim_max: 0))   // it writes no files
            && setLimit(Int32(RLIMIT_CORE.rawValue), rlimit(rlim_cur: 0, rlim_max: 0))
        // Without its limits the child must not run (deinit kills and reaps it).
        guard limited else { throw VideoError.toolUnavailable("prlimit(2) on the child failed") }

        if let cancellation {
            cancelID = cancellation.register { [weak self] in self?.kill() }
            if cancelID == nil { kill() }
        }
    }

    private func setLimit(_ resource: Int32, _ value: rlimit) -> Bool {
        var v = value
        return prlimitFn.map { $0(pid, resource, &v, nil) == 0 } ?? false
    }

    deinit {
        kill()
        _ = reap()
        close(stdoutFD)
        close(stderrFD)
    }

    /// SIGKILL to the child's process group, unless it has been reaped already.
    func kill() {
        lock.lock(); defer { lock.unlock() }
        if reaped { return }
        killed = true
        _ = Glibc.kill(-pid, SIGKILL)
        _ = Glibc.kill(pid, SIGKILL)
    }

    /// Reads stdout until EOF, handing each chunk to `consume`, draining stderr alongside (kept
    /// up to `stderrBytes`). Throws `timeout` when waiting on the child exceeds the budget
    /// (time spent inside `consume` is not counted), `cancelled` on cancellation; the child is
    /// then killed. Errors thrown by `consume` kill the child and propagate.
    /// With `stderrLine`, stderr is read as lines (each cut at `maxLine` bytes) handed to it, and
    /// only the lines it answers true for are kept for the error message; every line the child
    /// wrote before a stdout chunk has been handed over when `consume` gets that chunk.
    func readStdout(_ consume: (UnsafeRawBufferPointer) throws -> Void,
                    stderrLine: ((ArraySlice<UInt8>) throws -> Bool)? = nil, maxLine: Int = 4096) throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var line: [UInt8] = []
        var lineLength = 0
        func keep<C: Collection>(_ bytes: C) where C.Element == UInt8 {
            let n = max(0, min(bytes.count, limits.stderrBytes - stderrData.count))
            stderrData.append(contentsOf: bytes.prefix(n))
            stderrDropped += bytes.count - n
        }
        func endLine() throws {
            if try stderrLine!(line[...]) { keep(line); keep(CollectionOfOne(UInt8(ascii: "\n"))) }
            line.removeAll(keepingCapacity: true)
            lineLength = 0
        }
        var deadline = Date().addingTimeInterval(budget)
        defer { budget = max(0, deadline.timeIntervalSinceNow) }
        do {
            while stdoutOpen || stderrOpen {
                if cancellation?.isCancelled == true { throw VideoError.cancelled }
                let remaining = deadline.timeIntervalSinceNow
                if remaining <= 0 { throw VideoError.timeout(seconds: limits.timeoutSeconds) }
                var fds: [pollfd] = []
                if stdoutOpen { fds.append(pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)) }
                if stderrOpen { fds.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
                let ms = Int32(min(remaining, 0.1) * 1000) + 1
                let n = poll(&fds, nfds_t(fds.count), ms)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw VideoError.toolUnavailable("poll: \(String(cString: strerror(errno)))")
                }
                if n == 0 { continue }
                let outReady = fds.contains { $0.fd == stdoutFD && $0.revents != 0 }
                let errReady = fds.contains { $0.fd == stderrFD && $0.revents != 0 }
                // stderr first, and all of it before stdout is read when read as lines: what the
                // child wrote there before its stdout bytes is then handled before them.
                while stderrOpen && (errReady || (outReady && stderrLine != nil)) {
                    let got = buffer.withUnsafeMutableBytes { read(stderrFD, $0.baseAddress, $0.count) }
                    if got < 0 {
                        if errno == EINTR { continue }
                        if errno != EAGAIN { stderrOpen = false }
                        break
                    }
                    if got == 0 { stderrOpen = false; break }
                    if stderrLine != nil {
                        for byte in buffer[0..<got] {
                            if byte == UInt8(ascii: "\n") { try endLine() } else {
                                if lineLength < maxLine { line.append(byte) }
                                lineLength += 1
                            }
                        }
                    } else {
                        keep(buffer[0..<got])
                        break
                    }
                }
                if outReady {
                    let got = buffer.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress, $0.count) }
                    if got < 0 {
                        if errno != EAGAIN && errno != EINTR { stdoutOpen = false }
                    } else if got == 0 {
                        stdoutOpen = false
                    } else {
                        let start = Date()
                        try buffer.withUnsafeBytes { try consume(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
                        deadline = deadline.addingTimeInterval(Date().timeIntervalSince(start))
                    }
                }
            }
            if stderrLine != nil && !line.isEmpty { try endLine() }
            // Killed by a cancellation: its stdout ends early, which is not its answer.
            if cancellation?.isCancelled == true { throw VideoError.cancelled }
        } catch {
            kill()
            throw error
        }
    }

    /// Waits for the child to end (reaping it) and says how. Call after `readStdout`.
    func finish() -> ChildExit {
        let (status, signal) = reap()
        if let id = cancelID { cancellation?.unregister(id); cancelID = nil }
        var text = String(decoding: stderrData, as: UTF8.self)
        if stderrDropped > 0 { text += "… (\(stderrDropped) more bytes)" }
        lock.lock(); let byUs = killed; lock.unlock()
        return ChildExit(status: status, signal: signal, stderr: text.trimmingCharacters(in: .whitespacesAndNewlines), killedByUs: byUs)
    }

    private var exitStatus: (Int32?, Int32?) = (nil, nil)

    /// Waits without reaping (waitid WNOWAIT), then reaps under the lock, so that `kill` never
    /// signals a pid that may have been reused.
    private func reap() -> (Int32?, Int32?) {
        lock.lock()
        if reaped { lock.unlock(); return exitStatus }
        lock.unlock()
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        lock.lock(); defer { lock.unlock() }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaped = true
        // WIFEXITED / WTERMSIG by hand (macros are not imported).
        let sig = status & 0x7f
        exitStatus = sig == 0 ? ((status >> 8) & 0xff, nil) : (nil, sig)
        return exitStatus
    }
}
