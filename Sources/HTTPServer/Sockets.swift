import Foundation

public enum HTTPServerError: Error, CustomStringConvertible {
    case socket(String)
    case tls(String)
    case state(String)

    public var description: String {
        switch self {
        case .socket(let m): "socket: \(m)"
        case .tls(let m): "tls: \(m)"
        case .state(let m): m
        }
    }
}

func errnoText() -> String { String(cString: strerror(errno)) }

/// A bound, listening, non-blocking TCP socket on a numeric address (dual-stack for "::").
func makeListeningSocket(host: String, port: Int, backlog: Int32) throws -> Int32 {
    var hints = addrinfo()
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo(host, String(port), &hints, &list)
    guard status == 0, let info = list else {
        throw HTTPServerError.socket("cannot use address \(host):\(port): \(String(cString: gai_strerror(status)))")
    }
    defer { freeaddrinfo(list) }
    let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue), 0)
    guard fd >= 0 else { throw HTTPServerError.socket("socket: \(errnoText())") }
    var on: Int32 = 1
    var off: Int32 = 0
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
    if info.pointee.ai_family == AF_INET6 {
        setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, socklen_t(MemoryLayout<Int32>.size))
    }
    guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
        let message = errnoText()
        close(fd)
        throw HTTPServerError.socket("bind \(host):\(port): \(message)")
    }
    guard listen(fd, backlog) == 0 else {
        let message = errnoText()
        close(fd)
        throw HTTPServerError.socket("listen: \(message)")
    }
    return fd
}

/// The local port a socket is bound to.
func boundPort(_ fd: Int32) -> Int {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let ok = withUnsafeMutablePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard ok == 0 else { return 0 }
    return Int(describeAddress(storage).port)
}

/// Numeric host and port of a socket address.
func describeAddress(_ storage: sockaddr_storage) -> (host: String, port: UInt16) {
    var copy = storage
    var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
    return withUnsafePointer(to: &copy) { pointer in
        switch Int32(storage.ss_family) {
        case AF_INET:
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var address = sin.pointee.sin_addr
                inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
                return (String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), UInt16(bigEndian: sin.pointee.sin_port))
            }
        case AF_INET6:
            return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                var address = sin6.pointee.sin6_addr
                inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
                return (String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), UInt16(bigEndian: sin6.pointee.sin6_port))
            }
        default:
            return ("unknown", 0)
        }
    }
}

/// "ip:port", or "[ip]:port" for IPv6.
func formatAddress(_ storage: sockaddr_storage) -> String {
    let (host, port) = describeAddress(storage)
    return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
}

/// RFC 9110 §5.6.7 IMF-fixdate of now, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
func httpDate() -> String {
    var now = time(nil)
    var parts = tm()
    gmtime_r(&now, &parts)
    let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(days[Int(parts.tm_wday) % 7]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon) % 12]) \(parts.tm_year + 1900) "
        + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
}
