import Foundation
import XCTest
@testable import Jobs
import JSONText

/// What both backends must do; SQLiteJobStoreTests and PostgresJobStoreTests run each on a fresh
/// database of their kind.
enum StoreSpecs {
    static func submission(_ text: String, key: String? = nil, callback: String? = nil,
                           parameters: [String: String] = ["faces": "1"]) -> JobSubmission {
        JobSubmission(payload: Data(text.utf8), contentType: "application/json", parameters: parameters,
                      callbackURL: callback, idempotencyKey: key)
    }

    static func schemaIsVersionedAndReopens(_ backend: Backend) throws {
        let store = try backend.open()
        XCTAssertEqual(try store.storedSchemaVersion(), JobStore.schemaVersion)
        let id = try store.submit(submission("a")).job.id
        let again = try backend.open()
        XCTAssertEqual(try again.storedSchemaVersion(), JobStore.schemaVersion)
        XCTAssertEqual(try again.job(id: id)?.status, .queued)
    }

    static func submitStoresBytesAndParameters(_ backend: Backend) throws {
        let clock = ManualClock()
        let store = try backend.open(clock: clock.function)
        // Every byte value, NULs included, survives (bytea travels binary on PostgreSQL).
        let bytes = Data((0..<1024).map { UInt8($0 % 256) })
        let (job, created) = try store.submit(JobSubmission(payload: bytes, contentType: "video/mp4",
                                                            parameters: ["faces": "2", "threshold": "0.5"],
                                                            callbackURL: "http://127.0.0.1:9/hook"))
        XCTAssertTrue(created)
        XCTAssertTrue(JobStore.isValidJobId(job.id))
        XCTAssertEqual(job.status, .queued)
        XCTAssertEqual(job.createdAt, clock.now)
        let stored = try XCTUnwrap(try store.job(id: job.id, includePayload: true))
        XCTAssertEqual(stored.payload, bytes)
        XCTAssertEqual(stored.payloadSize, 1024)
        XCTAssertEqual(stored.contentType, "video/mp4")
        XCTAssertEqual(stored.parameters, ["faces": "2", "threshold": "0.5"])
        XCTAssertEqual(stored.callbackURL, "http://127.0.0.1:9/hook")
        XCTAssertNil(try store.job(id: job.id)?.payload, "no payload unless asked")
        XCTAssertNil(try store.job(id: "00000000-0000-0000-0000-000000000000"))
        XCTAssertNil(try store.job(id: "'; DROP TABLE dfgaze_jobs; --"))

        let rendered = try XCTUnwrap(jsonObject(stored.json()))
        XCTAssertEqual(rendered["id"] as? String, job.id)
        XCTAssertEqual(rendered["status"] as? String, "queued")
        XCTAssertEqual(rendered["created_at"] as? String, "2027-01-15T08:00:00.000Z")
        XCTAssertTrue(rendered["started_at"] is NSNull)
        XCTAssertEqual((rendered["progress"] as? [String: Int]) ?? [:], ["clips_done": 0, "clips_total": 0])
        XCTAssertNil(rendered["result"])
        XCTAssertEqual((rendered["webhook"] as? [String: Any])?["attempts"] as? [Any]as NSArray?, [] as NSArray)
    }

    static func listFiltersByStatusNewestFirst(_ backend: Backend) throws {
        let clock = ManualClock()
        let store = try backend.open(clock: clock.function)
        var ids: [String] = []
        for i in 0..<4 {
            ids.append(try store.submit(submission("job \(i)")).job.id)
            clock.advance(1)
        }
        let claimed = try XCTUnwrap(try store.claim(worker: "w"))
        XCTAssertEqual(claimed.job.id, ids[0], "the oldest queued job first")
        XCTAssertEqual(try store.list().map(\.id), ids.reversed())
        XCTAssertEqual(try store.list(status: .queued).map(\.id), [ids[3], ids[2], ids[1]])
        XCTAssertEqual(try store.list(status: .running).map(\.id), [ids[0]])
        XCTAssertEqual(try store.list(limit: 2).map(\.id), [ids[3], ids[2]])
        let listed = try XCTUnwrap(jsonObject(Job.listJSON(try store.list(status: .running)))?["jobs"] as? [[String: Any]])
        XCTAssertEqual(listed.map { $0["id"] as? String }, [ids[0]])
    }

