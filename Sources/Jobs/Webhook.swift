import COpenSSL
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A callback URL that passed `WebhookURL.validate`: where the webhook goes.
public struct WebhookTarget: Equatable, Sendable {
    /// As written in the URL, lowercased; IPv6 literals without their brackets.
    public var host: String
    public var port: Int
    /// Path and query as written ("/" when the URL has none).
    public var pathAndQuery: String
    /// The `Host` header value (brackets kept for IPv6).
    public var hostHeader: String
    public var isIPv6Literal: Bool
    /// https://: the request goes through a verified TLS client session.
    public var isHTTPS: Bool = false
}

/// Why a callback URL is refused (the HTTP layer answers 400 `bad_callback_url` with the message).
public enum CallbackURLError: Error, Equatable, CustomStringConvertible {
    case tooLong
    case malformed(String)
    case schemeNotAllowed
    case userinfoNotAllowed
    case hostNotAllowed(String)

    public var description: String {
        switch self {
        case .tooLong: return "callback_url is longer than 2048 characters"
        case .malformed(let why): return "callback_url is malformed: \(why)"
        case .schemeNotAllowed: return "callback_url must be an http:// or https:// URL"
        case .userinfoNotAllowed: return "callback_url must not contain user information (user@ or user:password@)"
        case .hostNotAllowed(let host): return "callback_url host '\(host)' is not in --webhook-allow"
        }
    }
}

public enum WebhookURL {
    /// Parses the `--webhook-allow` list: comma-separated host names or IP literals (IPv6 with or
    /// without brackets), lowercased, compared as written.
    public static func parseAllowList(_ text: String) -> Set<String> {
        Set(text.split(separator: ",").map { entry -> String in
            var s = entry.trimmingCharacters(in: .whitespaces).lowercased()
            if s.hasPrefix("[") && s.hasSuffix("]") { s = String(s.dropFirst().dropLast()) }
            return s
        }.filter { !$0.isEmpty })
    }

    /// Checks a callback URL without any network access: `http(s)://host[:port][/path][?query]`, ASCII
    /// with no spaces or control characters, at most 2048 characters, no user information, no
    /// fragment; host a name (letters, digits, '-' and '.'), an IPv4 literal, or a bracketed IPv6
    /// literal (no zone id); and the host, as written (lowercased), in `allowedHosts`. Nothing is
    /// resolved, so "127.1" or "0x7f.0.0.1" only pass if written so in the allow list (and names are
    /// looked up only once allowed). The default port is 80 for http and 443 for https.
    public static func validate(_ url: String, allowedHosts: Set<String>) -> Result<WebhookTarget, CallbackURLError> {
        let bytes = Array(url.utf8)
        guard bytes.count <= 2048 else { return .failure(.tooLong) }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            return .failure(.malformed("only printable ASCII without spaces"))
        }
        guard let schemeEnd = url.range(of: "://") else { return .failure(.malformed("no scheme")) }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return .failure(.schemeNotAllowed) }
        let https = scheme == "https"
        let defaultPort = https ? 443 : 80
        let rest = url[schemeEnd.upperBound...]
        if rest.contains("#") { return .failure(.malformed("fragments are not allowed")) }
        if rest.contains("\\") { return .failure(.malformed("backslashes are not allowed")) }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var pathAndQuery = String(rest[authorityEnd...])
        if pathAndQuery.hasPrefix("?") { pathAndQuery = "/" + pathAndQuery }
        if pathAndQuery.isEmpty { pathAndQuery = "/" }
        if authority.contains("@") { return .failure(.userinfoNotAllowed) }
        if authority.isEmpty { return .failure(.malformed("no host")) }

        var host: String
        var portText: Substring?
        var ipv6 = false
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return .failure(.malformed("unclosed IPv6 literal")) }
            host = String(authority[authority.index(after: authority.startIndex)..<close]).lowercased()
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return .failure(.malformed("junk after the IPv6 literal")) }
                portText = after.dropFirst()
            }
            var address = in6_addr()
            guard !host.contains("%"), inet_pton(AF_INET6, host, &address) == 1 else {
                return .failure(.malformed("'\(host)' is not an IPv6 address"))
            }
            ipv6 = true
        } else {
            if let colon = authority.firstIndex(of: ":") {
                host = String(authority[..<colon]).lowercased()
                portText = authority[authority.index(after: colon)...]
            } else {
                host = String(authority).lowercased()
            }
            let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-.")
            guard !host.isEmpty, host.allSatisfy({ allowed.contains($0) }) else {
                return .failure(.malformed("the host must be a name, an IPv4 address or a bracketed IPv6 address"))
            }
        }
        var port = defaultPort
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy(\.isASCIIDigit), let p = Int(portText), (1...65535).contains(p) else {
                return .failure(.malformed("bad port"))
            }
            port = p
        }
        guard allowedHosts.contains(host) else { return .failure(.hostNotAllowed(host)) }
        let hostHeader = (ipv6 ? "[\(host)]" : host) + (port == defaultPort ? "" : ":\(port)")
        return .success(WebhookTarget(host: host, port: port, pathAndQuery: pathAndQuery, hostHeader: hostHeader, isIPv6Literal: ipv6, isHTTPS: https))
    }
}

private extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

public enum WebhookSignature {
    /// `sha256=<hex HMAC-SHA256 of body with secret>` (the X-DFGaze-Signature header).
    public static func header(body: Data, secret: String) -> String {
        "sha256=" + hmacSHA256(key: Array(secret.utf8), data: body).map { String(format: "%02x", $0) }.joined()
    }

    static func hmacSHA256(key: [UInt8], data: Data) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        key.withUnsafeBufferPointer { k in
            data.withUnsafeBytes { d in
                _ = HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), d.bindMemory(to: UInt8.self).baseAddress, d.count, &out, &length)
            }
        }
        return Array(out.prefix(Int(length)))
    }
}

/// A one-request HTTP/1.1 client on POSIX sockets: connect with a timeout, (for https) a verified
/// TLS client session, send, read the status line with a timeout, close. It never follows
/// redirects (a 3xx is just a status) and resolves only the target's host (which
/// `WebhookURL.validate` allowed).
enum OutboundHTTP {
    struct Failure: Error { var message: String }

    /// `caFile`: PEM certificates trusted for https besides the system store (`--webhook-ca-file`).
    static func post(_ target: WebhookTarget, headers: [(String, String)], body: Data, timeout: Double, caFile: String? = nil) throws -> Int {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = target.isIPv6Literal ? AF_INET6 : AF_UNSPEC
        if target.isIPv6Literal || target.host.allSatisfy({ $0.isNumber || $0 == "." }) {
            hints.ai_flags = AI_NUMERICHOST
        }
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(target.host, String(target.port), &hints, &list)
        guard rc == 0, let first = list else { throw Failure(message: "cannot resolve \(target.host)") }
        defer { freeaddrinfo(list) }
        var lastError = "cannot connect"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let ai = entry {
            entry = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if fd < 0 { continue }
            defer { close(fd) }
            do {
                try connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen, timeout: timeout)
            } catch let failure as Failure {
                lastError = failure.message
                continue
            }
            if target.isHTTPS {
                let session = try TLSClientSession(fd: fd, target: target, caFile: caFile)
                return try exchange(target: target, headers: headers, body: body, timeout: timeout,
                                    send: session.send, receive: session.receive)
            }
            return try exchange(target: target, headers: headers, body: body, timeout: timeout,
                                send: { try plainSend(fd, $0) }, receive: { try plainReceive(fd, $0) })
        }
        throw Failure(message: lastError)
    }

    private static func connect(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>, _ length: socklen_t, timeout: Double) throws {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        if Glibc.connect(fd, address, length) != 0 {
            guard errno == EINPROGRESS else { throw Failure(message: "connect: \(String(cString: strerror(errno)))") }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&p, 1, Int32(timeout * 1000))
            guard ready == 1 else { throw Failure(message: "connect timed out") }
            var error: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size)
            guard error == 0 else { throw Failure(message: "connect: \(String(cString: strerror(error)))") }
        }
        _ = fcntl(fd, F_SETFL, flags)
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes all bytes (the socket's SO_SNDTIMEO bounds each write).
    private static func plainSend(_ fd: Int32, _ raw: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < raw.count {
            let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            guard n > 0 else { throw Failure(message: n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? "send timed out" : "send failed") }
            offset += n
        }
    }

    /// Reads some bytes; 0 at the end of the answer (SO_RCVTIMEO bounds the wait).
    private static func plainReceive(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = recv(fd, buffer.baseAddress, buffer.count, 0)
        if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { throw Failure(message: "response timed out") }
        return max(n, 0)
    }

    private static func exchange(target: WebhookTarget, headers: [(String, String)], body: Data, timeout: Double,
                                 send: (UnsafeRawBufferPointer) throws -> Void,
                                 receive: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> Int {
        var head = "POST \(target.pathAndQuery) HTTP/1.1\r\nHost: \(target.hostHeader)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        var request = Data(head.utf8)
        request.append(body)
        try request.withUnsafeBytes { try send($0) }
        // Only the status line matters: "HTTP/1.1 200 OK\r\n".
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 1024)
        let deadline = Date().addingTimeInterval(timeout)
        while !response.contains(UInt8(ascii: "\n")) && response.count < 8192 {
            guard Date() < deadline else { throw Failure(message: "response timed out") }
            let n = try buffer.withUnsafeMutableBytes { try receive($0) }
            guard n > 0 else { break }
            response += buffer.prefix(n)
        }
        let line = String(decoding: response.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...599).contains(status) else {
            throw Failure(message: "no HTTP status line in the answer")
        }
        return status
    }
}
