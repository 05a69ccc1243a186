import HTTPServer

// Fuzz target for MultipartParser.parse(body:contentType:limits:). Input: when it starts with '-' it is
// the whole body under the fixed content type below; otherwise its first line (up to LF) is the
// Content-Type and the rest is the body. Small limits let the part-count and header-size edges be
// reached within -max_len. A throw is an acceptable answer; a part whose content holds the
// delimiter, or more parts than allowed, is not.

private let fixedContentType = "multipart/form-data; boundary=XyZ-123"
private let limits = MultipartLimits(maxParts: 4, maxPartHeaderBytes: 256)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let contentType: String
    let body: [UInt8]
    if input.first == UInt8(ascii: "-") {
        (contentType, body) = (fixedContentType, input)
    } else {
        let newline = input.firstIndex(of: 0x0A) ?? input.endIndex
        contentType = String(decoding: input[..<newline], as: UTF8.self)
        body = Array(input[min(newline + 1, input.endIndex)...])
    }
    guard let parts = try? MultipartParser.parse(body: body, contentType: contentType, limits: limits) else { return 0 }
    guard parts.count <= limits.maxParts else { fatalError("\(parts.count) parts over the limit of \(limits.maxParts)") }
    guard let boundary = try? MultipartParser.boundary(fromContentType: contentType) else {
        fatalError("parsed a body whose Content-Type has no valid boundary: \(contentType)")
    }
    let delimiter = Array("\r\n--\(boundary)".utf8)
    for part in parts where contains(part.body, delimiter) {
        fatalError("part \(part.name) holds the delimiter in its content")
    }
    return 0
}

private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard haystack.count >= needle.count else { return false }
    return (0...(haystack.count - needle.count)).contains { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
}