    static func idempotencyKey(_ backend: Backend) throws {
        let store = try backend.open()
        let first = try store.submit(submission("video bytes", key: "key-1"))
        XCTAssertTrue(first.created)
        let again = try store.submit(submission("video bytes", key: "key-1"))
        XCTAssertFalse(again.created)
        XCTAssertEqual(again.job.id, first.job.id)
        XCTAssertThrowsError(try store.submit(submission("other bytes", key: "key-1"))) {
            XCTAssertEqual($0 as? JobStoreError, .idempotencyConflict(existingJobId: first.job.id))
        }
        XCTAssertThrowsError(try store.submit(submission("video bytes", key: "key-1", parameters: ["faces": "3"]))) {
            XCTAssertEqual($0 as? JobStoreError, .idempotencyConflict(existingJobId: first.job.id), "parameters are part of the body")
        }
        XCTAssertNotEqual(try store.submit(submission("video bytes", key: "key-2")).job.id, first.job.id)
        for bad in [String(repeating: "k", count: 256), "", "tab\there", "caf\u{e9}"] {
            XCTAssertThrowsError(try store.submit(submission("x", key: bad))) {
                XCTAssertEqual($0 as? JobStoreError, .invalidIdempotencyKey)
            }
        }
        XCTAssertEqual(try store.list().count, 2)
    }

    static func queueIsBounded(_ backend: Backend) throws {
        var options = JobStoreOptions()
        options.maxQueuedJobs = 3
        options.queueFullRetryAfterSeconds = 7
        let store = try backend.open(options)
        for i in 0..<3 { _ = try store.submit(submission("\(i)")) }
        XCTAssertThrowsError(try store.submit(submission("4"))) {
            XCTAssertEqual($0 as? JobStoreError, .queueFull(retryAfterSeconds: 7))
        }
        // A claimed job no longer counts against the bound.
        _ = try store.claim(worker: "w")
        XCTAssertNoThrow(try store.submit(submission("4")))
        XCTAssertEqual(try store.stats().countsByStatus[.queued], 3)
    }

    static func staleWorkerCannotOverwrite(_ backend: Backend) throws {
        let clock = ManualClock()
        var options = JobStoreOptions()
        options.leaseSeconds = 30
        let a = try backend.open(options, clock: clock.function)
        let b = try backend.open(options, clock: clock.function)
        let id = try a.submit(submission("payload")).job.id
        let claimA = try XCTUnwrap(try a.claim(worker: "A"))
        XCTAssertEqual(claimA.job.payload, Data("payload".utf8))
        XCTAssertNil(try b.claim(worker: "B"), "a held lease is not claimed twice")
        clock.advance(20)
        XCTAssertEqual(try a.renew(id: id, leaseToken: claimA.leaseToken), .held)
        clock.advance(20)
        XCTAssertNil(try b.claim(worker: "B"), "the renewal moved the expiry")
        clock.advance(11)  // A stopped renewing: its lease expired 1 s ago.
        let claimB = try XCTUnwrap(try b.claim(worker: "B"))
        XCTAssertEqual(claimB.job.id, id)
        XCTAssertEqual(claimB.job.attempts, 2)
        XCTAssertEqual(try a.renew(id: id, leaseToken: claimA.leaseToken), .lost)
        XCTAssertEqual(try a.progress(id: id, leaseToken: claimA.leaseToken, clipsDone: 9, clipsTotal: 9), .lost)
        XCTAssertThrowsError(try a.complete(id: id, leaseToken: claimA.leaseToken, result: Data("{\"by\":\"A\"}".utf8))) {
            XCTAssertEqual($0 as? JobStoreError, .leaseLost)
        }
        XCTAssertEqual(try b.progress(id: id, leaseToken: claimB.leaseToken, clipsDone: 2, clipsTotal: 3), .held)
        try b.complete(id: id, leaseToken: claimB.leaseToken, result: Data("{\"by\":\"B\"}".utf8))
        XCTAssertThrowsError(try b.complete(id: id, leaseToken: claimB.leaseToken, result: Data("{\"by\":\"B2\"}".utf8)))
        XCTAssertThrowsError(try a.fail(id: id, leaseToken: claimA.leaseToken, error: Data("{}".utf8)))
        let job = try XCTUnwrap(try a.job(id: id, includePayload: true))
        XCTAssertEqual(job.status, .succeeded)
        XCTAssertEqual(jsonObject(job.result)?["by"] as? String, "B")
        XCTAssertNil(job.payload, "the upload is deleted once the job finished")
        XCTAssertEqual(job.clipsDone, 2)
        XCTAssertEqual(job.clipsTotal, 3)
        XCTAssertEqual(job.finishedAt, clock.now)
        XCTAssertEqual(jsonObject(job.json())?["result"] as? [String: String], ["by": "B"])
    }

