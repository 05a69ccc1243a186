import Foundation

/// Completion-style handler: call `respond` exactly once, from any thread (later calls are ignored).
public typealias HTTPHandler = @Sendable (_ request: HTTPRequest, _ respond: @escaping @Sendable (HTTPResponse) -> Void) -> Void

/// Method + exact path -> handler. Build it before `HTTPServer.start()`; it is immutable afterwards.
public struct Router: Sendable {
    struct Route: Sendable {
        var handler: HTTPHandler
        /// Where the handler runs; nil for the server's `handlerQueue`.
        var queue: DispatchQueue?
    }

    private var routes: [String: [HTTPMethod: Route]] = [:]

    public init() {}

    /// Registers a completion-style handler. `queue` overrides the server's handler queue for this route.
    public mutating func add(_ method: HTTPMethod, _ path: String, queue: DispatchQueue? = nil, handler: @escaping HTTPHandler) {
        routes[path, default: [:]][method] = Route(handler: handler, queue: queue)
    }

    /// Registers a synchronous handler; a thrown error becomes a 500 `internal_error`.
    public mutating func add(_ method: HTTPMethod, _ path: String, queue: DispatchQueue? = nil,
                             _ handler: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse) {
        add(method, path, queue: queue) { request, respond in
            do {
                respond(try handler(request))
            } catch {
                respond(.error(status: 500, code: "internal_error", message: "internal server error"))
            }
        }
    }

    enum Match {
        case found(Route)
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
