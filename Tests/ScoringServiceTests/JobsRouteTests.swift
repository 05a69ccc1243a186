import DFGaze
import Foundation
import Jobs
import ScoringService
import XCTest

/// The /jobs routes' contract (issue 19): 202 + Location + the job JSON, polling to a result that is
/// the fixture's numbers, idempotency, the 404s, the limits checked before 202, the bounded queue,
/// API keys, and /jobs off.
final class JobsRouteTests: XCTestCase {
    private func dataDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dfgaze-jobs-\(UUID())").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    private func startJobs(scorer: VideoScorer?, workers: Int = 1, maxQueued: Int = 100, allow: Set<String> = [],
                           keys: String? = nil) throws -> String {
        let dir = try dataDirectory()
        var keysFile: URL?
        if let keys {
            keysFile = URL(fileURLWithPath: dir + "-keys")
            try keys.write(to: keysFile!, atomically: true, encoding: .utf8)
        }
        return try startService(scorer: scorer) { service, _ in
            var jobs = JobsConfiguration(store: .sqlite(inDirectory: dir))
            jobs.runner.workers = workers
            jobs.runner.pollInterval = 0.05
            jobs.runner.webhookAllowedHosts = allow
            jobs.storeOptions.maxQueuedJobs = maxQueued
            service.jobs = jobs
            if let keysFile { service.apiKeys = try? APIKeys(contentsOf: keysFile) }
        }.url
    }

    private var video8: [String] { Fixture.video8.flatMap { ["-F", "frame=@\(Fixture.frame($0).path);type=image/jpeg"] } }

    private func poll(_ url: String, until done: ([String: Any]) -> Bool) throws -> [String: Any] {
        for _ in 0..<1200 {
            let job = try XCTUnwrap(curl([url]).json)
            if done(job) { return job }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTFail("the job did not finish: \(url)")
        return [:]
    }

    func testSubmitAnswers202WithLocationAndTheResultIsTheFixtureScore() throws {
        let model = try SharedModel.get()
        let url = try startJobs(scorer: model)
        let submitted = try curl(video8 + ["-F", "id=clip-7", "\(url)/jobs"])
        XCTAssertEqual(submitted.status, 202, String(decoding: submitted.body, as: UTF8.self))
        let job = try XCTUnwrap(submitted.json)
        let id = try XCTUnwrap(job["id"] as? String)
        XCTAssertEqual(submitted.headers["location"], "/jobs/\(id)")
        XCTAssertEqual(job["status"] as? String, "queued")
        XCTAssertNotNil(job["created_at"] as? String)
        XCTAssertEqual(job["progress"] as? [String: Int], ["clips_done": 0, "clips_total": 0])
        XCTAssertNil(job["result"])

        let done = try poll(url + submitted.headers["location"]!) { ($0["status"] as? String).map { ["succeeded", "failed"].contains($0) } ?? false }
        XCTAssertEqual(done["status"] as? String, "succeeded", "\(done)")
        XCTAssertNotNil(done["started_at"] as? String)
        XCTAssertNotNil(done["finished_at"] as? String)
        XCTAssertEqual(done["progress"] as? [String: Int], ["clips_done": 2, "clips_total": 2])
        let result = try XCTUnwrap(done["result"] as? [String: Any])
        let expected = try Fixture.expected("video8")
        XCTAssertEqual(try field(result, "fake_probability", as: Double.self), try field(expected, "fake_probability", as: Double.self),
                       accuracy: 1e-5)
        XCTAssertEqual(try field(result, "clips", as: [[String: Any]].self).map { try field($0, "frames", as: [Int].self) },
                       [[0, 1, 2, 3], [4, 5, 6, 7]])
        XCTAssertEqual(result["id"] as? String, "clip-7")

        let listed = try XCTUnwrap(curl(["\(url)/jobs?status=succeeded&limit=10"]).json)
        XCTAssertEqual((listed["jobs"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, [id])
    }

    /// A video as a job: admitted as /score admits it (not counted as frames), its progress is its
    /// windows, and its result is the fixture's (talking_astronaut with max_windows=2: windows 0 and 2).
    func testAVideoJobGivesTheFixturesResult() throws {
        let url = try startJobs(scorer: SharedModel.get())
        let submitted = try curl(["-H", "Content-Type: video/mp4", "--data-binary",
                                  "@\(VideoFixture.file("talking_astronaut.mp4").path)", "\(url)/jobs?max_windows=2"])
        XCTAssertEqual(submitted.status, 202, String(decoding: submitted.body, as: UTF8.self))
        let location = try XCTUnwrap(submitted.headers["location"])
        let done = try poll(url + location) { ($0["status"] as? String).map { ["succeeded", "failed"].contains($0) } ?? false }
        XCTAssertEqual(done["status"] as? String, "succeeded", "\(done)")
        XCTAssertEqual(done["progress"] as? [String: Int], ["clips_done": 2, "clips_total": 2])
        assertMatchesCase(200, try field(done, "result", as: [String: Any].self), "talking_astronaut_w2")
    }

    /// A JSON body of the given fixture frames, as a file for curl (the same bytes each time; a
    /// multipart body from curl has a new boundary each time, so it is another body).
    private func jsonBody(_ names: ArraySlice<String>) throws -> [String] {
        let frames = try names.map { try Data(contentsOf: Fixture.frame($0)).base64EncodedString() }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("job-\(UUID()).json")
        try JSONSerialization.data(withJSONObject: ["frames": frames]).write(to: file)
        addTeardownBlock { try? FileManager.default.removeItem(at: file) }
        return ["-H", "Content-Type: application/json", "--data-binary", "@\(file.path)"]
    }

    func testSameIdempotencyKeyAndBodyIsTheSameJobAndAnotherBodyIs409() throws {
        let url = try startJobs(scorer: SlowScorer(delay: 0), workers: 0)
        let body = try jsonBody(Fixture.video8[...])
        let first = try curl(body + ["-H", "Idempotency-Key: upload-1", "\(url)/jobs"])
        let again = try curl(body + ["-H", "Idempotency-Key: upload-1", "\(url)/jobs"])
        XCTAssertEqual(first.status, 202)
        XCTAssertEqual(again.status, 202)
        XCTAssertEqual(first.json?["id"] as? String, again.json?["id"] as? String)
        XCTAssertEqual(first.headers["location"], again.headers["location"])

        let other = try curl(try jsonBody(Fixture.video8.prefix(4)) + ["-H", "Idempotency-Key: upload-1", "\(url)/jobs"])
        XCTAssertEqual(other.status, 409)
        XCTAssertEqual(other.errorCode, "idempotency_conflict")

        let long = try curl(body + ["-H", "Idempotency-Key: \(String(repeating: "k", count: 256))", "\(url)/jobs"])
        XCTAssertEqual(long.status, 400)
        XCTAssertEqual(long.errorCode, "bad_idempotency_key")
        let listed = try XCTUnwrap(curl(["\(url)/jobs"]).json?["jobs"] as? [Any])
        XCTAssertEqual(listed.count, 1, "only the first upload became a job")
    }

    func testUnknownIdsAndStringsThatAreNotIdsAre404JobNotFound() throws {
        let url = try startJobs(scorer: SlowScorer(delay: 0), workers: 0)
        for path in ["/jobs/nope", "/jobs/00000000-0000-0000-0000-000000000000", "/jobs/%2e%2e",
                     "/jobs/ABCDEF00-0000-0000-0000-000000000000"] {
            for method in ["GET", "DELETE"] {
                let response = try curl(["-X", method, url + path])
                XCTAssertEqual(response.status, 404, "\(method) \(path)")
                XCTAssertEqual(response.errorCode, "job_not_found", "\(method) \(path)")
            }
        }
        let nested = try curl(["\(url)/jobs/00000000-0000-0000-0000-000000000000/result"])
        XCTAssertEqual(nested.status, 404)
        XCTAssertEqual(nested.errorCode, "not_found")
        let put = try curl(["-X", "PUT", "--data-binary", "", "\(url)/jobs/00000000-0000-0000-0000-000000000000"])
        XCTAssertEqual(put.status, 405)
        XCTAssertEqual(Set((put.headers["allow"] ?? "").components(separatedBy: ", ")), ["DELETE", "GET", "HEAD"])
    }

    func testABadUploadIsRefusedBefore202AndStoresNothing() throws {
        let url = try startJobs(scorer: SlowScorer(delay: 0), workers: 0, allow: ["127.0.0.1"])
        let threeFrames = try curl(Array(video8.prefix(6)) + ["\(url)/jobs"])
        XCTAssertEqual(threeFrames.status, 422)
        XCTAssertEqual(threeFrames.errorCode, "too_few_frames")
        let text = try curl(["-H", "Content-Type: text/plain", "--data-binary", "hello", "\(url)/jobs"])
        XCTAssertEqual(text.status, 415)
        for callback in ["http://user@127.0.0.1/", "http://[::1]/", "http://example.com/", "https://example.com/", "gopher://127.0.0.1/"] {
            let refused = try curl(video8 + ["-F", "callback_url=\(callback)", "\(url)/jobs"])
            XCTAssertEqual(refused.status, 400, callback)
            XCTAssertEqual(refused.errorCode, "bad_callback_url", callback)
        }
        let listed = try XCTUnwrap(curl(["\(url)/jobs"]).json?["jobs"] as? [Any])
        XCTAssertEqual(listed.count, 0)
        let allowed = try curl(video8 + ["\(url)/jobs?callback_url=http://127.0.0.1:9/hook"])
        XCTAssertEqual(allowed.status, 202)
        XCTAssertEqual(((allowed.json?["webhook"] as? [String: Any])?["attempts"] as? [Any])?.count, 0)
    }

    func testQueueFullIs503WithRetryAfterAndCancelFreesAPlace() throws {
        let url = try startJobs(scorer: SlowScorer(delay: 0), workers: 0, maxQueued: 2)
        let first = try curl(video8 + ["\(url)/jobs"])
        XCTAssertEqual(try curl(video8 + ["\(url)/jobs"]).status, 202)
        let full = try curl(video8 + ["\(url)/jobs"])
        XCTAssertEqual(full.status, 503)
        XCTAssertEqual(full.errorCode, "jobs_queue_full")
        XCTAssertNotNil(full.headers["retry-after"].flatMap(Int.init))

        let canceled = try curl(["-X", "DELETE", url + first.headers["location"]!])
        XCTAssertEqual(canceled.status, 200)
        XCTAssertEqual(canceled.json?["status"] as? String, "canceled")
        XCTAssertEqual(try curl(video8 + ["\(url)/jobs"]).status, 202)
        let queued = try XCTUnwrap(curl(["\(url)/jobs?status=queued"]).json?["jobs"] as? [Any])
        XCTAssertEqual(queued.count, 2)
        XCTAssertEqual(try curl(["\(url)/jobs?status=done"]).status, 400)
        XCTAssertEqual(try curl(["\(url)/jobs?limit=0"]).status, 400)
    }

    /// DELETE of a running job: 200 `canceled` at once, and the scoring that was under way stores nothing.
    func testCancelingARunningJobKeepsItCanceled() throws {
        let scorer = SlowScorer(delay: 1.5)
        let url = try startJobs(scorer: scorer)
        let submitted = try curl(video8 + ["\(url)/jobs"])
        let location = url + submitted.headers["location"]!
        _ = try poll(location) { $0["status"] as? String == "running" }
        let canceled = try curl(["-X", "DELETE", location])
        XCTAssertEqual(canceled.status, 200)
        XCTAssertEqual(canceled.json?["status"] as? String, "canceled")
        XCTAssertNotNil(canceled.json?["finished_at"] as? String)
        // Wait until the scorer has returned, then a little: the job must not turn succeeded.
        for _ in 0..<100 where scorer.callCount == 0 { Thread.sleep(forTimeInterval: 0.05) }
        Thread.sleep(forTimeInterval: 2)
        let after = try XCTUnwrap(curl([location]).json)
        XCTAssertEqual(after["status"] as? String, "canceled")
        XCTAssertNil(after["result"])
        XCTAssertEqual(try curl(["-X", "DELETE", location]).json?["status"] as? String, "canceled", "canceling again changes nothing")
    }

    func testJobsNeedTheAPIKeyLikeScore() throws {
        let url = try startJobs(scorer: SlowScorer(delay: 0), workers: 0, keys: "secret-key-1\n")
        XCTAssertEqual(try curl(video8 + ["\(url)/jobs"]).status, 401)
        XCTAssertEqual(try curl(["\(url)/jobs"]).status, 401)
        XCTAssertEqual(try curl(["\(url)/jobs/00000000-0000-0000-0000-000000000000"]).status, 401)
        let accepted = try curl(video8 + ["-H", "Authorization: Bearer secret-key-1", "\(url)/jobs"])
        XCTAssertEqual(accepted.status, 202)
        XCTAssertEqual(try curl(["-H", "Authorization: Bearer secret-key-1", url + accepted.headers["location"]!]).status, 200)
    }

    func testWithJobsOffTheRoutesAre404() throws {
        let (_, url) = try startService(scorer: SlowScorer(delay: 0))
        let post = try curl(video8 + ["\(url)/jobs"])
        XCTAssertEqual(post.status, 404)
        XCTAssertEqual(post.errorCode, "not_found")
        XCTAssertEqual(try curl(["\(url)/jobs/00000000-0000-0000-0000-000000000000"]).status, 404)
    }

    func testMetricsCountJobsByStatus() throws {
        let url = try startJobs(scorer: SlowScorer(delay: 0), workers: 0)
        XCTAssertEqual(try curl(video8 + ["\(url)/jobs"]).status, 202)
        _ = try curl(["\(url)/jobs/not-an-id"])
        let page = String(decoding: try curl(["\(url)/metrics"]).body, as: UTF8.self)
        XCTAssertTrue(page.contains(#"dfgaze_jobs{status="queued"} 1"#), page)
        XCTAssertTrue(page.contains("dfgaze_jobs_oldest_queued_age_seconds"), page)
        XCTAssertTrue(page.contains(#"route="/jobs/{id}""#), page)
        XCTAssertFalse(page.contains("not-an-id"), "a client's path became a label")
    }
}