    static func cancel(_ backend: Backend) throws {
        let store = try backend.open()
        let queued = try store.submit(submission("q")).job.id
        let running = try store.submit(submission("r")).job.id
        XCTAssertEqual(try store.cancel(id: queued)?.status, .canceled)
        let claim = try XCTUnwrap(try store.claim(worker: "w"))
        XCTAssertEqual(claim.job.id, running, "a canceled job is never claimed")
        XCTAssertEqual(try store.cancel(id: running)?.status, .canceled)
        XCTAssertEqual(try store.leaseState(id: running, leaseToken: claim.leaseToken), .canceled)
        XCTAssertEqual(try store.renew(id: running, leaseToken: claim.leaseToken), .canceled)
        XCTAssertThrowsError(try store.complete(id: running, leaseToken: claim.leaseToken, result: Data("{}".utf8)))
        XCTAssertEqual(try store.job(id: running)?.status, .canceled)
        XCTAssertNil(try store.job(id: running)?.result)
        XCTAssertNil(try store.claim(worker: "w"))
        // A finished job stays as it was; an unknown one is nil.
        let done = try store.submit(submission("d")).job.id
        let c = try XCTUnwrap(try store.claim(worker: "w"))
        try store.complete(id: done, leaseToken: c.leaseToken, result: Data("[1]".utf8))
        XCTAssertEqual(try store.cancel(id: done)?.status, .succeeded)
        XCTAssertNil(try store.cancel(id: UUID().uuidString.lowercased()))
    }

    static func ttlDeletesFinishedJobs(_ backend: Backend) throws {
        let clock = ManualClock()
        var options = JobStoreOptions()
        options.ttlSeconds = 3600
        let store = try backend.open(options, clock: clock.function)
        let finished = try store.submit(submission("f", callback: "http://127.0.0.1:9/")).job.id
        let claim = try XCTUnwrap(try store.claim(worker: "w"))
        try store.fail(id: finished, leaseToken: claim.leaseToken, error: Data("{\"error\":{\"code\":\"x\"}}".utf8))
        try store.recordWebhookAttempt(jobId: finished, attemptNumber: 1, attempt: WebhookAttempt(at: clock.now, status: 200), nextAttemptAt: nil)
        let queued = try store.submit(submission("q")).job.id
        clock.advance(3599)
        XCTAssertEqual(try store.deleteExpired(), 0)
        XCTAssertEqual(try store.job(id: finished)?.status, .failed)
        clock.advance(2)
        XCTAssertEqual(try store.deleteExpired(), 1)
        XCTAssertNil(try store.job(id: finished))
        XCTAssertEqual(try store.job(id: queued)?.status, .queued, "only finished jobs expire")
        XCTAssertEqual(try store.stats().webhookAttempts, 0, "its webhook record went with it")
    }

