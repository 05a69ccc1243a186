import Foundation

/// Completion-style handler: call `respond` exactly once, from any thread (later calls are ignored).
///
/// Handlers run on the connection's own thread, so they must be quick: a health check is never
/// queued behind other work. A handler with slow work (inference) hands it to threads of its own
/// and calls `respond` from there.
public typealias HTTPHandler = @Sendable (_ request: HTTPRequest, _ respond: @escaping @Sendable (HTTPResponse) -> Void) -> Void

/// Method + path -> handler. Build it before `HTTPServer.start()`; it is immutable afterwards.
///
/// A path is exact ("/score"), or ends in one parameter segment written `{name}` ("/jobs/{id}"):
/// that route matches the prefix followed by one non-empty segment without '/' ("/jobs/abc", not
/// "/jobs/" nor "/jobs/a/b"); the handler reads the segment with `Router.parameter(_:prefix:)`.
/// Exact paths win over a parameter route.
public struct Router: Sendable {
    private var routes: [String: [HTTPMethod: HTTPHandler]] = [:]
    /// Parameter routes by their prefix ("/jobs/").
    private var parameterRoutes: [String: [HTTPMethod: HTTPHandler]] = [:]

    public init() {}

    /// Registers a completion-style handler.
    public mutating func add(_ method: HTTPMethod, _ path: String, handler: @escaping HTTPHandler) {
        if path.hasSuffix("}"), let open = path.lastIndex(of: "{"), open > path.startIndex,
           path[path.index(before: open)] == "/" {
            parameterRoutes[String(path[..<open]), default: [:]][method] = handler
        } else {
            routes[path, default: [:]][method] = handler
        }
    }

    /// The parameter segment of `path` after `prefix` ("/jobs/abc", "/jobs/" -> "abc"), as sent
    /// (not percent-decoded); nil when `path` does not have that shape.
    public static func parameter(_ path: String, prefix: String) -> String? {
        guard path.hasPrefix(prefix) else { return nil }
        let rest = path.dropFirst(prefix.count)
        return rest.isEmpty || rest.contains("/") ? nil : String(rest)
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
        guard let methods = routes[path] ?? parameterMethods(path) else { return .notFound }
        if let route = methods[method] ?? (method == .HEAD ? methods[.GET] : nil) { return .found(route) }
        var allow = Set(methods.keys)
        if allow.contains(.GET) { allow.insert(.HEAD) }
        return .methodNotAllowed(allow: allow.sorted { $0.rawValue < $1.rawValue })
    }

    private func parameterMethods(_ path: String) -> [HTTPMethod: HTTPHandler]? {
        guard let slash = path.lastIndex(of: "/") else { return nil }
        let prefix = String(path[...slash])
        guard path.index(after: slash) < path.endIndex else { return nil }
        return parameterRoutes[prefix]
    }
}
