#!/usr/bin/env python3
"""Overload: offer 4-frame clips at ~10x what the server can score, for a bounded time.

Expectations: every request is answered 200 or 503 with Retry-After (no timeout, reset or other
status); /healthz, polled throughout, keeps p99 under 50 ms; the server's 503 count in /metrics
matches ours; the server is still alive. Figures: request counts, /healthz latency, server RSS
(start, peak, end) and VmHWM.

    Tests/Load/overload.py --seconds 60 [--clients 32] [--factor 10] [--workers 1 --queue-depth 8]
"""

import argparse
import asyncio
import time
from collections import Counter

from loadlib import (Expectations, HealthPoller, HTTPError, MemorySampler, Server, clip, figure, memory,
                     metric, percentile, request)


async def calibrate(port: int, body: bytes, headers: dict, runs: int) -> float:
    """Seconds one clip takes when the server is otherwise idle (after one warm-up request)."""
    took = []
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        status, _, answer = await request(port, "POST", "/score", body, headers, timeout=120)
        if status != 200:
            raise SystemExit(f"calibration request answered {status}: {answer[:200]!r}")
        took.append(time.perf_counter() - t0)
    return min(took[1:])


async def offer(port: int, body: bytes, headers: dict, rate: float, seconds: float, clients: int,
                timeout: float) -> tuple[int, Counter, list[str], int, float]:
    """Starts a request every 1/rate s (at most `clients` in flight) for `seconds`, then waits for
    the answers. Returns (requests sent, status counts, failures, starts delayed by the client cap,
    wall time)."""
    counts: Counter = Counter()
    failures: list[str] = []
    in_flight = asyncio.Semaphore(clients)
    held_back = 0

    async def one() -> None:
        try:
            status, answer_headers, answer = await request(port, "POST", "/score", body, headers, timeout=timeout)
            if status == 503 and "retry-after" not in answer_headers:
                failures.append("503 without Retry-After")
            counts[status] += 1
            if status not in (200, 503):
                failures.append(f"status {status}: {answer[:120]!r}")
        except asyncio.TimeoutError:
            failures.append("timeout")
        except HTTPError as e:
            failures.append(str(e))
        finally:
            in_flight.release()

    tasks = []
    t0 = time.monotonic()
    next_start = t0
    while time.monotonic() - t0 < seconds:
        if in_flight.locked():
            held_back += 1
        await in_flight.acquire()
        tasks.append(asyncio.create_task(one()))
        next_start += 1 / rate
        await asyncio.sleep(max(0.0, next_start - time.monotonic()))
    await asyncio.gather(*tasks)
    return len(tasks), counts, failures, held_back, time.monotonic() - t0


async def main(args) -> None:
    expect = Expectations("overload")
    body, headers = clip()
    with Server("--workers", str(args.workers), "--queue-depth", str(args.queue_depth),
                "--max-connections", str(max(512, args.clients * 4))) as server:
        clip_seconds = await calibrate(server.port, body, headers, runs=2)
        capacity = args.workers / clip_seconds
        rate = args.rate or args.factor * capacity
        print(f"overload: {args.seconds:.0f} s at {rate:.2f} req/s offered "
              f"(one clip {clip_seconds:.2f} s idle, capacity ~{capacity:.2f} req/s), up to {args.clients} in flight", flush=True)
        before_503 = await metric(server.port, "dfgaze_requests_rejected_total", {"reason": "overloaded"})

        sampler = MemorySampler(server.pid)
        health = HealthPoller(server.port, interval=0.1)
        stop = asyncio.Event()
        background = [asyncio.create_task(sampler.run(stop)), asyncio.create_task(health.run(stop))]
        sent, counts, failures, held_back, wall = await offer(server.port, body, headers, rate, args.seconds,
                                                        args.clients, timeout=args.timeout)
        stop.set()
        await asyncio.gather(*background)
        end = memory(server.pid)
        served_503 = await metric(server.port, "dfgaze_requests_rejected_total", {"reason": "overloaded"}) - before_503

        figure("requests sent", sent)
        figure("answered 200", counts[200])
        figure("answered 503 + Retry-After", counts[503])
        figure("lost (timeout/reset/other status)", len(failures))
        figure("starts delayed by the client cap", held_back)
        figure("scored per second", f"{counts[200] / wall:.2f} (wall {wall:.1f} s)")
        figure("/healthz", health.summary())
        figure("RSS MiB start / peak / end", f"{sampler.start['VmRSS']} / {sampler.peak} / {end['VmRSS']} (VmHWM {end['VmHWM']})")
        for f in sorted(set(failures))[:10]:
            figure("failure", f)

        expect.check(not failures, f"every request answered 200 or 503 + Retry-After ({len(failures)} lost)")
        expect.check(counts[200] > 0, f"requests were scored under overload ({counts[200]})")
        expect.check(counts[503] > 0, f"overload was refused with 503 ({counts[503]})")
        expect.check(served_503 == counts[503], f"/metrics counts the same 503s ({served_503:.0f})")
        expect.check(not health.failures, f"/healthz always answered 200 ({len(health.failures)} failures)")
        p99 = percentile(health.latencies, 99) if health.latencies else float("inf")
        expect.check(p99 < args.healthz_p99_ms, f"/healthz p99 {p99:.1f} ms < {args.healthz_p99_ms:.0f} ms")
        expect.check(server.alive(), "server still running")
    expect.check(server.proc.returncode == 0, f"server drained and exited 0 on SIGTERM ({server.proc.returncode})")
    expect.finish()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--clients", type=int, default=32, help="most requests in flight at once")
    p.add_argument("--factor", type=float, default=10, help="offered load as a multiple of measured capacity")
    p.add_argument("--rate", type=float, default=None, help="offered requests/s (overrides --factor)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--queue-depth", type=int, default=8)
    p.add_argument("--timeout", type=float, default=180, help="seconds a client waits for an answer")
    p.add_argument("--healthz-p99-ms", type=float, default=50)
    asyncio.run(main(p.parse_args()))