    static func statsForMetrics(_ backend: Backend) throws {
        let clock = ManualClock()
        let store = try backend.open(clock: clock.function)
        XCTAssertEqual(try store.stats().oldestQueuedAgeSeconds, 0)
        for i in 0..<3 {
            _ = try store.submit(submission("\(i)"))
            clock.advance(10)
        }
        let claim = try XCTUnwrap(try store.claim(worker: "w"))
        try store.complete(id: claim.job.id, leaseToken: claim.leaseToken, result: Data("{}".utf8))
        _ = try store.claim(worker: "w")
        _ = try store.submit(submission("late"))
        let stats = try store.stats()
        XCTAssertEqual(stats.countsByStatus, [.queued: 2, .running: 1, .succeeded: 1, .failed: 0, .canceled: 0])
        XCTAssertEqual(stats.oldestQueuedAgeSeconds, 10, accuracy: 1e-6, "the third job was submitted 10 s before now")
    }

    static func requeueOfExpiredLeases(_ backend: Backend) throws {
        let clock = ManualClock()
        var options = JobStoreOptions()
        options.leaseSeconds = 5
        let store = try backend.open(options, clock: clock.function)
        let id = try store.submit(submission("x")).job.id
        _ = try store.claim(worker: "dead")
        XCTAssertEqual(try store.requeueExpiredLeases(), 0)
        clock.advance(6)
        XCTAssertEqual(try store.requeueExpiredLeases(), 1)
        XCTAssertEqual(try store.job(id: id)?.status, .queued)
        XCTAssertEqual(try store.claim(worker: "alive")?.job.id, id)
    }

    /// Two runners (two connections, like two processes or replicas) on one database: every job
    /// runs, each ends succeeded with its own result, stored once.
    static func twoRunnersShareTheWork(_ backend: Backend) throws {
        let executions = Counter()
        let storeA = try backend.open(), storeB = try backend.open()
        var ids: [String: String] = [:]
        for i in 0..<24 { ids[try storeA.submit(submission("clip \(i)")).job.id] = "clip \(i)" }
        func runner(_ store: JobStore, _ name: String) -> JobRunner {
            var c = JobRunnerConfiguration()
            c.workers = 2
            c.pollInterval = 0.02
            c.workerName = name
            return JobRunner(store: store, configuration: c) { job, progress, _ in
                executions.add(job.id)
                executions.add("runner " + name)
                progress(1, 1)
                return echoResult(job.payload ?? Data())
            }
        }
        let a = runner(storeA, "A"), b = runner(storeB, "B")
        a.start()
        b.start()
        try eventually("all 24 jobs succeeded") { try storeB.stats().countsByStatus[.succeeded] == 24 }
        a.stop()
        b.stop()
        for (id, text) in ids {
            let job = try XCTUnwrap(try storeA.job(id: id))
            XCTAssertEqual(job.status, .succeeded)
            XCTAssertEqual(jsonObject(job.result)?["echo"] as? String, text, "job \(id) holds its own result")
            XCTAssertEqual(executions[id], 1, "no lease expired, so each job ran once")
            XCTAssertEqual(job.clipsDone, 1)
        }
        XCTAssertEqual(executions["runner A"] + executions["runner B"], 24)
    }

