#!/usr/bin/env python3
"""End-to-end tests of /jobs against real `dfgaze serve` processes (loopback only, bounded in time).

    jobs_e2e.py sqlite     submit jobs, kill -9 the service mid-job, restart it on the same data dir:
                           every job ends succeeded once, with the result POST /score gives.
    jobs_e2e.py postgres   two services share the PostgreSQL of Tests/Jobs/postgres.sh (reads
                           DFGAZE_TEST_POSTGRES_URL and DFGAZE_JOBS_DATABASE_PASSWORD); jobs go to
                           both; kill -9 one mid-job: every job ends succeeded exactly once.
    jobs_e2e.py webhook    a receiver answering 500, 500, 200 sees three signed attempts; nothing
                           goes to a host outside --webhook-allow; a 302 is not followed.
    jobs_e2e.py hostile    huge Idempotency-Key, malformed callback_url, ids that are not ids,
                           idempotency, thousands of queued jobs (then 503 + Retry-After).

Job bodies are the fixture's 8 demo frames (Tests/Fixtures/dfgaze-demo-v1) as multipart or JSON.
Exits non-zero when an expectation fails.
"""
import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Load"))
from loadlib import FRAMES, HOST, Expectations, Server, multipart  # noqa: E402

HERE = Path(__file__).resolve().parent
NAMES8 = ["a_0", "a_1", "a_2", "a_3", "b_0", "b_1", "b_2", "b_3"]


def jpegs(names):
    return [(FRAMES / f"{n}.jpg").read_bytes() for n in names]


def json_body(names, **extra) -> tuple[bytes, str]:
    body = {"frames": [base64.b64encode(j).decode() for j in jpegs(names)], **extra}
    return json.dumps(body).encode(), "application/json"


