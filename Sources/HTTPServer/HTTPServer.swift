import Foundation
import Logging

/// What the server knows about one finished request; handed to the optional observer (metrics).
public struct HTTPRequestRecord: Sendable {
    public var method: String
    public var path: String
    public var status: Int
    public var requestBytes: Int
    public var responseBytes: Int
    public var duration: TimeInterval
    public var requestID: String
    public var remoteAddress: String
}

/// HTTP/1.1 server on POSIX sockets: one accept thread, one thread per open connection (bounded by
/// `maxConnections`, each waiting in poll() with timeouts), handlers on Dispatch queues.
public final class HTTPServer: @unchecked Sendable {
    public let configuration: ServerConfiguration
    public let router: Router
    let logger: Logger
    let observer: (@Sendable (HTTPRequestRecord) -> Void)?
    let tlsContext: TLSContext?
    /// Turns a refusal into the body the API promises (the HTTP layer has no error format of its own).
    let renderError: @Sendable (HTTPError, _ requestID: String) -> HTTPResponse

    private let lock = NSCondition()
    private var listenFD: Int32 = -1
    private var boundPortValue = 0
    private var draining = false
    private var started = false
    private var connections: [ObjectIdentifier: HTTPConnection] = [:]
    private let acceptLoopExited = DispatchSemaphore(value: 0)
    /// Written once at shutdown and never drained: stays readable, so every idle poll() wakes.
    private var wakePipe: [Int32] = [-1, -1]

    /// - Throws: `HTTPServerError.tls` when the certificate or key cannot be loaded.
    public init(configuration: ServerConfiguration = ServerConfiguration(), router: Router,
                logger: Logger = Logger(label: "http"),
                renderError: @escaping @Sendable (HTTPError, _ requestID: String) -> HTTPResponse = HTTPError.plainText,
                observer: (@Sendable (HTTPRequestRecord) -> Void)? = nil) throws {
        self.configuration = configuration
        self.renderError = renderError
        self.router = router
        self.logger = logger
        self.observer = observer
        self.tlsContext = try configuration.tls.map(TLSContext.init(configuration:))
    }

    /// The bound port (useful with `port: 0`); 0 before `start()`.
    public var port: Int { lock.withLock { boundPortValue } }

    /// True once `shutdown` has begun: readiness should fail, new connections are refused.
    public var isDraining: Bool { lock.withLock { draining } }

    public var openConnections: Int { lock.withLock { connections.count } }

    var wakeFD: Int32 { wakePipe[0] }

    /// Binds, listens and starts accepting on a background thread; returns once listening.
    public func start() throws {
        try lock.withLock {
            guard !started else { throw HTTPServerError.state("server already started") }
            signal(SIGPIPE, SIG_IGN)  // OpenSSL writes with write(2); MSG_NOSIGNAL covers plain sends
            guard pipe(&wakePipe) == 0 else { throw HTTPServerError.socket("pipe: \(errnoText())") }
            listenFD = try makeListeningSocket(host: configuration.host, port: configuration.port, backlog: configuration.listenBacklog)
            boundPortValue = boundPort(listenFD)
            started = true
        }
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "http.accept"
        thread.start()
        logger.info("listening", metadata: ["host": "\(configuration.host)", "port": "\(port)",
                                            "tls": "\(tlsContext != nil)"])
    }

    /// Stops accepting, closes idle connections, lets in-flight requests finish for up to `grace`
    /// seconds, then cuts what remains and returns.
    public func shutdown(grace: TimeInterval) {
        let shouldStop = lock.withLock {
            guard started, !draining else { return false }
            draining = true
            return true
        }
        guard shouldStop else { return }
        var byte: UInt8 = 1
        _ = write(wakePipe[1], &byte, 1)
        acceptLoopExited.wait()
        let deadline = Date(timeIntervalSinceNow: grace)
        lock.lock()
        while !connections.isEmpty && lock.wait(until: deadline) {}
        for connection in connections.values { connection.forceClose() }
        let cutDeadline = Date(timeIntervalSinceNow: 2)
        while !connections.isEmpty && lock.wait(until: cutDeadline) {}
        let remaining = connections.count
        lock.unlock()
        if remaining == 0 {
            close(wakePipe[0])
            close(wakePipe[1])
        }
        logger.info("stopped", metadata: ["abandoned_connections": "\(remaining)"])
    }

    // MARK: Accepting