    /// A runner "dies" mid-job (stops renewing, never writes); after its lease expires another
    /// runner claims the job and stores the one result; the dead one's late result is dropped.
    static func leaseTakeoverAfterAWorkerDies(_ backend: Backend) throws {
        let clock = ManualClock()
        var options = JobStoreOptions()
        options.leaseSeconds = 30
        let storeA = try backend.open(options, clock: clock.function)
        let storeB = try backend.open(options, clock: clock.function)
        let id = try storeA.submit(submission("long video")).job.id
        let started = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        var config = JobRunnerConfiguration()
        config.pollInterval = 0.02
        let a = JobRunner(store: storeA, configuration: config) { job, _, _ in
            started.signal()
            release.wait()
            return Data("{\"by\":\"A\"}".utf8)
        }
        a.start()
        XCTAssertEqual(started.wait(timeout: .now() + 60), .success)
        a.haltForTesting()
        clock.advance(61)  // two lease periods without a renewal
        let b = JobRunner(store: storeB, configuration: config) { job, _, _ in
            Data("{\"by\":\"B\",\"echo\":\(jsonString(String(decoding: job.payload ?? Data(), as: UTF8.self)))}".utf8)
        }
        b.start()
        try eventually("B finished the job") { try storeB.job(id: id)?.status == .succeeded }
        release.signal()
        b.stop()
        a.stop()
        let job = try XCTUnwrap(try storeA.job(id: id))
        XCTAssertEqual(jsonObject(job.result)?["by"] as? String, "B")
        XCTAssertEqual(jsonObject(job.result)?["echo"] as? String, "long video")
        XCTAssertEqual(job.attempts, 2)
    }

    /// The executor sees the cancellation it polls; nothing is stored for the canceled job.
    static func runnerNoticesCancel(_ backend: Backend) throws {
        let store = try backend.open()
        let id = try store.submit(submission("cancel me")).job.id
        let started = DispatchSemaphore(value: 0)
        let sawCancel = Counter()
        var config = JobRunnerConfiguration()
        config.pollInterval = 0.02
        config.checkInterval = 0.05
        let runner = JobRunner(store: store, configuration: config) { _, _, isCanceled in
            started.signal()
            while !isCanceled() { Thread.sleep(forTimeInterval: 0.01) }
            sawCancel.add("yes")
            struct Stopped: Error {}
            throw Stopped()
        }
        runner.start()
        XCTAssertEqual(started.wait(timeout: .now() + 60), .success)
        // Canceled through another store (another replica): the heartbeat notices.
        let other = try backend.open()
        XCTAssertEqual(try other.cancel(id: id)?.status, .canceled)
        eventually("the executor saw isCanceled") { sawCancel["yes"] == 1 }
        runner.stop()
        let job = try XCTUnwrap(try store.job(id: id))
        XCTAssertEqual(job.status, .canceled)
        XCTAssertNil(job.error)
    }

    /// Executor errors become the job's error JSON.
    static func runnerStoresErrors(_ backend: Backend) throws {
        struct Refused: JobErrorJSON { var errorJSON: Data { Data("{\"error\":{\"code\":\"no_face\",\"message\":\"no face\"}}".utf8) } }
        struct Other: Error {}
        let store = try backend.open()
        let refused = try store.submit(submission("refused")).job.id
        let other = try store.submit(submission("other")).job.id
        let notJSON = try store.submit(submission("not json")).job.id
        var config = JobRunnerConfiguration()
        config.pollInterval = 0.02
        let runner = JobRunner(store: store, configuration: config) { job, _, _ in
            switch String(decoding: job.payload ?? Data(), as: UTF8.self) {
            case "refused": throw Refused()
            case "other": throw Other()
            default: return Data("not json".utf8)
            }
        }
        runner.start()
        try eventually("three failed") { try store.stats().countsByStatus[.failed] == 3 }
        runner.stop()
        let e1 = try XCTUnwrap(jsonObject(try store.job(id: refused)?.json())?["error"] as? [String: Any])
        XCTAssertEqual((e1["error"] as? [String: String])?["code"], "no_face")
        for id in [other, notJSON] {
            let e = try XCTUnwrap(jsonObject(try store.job(id: id)?.error)?["error"] as? [String: String])
            XCTAssertEqual(e["code"], "internal_error")
        }
    }
}

