import DFGaze
import Foundation
import ScoringService
import Weights
import XCTest

/// Queueing, readiness, keys, metrics: how the service behaves around the model.
final class ServiceBehaviourTests: XCTestCase {
    var fourFrames: [String] { Fixture.video8.prefix(4).flatMap { ["-F", "f=@\(Fixture.frame($0).path)"] } }

    func testFullQueueAnswers503WithRetryAfterWhileHealthStaysFast() throws {
        let scorer = SlowScorer(delay: 1.5)
        let (_, url) = try startService(scorer: scorer) { service, _ in
            service.workers = 1
            service.queueDepth = 1
            service.retryAfterSeconds = 2
        }
        // Two requests fill the worker and the one waiting place.
        let group = DispatchGroup()
        let statuses = StatusBox()
        for _ in 0..<2 {
            group.enter()
            DispatchQueue.global().async { [fourFrames] in
                statuses.add((try? curl(fourFrames + ["\(url)/score"]))?.status ?? -1)
                group.leave()
            }
        }
        Thread.sleep(forTimeInterval: 0.5)
        let start = Date()
        let third = try curl(fourFrames + ["\(url)/score"])
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.0, "refused at once, not stalled")
        XCTAssertEqual(third.status, 503)
        XCTAssertEqual(third.errorCode, "overloaded")
        XCTAssertEqual(third.headers["retry-after"], "2")

        let healthStart = Date()
        XCTAssertEqual(try curl(["\(url)/healthz"]).status, 200)
        XCTAssertLessThan(Date().timeIntervalSince(healthStart), 0.5, "health answered while the model is busy")

