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

        public init(maxHeaderBytes: Int = 16 * 1024, maxHeaderCount: Int = 100,
                    maxBodyBytes: Int = 32 * 1024 * 1024, maxChunkLineBytes: Int = 4096) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaderCount = maxHeaderCount
            self.maxBodyBytes = maxBodyBytes
            self.maxChunkLineBytes = maxChunkLineBytes
        }
    }

    private enum State: Sendable {
        case head
        case fixedBody(remaining: Int)
        case chunkSizeLine
        case chunkData(remaining: Int)
        case chunkDataEnd(seenCR: Bool)
        case trailers
        case failed(HTTPParseError)
    }

    public let limits: Limits
    private var state: State = .head
    private var line: [UInt8] = []
    private var sectionBytes = 0
    private var requestLine: (method: HTTPMethod, target: String, version: HTTPVersion)?
    private var fields: [(String, String)] = []
    private var bodyBytes = 0

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// True when no byte of a next request has been consumed yet (between messages).
    public var isIdle: Bool {
        if case .head = state { return requestLine == nil && sectionBytes == 0 }
        return false
    }

    public mutating func feed(_ bytes: [UInt8]) throws(HTTPParseError) -> [ParsedEvent] {
        try feed(bytes[...])
    }

    public mutating func feed(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> [ParsedEvent] {
        if case .failed(let error) = state { throw error }
        var events: [ParsedEvent] = []
        var i = bytes.startIndex
        do throws(HTTPParseError) {
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
                    guard bytes[i] == expected else { throw HTTPParseError.badRequest("chunk data not followed by CRLF") }
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
    private mutating func lineByte(_ byte: UInt8, limit: Int, tooLarge: HTTPParseError) throws(HTTPParseError) -> [UInt8]? {
        sectionBytes += 1
        guard sectionBytes <= limit else { throw tooLarge }
        guard byte == lf else {
            line.append(byte)
            return nil
        }
        guard line.last == cr else { throw HTTPParseError.badRequest("bare LF line ending") }
        line.removeLast()
        defer { line.removeAll(keepingCapacity: true) }
        guard !line.contains(cr) else { throw HTTPParseError.badRequest("bare CR in line") }
        return line
    }

    // MARK: Head

    private mutating func consumeHeadByte(_ byte: UInt8, at index: Int, events: inout [ParsedEvent]) throws(HTTPParseError) -> Int {
        let tooLarge: HTTPParseError = requestLine == nil ? .uriTooLong : .headersTooLarge
        guard let completed = try lineByte(byte, limit: limits.maxHeaderBytes, tooLarge: tooLarge) else { return index + 1 }
        if requestLine == nil {
            // RFC 9112 §2.2: empty lines before the request line are ignored.
            if !completed.isEmpty { requestLine = try Self.parseRequestLine(completed) }
        } else if completed.isEmpty {
            try finishHead(&events)
        } else {
            guard fields.count < limits.maxHeaderCount else { throw HTTPParseError.headersTooLarge }
            fields.append(try Self.parseField(completed))
        }
        return index + 1
    }

    static func parseRequestLine(_ line: [UInt8]) throws(HTTPParseError) -> (method: HTTPMethod, target: String, version: HTTPVersion) {
        let parts = line.split(separator: sp, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw HTTPParseError.badRequest("malformed request line") }
        let (method, target, version) = (parts[0], parts[1], parts[2])
        guard !method.isEmpty, method.allSatisfy(isTokenChar) else { throw HTTPParseError.badRequest("invalid method") }
        guard target.first == UInt8(ascii: "/") else { throw HTTPParseError.badRequest("request target must be origin-form") }
        guard target.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") }) else {
            throw HTTPParseError.badRequest("invalid character in request target")
        }
        let v = Array(version)
        guard v.count == 8, v[0..<5] == Array("HTTP/".utf8)[...], v[6] == UInt8(ascii: "."),
              isDigit(v[5]), isDigit(v[7]) else { throw HTTPParseError.badRequest("malformed HTTP version") }
        let parsed = HTTPVersion(major: Int(v[5] - 0x30), minor: Int(v[7] - 0x30))
        guard parsed == .http11 || parsed == .http10 else { throw HTTPParseError.versionNotSupported }
        return (HTTPMethod(latin1(method)), latin1(target), parsed)
    }

    static func parseField(_ line: [UInt8]) throws(HTTPParseError) -> (String, String) {
        guard line.first != sp, line.first != htab else { throw HTTPParseError.badRequest("obsolete line folding") }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw HTTPParseError.badRequest("header line without colon") }
        let name = line[..<colon]
        guard !name.isEmpty else { throw HTTPParseError.badRequest("empty header name") }
        guard name.last != sp, name.last != htab else { throw HTTPParseError.badRequest("whitespace before colon") }
        guard name.allSatisfy(isTokenChar) else { throw HTTPParseError.badRequest("invalid header name") }
        var value = line[(colon + 1)...]
        while let first = value.first, first == sp || first == htab { value.removeFirst() }
        while let last = value.last, last == sp || last == htab { value.removeLast() }
        guard value.allSatisfy({ $0 == htab || $0 >= 0x20 && $0 != 0x7F }) else {
            throw HTTPParseError.badRequest("control character in header value")
        }
        return (latin1(name), latin1(value))
    }

    private mutating func finishHead(_ events: inout [ParsedEvent]) throws(HTTPParseError) {
        guard let requestLine else { return }
        let headers = HTTPHeaders(fields)
        let framing = try Self.bodyFraming(headers, version: requestLine.version, limits: limits)
        try Self.validateHost(headers, version: requestLine.version)
        let expectsContinue = try Self.expectation(headers, version: requestLine.version)
        let target = requestLine.target
        let queryStart = target.firstIndex(of: "?")
        let head = HTTPRequestHead(
            method: requestLine.method, target: target,
            path: String(target[..<(queryStart ?? target.endIndex)]),
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
    static func bodyFraming(_ headers: HTTPHeaders, version: HTTPVersion, limits: Limits) throws(HTTPParseError) -> BodyFraming {
        let lengths = headers.values(for: "Content-Length")
        let hasTransferEncoding = headers.contains("Transfer-Encoding")
        if hasTransferEncoding {
            guard lengths.isEmpty else { throw HTTPParseError.badRequest("both Transfer-Encoding and Content-Length") }
            guard version == .http11 else { throw HTTPParseError.badRequest("Transfer-Encoding in an HTTP/1.0 request") }
            let codings = headers.tokens(for: "Transfer-Encoding")
            guard codings.last == "chunked" else { throw HTTPParseError.badRequest("chunked must be the final transfer coding") }
            guard codings.count == 1 else {
                if codings.dropLast().contains("chunked") { throw HTTPParseError.badRequest("chunked applied more than once") }
                throw HTTPParseError.notImplemented("unsupported transfer coding")
            }
            return .chunked
        }
        guard !lengths.isEmpty else { return .none }
        guard lengths.count == 1 else { throw HTTPParseError.badRequest("more than one Content-Length") }
        let digits = Array(lengths[0].utf8)
        guard !digits.isEmpty, digits.allSatisfy(isDigit) else { throw HTTPParseError.badRequest("invalid Content-Length") }
        let significant = digits.drop { $0 == UInt8(ascii: "0") }
        guard significant.count <= 18 else { throw HTTPParseError.bodyTooLarge }
        let length = significant.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        guard length <= limits.maxBodyBytes else { throw HTTPParseError.bodyTooLarge }
        return .contentLength(length)
    }

    static func validateHost(_ headers: HTTPHeaders, version: HTTPVersion) throws(HTTPParseError) {
        let hosts = headers.values(for: "Host").count
        if version == .http11 && hosts != 1 || hosts > 1 {
            throw HTTPParseError.badRequest(hosts == 0 ? "missing Host header" : "more than one Host header")
        }
    }

    static func expectation(_ headers: HTTPHeaders, version: HTTPVersion) throws(HTTPParseError) -> Bool {
        let expectations = headers.tokens(for: "Expect")
        guard !expectations.isEmpty else { return false }
        guard expectations == ["100-continue"] else { throw HTTPParseError.expectationFailed }
        return version == .http11
    }

    static func keepAlive(_ headers: HTTPHeaders, version: HTTPVersion) -> Bool {
        let options = headers.tokens(for: "Connection")
        if options.contains("close") { return false }
        return version == .http11 || options.contains("keep-alive")
    }

    // MARK: Chunked body

    private mutating func consumeChunkSizeByte(_ byte: UInt8) throws(HTTPParseError) {
        let tooLong = HTTPParseError.badRequest("chunk size line too long")
        guard let completed = try lineByte(byte, limit: limits.maxChunkLineBytes, tooLarge: tooLong) else { return }
        sectionBytes = 0
        let hex = completed.prefix(while: isHexDigit)
        guard !hex.isEmpty else { throw HTTPParseError.badRequest("invalid chunk size") }
        let extensions = completed[hex.endIndex...]
        // Extensions are tolerated and ignored, but must start with ';' (after optional whitespace).
        let afterSpace = extensions.drop { $0 == sp || $0 == htab }
        guard afterSpace.isEmpty || afterSpace.first == UInt8(ascii: ";") else { throw HTTPParseError.badRequest("invalid chunk size") }
        guard extensions.allSatisfy({ $0 == htab || $0 >= 0x20 && $0 != 0x7F }) else {
            throw HTTPParseError.badRequest("control character in chunk extension")
        }
        let significant = hex.drop { $0 == UInt8(ascii: "0") }
        guard significant.count <= 15 else { throw HTTPParseError.badRequest("chunk size overflow") }
        let size = significant.reduce(0) { $0 * 16 + hexValue($1) }
        guard size <= limits.maxBodyBytes - bodyBytes else { throw HTTPParseError.bodyTooLarge }
        bodyBytes += size
        state = size == 0 ? .trailers : .chunkData(remaining: size)
    }

    private mutating func consumeTrailerByte(_ byte: UInt8, events: inout [ParsedEvent]) throws(HTTPParseError) {
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

/// A request the server refuses; `status` and `code` go into the JSON error response.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String

    public var description: String { "\(status) \(code): \(message)" }

    public static func badRequest(_ message: String) -> HTTPParseError { .init(status: 400, code: "bad_request", message: message) }
    public static func notImplemented(_ message: String) -> HTTPParseError { .init(status: 501, code: "not_implemented", message: message) }
    public static let uriTooLong = HTTPParseError(status: 414, code: "uri_too_long", message: "request line too long")
    public static let headersTooLarge = HTTPParseError(status: 431, code: "headers_too_large", message: "request header section too large")
    public static let bodyTooLarge = HTTPParseError(status: 413, code: "body_too_large", message: "request body too large")
    public static let versionNotSupported = HTTPParseError(status: 505, code: "http_version_not_supported", message: "only HTTP/1.0 and HTTP/1.1 are supported")
    public static let expectationFailed = HTTPParseError(status: 417, code: "expectation_failed", message: "only Expect: 100-continue is supported")
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
