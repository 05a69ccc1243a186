#!/usr/bin/env python3
"""How a running job slows POST /score (docs/jobs.md, "How job workers share the cores"): four
/score calls alone, then four while jobs keep one inference worker busy; prints the seconds.
Not part of `make test` (a figure, about a minute). Run from the repo root after a release build."""
import json
import sys
import time
from pathlib import Path
here = Path(__file__).resolve().parent
sys.path.insert(0, str(here.parent / "Load")); sys.path.insert(0, str(here))
from jobs_e2e import jpegs, NAMES8, call, submit
from loadlib import Server, multipart
body, ct = multipart(jpegs(NAMES8))
with Server("--job-workers", "1") as s:
    p = s.port
    call(p, "POST", "/score", body, {"Content-Type": ct})  # warm
    alone = []
    for _ in range(4):
        t = time.monotonic(); st = call(p, "POST", "/score", body, {"Content-Type": ct})[0]; alone.append(time.monotonic() - t); assert st == 200
    ids = [submit(p, body, ct)[2]["id"] for _ in range(8)]
    time.sleep(1)
    busy = []
    for _ in range(4):
        t = time.monotonic(); st = call(p, "POST", "/score", body, {"Content-Type": ct})[0]; busy.append(time.monotonic() - t); assert st == 200
        running = [call(p, "GET", f"/jobs/{i}")[2]["status"] for i in ids].count("running")
        assert running == 1, running
    t0 = time.monotonic()
    while any(call(p, "GET", f"/jobs/{i}")[2]["status"] != "succeeded" for i in ids): time.sleep(0.2)
    jobs = [call(p, "GET", f"/jobs/{i}")[2] for i in ids]
    from datetime import datetime
    f = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    durs = [f(j["finished_at"]) - f(j["started_at"]) for j in jobs]
    print(json.dumps({"score_alone_s": [round(x, 2) for x in alone], "score_with_job_running_s": [round(x, 2) for x in busy],
                      "job_run_s": [round(x, 2) for x in durs]}))
