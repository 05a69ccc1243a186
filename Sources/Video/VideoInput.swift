import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A video to probe and decode, held as an open read-only file descriptor that every child
/// reads as `file:/dev/fd/3` (its own open file description: offsets are not shared).
///
/// `init(data:)` writes the bytes to a private temporary file (mode 0600 in a fresh 0700
/// directory) and removes the file and the directory as soon as it is open, before any child
/// runs: nothing stays on disk, whatever happens next. The descriptor closes on deinit.
public final class VideoInput: @unchecked Sendable {
    let fd: Int32
    /// Size of the input in bytes (nil for a pipe or FIFO).
    public let byteCount: Int?

    /// The upload's bytes. Throws `tooLong` above `maxBytes`.
    public init(data: Data, maxBytes: Int = VideoLimits().maxBytes,
                temporaryDirectory: URL = FileManager.default.temporaryDirectory) throws(VideoError) {
        guard data.count <= maxBytes else {
            throw VideoError.tooLong("\(data.count) bytes, the limit is \(maxBytes)")
        }
        var template = Array(temporaryDirectory.appendingPathComponent("dfgaze-video.XXXXXX").path.utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw VideoError.toolUnavailable("mkdtemp in \(temporaryDirectory.path): \(String(cString: strerror(errno)))")
        }
        let dir = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let file = dir + "/input"
        let fd = open(file, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0o600)
        // Removed at once: the open descriptor is all that is left.
        defer { unlink(file); rmdir(dir) }
        guard fd >= 0 else {
            throw VideoError.toolUnavailable("temporary file: \(String(cString: strerror(errno)))")
        }
        var ok = true
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; ok = false; return }
                offset += n
            }
        }
        guard ok else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw VideoError.toolUnavailable("writing the temporary file: \(message)")
        }
        self.fd = fd
        self.byteCount = data.count
    }

    /// A file the caller owns (e.g. an upload already streamed to disk). Opened read-only
    /// here; regular files over `maxBytes` throw `tooLong`. A FIFO is accepted (tests of the
    /// never-ending input). Throws `corrupt` when it cannot be opened.
    public init(path: String, maxBytes: Int = VideoLimits().maxBytes) throws(VideoError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw VideoError.corrupt("cannot open \(path): \(String(cString: strerror(errno)))") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var st = stat()
        guard fstat(fd, &st) == 0 else { close(fd); throw VideoError.corrupt("cannot stat \(path)") }
        let kind = st.st_mode & S_IFMT
        if kind == S_IFREG {
            guard Int(st.st_size) <= maxBytes else {
                close(fd)
                throw VideoError.tooLong("\(st.st_size) bytes, the limit is \(maxBytes)")
            }
            byteCount = Int(st.st_size)
        } else if kind == S_IFIFO {
            byteCount = nil
        } else {
            close(fd)
            throw VideoError.corrupt("\(path) is not a regular file")
        }
        self.fd = fd
    }

    deinit { close(fd) }
}
