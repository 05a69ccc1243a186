import Foundation

/// One part of a multipart/form-data body (RFC 7578).
public struct MultipartPart: Sendable {
    /// The `name` parameter of `Content-Disposition: form-data`.
    public var name: String
    public var filename: String?
    /// The part's `Content-Type`, nil when absent (RFC 7578 §4.4: then text/plain).
    public var contentType: String?
    public var headers: HTTPHeaders
    public var body: [UInt8]

    /// A file: it has a filename or an `image/*` type (a frame, for the scoring API).
    public var isFile: Bool { filename != nil || (contentType?.lowercased().hasPrefix("image/") ?? false) }
}

public struct MultipartLimits: Sendable {
    public var maxParts: Int
    /// File parts (`MultipartPart.isFile`) allowed among them; one more throws `.tooManyFiles`
    /// as soon as it arrives.
    public var maxFileParts: Int
    /// Bytes of one part's header section.
    public var maxPartHeaderBytes: Int

    public init(maxParts: Int = 16, maxFileParts: Int? = nil, maxPartHeaderBytes: Int = 8 * 1024) {
        self.maxParts = maxParts
        self.maxFileParts = maxFileParts ?? maxParts
        self.maxPartHeaderBytes = maxPartHeaderBytes
    }
}

/// A malformed multipart body (400 `bad_multipart`), or one with more file parts than allowed.
public struct MultipartError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// Set when the body was well formed so far but carried more than this many file parts.
    public var tooManyFiles: Int?
    public init(_ message: String) { self.message = message }
    public var description: String { "bad_multipart: \(message)" }

    public var httpError: HTTPError { HTTPError(status: 400, code: "bad_multipart", message: message) }
}

public enum MultipartParser {
    /// Splits a whole multipart/form-data body into its parts.
    public static func parse(body: [UInt8], contentType: String, limits: MultipartLimits = MultipartLimits()) throws(MultipartError) -> [MultipartPart] {
        try parse(body: body, boundary: try boundary(fromContentType: contentType), limits: limits)
    }

    /// The `boundary` parameter of a `multipart/form-data` Content-Type (RFC 2046 §5.1.1 syntax).
    public static func boundary(fromContentType contentType: String) throws(MultipartError) -> String {
        guard let (type, parameters) = parseParameterized(contentType) else { throw MultipartError("malformed Content-Type") }
        guard type == "multipart/form-data" else { throw MultipartError("Content-Type is not multipart/form-data") }
        guard let boundary = parameters["boundary"] else { throw MultipartError("Content-Type has no boundary") }
        let allowed = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ".utf8)
        guard (1...70).contains(boundary.utf8.count), boundary.utf8.allSatisfy(allowed.contains), boundary.last != " " else {
            throw MultipartError("invalid boundary")
        }
        return boundary
    }

    public static func parse(body: [UInt8], boundary: String, limits: MultipartLimits = MultipartLimits()) throws(MultipartError) -> [MultipartPart] {
        let delimiter = Array("--\(boundary)".utf8)
        let crlfDelimiter = [cr, lf] + delimiter
        // The first delimiter may open the body or follow a preamble line.
        var pos: Int
        if body.starts(with: delimiter) {
            pos = delimiter.count
        } else if let found = find(crlfDelimiter, in: body, from: 0) {
            pos = found + crlfDelimiter.count
        } else {
            throw MultipartError("missing opening boundary")
        }
        var parts: [MultipartPart] = []
        var files = 0
        while true {
            if body[pos...].starts(with: [UInt8(ascii: "-"), UInt8(ascii: "-")]) { return parts }  // close delimiter; epilogue ignored
            while pos < body.count, body[pos] == sp || body[pos] == htab { pos += 1 }
            guard body[pos...].starts(with: [cr, lf]) else { throw MultipartError("malformed boundary line") }
            pos += 2
            guard parts.count < limits.maxParts else { throw MultipartError("more than \(limits.maxParts) parts") }
            let (headers, contentStart) = try partHeaders(body, from: pos, limits: limits)
            guard let contentEnd = find(crlfDelimiter, in: body, from: contentStart) else {
                throw MultipartError("unterminated body: closing boundary missing")
            }
            let next = try part(headers: headers, body: Array(body[contentStart..<contentEnd]))
            if next.isFile {
                files += 1
                guard files <= limits.maxFileParts else {
                    var error = MultipartError("more than \(limits.maxFileParts) file parts")
                    error.tooManyFiles = limits.maxFileParts
                    throw error
                }
            }
            parts.append(next)
            pos = contentEnd + crlfDelimiter.count
        }
    }

