import Foundation

/// A request method token (RFC 9110 §9). Any token is representable; the common ones are named.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let GET = HTTPMethod("GET")
    public static let HEAD = HTTPMethod("HEAD")
    public static let POST = HTTPMethod("POST")
    public static let PUT = HTTPMethod("PUT")
    public static let DELETE = HTTPMethod("DELETE")
    public static let PATCH = HTTPMethod("PATCH")
    public static let OPTIONS = HTTPMethod("OPTIONS")
}

/// Header fields in arrival order; lookups ignore ASCII case of the name.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [(name: String, value: String)] = []

    public init() {}
    public init(_ fields: [(String, String)]) { self.fields = fields.map { (name: $0.0, value: $0.1) } }
    public init(dictionaryLiteral elements: (String, String)...) { self.init(elements) }

    /// First value for `name`, if any.
    public subscript(name: String) -> String? { fields.first { $0.name.lowercased() == name.lowercased() }?.value }

    /// Every value for `name`, in order.
    public func values(for name: String) -> [String] {
        let lowered = name.lowercased()
        return fields.filter { $0.name.lowercased() == lowered }.map(\.value)
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    public mutating func add(_ name: String, _ value: String) { fields.append((name: name, value: value)) }

    /// Replaces every field called `name` by one with `value`.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    public mutating func remove(_ name: String) {
        let lowered = name.lowercased()
        fields.removeAll { $0.name.lowercased() == lowered }
    }

    /// Comma-separated list tokens across all fields called `name`, trimmed and lowercased.
    public func tokens(for name: String) -> [String] {
        values(for: name).flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty }
    }

    public var count: Int { fields.count }
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }
}

/// Whether the client of a request is gone: its connection was reset or can no longer be written to
/// (checked by the connection while it waits for the answer). A half-closed client is not gone.
public final class ClientGone: @unchecked Sendable {
    private let lock = NSLock()
    private var gone = false
    public init() {}
    public var isSet: Bool { lock.withLock { gone } }
    func set() { lock.withLock { gone = true } }
}

/// A complete request as handed to a route handler.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The path part of the origin-form target, exactly as sent (not percent-decoded).
    public var path: String
    /// The raw query string after `?`, or nil when the target had none.
    public var query: String?
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// From a valid `X-Request-ID` header, otherwise generated; echoed on the response.
    public var requestID: String
    /// "ip:port" ("[ip]:port" for IPv6) of the peer.
    public var remoteAddress: String
    /// Set when the client is gone before its answer is written: queued work for it can be dropped.
    public var clientGone: ClientGone

    public init(method: HTTPMethod, path: String, query: String? = nil, version: HTTPVersion = .http11,
                headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], requestID: String = "",
                remoteAddress: String = "", clientGone: ClientGone = ClientGone()) {
        self.clientGone = clientGone
        self.method = method
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
        self.requestID = requestID
        self.remoteAddress = remoteAddress
    }

    /// Query items split on `&` and `=`, percent-decoded (`+` read as space); malformed escapes kept raw.
    public var queryItems: [(name: String, value: String)] {
        guard let query else { return [] }
        return query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let spaced = s.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (name: decode(parts[0]), value: parts.count > 1 ? decode(parts[1]) : "")
        }
    }
}

public struct HTTPVersion: Hashable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public init(major: Int, minor: Int) { self.major = major; self.minor = minor }
    public static let http11 = HTTPVersion(major: 1, minor: 1)
    public static let http10 = HTTPVersion(major: 1, minor: 0)
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// What a handler answers. The server adds `Date`, `Server`, `Content-Length`, `X-Request-ID` and
/// `Connection` itself, overriding any the handler set (also `Transfer-Encoding`, never sent).
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Set for a refusal: the server has it rendered (`HTTPServer`'s `renderError`, with the
    /// request's id) and sends that body instead of `body`, with `headers` added.
    public var error: HTTPError?

    public init(status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func text(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Array(text.utf8))
    }

    /// `body` must already be JSON.
    public static func json(_ body: [UInt8], status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: body)
    }

    public static func json<T: Encodable>(encoding value: T, status: Int = 200, encoder: JSONEncoder = JSONEncoder()) throws -> HTTPResponse {
        .json(Array(try encoder.encode(value)), status: status)
    }

    /// A refusal, rendered by the server when it is sent.
    public static func error(_ error: HTTPError) -> HTTPResponse {
        var response = HTTPResponse(status: error.status)
        response.error = error
        return response
    }
}

/// Reason phrases for the statuses a JSON API plausibly sends.
func reasonPhrase(_ status: Int) -> String {
    switch status {
    case 100: "Continue"
    case 200: "OK"
    case 201: "Created"
    case 202: "Accepted"
    case 204: "No Content"
    case 301: "Moved Permanently"
    case 302: "Found"
    case 304: "Not Modified"
    case 400: "Bad Request"
    case 401: "Unauthorized"
    case 403: "Forbidden"
    case 404: "Not Found"
    case 405: "Method Not Allowed"
    case 408: "Request Timeout"
    case 409: "Conflict"
    case 413: "Content Too Large"
    case 414: "URI Too Long"
    case 415: "Unsupported Media Type"
    case 417: "Expectation Failed"
    case 422: "Unprocessable Content"
    case 429: "Too Many Requests"
    case 431: "Request Header Fields Too Large"
    case 500: "Internal Server Error"
    case 501: "Not Implemented"
    case 502: "Bad Gateway"
    case 503: "Service Unavailable"
    case 504: "Gateway Timeout"
    case 505: "HTTP Version Not Supported"
    default: "Status \(status)"
    }
}
