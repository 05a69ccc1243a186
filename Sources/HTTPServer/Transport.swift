import COpenSSL
import Foundation

/// A byte stream under the HTTP connection loop: plain TCP or TLS over a non-blocking socket.
/// Waits use poll() against a deadline; the optional wake descriptor interrupts idle waits.
protocol ByteTransport: AnyObject {
    /// Bytes read into `buffer`; 0 at end of stream.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline, wake: Int32?) throws(TransportError) -> Int
    func write(_ bytes: [UInt8], deadline: Deadline) throws(TransportError)
    /// Best-effort orderly close of the session (not of the descriptor, the connection owns it).
    func shutdown()
}

enum TransportError: Error {
    case timedOut
    case woken
    case closed
    case failed(String)
}

/// A monotonic point in time.
struct Deadline: Comparable {
    var uptimeNanoseconds: UInt64

    static func now() -> Deadline { Deadline(uptimeNanoseconds: DispatchTime.now().uptimeNanoseconds) }
    static func after(_ seconds: TimeInterval) -> Deadline {
        Deadline(uptimeNanoseconds: DispatchTime.now().uptimeNanoseconds + UInt64(max(0, seconds) * 1e9))
    }
    static func < (a: Deadline, b: Deadline) -> Bool { a.uptimeNanoseconds < b.uptimeNanoseconds }

    /// Milliseconds left, for poll(); 0 once passed.
    var remainingMilliseconds: Int32 {
        let now = DispatchTime.now().uptimeNanoseconds
        guard uptimeNanoseconds > now else { return 0 }
        return Int32(clamping: (uptimeNanoseconds - now + 999_999) / 1_000_000)
    }
}

/// Waits until `fd` is ready for `events`, the wake descriptor fires, or the deadline passes.
func waitForSocket(_ fd: Int32, events: Int16, deadline: Deadline, wake: Int32?) throws(TransportError) {
    while true {
        var fds = [pollfd(fd: fd, events: events, revents: 0)]
        if let wake { fds.append(pollfd(fd: wake, events: Int16(POLLIN), revents: 0)) }
        let timeout = deadline.remainingMilliseconds
        let ready = poll(&fds, nfds_t(fds.count), timeout)
        if ready < 0 {
            if errno == EINTR { continue }
            throw .failed("poll: \(String(cString: strerror(errno)))")
        }
        if fds[0].revents != 0 { return }  // ready, hung up or errored: the next syscall tells which
        if fds.count > 1, fds[1].revents != 0 { throw .woken }
        if ready == 0 && timeout == 0 || deadline.remainingMilliseconds == 0 { throw .timedOut }
    }
}

final class PlainTransport: ByteTransport {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }

    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline, wake: Int32?) throws(TransportError) -> Int {
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n >= 0 { return n }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: try waitForSocket(fd, events: Int16(POLLIN), deadline: deadline, wake: wake)
            default: throw .closed
            }
        }
    }

    func write(_ bytes: [UInt8], deadline: Deadline) throws(TransportError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n >= 0 { offset += n; continue }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: try waitForSocket(fd, events: Int16(POLLOUT), deadline: deadline, wake: nil)
            default: throw .closed
            }
        }
    }

    func shutdown() {}
}
