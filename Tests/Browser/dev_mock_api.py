#!/usr/bin/env python3
"""DEV AID ONLY, not a test: a stand-in for `dfgaze serve` that answers the documented contract of
POST /jobs, GET /jobs/{id} and POST /score with the recorded responses of
Tests/Fixtures/dfgaze-video-v1/expected.json, so that the review page can be worked on before the
real endpoints exist. It serves the page at GET / with the CSP of ReviewPage.swift. The committed
browser tests (Tests/Browser/run.sh) run against the real binary, never against this.

    python3 Tests/Browser/dev_mock_api.py [port]      # then: review_page.py --url http://127.0.0.1:PORT
Env: MOCK_NO_JOBS=1 (POST /jobs answers 404: the page must fall back to /score),
     MOCK_KEY=secret (every API call needs Authorization: Bearer secret).
"""
import email.parser
import hashlib
import http.server
import json
import math
import os
import pathlib
import re
import sys
import uuid

repo = pathlib.Path(__file__).resolve().parents[2]
fixtures = repo / "Tests/Fixtures/dfgaze-video-v1"
expected = json.loads((fixtures / "expected.json").read_text())["cases"]
frame_sha = {hashlib.sha256((fixtures / "frames" / n).read_bytes()).hexdigest(): n for n in os.listdir(fixtures / "frames")}
jobs = {}


def angle(a, b):
    d = sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    return math.degrees(math.acos(max(-1.0, min(1.0, d))))


def answer(case):
    c = expected[case]
    if "error" in c:
        return c["status"], {"error": c["error"], "request_id": str(uuid.uuid4())}
    r = json.loads(json.dumps(c["response"]))
    frames = {f["index"]: f for f in r["frames"]}
    for clip in r["clips"]:
        g = [frames[i]["gaze"] for i in clip["frames"]]
        mean = [sum(v[k] for v in g) for k in range(3)]
        clip["gaze_dispersion_deg"] = sum(angle(v, mean) for v in g) / len(g)
        clip["gaze_step_deg"] = sum(angle(g[i], g[i + 1]) for i in range(len(g) - 1)) / (len(g) - 1)
    for f in r["frames"]:
        f.pop("crop_jpeg_sha256", None)
    r["model"] = {"name": "DFGaze", "weights": "dfgaze-demo-v1", "demo": True}
    r["request_id"] = str(uuid.uuid4())
    return 200, r


def classify(headers, body, query):
    ctype = headers.get("Content-Type", "")
    if ctype.startswith("video/"):
        sha = hashlib.sha256(body).hexdigest()
        for name, c in expected.items():
            if c["request"].get("sha256") == sha and not c["request"].get("query"):
                return answer(name)
        return 422, {"error": {"code": "video_too_short", "message": "the video has fewer than 32 frames"},
                     "request_id": str(uuid.uuid4())}
    if ctype.startswith("multipart/form-data"):
        msg = email.parser.BytesParser().parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
        names = [frame_sha.get(hashlib.sha256(p.get_payload(decode=True)).hexdigest())
                 for p in msg.get_payload() if p.get_filename()]
        for name, c in expected.items():
            if c["request"].get("frame_files") == names and "faces=detect" in query:
                return answer(name)
        return 422, {"error": {"code": "no_face", "message": "no face found in any clip"}, "request_id": str(uuid.uuid4())}
    return 415, {"error": {"code": "unsupported_media_type", "message": ctype}, "request_id": str(uuid.uuid4())}


class Handler(http.server.BaseHTTPRequestHandler):
    def send(self, status, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        key = os.environ.get("MOCK_KEY")
        if key and self.headers.get("Authorization") != "Bearer " + key:
            self.send(401, {"error": {"code": "unauthorized", "message": "missing or unknown API key"}, "request_id": "r"})
            return False
        return True

    def do_GET(self):
        if self.path == "/":
            data = (repo / "Sources/ScoringService/ReviewPage/review.html").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            swift = (repo / "Sources/ScoringService/ReviewPage.swift").read_text()
            self.send_header("Content-Security-Policy", re.search(r'contentSecurityPolicy = "([^"]*)"', swift).group(1))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path.startswith("/jobs/"):
            if not self.authorized():
                return
            job = jobs.get(self.path[6:])
            if not job:
                return self.send(404, {"error": {"code": "job_not_found", "message": "no such job"}, "request_id": "r"})
            job["polls"] += 1
            status, result = job["answer"]
            total = len(result.get("clips", [])) or 1
            out = {"id": job["id"], "status": "queued", "created_at": "2026-12-04T17:00:00Z",
                   "progress": {"clips_done": 0, "clips_total": total}}
            if job["polls"] > 1:
                out["status"] = "running"
                out["progress"]["clips_done"] = min(total, job["polls"] - 2)
            if job["polls"] > total + 2:
                out["status"] = "succeeded" if status == 200 else "failed"
                out["result" if status == 200 else "error"] = result
            self.send(200, out)
        else:
            self.send(404, {"error": {"code": "not_found", "message": "no route"}, "request_id": "r"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        route, _, query = self.path.partition("?")
        if route == "/jobs" and os.environ.get("MOCK_NO_JOBS"):
            return self.send(404, {"error": {"code": "not_found", "message": "no route"}, "request_id": "r"})
        if not self.authorized():
            return
        status, result = classify(self.headers, body, query)
        if route == "/score":
            return self.send(status, result)
        if route == "/jobs":
            if status != 200 and result["error"]["code"] != "no_face":
                return self.send(status, result)  # limits are checked before 202
            jid = uuid.uuid4().hex
            jobs[jid] = {"id": jid, "polls": 0, "answer": (status, result)}
            return self.send(202, {"id": jid, "status": "queued"}, {"Location": "/jobs/" + jid})
        self.send(404, {"error": {"code": "not_found", "message": "no route"}, "request_id": "r"})

    def log_message(self, fmt, *args):
        sys.stderr.write("mock: " + fmt % args + "\n")


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
