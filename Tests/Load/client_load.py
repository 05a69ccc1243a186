#!/usr/bin/env python3
"""Closed-loop clients scoring clips back to back through a given port (e.g. a load balancer) for
a fixed time. Prints the answer counts; exits 1 when any request was not answered 200.

    Tests/Load/client_load.py --port 8090 --seconds 30 [--clients 4]
"""

import argparse
import asyncio
import json
import time
from collections import Counter

from loadlib import HTTPError, clip, percentile, request


async def main(args) -> int:
    body, headers = clip()
    counts: Counter = Counter()
    failures: list[str] = []
    latencies: list[float] = []
    until = time.monotonic() + args.seconds

    async def client() -> None:
        while time.monotonic() < until:
            t0 = time.perf_counter()
            try:
                status, _, answer = await request(args.port, "POST", "/score", body, headers, timeout=args.timeout)
                counts[status] += 1
                if status == 200:
                    latencies.append(time.perf_counter() - t0)
                else:
                    failures.append(f"status {status}: {answer[:160]!r}")
            except (HTTPError, asyncio.TimeoutError) as e:
                counts["lost"] += 1
                failures.append(f"{type(e).__name__}: {e}")

    await asyncio.gather(*(client() for _ in range(args.clients)))
    summary = {"requests": sum(counts.values()), "ok": counts[200], "failed": len(failures),
               "answers": {str(k): v for k, v in counts.items()},
               "latency_s_p50": round(percentile(latencies, 50), 2), "latency_s_max": round(max(latencies, default=0), 2),
               "failures": sorted(set(failures))[:10]}
    print(json.dumps(summary), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--timeout", type=float, default=120)
    raise SystemExit(asyncio.run(main(p.parse_args())))