final class SQLiteJobStoreTests: XCTestCase {
    func testSchemaIsVersionedAndReopens() throws { try StoreSpecs.schemaIsVersionedAndReopens(.sqlite()) }
    func testSubmitStoresBytesAndParameters() throws { try StoreSpecs.submitStoresBytesAndParameters(.sqlite()) }
    func testListFiltersByStatusNewestFirst() throws { try StoreSpecs.listFiltersByStatusNewestFirst(.sqlite()) }
    func testIdempotencyKey() throws { try StoreSpecs.idempotencyKey(.sqlite()) }
    func testQueueIsBounded() throws { try StoreSpecs.queueIsBounded(.sqlite()) }
    func testStaleWorkerCannotOverwrite() throws { try StoreSpecs.staleWorkerCannotOverwrite(.sqlite()) }
    func testCancel() throws { try StoreSpecs.cancel(.sqlite()) }
    func testTTLDeletesFinishedJobs() throws { try StoreSpecs.ttlDeletesFinishedJobs(.sqlite()) }
    func testStatsForMetrics() throws { try StoreSpecs.statsForMetrics(.sqlite()) }
    func testRequeueOfExpiredLeases() throws { try StoreSpecs.requeueOfExpiredLeases(.sqlite()) }
    func testTwoRunnersShareTheWork() throws { try StoreSpecs.twoRunnersShareTheWork(.sqlite()) }
    func testLeaseTakeoverAfterAWorkerDies() throws { try StoreSpecs.leaseTakeoverAfterAWorkerDies(.sqlite()) }
    func testRunnerNoticesCancel() throws { try StoreSpecs.runnerNoticesCancel(.sqlite()) }
    func testRunnerStoresErrors() throws { try StoreSpecs.runnerStoresErrors(.sqlite()) }

    func testTheFileIsInWALMode() throws {
        let backend = Backend.sqlite()
        guard case .sqlite(let path) = backend.configuration.backend else { return XCTFail() }
        do {
            let store = try backend.open()
            _ = try store.submit(StoreSpecs.submission("x"))
            XCTAssertTrue(FileManager.default.fileExists(atPath: path + "-wal"), "a WAL file beside the open database")
        }
        // SQLite's file format: header bytes 18 and 19 (write and read versions) are 2 in WAL mode.
        let header = try XCTUnwrap(FileManager.default.contents(atPath: path))
        XCTAssertEqual(Array(header[18...19]), [2, 2])
    }

    /// A process dies with jobs running (its store is dropped without finishing them); reopening
    /// the file re-queues them, and a runner finishes every job exactly once with its own result.
    func testReopenAfterCrashRequeuesRunningJobs() throws {
        let backend = Backend.sqlite()
        var ids: [String: String] = [:]
        var crashedIds: Set<String> = []
        do {
            let crashed = try backend.open()
            for i in 0..<6 { ids[try crashed.submit(StoreSpecs.submission("part \(i)")).job.id] = "part \(i)" }
            for _ in 0..<2 { crashedIds.insert(try XCTUnwrap(try crashed.claim(worker: "dead")).job.id) }
            try crashed.progress(id: crashedIds.first!, leaseToken: "not the token", clipsDone: 1, clipsTotal: 2)
            XCTAssertEqual(try crashed.stats().countsByStatus[.running], 2)
        }
        let reopened = try backend.open()
        let stats = try reopened.stats()
        XCTAssertEqual(stats.countsByStatus[.running], 0)
        XCTAssertEqual(stats.countsByStatus[.queued], 6, "nothing lost")
        let executions = Counter()
        var config = JobRunnerConfiguration()
        config.pollInterval = 0.02
        let runner = JobRunner(store: reopened, configuration: config) { job, _, _ in
            executions.add(job.id)
            return echoResult(job.payload ?? Data())
        }
        runner.start()
        try eventually("all six succeeded") { try reopened.stats().countsByStatus[.succeeded] == 6 }
        runner.stop()
        XCTAssertEqual(try reopened.list().count, 6, "nothing duplicated")
        for (id, text) in ids {
            let job = try XCTUnwrap(try reopened.job(id: id))
            XCTAssertEqual(jsonObject(job.result)?["echo"] as? String, text)
            XCTAssertEqual(executions[id], 1)
            XCTAssertEqual(job.attempts, crashedIds.contains(id) ? 2 : 1)
        }
    }