        group.wait()
        XCTAssertEqual(statuses.all.sorted(), [200, 200])
        XCTAssertEqual(scorer.callCount, 2)
    }

    func testReadinessFollowsTheModelAndDraining() throws {
        let (service, url) = try startService(scorer: nil)
        XCTAssertEqual(try curl(["\(url)/healthz"]).status, 200)
        XCTAssertEqual(try curl(["\(url)/v2/health/live"]).status, 200)
        XCTAssertEqual(try curl(["\(url)/readyz"]).status, 503)
        let early = try curl(fourFrames + ["\(url)/score"])
        XCTAssertEqual(early.status, 503)
        XCTAssertEqual(early.errorCode, "not_ready")

        service.setScorer(SlowScorer(delay: 0))
        let ready = try curl(["\(url)/readyz"])
        XCTAssertEqual(ready.status, 200)
        XCTAssertEqual(ready.json?["status"] as? String, "ready")
        XCTAssertEqual(try curl(["\(url)/v2/health/ready"]).status, 200)
    }

    func testDrainingFinishesInFlightWorkAndRefusesNewWork() throws {
        let scorer = SlowScorer(delay: 1.0)
        let (service, url) = try startService(scorer: scorer)
        let done = DispatchSemaphore(value: 0)
        let statuses = StatusBox()
        DispatchQueue.global().async { [fourFrames] in
            statuses.add((try? curl(fourFrames + ["\(url)/score"]))?.status ?? -1)
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.3)
        service.shutdown(grace: 5)
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(statuses.all, [200], "the in-flight request finished")
        XCTAssertFalse(service.isReady)
    }

    func testAPIKeysGuardScoringAndModelButNotHealth() throws {
        let keys = try APIKeys(fileContents: "# team keys\nalpha-key-1\nsha256:\(SHA256Hex.of("beta-key-2"))\n")
        let (_, url) = try startService(scorer: SlowScorer(delay: 0)) { service, _ in service.apiKeys = keys }
        let denied = try curl(fourFrames + ["\(url)/score"])
        XCTAssertEqual(denied.status, 401)
        XCTAssertEqual(denied.errorCode, "unauthorized")
        XCTAssertNotNil(denied.headers["www-authenticate"])
        XCTAssertEqual(try curl(fourFrames + ["-H", "Authorization: Bearer wrong", "\(url)/score"]).status, 401)
        XCTAssertEqual(try curl(fourFrames + ["-H", "Authorization: Bearer alpha-key-1", "\(url)/score"]).status, 200)
        XCTAssertEqual(try curl(fourFrames + ["-H", "Authorization: Bearer beta-key-2", "\(url)/score"]).status, 200)
        XCTAssertEqual(try curl(["\(url)/v1/model"]).status, 401)
        XCTAssertEqual(try curl(["\(url)/healthz"]).status, 200)
        XCTAssertEqual(try curl(["\(url)/readyz"]).status, 200)
        XCTAssertEqual(try curl(["\(url)/metrics"]).status, 200)
    }

    func testAPIKeyFileErrors() {
        XCTAssertThrowsError(try APIKeys(fileContents: "\n# nothing\n"))
        XCTAssertThrowsError(try APIKeys(fileContents: "sha256:abcd\n"))
    }

    func testMetricsCountRequestsStagesAndRejections() throws {
        let (_, url) = try startService(scorer: SharedModel.get())
        XCTAssertEqual(try curl(fourFrames + ["\(url)/score"]).status, 200)
        XCTAssertEqual(try curl(["-F", "f=@\(Fixture.frame("a_0").path)", "\(url)/score"]).status, 422)
        let page = String(decoding: try curl(["\(url)/metrics"]).body, as: UTF8.self)
        for needle in [#"dfgaze_http_requests_total{route="/score",method="POST",status="200"} 1"#,
                       #"dfgaze_requests_rejected_total{reason="too_few_frames"} 1"#,
                       "dfgaze_frames_scored_total 4",
                       #"dfgaze_stage_duration_seconds_bucket{stage="forward""#,
                       #"dfgaze_stage_duration_seconds_count{stage="preprocess"} 1"#,
                       "dfgaze_http_request_duration_seconds_bucket",
                       "dfgaze_inference_queue_depth", "dfgaze_inference_in_flight"] {
            XCTAssertTrue(page.contains(needle), "metrics lack \(needle)\n\(page)")
        }
    }

    func testModelDescriptionAndOpenAPI() throws {
        let (_, url) = try startService(scorer: SharedModel.get())
        let model = try curl(["\(url)/v1/model"])
        XCTAssertEqual(model.status, 200)
        let body = try XCTUnwrap(model.json)
        XCTAssertEqual((body["model"] as? [String: Any])?["weights"] as? String, "dfgaze-demo-v1")
        let networks = try XCTUnwrap(body["networks"] as? [[String: Any]])
        XCTAssertEqual(Set(networks.compactMap { $0["name"] as? String }), ["GAM", "TAM", "AAM", "PSTA"])
        XCTAssertTrue(networks.allSatisfy { ($0["parameters"] as? Int ?? 0) > 0 })
        XCTAssertEqual((body["limits"] as? [String: Any])?["max_frames"] as? Int, 64)

        let spec = try curl(["\(url)/openapi.yaml"])
        XCTAssertEqual(spec.status, 200)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        XCTAssertEqual(String(decoding: spec.body, as: UTF8.self),
                       try String(contentsOf: root.appendingPathComponent("openapi.yaml"), encoding: .utf8),
                       "the served document is the repo's openapi.yaml (regenerate with scripts/embed-openapi.py)")
    }
}

final class StatusBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int] = []
    func add(_ v: Int) { lock.withLock { values.append(v) } }
    var all: [Int] { lock.withLock { values } }
}


enum SHA256Hex { static func of(_ s: String) -> String { SHA256.hex(Array(s.utf8)) } }

/// Draining: readiness fails first while requests are still served, then the listener closes.
final class DrainTests: XCTestCase {
    func testReadinessFailsBeforeTheListenerCloses() throws {
        let (service, url) = try startService(scorer: SlowScorer(delay: 0))
        let fourFrames = Fixture.video8.prefix(4).flatMap { ["-F", "f=@\(Fixture.frame($0).path)"] }
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { service.drain(notReadyFor: 1.5, grace: 2); finished.signal() }
        Thread.sleep(forTimeInterval: 0.3)
        let ready = try curl(["\(url)/readyz"])
        XCTAssertEqual(ready.status, 503)
        XCTAssertEqual(ready.json?["status"] as? String, "draining")
        XCTAssertEqual(try curl(["\(url)/healthz"]).status, 200)
        XCTAssertEqual(try curl(fourFrames + ["\(url)/score"]).status, 200, "still served while balancers catch up")
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success)
        XCTAssertThrowsError(try curl(["\(url)/healthz"]), "listener closed after the delay")
    }
}
