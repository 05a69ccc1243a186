import Foundation

/// One accepted socket, served on its own thread: read and parse a request, run its route's handler
/// here (health checks thus never wait behind other work), wait for the answer (a handler may give
/// it from another thread), write it, repeat while the connection persists. Requests on one
/// connection are handled one at a time, so pipelined requests are answered in order.
final class HTTPConnection: @unchecked Sendable {
    let fd: Int32
    let remoteAddress: String
    private unowned let server: HTTPServer
    private let forceClosed = NSLock()
    private var isForceClosed = false
    private var configuration: ServerConfiguration { server.configuration }

    init(server: HTTPServer, fd: Int32, remoteAddress: String) {
        self.server = server
        self.fd = fd
        self.remoteAddress = remoteAddress
    }

    /// Called by the server (under its lock, while `fd` is still open) when the grace period ends.
    func forceClose() {
        forceClosed.withLock { isForceClosed = true }
        Glibc.shutdown(fd, Int32(SHUT_RDWR))  // wakes any poll() on this socket
    }

    private var wasForceClosed: Bool { forceClosed.withLock { isForceClosed } }

    func run() {
        defer { server.connectionFinished(self) }
        let transport: ByteTransport
        if let context = server.tlsContext {
            do {
                let tls = try TLSTransport(context: context, fd: fd)
                try tls.handshake(deadline: .after(configuration.headerReadTimeout))
                transport = tls
            } catch {
                return
            }
        } else {
            transport = PlainTransport(fd: fd)
        }
        serve(over: transport)
        transport.shutdown()
    }

    /// A request read off the wire, or why reading stopped.
    private enum Reading {
        case request(HTTPRequestHead, body: [UInt8], started: Deadline)
        case closed
        case failed(HTTPError, head: HTTPRequestHead?, started: Deadline)
        /// Answered early (100-continue refused); the connection must close.
        case answered
    }

