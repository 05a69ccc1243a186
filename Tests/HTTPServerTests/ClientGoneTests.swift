import Foundation
import HTTPServer
import XCTest

/// A handler learns that its client hung up, so queued work for it can be dropped.
final class ClientGoneTests: XCTestCase {
    func testHandlerSeesTheClientHangUp() throws {
        let seen = DispatchSemaphore(value: 0)
        let flag = LockedFlag()
        let server = try startServer(routes: { router in
            router.add(.GET, "/wait") { request, respond in
                // Long enough for the connection to notice the hang-up (it checks every 0.25 s).
                Thread.sleep(forTimeInterval: 1.0)
                flag.value = request.clientGone.isSet
                seen.signal()
                respond(.text("late"))
            }
        })
        do {
            let client = try RawClient(port: server.port)
            client.send("GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
            Thread.sleep(forTimeInterval: 0.1)
        }  // the client closes its socket here
        XCTAssertEqual(seen.wait(timeout: .now() + 5), .success)
        XCTAssertTrue(flag.value)
    }

    func testConnectedClientIsNotGone() throws {
        let flag = LockedFlag()
        let server = try startServer(routes: { router in
            router.add(.GET, "/wait") { request, respond in
                Thread.sleep(forTimeInterval: 0.6)
                flag.value = request.clientGone.isSet
                respond(.text("done"))
            }
        })
        let client = try RawClient(port: server.port)
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
