import Foundation

/// Completion-style handler: call `respond` exactly once, from any thread (later calls are ignored).
///
/// Handlers run on the connection's own thread, so they must be quick: a health check is never
/// queued behind other work. A handler with slow work (inference) hands it to threads of its own
/// and calls `respond` from there.
public typealias HTTPHandler = @Sendable (_ request: HTTPRequest, _ respond: @escaping @Sendable (HTTPResponse) -> Void) -> Void

/// Method + exact path -> handler. Build it before `HTTPServer.start()`; it is immutable afterwards.
public struct Router: Sendable {
    private var routes: [String: [HTTPMethod: HTTPHandler]] = [:]

    public init() {}

    /// Registers a completion-style handler.
    public mutating func add(_ method: HTTPMethod, _ path: String, handler: @escaping HTTPHandler) {
        routes[path, default: [:]][method] = handler
    }

    /// Registers a synchronous handler; a thrown error becomes a 500 `internal_error`.
    public mutating func add(_ method: HTTPMethod, _ path: String, _ handler: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse) {
        add(method, path) { request, respond in
            do {
                respond(try handler(request))
            } catch {
                respond(.error(.internalError))
            }
        }
    }

    enum Match {
        case found(HTTPHandler)
        case notFound
        case methodNotAllowed(allow: [HTTPMethod])
    }

    /// HEAD falls back to the GET route (the server then drops the body).
    func match(_ method: HTTPMethod, _ path: String) -> Match {
        guard let methods = routes[path] else { return .notFound }
        if let route = methods[method] ?? (method == .HEAD ? methods[.GET] : nil) { return .found(route) }
        var allow = Set(methods.keys)
        if allow.contains(.GET) { allow.insert(.HEAD) }
        return .methodNotAllowed(allow: allow.sorted { $0.rawValue < $1.rawValue })
    }
}
