import HTTPServer

// Fuzz target for HTTPRequestParser. Input: one control byte, then the byte stream a client sends.
// The control byte's low 6 bits give the largest slice (1...64 bytes) and seed the slice lengths, so
// every split point of the incremental parser is reachable; bit 6 picks small limits (to reach the
// limit edges within -max_len) or the production defaults.
// A throw is an acceptable answer. Beyond "no crash", the stream fed in slices must give exactly the
// events (or the error) that the whole stream fed at once gives.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let control = data[0]
    let stream = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let limits = control & 0x40 != 0
        ? HTTPRequestParser.Limits(maxHeaderBytes: 256, maxHeaderCount: 8, maxBodyBytes: 512, maxChunkLineBytes: 32)
        : HTTPRequestParser.Limits()

    let whole = run(stream, limits: limits, sliceLengths: { stream.count })
    var rng = UInt32(control) &* 2_654_435_761 | 1
    let maxSlice = Int(control & 0x3F) + 1
    let sliced = run(stream, limits: limits, sliceLengths: {
        rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5
        return 1 + Int(rng % UInt32(maxSlice))
    })
    switch (whole, sliced) {
    case (.success(let a), .success(let b)) where a == b: break
    case (.failure(let a), .failure(let b)) where a == b: break
    default: fatalError("slicing changed the outcome:\n whole: \(whole)\n sliced: \(sliced)")
    }
    return 0
}

/// Feeds `stream` in slices of the given lengths; the events rendered as text with adjacent body
/// pieces merged, or the error.
private func run(_ stream: [UInt8], limits: HTTPRequestParser.Limits,
                 sliceLengths: () -> Int) -> Result<[String], HTTPError> {
    var parser = HTTPRequestParser(limits: limits)
    var events: [String] = []
    var body: [UInt8] = []
    var start = stream.startIndex
    do throws(HTTPError) {
        while start < stream.endIndex {
            let end = min(stream.endIndex, start + sliceLengths())
            for event in try parser.feed(stream[start..<end]) {
                switch event {
                case .head(let head):
                    events.append(render(head))
                case .body(let piece):
                    guard !piece.isEmpty else { fatalError("empty body event") }
                    body += piece
                case .end:
                    events.append("body \(body)")
                    events.append("end")
                    body = []
                }
            }
            start = end
        }
    } catch {
        // A failed parser must keep failing with the same error.
        let failure = error
        do throws(HTTPError) {
            _ = try parser.feed([0x0D, 0x0A])
        } catch {
            guard error == failure else { fatalError("error changed from \(failure) to \(error)") }
            return .failure(failure)
        }
        fatalError("parser accepted bytes after failing with \(failure)")
    }
    if !body.isEmpty { events.append("body \(body)") }
    return .success(events)
}

private func render(_ head: HTTPRequestHead) -> String {
    "\(head.method) \(head.target) path=\(head.path) query=\(head.query ?? "nil") \(head.version) "
        + "headers=\(head.headers.fields.map { "\($0.name): \($0.value)" }) framing=\(head.framing) "
        + "keepAlive=\(head.keepAlive) continue=\(head.expectsContinue)"
}
