import Foundation
import XCTest
@testable import HTTPServer

/// Handlers run on their connection's own thread: a quick route (a health check) answers even
/// when every Dispatch worker is busy computing, as they are while inference splits its
/// operations with `concurrentPerform`.
final class HandlerThreadTests: XCTestCase {
    func testQuickRouteAnswersWhileEveryDispatchWorkerIsBusy() throws {
        let server = try startServer(routes: { router in
            router.add(.GET, "/healthz") { _ in .text("ok") }
        })
        let busy = SpinFlag()
        let started = DispatchGroup()
        let workers = 2 * ProcessInfo.processInfo.activeProcessorCount
        // Busy (not blocked) workers, so the pool has no reason to grow; they stop once the
        // answer came, or after 10 s so a failing run ends.
        let giveUp = Date(timeIntervalSinceNow: 10)
        for _ in 0..<workers {
            started.enter()
            DispatchQueue.global().async {
                started.leave()
                while busy.isSet && Date() < giveUp {}
            }
        }
        _ = started.wait(timeout: .now() + 2)
        let client = try RawClient(port: server.port, timeout: 15)
        client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = client.readResponse()
        let answeredWhileBusy = Date() < giveUp
        busy.clear()
        XCTAssertEqual(response?.text, "ok")
        XCTAssertTrue(answeredWhileBusy, "the health check waited for the Dispatch pool")
    }
}

private final class SpinFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = true
    var isSet: Bool { lock.withLock { value } }
    func clear() { lock.withLock { value = false } }
}