def call(port, method, path, body=b"", headers=None, timeout=120):
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        c.request(method, path, body=body if body or method == "POST" else None, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed
    finally:
        c.close()


def submit(port, body, content_type, query="", headers=None):
    return call(port, "POST", "/jobs" + query, body, {"Content-Type": content_type, **(headers or {})})


def comparable(result: dict) -> dict:
    """A /score or job result without what differs between runs (request id, timings)."""
    return {k: v for k, v in result.items() if k not in ("request_id", "timings")}


def wait_jobs(port, ids, timeout) -> dict:
    deadline = time.monotonic() + timeout
    jobs = {}
    while time.monotonic() < deadline:
        jobs = {i: call(port, "GET", f"/jobs/{i}")[2] for i in ids}
        if all(j and j["status"] in ("succeeded", "failed", "canceled") for j in jobs.values()):
            break
        time.sleep(0.5)
    return jobs


def bodies():
    """Two different job bodies (multipart 8 frames; JSON 8 frames in another order) and their ids."""
    a, a_type = multipart(jpegs(NAMES8), client_id="job-a")
    b, b_type = json_body(NAMES8[4:] + NAMES8[:4], id="job-b")
    return [(a, a_type), (b, b_type)]


def expected_results(port, kinds) -> list[dict]:
    out = []
    for body, content_type in kinds:
        status, _, result = call(port, "POST", "/score", body, {"Content-Type": content_type})
        assert status == 200, (status, result)
        out.append(comparable(result))
    return out


def check_all_succeeded(e: Expectations, jobs: dict, submitted: dict, expected: list[dict]):
    e.check(len(jobs) == len(submitted), f"{len(submitted)} jobs submitted, {len(jobs)} found")
    statuses = sorted(j["status"] if j else "missing" for j in jobs.values())
    e.check(all(s == "succeeded" for s in statuses), f"every job succeeded: {statuses}")
    wrong = [i for i, j in jobs.items() if j and j.get("result") and comparable(j["result"]) != expected[submitted[i]]]
    e.check(not wrong, f"every result equals POST /score's for the same body (wrong: {wrong})")


def list_ids(port) -> list[str]:
    status, _, listing = call(port, "GET", "/jobs?limit=1000")
    assert status == 200, status
    return [j["id"] for j in listing["jobs"]]


def wait_running(port, ids, timeout=60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = [call(port, "GET", f"/jobs/{i}")[2]["status"] for i in ids]
        if "running" in statuses:
            return True
        time.sleep(0.1)
    return False


# MARK: - Scenarios

def sqlite(e: Expectations):
    data = tempfile.mkdtemp(prefix="dfgaze-jobs-")
    kinds = bodies()
    options = ("--data-dir", data, "--job-workers", "1", "--workers", "1")
    server = Server(*options)
    server.start()
    try:
        expected = expected_results(server.port, kinds)
        submitted = {}
        for n in range(6):
            status, headers, job = submit(server.port, *kinds[n % 2])
            e.check(status == 202 and headers.get("location") == f"/jobs/{job['id']}", f"job {n}: 202 + Location")
            submitted[job["id"]] = n % 2
        e.check(wait_running(server.port, list(submitted)), "a job is running")
        time.sleep(0.5)
        before = {i: call(server.port, "GET", f"/jobs/{i}")[2]["status"] for i in submitted}
        os.kill(server.pid, signal.SIGKILL)
        server.proc.wait()
        print(f"killed -9 mid-job; statuses then: {sorted(before.values())}")
        e.check("running" in before.values() and "queued" in before.values(), "killed while one ran and others waited")
    finally:
        server.stop(grace=5)
    server = Server(*options)
    server.start()
    try:
        jobs = wait_jobs(server.port, list(submitted), timeout=180)
        check_all_succeeded(e, jobs, submitted, expected)
        ids = list_ids(server.port)
        e.check(sorted(ids) == sorted(submitted), f"GET /jobs lists each job once: {len(ids)} listed, {len(submitted)} submitted")
    finally:
        server.stop(grace=10)


def postgres(e: Expectations):
    url = os.environ.get("DFGAZE_TEST_POSTGRES_URL")
    if not url or not os.environ.get("DFGAZE_JOBS_DATABASE_PASSWORD"):
        sys.exit("postgres: set DFGAZE_TEST_POSTGRES_URL and DFGAZE_JOBS_DATABASE_PASSWORD (eval \"$(Tests/Jobs/postgres.sh start)\")")
    kinds = bodies()
    options = ("--jobs-database", url, "--job-workers", "1", "--workers", "1", "--job-lease-seconds", "3")
    one, two = Server(*options), Server(*options)
    one.start()
    try:
        two.start()
        # A clean table: earlier runs' jobs would be listed too.
        listed_before = set(list_ids(one.port))
        expected = expected_results(one.port, kinds)
        submitted = {}
        for n in range(6):
            port = (one, two)[n % 2].port
            status, _, job = submit(port, *kinds[n % 2])
            e.check(status == 202, f"job {n} to instance {n % 2 + 1}: 202")
            submitted[job["id"]] = n % 2
        e.check(wait_running(two.port, list(submitted)), "a job is running")
        # Both instances have one job worker: wait until two jobs run, so one is the victim's.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            statuses = [call(two.port, "GET", f"/jobs/{i}")[2]["status"] for i in submitted]
            if statuses.count("running") >= 2:
                break
            time.sleep(0.1)
        print(f"killing instance 1 (-9); statuses then: {sorted(statuses)}")
        e.check(statuses.count("running") >= 2, "both instances were running a job")
        os.kill(one.pid, signal.SIGKILL)
        one.proc.wait()
        jobs = wait_jobs(two.port, list(submitted), timeout=240)
        check_all_succeeded(e, jobs, submitted, expected)
        ids = [i for i in list_ids(two.port) if i not in listed_before]
        e.check(sorted(ids) == sorted(submitted), f"each job stored once: {len(ids)} listed, {len(submitted)} submitted")
        # Any instance answers any job (no stickiness): the survivor shows the victim's jobs.
        e.check(all(call(two.port, "GET", f"/jobs/{i}")[0] == 200 for i in submitted), "the survivor answers every job id")
        password = os.environ["DFGAZE_JOBS_DATABASE_PASSWORD"]
        e.check(password not in one.log_path.read_text() + two.log_path.read_text(), "the database password is in no log")
    finally:
        one.stop(grace=5)
        two.stop(grace=10)


class Receiver:
    def __init__(self, statuses: str, secret: str = "", location: str = ""):
        self.log = Path(tempfile.mkstemp(prefix="dfgaze-webhook-", suffix=".jsonl")[1])
        self.proc = subprocess.Popen([sys.executable, str(HERE / "webhook_receiver.py"), "--host", "127.0.0.1",
                                      "--secret", secret, "--statuses", statuses, "--log", str(self.log),
                                      "--location", location], stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())

    def requests(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def webhook(e: Expectations):
    secret = uuid.uuid4().hex
    flaky = Receiver("500,500,200", secret)
    elsewhere = Receiver("200", secret)
    redirector = Receiver("302", secret, location=f"http://127.0.0.1:{elsewhere.port}/stolen")
    data = tempfile.mkdtemp(prefix="dfgaze-jobs-")
    server = Server("--data-dir", data, "--webhook-allow", "127.0.0.1", "--job-workers", "1",
                    env={"DFGAZE_WEBHOOK_SECRET": secret})
    server.start()
    try:
        body, content_type = multipart(jpegs(NAMES8), client_id="hook")
        # Not allowed: refused at submit, nothing sent anywhere.
        for bad in [f"http://localhost:{elsewhere.port}/", f"http://[::1]:{elsewhere.port}/",
                    f"http://127.0.0.1.nip.io:{elsewhere.port}/", f"http://2130706433:{elsewhere.port}/"]:
            status, _, answer = submit(server.port, body, content_type, "?callback_url=" + bad)
            e.check(status == 400 and answer["error"]["code"] == "bad_callback_url", f"{bad}: 400 bad_callback_url ({status})")
        status, _, job = submit(server.port, body, content_type, f"?callback_url=http://127.0.0.1:{flaky.port}/hook?x=1")
        e.check(status == 202, "job with an allowed callback_url: 202")
        # The callback as a multipart field, to a receiver that redirects.
        field = (b"--B\r\nContent-Disposition: form-data; name=\"callback_url\"\r\n\r\n"
                 + f"http://127.0.0.1:{redirector.port}/r".encode() + b"\r\n")
        body2, type2 = multipart(jpegs(NAMES8))
        boundary = type2.split("boundary=")[1]
        body2 = field.replace(b"--B", b"--" + boundary.encode()) + body2
        status, _, job2 = submit(server.port, body2, type2)
        e.check(status == 202, "job with callback_url as a multipart field: 202")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            j = call(server.port, "GET", f"/jobs/{job['id']}")[2]
            j2 = call(server.port, "GET", f"/jobs/{job2['id']}")[2]
            if {j["webhook"]["state"], j2["webhook"]["state"]} <= {"delivered", "failed"}:
                break
            time.sleep(1)
        got = flaky.requests()
        print(f"webhook attempts: {[(a['at'], a['status']) for a in j['webhook']['attempts']]}")
        e.check([a["status"] for a in j["webhook"]["attempts"]] == [500, 500, 200], "attempts recorded: 500, 500, 200")
        e.check(j["webhook"]["state"] == "delivered", "webhook delivered after two 500s")
        e.check(len(got) == 3, f"the receiver saw 3 requests ({len(got)})")
        e.check(all(r["signature_ok"] for r in got), "every request carried a valid X-DFGaze-Signature")
        e.check(all(r["job_id"] == job["id"] and r["body"]["id"] == job["id"] for r in got), "X-DFGaze-Job-Id and body name the job")
        e.check(all(r["path"] == "/hook?x=1" for r in got), "the path and query as given")
        e.check(got and got[-1]["body"]["status"] == "succeeded" and "result" in got[-1]["body"], "the body is the finished job")
        e.check([a["status"] for a in j2["webhook"]["attempts"]] == [302] and j2["webhook"]["state"] == "failed",
                f"a 302 ends delivery without following it: {j2['webhook']}")
        e.check(len(redirector.requests()) == 1, "the redirector saw one request")
        e.check(elsewhere.requests() == [], "nothing reached a host or URL outside --webhook-allow / the callback_url")
        e.check(secret not in server.log_path.read_text(), "the secret is not in the log")
        c = http.client.HTTPConnection(HOST, server.port, timeout=10)
        c.request("GET", "/metrics")
        page = c.getresponse().read().decode()
        c.close()
        count = lambda outcome: sum(float(line.rsplit(" ", 1)[1]) for line in page.splitlines()
                                    if line.startswith(f'dfgaze_job_webhook_attempts_total{{outcome="{outcome}"}}'))
        e.check(count("2xx") == 1 and count("error_status") == 3, f"/metrics: webhook attempts 2xx 1, error_status 3 ({count('2xx')}, {count('error_status')})")
    finally:
        server.stop(grace=10)
        for r in (flaky, elsewhere, redirector):
            r.stop()


def hostile(e: Expectations):
    data = tempfile.mkdtemp(prefix="dfgaze-jobs-")
    limit = 2000
    server = Server("--data-dir", data, "--job-workers", "0", "--max-queued-jobs", str(limit),
                    "--webhook-allow", "127.0.0.1")
    server.start()
    p = server.port
    try:
        body, content_type = json_body(NAMES8[:4])
        # Idempotency-Key: too long (header accepted, key refused), far too long (header section refused).
        status, _, answer = submit(p, body, content_type, headers={"Idempotency-Key": "k" * 256})
        e.check(status == 400 and answer["error"]["code"] == "bad_idempotency_key", f"256-byte Idempotency-Key: 400 ({status})")
        status, _, _ = submit(p, body, content_type, headers={"Idempotency-Key": "k" * 40000})
        e.check(status == 431, f"40 kB Idempotency-Key: 431 ({status})")
        status, _, answer = submit(p, body, content_type, headers={"Idempotency-Key": "\t"})
        e.check(status == 400, f"control character key: 400 ({status})")
        # The same key and body: the same job; another body: 409.
        s1, h1, j1 = submit(p, body, content_type, headers={"Idempotency-Key": "order-1"})
        s2, h2, j2 = submit(p, body, content_type, headers={"Idempotency-Key": "order-1"})
        e.check(s1 == 202 and s2 == 202 and j1["id"] == j2["id"] and h2["location"] == f"/jobs/{j1['id']}",
                "same Idempotency-Key and body: the same job")
        other, other_type = json_body(NAMES8[4:])
        s3, _, a3 = submit(p, other, other_type, headers={"Idempotency-Key": "order-1"})
        e.check(s3 == 409 and a3["error"]["code"] == "idempotency_conflict", f"same key, other body: 409 ({s3})")
        # callback_url: userinfo, IPv6 literals, junk, other schemes, too long.
        for bad in ["http://user:pw@127.0.0.1/", "http://user@127.0.0.1/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
                    "http://[::1", "http://127.0.0.1:99999/", "https://evil.example/", "ftp://127.0.0.1/",
                    "javascript:alert(1)", "http://127.0.0.1/" + "a" * 3000, "http://127.0.0.1\\@evil/",
                    "http://127.0.0.1#@evil/", "http://evil.example/", ""]:
            status, _, answer = call(p, "POST", "/jobs", json.dumps({"frames": json.loads(body)["frames"], "callback_url": bad}).encode(),
                                     {"Content-Type": "application/json"})
            e.check(status == 400 and answer["error"]["code"] == "bad_callback_url", f"callback_url {bad[:40]!r}: 400 ({status})")
        status, _, answer = call(p, "POST", "/jobs", json.dumps({"frames": [], "callback_url": 5}).encode(), {"Content-Type": "application/json"})
        e.check(status in (400, 422), f"a bad upload is a 4xx at once, not a job ({status})")
        # Not ids.
        for path in ["/jobs/nope", "/jobs/00000000-0000-0000-0000-000000000000", "/jobs/%2e%2e", "/jobs/..",
                     "/jobs/" + "a" * 36, "/jobs/" + j1["id"].upper(), "/jobs/" + j1["id"] + "%00",
                     "/jobs/'%20OR%201=1--", "/jobs/" + "f" * 2000]:
            for method in ("GET", "DELETE"):
                status, _, answer = call(p, method, path)
                e.check(status == 404 and answer["error"]["code"] == "job_not_found", f"{method} {path[:50]}: 404 job_not_found ({status})")
        status, _, answer = call(p, "GET", "/jobs/" + j1["id"] + "/x")
        e.check(status == 404 and answer["error"]["code"] == "not_found", f"/jobs/id/x: 404 not_found ({status})")
        for q in ["?status=bogus", "?limit=0", "?limit=-1", "?limit=99999", "?limit=x"]:
            e.check(call(p, "GET", "/jobs" + q)[0] == 400, f"GET /jobs{q}: 400")
        # Thousands of queued jobs: bounded by --max-queued-jobs, then 503 + Retry-After.
        t0 = time.monotonic()
        accepted, refused = 1, None
        c = http.client.HTTPConnection(HOST, p, timeout=30)
        for n in range(limit + 10):
            c.request("POST", "/jobs", body=body, headers={"Content-Type": content_type})
            r = c.getresponse()
            data_ = r.read()
            if r.status == 202:
                accepted += 1
            else:
                refused = (r.status, r.getheader("Retry-After"), json.loads(data_)["error"]["code"])
                break
        c.close()
        print(f"queued {accepted} jobs in {time.monotonic() - t0:.1f} s, then {refused}")
        e.check(accepted == limit, f"exactly --max-queued-jobs ({limit}) accepted ({accepted})")
        e.check(refused is not None and refused[0] == 503 and refused[1] and refused[2] == "jobs_queue_full",
                f"then 503 jobs_queue_full with Retry-After ({refused})")
        t1 = time.monotonic()
        status, _, listing = call(p, "GET", "/jobs?status=queued&limit=1000")
        e.check(status == 200 and len(listing["jobs"]) == 1000, f"GET /jobs?status=queued&limit=1000 lists 1000 ({time.monotonic() - t1:.2f} s)")
        status, _, _ = call(p, "GET", "/healthz", timeout=5)
        e.check(status == 200, "health check still answers")
        metrics = call(p, "GET", "/metrics")
        # A canceled job frees a place.
        status, _, canceled = call(p, "DELETE", f"/jobs/{j1['id']}")
        e.check(status == 200 and canceled["status"] == "canceled", "DELETE cancels a queued job")
        e.check(submit(p, body, content_type)[0] == 202, "a place freed by a cancel is taken again")
    finally:
        server.stop(grace=10)


def main():
    scenarios = {"sqlite": sqlite, "postgres": postgres, "webhook": webhook, "hostile": hostile}
    names = sys.argv[1:] or list(scenarios)
    failed = []
    for name in names:
        e = Expectations(f"jobs {name}")
        try:
            scenarios[name](e)
            e.finish()
        except SystemExit as exit:
            if exit.code:
                failed.append(name)
                if not isinstance(exit.code, int):
                    print(exit.code, flush=True)
    if failed:
        sys.exit(f"jobs_e2e: FAILED: {' '.join(failed)}")


if __name__ == "__main__":
    main()
