/// Incremental, strict HTTP/1.1 request parser (RFC 9112). Feed it bytes as they arrive; it returns
/// the events completed so far. No I/O inside, so it can be driven by a fuzzer directly.
public struct HTTPRequestParser: Sendable {
    public struct Limits: Sendable {
        /// Request line plus header fields (and, separately, the trailer section), in bytes.
        public var maxHeaderBytes: Int
        public var maxHeaderCount: Int
        public var maxBodyBytes: Int
        /// One chunk-size line including extensions.
        public var maxChunkLineBytes: Int
        /// A request's own body limit, decided from its head (method, path, headers) in place of
        /// `maxBodyBytes` (e.g. a larger one for a video upload). The server knows nothing of what
        /// the application does with the body; the application says how much it takes.
        public var bodyLimit: (@Sendable (_ method: HTTPMethod, _ path: String, _ headers: HTTPHeaders) -> Int)?

        public init(maxHeaderBytes: Int = 16 * 1024, maxHeaderCount: Int = 100,
                    maxBodyBytes: Int = 32 * 1024 * 1024, maxChunkLineBytes: Int = 4096) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaderCount = maxHeaderCount
            self.maxBodyBytes = maxBodyBytes
            self.maxChunkLineBytes = maxChunkLineBytes
            self.bodyLimit = nil
        }
    }

    private enum State: Sendable {
        case head
        case fixedBody(remaining: Int)
        case chunkSizeLine
        case chunkData(remaining: Int)
        case chunkDataEnd(seenCR: Bool)
        case trailers
        case failed(HTTPError)
    }

    public let limits: Limits
    private var state: State = .head
    private var line: [UInt8] = []
    private var sectionBytes = 0
    private var requestLine: RequestLine?
    private var fields: [(String, String)] = []
    private var bodyBytes = 0
    /// The body limit of the request being read (`Limits.bodyLimit`, else `maxBodyBytes`).
    private var maxBodyBytes: Int

    public init(limits: Limits = Limits()) {
        self.limits = limits
        maxBodyBytes = limits.maxBodyBytes
    }

    /// True when no byte of a next request has been consumed yet (between messages).
    public var isIdle: Bool {
        if case .head = state { return requestLine == nil && sectionBytes == 0 }
        return false
    }

    public mutating func feed(_ bytes: [UInt8]) throws(HTTPError) -> [ParsedEvent] {
        try feed(bytes[...])
    }

    public mutating func feed(_ bytes: ArraySlice<UInt8>) throws(HTTPError) -> [ParsedEvent] {
        if case .failed(let error) = state { throw error }
        var events: [ParsedEvent] = []
        var i = bytes.startIndex
        do throws(HTTPError) {
            while i < bytes.endIndex {
                switch state {
                case .head:
                    i = try consumeHeadByte(bytes[i], at: i, events: &events)
                case .fixedBody(let remaining):
                    let n = min(remaining, bytes.endIndex - i)
                    events.append(.body(Array(bytes[i..<i + n])))
                    i += n
                    if remaining == n { finishMessage(&events) } else { state = .fixedBody(remaining: remaining - n) }
                case .chunkSizeLine:
                    try consumeChunkSizeByte(bytes[i])
                    i += 1
                case .chunkData(let remaining):
                    let n = min(remaining, bytes.endIndex - i)
                    events.append(.body(Array(bytes[i..<i + n])))
                    i += n
                    state = remaining == n ? .chunkDataEnd(seenCR: false) : .chunkData(remaining: remaining - n)
                case .chunkDataEnd(let seenCR):
                    let expected: UInt8 = seenCR ? lf : cr
                    guard bytes[i] == expected else { throw HTTPError.badRequest("chunk data not followed by CRLF") }
                    state = seenCR ? .chunkSizeLine : .chunkDataEnd(seenCR: true)
                    i += 1
                case .trailers:
                    try consumeTrailerByte(bytes[i], events: &events)
                    i += 1
                case .failed(let error):
                    throw error
                }
            }
        } catch {
            state = .failed(error)
            throw error
        }
        return events
    }

    // MARK: Lines

    /// Appends `byte` to the current line; returns the completed line (without CRLF) at LF.
    private mutating func lineByte(_ byte: UInt8, limit: Int, tooLarge: HTTPError) throws(HTTPError) -> [UInt8]? {
        sectionBytes += 1
        guard sectionBytes <= limit else { throw tooLarge }
        guard byte == lf else {
            line.append(byte)
            return nil
        }
        guard line.last == cr else { throw HTTPError.badRequest("bare LF line ending") }
        line.removeLast()
        defer { line.removeAll(keepingCapacity: true) }
        guard !line.contains(cr) else { throw HTTPError.badRequest("bare CR in line") }
        return line
    }

    // MARK: Head

    private mutating func consumeHeadByte(_ byte: UInt8, at index: Int, events: inout [ParsedEvent]) throws(HTTPError) -> Int {
        let tooLarge: HTTPError = requestLine == nil ? .uriTooLong : .headersTooLarge
        guard let completed = try lineByte(byte, limit: limits.maxHeaderBytes, tooLarge: tooLarge) else { return index + 1 }
        if requestLine == nil {
            // RFC 9112 §2.2: empty lines before the request line are ignored.
            if !completed.isEmpty { requestLine = try Self.parseRequestLine(completed) }
        } else if completed.isEmpty {
            try finishHead(&events)
        } else {
            guard fields.count < limits.maxHeaderCount else { throw HTTPError.headersTooLarge }
            fields.append(try Self.parseField(completed))
        }
        return index + 1
    }

    /// The request line; an absolute-form target (RFC 9112 §3.2.2) comes back in origin form with
    /// its authority, which then replaces Host.
    static func parseRequestLine(_ line: [UInt8]) throws(HTTPError) -> RequestLine {
        let parts = line.split(separator: sp, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw HTTPError.badRequest("malformed request line") }
        let (method, target, version) = (parts[0], parts[1], parts[2])
        guard !method.isEmpty, method.allSatisfy(isTokenChar) else { throw HTTPError.badRequest("invalid method") }
        guard target.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") }) else {
            throw HTTPError.badRequest("invalid character in request target")
        }
        var origin = latin1(target)
        var authority: String?
        if target.first != UInt8(ascii: "/") {
            (authority, origin) = try absoluteForm(origin)
        }
        let v = Array(version)
        guard v.count == 8, v[0..<5] == Array("HTTP/".utf8)[...], v[6] == UInt8(ascii: "."),
              isDigit(v[5]), isDigit(v[7]) else { throw HTTPError.badRequest("malformed HTTP version") }
        let parsed = HTTPVersion(major: Int(v[5] - 0x30), minor: Int(v[7] - 0x30))
        guard parsed == .http11 || parsed == .http10 else { throw HTTPError.versionNotSupported }
        return RequestLine(method: HTTPMethod(latin1(method)), target: latin1(target), origin: origin, authority: authority, version: parsed)
    }

    struct RequestLine {
        var method: HTTPMethod
        /// As sent.
        var target: String
        /// The path and query.
        var origin: String
        /// Of an absolute-form target.
        var authority: String?
        var version: HTTPVersion
    }

    /// `http://authority/path?query` -> (authority, "/path?query"); the only other form a server
    /// must accept besides origin-form (authority- and asterisk-form are for CONNECT and OPTIONS).
    static func absoluteForm(_ target: String) throws(HTTPError) -> (authority: String, origin: String) {
        let lowered = target.lowercased()
        guard let scheme = ["http://", "https://"].first(where: { lowered.hasPrefix($0) }) else {
            throw HTTPError.badRequest("request target must be origin-form or absolute-form")
        }
        let rest = target.dropFirst(scheme.count)
        let end = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = String(rest[..<end])
        guard !authority.isEmpty, isValidHost(authority) else { throw HTTPError.badRequest("invalid authority in request target") }
        let origin = rest[end...]
        return (authority, origin.first == "/" ? String(origin) : "/" + origin)
    }

    /// RFC 9110 §7.2 `Host = uri-host [ ":" port ]` (RFC 3986 host: IP-literal, IPv4 or reg-name).
    static func isValidHost(_ value: String) -> Bool {
        var bytes = Array(value.utf8)[...]
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")), close > bytes.startIndex + 1 else { return false }
            let literal = bytes[(bytes.startIndex + 1)..<close]
            guard literal.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else { return false }
            bytes = bytes[(close + 1)...]
        } else {
            let host = bytes.prefix { $0 != UInt8(ascii: ":") }
            var i = host.startIndex
            while i < host.endIndex {
                if host[i] == UInt8(ascii: "%") {
                    guard i + 2 < host.endIndex, isHexDigit(host[i + 1]), isHexDigit(host[i + 2]) else { return false }
                    i += 3
                    continue
                }
                guard isRegNameChar(host[i]) else { return false }
                i += 1
            }
            bytes = bytes[host.endIndex...]
        }
        guard let colon = bytes.first else { return true }
        return colon == UInt8(ascii: ":") && bytes.dropFirst().allSatisfy(isDigit)
    }

    /// unreserved / sub-delims (RFC 3986 §2).
    static func isRegNameChar(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "!"), UInt8(ascii: "$"),
             UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"),
             UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="): true
        default: false
        }
    }

    static func parseField(_ line: [UInt8]) throws(HTTPError) -> (String, String) {
        guard line.first != sp, line.first != htab else { throw HTTPError.badRequest("obsolete line folding") }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw HTTPError.badRequest("header line without colon") }
        let name = line[..<colon]
        guard !name.isEmpty else { throw HTTPError.badRequest("empty header name") }
        guard name.last != sp, name.last != htab else { throw HTTPError.badRequest("whitespace before colon") }
        guard name.allSatisfy(isTokenChar) else { throw HTTPError.badRequest("invalid header name") }
        var value = line[(colon + 1)...]
        while let first = value.first, first == sp || first == htab { value.removeFirst() }
        while let last = value.last, last == sp || last == htab { value.removeLast() }
        guard value.allSatisfy({ $0 == htab || $0 >= 0x20 && $0 != 0x7F }) else {
            throw HTTPError.badRequest("control character in header value")
        }
        return (latin1(name), latin1(value))
    }

    private mutating func finishHead(_ events: inout [ParsedEvent]) throws(HTTPError) {
        guard let requestLine else { return }
        var headers = HTTPHeaders(fields)
        let target = requestLine.origin
        let queryStart = target.firstIndex(of: "?")
        let path = String(target[..<(queryStart ?? target.endIndex)])
        maxBodyBytes = limits.bodyLimit?(requestLine.method, path, headers) ?? limits.maxBodyBytes
        var bodyLimits = limits
        bodyLimits.maxBodyBytes = maxBodyBytes
        let framing = try Self.bodyFraming(headers, version: requestLine.version, limits: bodyLimits)
        try Self.validateHost(headers, version: requestLine.version)
        if let authority = requestLine.authority { headers.set("Host", authority) }
        let expectsContinue = try Self.expectation(headers, version: requestLine.version)
        // RFC 9110 §9.3.3: a POST's content is its point; no framing means we cannot know where it ends.
        if framing == .none && [HTTPMethod.POST, .PUT, .PATCH].contains(requestLine.method) { throw HTTPError.lengthRequired }
        let head = HTTPRequestHead(
            method: requestLine.method, target: requestLine.target,
            path: path,
            query: queryStart.map { String(target[target.index(after: $0)...]) },
            version: requestLine.version, headers: headers, framing: framing,
            keepAlive: Self.keepAlive(headers, version: requestLine.version),
            expectsContinue: expectsContinue)
        events.append(.head(head))
        self.requestLine = nil
        fields = []
        sectionBytes = 0
        bodyBytes = 0
        switch framing {
        case .none, .contentLength(0): finishMessage(&events)
        case .contentLength(let n): state = .fixedBody(remaining: n)
        case .chunked: state = .chunkSizeLine
        }
    }

    private mutating func finishMessage(_ events: inout [ParsedEvent]) {
        events.append(.end)
        state = .head
        sectionBytes = 0
        line.removeAll(keepingCapacity: true)
    }

    /// RFC 9112 §6.1–6.3 with the strict choices that close request smuggling doors.
    static func bodyFraming(_ headers: HTTPHeaders, version: HTTPVersion, limits: Limits) throws(HTTPError) -> BodyFraming {
        let lengths = headers.values(for: "Content-Length")
        let hasTransferEncoding = headers.contains("Transfer-Encoding")
        if hasTransferEncoding {
            guard lengths.isEmpty else { throw HTTPError.badRequest("both Transfer-Encoding and Content-Length") }
            guard version == .http11 else { throw HTTPError.badRequest("Transfer-Encoding in an HTTP/1.0 request") }
            let codings = headers.tokens(for: "Transfer-Encoding")
            guard codings.last == "chunked" else { throw HTTPError.badRequest("chunked must be the final transfer coding") }
            guard codings.count == 1 else {
                if codings.dropLast().contains("chunked") { throw HTTPError.badRequest("chunked applied more than once") }
                throw HTTPError.notImplemented("unsupported transfer coding")
            }
            return .chunked
        }
        guard !lengths.isEmpty else { return .none }
        guard lengths.count == 1 else { throw HTTPError.badRequest("more than one Content-Length") }
        let digits = Array(lengths[0].utf8)
        guard !digits.isEmpty, digits.allSatisfy(isDigit) else { throw HTTPError.badRequest("invalid Content-Length") }
        let significant = digits.drop { $0 == UInt8(ascii: "0") }
        guard significant.count <= 18 else { throw HTTPError.bodyTooLarge }
        let length = significant.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        guard length <= limits.maxBodyBytes else { throw HTTPError.bodyTooLarge }
        return .contentLength(length)
    }

    static func validateHost(_ headers: HTTPHeaders, version: HTTPVersion) throws(HTTPError) {
        let hosts = headers.values(for: "Host")
        if version == .http11 && hosts.count != 1 || hosts.count > 1 {
            throw HTTPError.badRequest(hosts.isEmpty ? "missing Host header" : "more than one Host header")
        }
        // An empty Host is allowed (RFC 9110 §7.2: the target had no authority).
        if let host = hosts.first, !host.isEmpty, !isValidHost(host) { throw HTTPError.badRequest("invalid Host header") }
    }

    static func expectation(_ headers: HTTPHeaders, version: HTTPVersion) throws(HTTPError) -> Bool {
        let expectations = headers.tokens(for: "Expect")
        guard !expectations.isEmpty else { return false }
        guard expectations == ["100-continue"] else { throw HTTPError.expectationFailed }
        return version == .http11
    }

    static func keepAlive(_ headers: HTTPHeaders, version: HTTPVersion) -> Bool {
        let options = headers.tokens(for: "Connection")
        if options.contains("close") { return false }
        return version == .http11 || options.contains("keep-alive")
    }

    // MARK: Chunked body

    private mutating func consumeChunkSizeByte(_ byte: UInt8) throws(HTTPError) {
        let tooLong = HTTPError.badRequest("chunk size line too long")
        guard let completed = try lineByte(byte, limit: limits.maxChunkLineBytes, tooLarge: tooLong) else { return }
        sectionBytes = 0
        let hex = completed.prefix(while: isHexDigit)
        guard !hex.isEmpty else { throw HTTPError.badRequest("invalid chunk size") }
        let extensions = completed[hex.endIndex...]
        // Extensions are tolerated and ignored, but must start with ';' (after optional whitespace).
        let afterSpace = extensions.drop { $0 == sp || $0 == htab }
        guard afterSpace.isEmpty || afterSpace.first == UInt8(ascii: ";") else { throw HTTPError.badRequest("invalid chunk size") }
        guard extensions.allSatisfy({ $0 == htab || $0 >= 0x20 && $0 != 0x7F }) else {
            throw HTTPError.badRequest("control character in chunk extension")
        }
        let significant = hex.drop { $0 == UInt8(ascii: "0") }
        guard significant.count <= 15 else { throw HTTPError.badRequest("chunk size overflow") }
        let size = significant.reduce(0) { $0 * 16 + hexValue($1) }
        guard size <= maxBodyBytes - bodyBytes else { throw HTTPError.bodyTooLarge }
        bodyBytes += size
        state = size == 0 ? .trailers : .chunkData(remaining: size)
    }

    private mutating func consumeTrailerByte(_ byte: UInt8, events: inout [ParsedEvent]) throws(HTTPError) {
        guard let completed = try lineByte(byte, limit: limits.maxHeaderBytes, tooLarge: .headersTooLarge) else { return }
        if completed.isEmpty {
            finishMessage(&events)
        } else {
            _ = try Self.parseField(completed)  // validated, then ignored
        }
    }
}