    /// stop() gives an interrupted job back to the queue instead of failing it.
    func testStopReleasesTheRunningJob() throws {
        let store = try Backend.sqlite().open()
        let id = try store.submit(StoreSpecs.submission("x")).job.id
        let started = DispatchSemaphore(value: 0)
        var config = JobRunnerConfiguration()
        config.pollInterval = 0.02
        let runner = JobRunner(store: store, configuration: config) { _, _, isCanceled in
            started.signal()
            while !isCanceled() { Thread.sleep(forTimeInterval: 0.01) }
            throw CancellationError()
        }
        runner.start()
        XCTAssertEqual(started.wait(timeout: .now() + 60), .success)
        runner.stop()
        XCTAssertEqual(try store.job(id: id)?.status, .queued)
    }
}

final class PostgresJobStoreTests: XCTestCase {
    func testSchemaIsVersionedAndReopens() throws { try StoreSpecs.schemaIsVersionedAndReopens(.postgres()) }
    func testSubmitStoresBytesAndParameters() throws { try StoreSpecs.submitStoresBytesAndParameters(.postgres()) }
    func testListFiltersByStatusNewestFirst() throws { try StoreSpecs.listFiltersByStatusNewestFirst(.postgres()) }
    func testIdempotencyKey() throws { try StoreSpecs.idempotencyKey(.postgres()) }
    func testQueueIsBounded() throws { try StoreSpecs.queueIsBounded(.postgres()) }
    func testStaleWorkerCannotOverwrite() throws { try StoreSpecs.staleWorkerCannotOverwrite(.postgres()) }
    func testCancel() throws { try StoreSpecs.cancel(.postgres()) }
    func testTTLDeletesFinishedJobs() throws { try StoreSpecs.ttlDeletesFinishedJobs(.postgres()) }
    func testStatsForMetrics() throws { try StoreSpecs.statsForMetrics(.postgres()) }
    func testRequeueOfExpiredLeases() throws { try StoreSpecs.requeueOfExpiredLeases(.postgres()) }
    func testTwoRunnersShareTheWork() throws { try StoreSpecs.twoRunnersShareTheWork(.postgres()) }
    func testLeaseTakeoverAfterAWorkerDies() throws { try StoreSpecs.leaseTakeoverAfterAWorkerDies(.postgres()) }
    func testRunnerNoticesCancel() throws { try StoreSpecs.runnerNoticesCancel(.postgres()) }
    func testRunnerStoresErrors() throws { try StoreSpecs.runnerStoresErrors(.postgres()) }

    /// Opening a PostgreSQL store leaves other replicas' running jobs alone.
    func testOpeningDoesNotRequeueOtherReplicasJobs() throws {
        let backend = try Backend.postgres()
        let a = try backend.open()
        let id = try a.submit(StoreSpecs.submission("x")).job.id
        _ = try a.claim(worker: "replica A")
        _ = try backend.open()
        XCTAssertEqual(try a.job(id: id)?.status, .running)
    }

    func testAWrongPasswordIsRefusedAndNotEchoed() throws {
        let backend = try Backend.postgres()
        var configuration = backend.configuration
        configuration.password = "wrong-password-123"
        XCTAssertThrowsError(try JobStore(configuration: configuration)) { error in
            XCTAssertFalse("\(error)".contains("wrong-password-123"))
            XCTAssertTrue("\(error)".contains("password authentication failed"), "\(error)")
        }
    }
}