    private func acceptLoop() {
        defer {
            close(listenFD)
            acceptLoopExited.signal()
        }
        while true {
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wakePipe[0], events: Int16(POLLIN), revents: 0)]
            guard poll(&fds, 2, -1) >= 0 || errno == EINTR else { return }
            if fds[1].revents != 0 { return }
            guard fds[0].revents != 0 else { continue }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept(listenFD, $0, &length)
                }
            }
            guard fd >= 0 else {
                // Out of descriptors: back off instead of spinning on a permanently readable listener.
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM { usleep(10_000) }
                continue
            }
            admit(fd: fd, remoteAddress: formatAddress(storage))
        }
    }

    private func admit(fd: Int32, remoteAddress: String) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        let connection = HTTPConnection(server: self, fd: fd, remoteAddress: remoteAddress)
        let admitted = lock.withLock {
            guard connections.count < configuration.maxConnections else { return false }
            connections[ObjectIdentifier(connection)] = connection
            return true
        }
        guard admitted else {
            reject(fd: fd, remoteAddress: remoteAddress)
            return
        }
        let thread = Thread { connection.run() }
        thread.name = "http.connection"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Over the connection limit: a best-effort 503 (plain HTTP only), never blocking the accept loop.
    private func reject(fd: Int32, remoteAddress: String) {
        if tlsContext == nil {
            let bytes = serialize(.error(.tooManyConnections), requestID: generateRequestID(), keepAlive: false,
                                  version: .http11, includeBody: true)
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
            Glibc.shutdown(fd, Int32(SHUT_WR))
            // Reading what already arrived avoids a reset that could destroy the 503 in flight.
            var scratch = [UInt8](repeating: 0, count: 4096)
            _ = recv(fd, &scratch, scratch.count, Int32(MSG_DONTWAIT))
        }
        close(fd)
        logger.warning("connection rejected", metadata: ["remote": "\(remoteAddress)", "status": "503"])
    }

    func connectionFinished(_ connection: HTTPConnection) {
        lock.withLock {
            connections[ObjectIdentifier(connection)] = nil
            close(connection.fd)  // under the lock, so forceClose never touches a reused descriptor
            lock.broadcast()
        }
    }

    // MARK: Responses

    private static let managedHeaders: Set<String> = ["content-length", "transfer-encoding", "connection", "date", "server", "x-request-id"]

    /// The response as sent: a refusal rendered with the request's id (the handler's headers kept).
    func rendered(_ response: HTTPResponse, requestID: String) -> HTTPResponse {
        guard let error = response.error else { return response }
        var rendered = renderError(error, requestID)
        rendered.status = error.status
        rendered.error = nil
        for (name, value) in response.headers { rendered.headers.set(name, value) }
        return rendered
    }

    /// The full response bytes; the server owns framing and identity headers.
    func serialize(_ response: HTTPResponse, requestID: String, keepAlive: Bool, version: HTTPVersion, includeBody: Bool) -> [UInt8] {
        let response = rendered(response, requestID: requestID)
        var head = "HTTP/1.1 \(response.status) \(reasonPhrase(response.status))\r\n"
        for (name, value) in response.headers where !Self.managedHeaders.contains(name.lowercased()) {
            // A CR or LF from a handler would split the response: drop such a field.
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenChar), !value.utf8.contains(where: { $0 == cr || $0 == lf || $0 == 0 }) else { continue }
            head += "\(name): \(value)\r\n"
        }
        head += "Date: \(httpDate())\r\nServer: \(configuration.serverName)\r\nX-Request-ID: \(requestID)\r\n"
        let bodyless = response.status == 204 || response.status == 304 || response.status < 200
        if !bodyless { head += "Content-Length: \(response.body.count)\r\n" }
        if !keepAlive {
            head += "Connection: close\r\n"
        } else if version == .http10 {
            head += "Connection: keep-alive\r\n"
        }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if includeBody && !bodyless { bytes += response.body }
        return bytes
    }

    /// The client's `X-Request-ID` when printable ASCII and not too long, otherwise a fresh one.
    func requestID(from headers: HTTPHeaders) -> String {
        if let given = headers["X-Request-ID"], !given.isEmpty, given.utf8.count <= configuration.maxRequestIDLength,
           given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return given
        }
        return generateRequestID()
    }

    func generateRequestID() -> String { UUID().uuidString.lowercased() }

    func record(_ record: HTTPRequestRecord) {
        logger.info("request", metadata: [
            "method": "\(record.method)", "path": "\(record.path)", "status": .stringConvertible(record.status),
            "bytes": .stringConvertible(record.responseBytes), "request_bytes": .stringConvertible(record.requestBytes),
            "duration_ms": .stringConvertible((record.duration * 1e6).rounded() / 1e3),
            "request_id": "\(record.requestID)", "remote": "\(record.remoteAddress)",
        ])
        observer?(record)
    }
}