/// How the body of a request is delimited.
public enum BodyFraming: Sendable, Equatable {
    case none
    case contentLength(Int)
    case chunked
}

/// The request line and header section of one request.
public struct HTTPRequestHead: Sendable {
    public var method: HTTPMethod
    public var target: String
    public var path: String
    public var query: String?
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var framing: BodyFraming
    public var keepAlive: Bool
    public var expectsContinue: Bool
}

public enum ParsedEvent: Sendable {
    case head(HTTPRequestHead)
    case body([UInt8])
    case end
}

/// A request the server refuses, typed: `status` and a stable `code`. The HTTP layer never
/// renders it itself; whoever owns the API's error format does (`HTTPServer`'s `renderError`).
public struct HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status) \(code): \(message)" }

    public static func badRequest(_ message: String) -> HTTPError { .init(status: 400, code: "bad_request", message: message) }
    public static func notImplemented(_ message: String) -> HTTPError { .init(status: 501, code: "not_implemented", message: message) }
    public static func notFound(_ path: String) -> HTTPError { .init(status: 404, code: "not_found", message: "no route for \(path)") }
    public static func methodNotAllowed(_ method: HTTPMethod, _ path: String) -> HTTPError {
        .init(status: 405, code: "method_not_allowed", message: "method \(method) not allowed on \(path)")
    }
    public static let uriTooLong = HTTPError(status: 414, code: "uri_too_long", message: "request line too long")
    public static let headersTooLarge = HTTPError(status: 431, code: "headers_too_large", message: "request header section too large")
    public static let bodyTooLarge = HTTPError(status: 413, code: "body_too_large", message: "request body too large")
    public static let lengthRequired = HTTPError(status: 411, code: "length_required", message: "a body-bearing request needs Content-Length or chunked framing")
    public static let versionNotSupported = HTTPError(status: 505, code: "http_version_not_supported", message: "only HTTP/1.0 and HTTP/1.1 are supported")
    public static let expectationFailed = HTTPError(status: 417, code: "expectation_failed", message: "only Expect: 100-continue is supported")
    public static let requestTimeout = HTTPError(status: 408, code: "request_timeout", message: "request not received in time")
    public static let tooManyConnections = HTTPError(status: 503, code: "service_unavailable", message: "too many open connections")
    public static let internalError = HTTPError(status: 500, code: "internal_error", message: "internal server error")

    /// Every error the HTTP layer raises by itself, one of each code (for the API's list of codes).
    public static let all: [HTTPError] = [
        .badRequest(""), .notImplemented(""), .notFound(""), .methodNotAllowed(.GET, ""), .uriTooLong, .headersTooLarge,
        .bodyTooLarge, .lengthRequired, .versionNotSupported, .expectationFailed, .requestTimeout, .tooManyConnections,
        .internalError, MultipartError("").httpError,
    ]

    /// The server's own rendering when no API format is given: `code: message` as plain text.
    public static let plainText: @Sendable (HTTPError, _ requestID: String) -> HTTPResponse = { error, _ in
        .text("\(error.code): \(error.message)\n", status: error.status)
    }
}

// MARK: Byte classes (RFC 9110 §5.6.2)

let cr: UInt8 = 0x0D
let lf: UInt8 = 0x0A
let sp: UInt8 = 0x20
let htab: UInt8 = 0x09

func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

func isHexDigit(_ b: UInt8) -> Bool { isDigit(b) || (b | 0x20) >= 0x61 && (b | 0x20) <= 0x66 }

func hexValue(_ b: UInt8) -> Int { isDigit(b) ? Int(b - 0x30) : Int((b | 0x20) - 0x61 + 10) }

func isTokenChar(_ b: UInt8) -> Bool {
    switch b {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
         UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
         UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
    default: false
    }
}

/// Header octets are ISO-8859-1 (RFC 9110 §5.5); each byte maps to the same code point.
func latin1<C: Collection<UInt8>>(_ bytes: C) -> String {
    var scalars = String.UnicodeScalarView()
    for b in bytes { scalars.append(Unicode.Scalar(b)) }
    return String(scalars)
}
