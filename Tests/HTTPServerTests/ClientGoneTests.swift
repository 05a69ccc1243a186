import Foundation
import HTTPServer
import XCTest

/// A handler learns that its client is gone (reset), so queued work for it can be dropped; a
/// client that only half-closed still gets its answer.
final class ClientGoneTests: XCTestCase {
    func testHandlerSeesTheClientReset() throws {
        let seen = DispatchSemaphore(value: 0)
        let flag = LockedFlag()
        let server = try startServer(routes: { router in
            router.add(.GET, "/wait") { request, respond in
                // Slow work runs off the connection's thread (as inference does), so the connection
                // watches its socket meanwhile (every 0.25 s).
                Thread.detachNewThread {
                    Thread.sleep(forTimeInterval: 1.0)
                    flag.value = request.clientGone.isSet
                    seen.signal()
                    respond(.text("late"))
                }
            }
        })
        do {
            let client = try RawClient(port: server.port)
            client.send("GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
            Thread.sleep(forTimeInterval: 0.1)
            client.resetOnClose()
        }  // the client closes its socket here, with a reset
        XCTAssertEqual(seen.wait(timeout: .now() + 5), .success)
        XCTAssertTrue(flag.value)
    }

    /// A server whose /wait answers "done" after 0.6 s of work off the connection's thread,
    /// noting whether the client was gone by then.
    private func waitingServer(_ flag: LockedFlag) throws -> HTTPServer {
        try startServer(routes: { router in
            router.add(.GET, "/wait") { request, respond in
                Thread.detachNewThread {
                    Thread.sleep(forTimeInterval: 0.6)
                    flag.value = request.clientGone.isSet
                    respond(.text("done"))
                }
            }
        })
    }

    /// HTTP/1.1 allows a client to shut down its sending side after its request: it still
    /// receives, so it gets its answer (then the server closes), never a 499.
    func testHalfClosedClientGetsItsResponse() throws {
        let flag = LockedFlag()
        let client = try RawClient(port: try waitingServer(flag).port)
        client.send("GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
        client.shutdownWriting()
        let response = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "done")
        XCTAssertFalse(flag.value)
        XCTAssertTrue(client.isClosedByPeer())
    }

    func testConnectedClientIsNotGone() throws {
        let flag = LockedFlag()
        let client = try RawClient(port: try waitingServer(flag).port)
        client.send("GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.text, "done")
        XCTAssertFalse(flag.value)
    }
}

private final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = false
    var value: Bool {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