    /// Header section of a part starting at `start`; returns the headers and where the content begins.
    private static func partHeaders(_ body: [UInt8], from start: Int, limits: MultipartLimits) throws(MultipartError) -> (HTTPHeaders, Int) {
        if body[start...].starts(with: [cr, lf]) { return (HTTPHeaders(), start + 2) }
        let searchEnd = min(body.count, start + limits.maxPartHeaderBytes + 4)
        guard let end = find([cr, lf, cr, lf], in: body, from: start, to: searchEnd) else {
            throw MultipartError(searchEnd < body.count ? "part header section too large" : "unterminated part headers")
        }
        var headers = HTTPHeaders()
        var lineStart = start
        while lineStart < end + 2 {
            guard let lineEnd = find([cr, lf], in: body, from: lineStart, to: end + 2) else { break }
            let line = body[lineStart..<lineEnd]
            lineStart = lineEnd + 2
            guard line.first != sp, line.first != htab else { throw MultipartError("folded part header") }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                  line[..<colon].allSatisfy(isTokenChar) else { throw MultipartError("malformed part header") }
            let value = line[(colon + 1)...]
            guard value.allSatisfy({ $0 == htab || $0 >= 0x20 && $0 != 0x7F }) else { throw MultipartError("control character in part header") }
            headers.add(String(decoding: line[..<colon], as: UTF8.self),
                        String(decoding: value, as: UTF8.self).trimmingCharacters(in: .whitespaces))
        }
        return (headers, end + 4)
    }

    private static func part(headers: HTTPHeaders, body: [UInt8]) throws(MultipartError) -> MultipartPart {
        guard let disposition = headers["Content-Disposition"],
              let (type, parameters) = parseParameterized(disposition), type == "form-data" else {
            throw MultipartError("part without Content-Disposition: form-data")
        }
        guard let name = parameters["name"] else { throw MultipartError("part without a name") }
        return MultipartPart(name: name, filename: parameters["filename"], contentType: headers["Content-Type"],
                             headers: headers, body: body)
    }

    /// `value *( ";" name "=" ( token / quoted-string ) )`; the value and names lowercased.
    static func parseParameterized(_ field: String) -> (String, [String: String])? {
        var scanner = Array(field.unicodeScalars)[...]
        func skipSpace() { while let c = scanner.first, c == " " || c == "\t" { scanner.removeFirst() } }
        func token() -> String {
            let t = scanner.prefix { $0.isASCII && isTokenChar(UInt8($0.value)) || $0 == "/" }
            scanner.removeFirst(t.count)
            return String(String.UnicodeScalarView(t)).lowercased()
        }
        skipSpace()
        let value = token()
        guard !value.isEmpty else { return nil }
        var parameters: [String: String] = [:]
        while true {
            skipSpace()
            guard let c = scanner.first else { return (value, parameters) }
            guard c == ";" else { return nil }
            scanner.removeFirst()
            skipSpace()
            if scanner.isEmpty { return (value, parameters) }  // tolerate a trailing ';'
            let name = token()
            skipSpace()
            guard !name.isEmpty, scanner.first == "=" else { return nil }
            scanner.removeFirst()
            skipSpace()
            var parameterValue = String.UnicodeScalarView()
            if scanner.first == "\"" {
                scanner.removeFirst()
                var closed = false
                while let c = scanner.popFirst() {
                    if c == "\"" { closed = true; break }
                    if c == "\\", let escaped = scanner.popFirst() { parameterValue.append(escaped) } else { parameterValue.append(c) }
                }
                guard closed else { return nil }
            } else {
                let t = scanner.prefix { $0.isASCII && isTokenChar(UInt8($0.value)) }
                guard !t.isEmpty else { return nil }
                parameterValue.append(contentsOf: t)
                scanner.removeFirst(t.count)
            }
            guard parameters[name] == nil else { return nil }  // a repeated parameter is ambiguous
            parameters[name] = String(parameterValue)
        }
    }

    /// First index of `needle` in `haystack[from..<to]`, by Knuth–Morris–Pratt: linear even on
    /// adversarial bodies full of near-boundaries.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int, to: Int? = nil) -> Int? {
        let end = to ?? haystack.count
        guard !needle.isEmpty, from >= 0, end <= haystack.count, end - from >= needle.count else { return nil }
        var failure = [Int](repeating: 0, count: needle.count)
        var k = 0
        for q in 1..<needle.count {
            while k > 0 && needle[k] != needle[q] { k = failure[k - 1] }
            if needle[k] == needle[q] { k += 1 }
            failure[q] = k
        }
        return haystack.withUnsafeBufferPointer { hay in
            var matched = 0
            for i in from..<end {
                while matched > 0 && needle[matched] != hay[i] { matched = failure[matched - 1] }
                if needle[matched] == hay[i] { matched += 1 }
                if matched == needle.count { return i - needle.count + 1 }
            }
            return nil
        }
    }
}