    private struct Input {
        var parser: HTTPRequestParser
        var events: [ParsedEvent] = []
        var next = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 1)
    }

    private func serve(over transport: ByteTransport) {
        var input = Input(parser: HTTPRequestParser(limits: configuration.parserLimits))
        defer { input.buffer.deallocate() }
        var served = 0
        let opened = Deadline.after(configuration.headerReadTimeout)
        while true {
            switch read(&input, transport: transport, firstRequest: served == 0 ? opened : nil) {
            case .closed, .answered:
                return
            case .failed(let error, let head, let started):
                let id = head.map { server.requestID(from: $0.headers) } ?? server.generateRequestID()
                send(.error(error), to: head, requestID: id, keepAlive: false, requestBytes: 0, started: started, transport: transport)
                return
            case .request(let head, let body, let started):
                served += 1
                let request = HTTPRequest(method: head.method, path: head.path, query: head.query, version: head.version,
                                          headers: head.headers, body: body, requestID: server.requestID(from: head.headers),
                                          remoteAddress: remoteAddress)
                guard let response = respond(to: request) else { return }
                let keepAlive = head.keepAlive && !server.isDraining
                    && served < (configuration.maxRequestsPerConnection ?? .max)
                    && !response.headers.tokens(for: "Connection").contains("close")
                guard send(response, to: head, requestID: request.requestID, keepAlive: keepAlive,
                           requestBytes: body.count, started: started, transport: transport), keepAlive else { return }
            }
        }
    }

    /// Reads until one whole request is parsed. `firstRequest` is the header deadline counted from
    /// the connection's opening; later requests get the idle timeout, then the header timeout from their first byte.
    private func read(_ input: inout Input, transport: ByteTransport, firstRequest: Deadline?) -> Reading {
        var head: HTTPRequestHead?
        var body: [UInt8] = []
        let idleDeadline = firstRequest ?? .after(configuration.idleTimeout)
        var headerDeadline = firstRequest
        var bodyDeadline = Deadline.now()
        var started = Deadline.now()
        while true {
            while input.next < input.events.count {
                let event = input.events[input.next]
                input.next += 1
                switch event {
                case .head(let parsed):
                    head = parsed
                    bodyDeadline = .after(configuration.bodyReadTimeout)
                    if parsed.expectsContinue && parsed.framing != .none && parsed.framing != .contentLength(0) {
                        guard acceptContinue(parsed, started: started, transport: transport) else { return .answered }
                    }
                case .body(let bytes):
                    body += bytes
                case .end:
                    if let head { return .request(head, body: body, started: started) }
                }
            }
            input.events.removeAll(keepingCapacity: true)
            input.next = 0

            let idle = head == nil && input.parser.isIdle
            if idle && server.isDraining { return .closed }
            let deadline = idle ? idleDeadline : head == nil ? headerDeadline ?? idleDeadline : bodyDeadline
            let count: Int
            do {
                count = try transport.read(into: input.buffer, deadline: deadline, wake: idle ? server.wakeFD : nil)
            } catch .timedOut {
                // Silence between requests just ends the connection; a stalled request gets a 408.
                return idle ? .closed : .failed(.requestTimeout, head: head, started: started)
            } catch .woken {
                continue
            } catch {
                return .closed
            }
            guard count > 0 else { return .closed }
            if idle {
                started = .now()
                if headerDeadline == nil { headerDeadline = .after(configuration.headerReadTimeout) }
            }
            do {
                input.events = try input.parser.feed(Array(UnsafeRawBufferPointer(rebasing: input.buffer[..<count])))
            } catch {
                return .failed(error, head: head, started: started)
            }
        }
    }

    /// `Expect: 100-continue`: say Continue only when a route will take the body; otherwise answer now.
    private func acceptContinue(_ head: HTTPRequestHead, started: Deadline, transport: ByteTransport) -> Bool {
        if case .found = server.router.match(head.method, head.path) {
            return (try? transport.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8), deadline: .after(configuration.writeTimeout))) != nil
        }
        send(routingError(head.method, head.path), to: head, requestID: server.requestID(from: head.headers),
             keepAlive: false, requestBytes: 0, started: started, transport: transport)
        return false
    }

    /// Runs the route's handler on this thread and waits for its answer; nil if the server cut the
    /// connection or the client is gone (nothing could be written).
    private func respond(to request: HTTPRequest) -> HTTPResponse? {
        guard case .found(let handler) = server.router.match(request.method, request.path) else {
            return routingError(request.method, request.path)
        }
        let answer = ResponseSlot()
        handler(request) { answer.fill($0) }
        while true {
            if let response = answer.wait(seconds: 0.25) { return response }
            if wasForceClosed { return nil }
            if peerIsGone() {
                request.clientGone.set()
                return nil
            }
        }
    }

    /// True once the connection was reset or can no longer be written to. A half-close (the client
    /// shut down only its sending side, as HTTP/1.1 allows) is not gone: it still gets its answer.
    private func peerIsGone() -> Bool {
        var p = pollfd(fd: fd, events: 0, revents: 0)
        return poll(&p, 1, 0) > 0 && p.revents & Int16(POLLHUP | POLLERR) != 0
    }

    private func routingError(_ method: HTTPMethod, _ path: String) -> HTTPResponse {
        switch server.router.match(method, path) {
        case .methodNotAllowed(let allow):
            var response = HTTPResponse.error(.methodNotAllowed(method, path))
            response.headers.set("Allow", allow.map(\.rawValue).joined(separator: ", "))
            return response
        default:
            return .error(.notFound(path))
        }
    }

    /// Writes the response and logs the request; false when the write failed.
    @discardableResult
    private func send(_ response: HTTPResponse, to head: HTTPRequestHead?, requestID: String, keepAlive: Bool,
                      requestBytes: Int, started: Deadline, transport: ByteTransport) -> Bool {
        let includeBody = head?.method != .HEAD
        let response = server.rendered(response, requestID: requestID)
        let bytes = server.serialize(response, requestID: requestID, keepAlive: keepAlive,
                                     version: head?.version ?? .http11, includeBody: includeBody)
        let written = (try? transport.write(bytes, deadline: .after(configuration.writeTimeout))) != nil
        server.record(HTTPRequestRecord(
            method: head?.method.rawValue ?? "-", path: head?.path ?? "-", status: response.status,
            requestBytes: requestBytes, responseBytes: includeBody ? response.body.count : 0,
            duration: Double(Deadline.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9,
            requestID: requestID, remoteAddress: remoteAddress))
        return written
    }
}

/// Holds the first response a handler gives; later ones are ignored.
private final class ResponseSlot: @unchecked Sendable {
    private let lock = NSLock()
    private let ready = DispatchSemaphore(value: 0)
    private var response: HTTPResponse?

    func fill(_ response: HTTPResponse) {
        let first = lock.withLock {
            guard self.response == nil else { return false }
            self.response = response
            return true
        }
        if first { ready.signal() }
    }

    func wait(seconds: TimeInterval) -> HTTPResponse? {
        guard ready.wait(timeout: .now() + seconds) == .success else { return nil }
        return lock.withLock { response }
    }
}
