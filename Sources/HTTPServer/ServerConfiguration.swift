import Foundation

/// Everything tunable about the server, with defaults fit for a public JSON API taking uploads.
public struct ServerConfiguration: Sendable {
    /// Numeric address to bind: "127.0.0.1", "::1", "0.0.0.0" or "::" (dual-stack).
    public var host: String = "127.0.0.1"
    /// 0 picks a free port; read it back from `HTTPServer.port` after `start()`.
    public var port: Int = 8080
    public var listenBacklog: Int32 = 512

    /// Header section limit (431), header count limit (431), body limit (413).
    public var maxHeaderBytes: Int = 16 * 1024
    public var maxHeaderCount: Int = 100
    public var maxBodyBytes: Int = 32 * 1024 * 1024
    /// A request's own body limit from its head, in place of `maxBodyBytes` (nil: `maxBodyBytes`
    /// for every request). The application sets it, e.g. a larger limit for video uploads.
    public var bodyLimit: (@Sendable (_ method: HTTPMethod, _ path: String, _ headers: HTTPHeaders) -> Int)? = nil

    /// Open connections beyond this are answered 503 and closed (TLS ones just closed).
    public var maxConnections: Int = 512
    /// Requests served on one connection before it is closed; nil for no limit.
    public var maxRequestsPerConnection: Int? = nil

    /// From the first byte of a request (or the connection's opening) to the end of its header section.
    public var headerReadTimeout: TimeInterval = 10
    /// Between requests on a keep-alive connection.
    public var idleTimeout: TimeInterval = 60
    /// For a whole request body, from the end of its header section.
    public var bodyReadTimeout: TimeInterval = 60
    /// For writing one response.
    public var writeTimeout: TimeInterval = 30

    /// Value of the `Server` response header.
    public var serverName: String = "dfgaze-serve"
    /// Longest accepted `X-Request-ID`; longer or non-printable ones are replaced by a generated id.
    public var maxRequestIDLength: Int = 128

    /// Serve HTTPS when set.
    public var tls: TLSConfiguration? = nil

    public init() {}

    var parserLimits: HTTPRequestParser.Limits {
        var limits = HTTPRequestParser.Limits(maxHeaderBytes: maxHeaderBytes, maxHeaderCount: maxHeaderCount, maxBodyBytes: maxBodyBytes)
        limits.bodyLimit = bodyLimit
        return limits
    }
}

/// PEM certificate chain and private key for HTTPS.
public struct TLSConfiguration: Sendable {
    public var certificateChainPath: String
    public var privateKeyPath: String

    public init(certificateChainPath: String, privateKeyPath: String) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
    }
}
