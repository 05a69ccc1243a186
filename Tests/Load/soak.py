#!/usr/bin/env python3
"""Soak: sustained moderate load (a few clients scoring clips back to back, within capacity, plus
health checks and metric scrapes) for a fixed number of minutes.

Expectations: every /score answered 200 (the load fits workers + queue, so no 503), no lost
request, /healthz p99 under 50 ms, and RSS flat: the end RSS within 10% (and at least 32 MiB) of
the RSS after the first minute (the warm working set).

    Tests/Load/soak.py --minutes 10 [--clients 2]
"""

import argparse
import asyncio
import time
from collections import Counter

from loadlib import (Expectations, HealthPoller, HTTPError, MemorySampler, Server, clip, figure, memory,
                     percentile, request)


async def client(port: int, body: bytes, headers: dict, until: float, counts: Counter, failures: list,
                 latencies: list) -> None:
    while time.monotonic() < until:
        counts["sent"] += 1
        t0 = time.perf_counter()
        try:
            status, _, answer = await request(port, "POST", "/score", body, headers, timeout=180)
            counts[status] += 1
            if status == 200:
                latencies.append(time.perf_counter() - t0)
            else:
                failures.append(f"status {status}: {answer[:120]!r}")
        except (HTTPError, asyncio.TimeoutError) as e:
            failures.append(f"{type(e).__name__}: {e}")


async def scrape(port: int, until: float, failures: list) -> None:
    while time.monotonic() < until:
        status, _, _ = await request(port, "GET", "/metrics", timeout=10)
        if status != 200:
            failures.append(f"/metrics {status}")
        await asyncio.sleep(5)


async def main(args) -> None:
    expect = Expectations("soak")
    bodies = [clip("a"), clip("b")]
    with Server("--workers", "1", "--queue-depth", "8") as server:
        seconds = args.minutes * 60
        print(f"soak: {args.minutes:g} min, {args.clients} clients scoring back to back", flush=True)
        stop = asyncio.Event()
        sampler = MemorySampler(server.pid, interval=5)
        health = HealthPoller(server.port, interval=0.25)
        background = [asyncio.create_task(sampler.run(stop)), asyncio.create_task(health.run(stop))]
        counts: Counter = Counter()
        failures: list[str] = []
        latencies: list[float] = []
        until = time.monotonic() + seconds
        await asyncio.gather(scrape(server.port, until, failures),
                             *(client(server.port, *bodies[i % 2], until, counts, failures, latencies)
                               for i in range(args.clients)))
        stop.set()
        await asyncio.gather(*background)
        end = memory(server.pid)

        warm = [rss for t, rss in sampler.samples if t >= min(60, seconds / 4)]
        warm_rss = warm[0] if warm else sampler.start["VmRSS"]
        per_minute = [f"{rss}" for t, rss in sampler.samples if int(t) % 60 < 5]
        sent = counts.pop("sent")
        figure("/score requests", sent)
        figure("answers", dict(counts))
        figure("lost", len(failures))
        figure("/score latency s p50 / p99", f"{percentile(latencies, 50):.2f} / {percentile(latencies, 99):.2f}")
        figure("/healthz", health.summary())
        figure("RSS MiB start / after warm-up / peak / end",
               f"{sampler.start['VmRSS']} / {warm_rss} / {sampler.peak} / {end['VmRSS']} (VmHWM {end['VmHWM']})")
        figure("RSS MiB each minute", " ".join(per_minute))
        figure("threads start / end", f"{sampler.start['Threads']} / {end['Threads']}")
        for f in sorted(set(failures))[:10]:
            figure("failure", f)

        expect.check(not failures, f"no lost or refused request ({len(failures)})")
        expect.check(counts[200] > 0, f"requests were scored ({counts[200]})")
        p99 = percentile(health.latencies, 99)
        expect.check(not health.failures and p99 < args.healthz_p99_ms,
                     f"/healthz always answered, p99 {p99:.1f} ms < {args.healthz_p99_ms:.0f} ms")
        allowed = max(32, warm_rss // 10)
        expect.check(end["VmRSS"] <= warm_rss + allowed, f"RSS flat: end {end['VmRSS']} MiB <= {warm_rss} + {allowed} MiB")
        expect.check(server.alive(), "server still running")
    expect.check(server.proc.returncode == 0, f"server drained and exited 0 on SIGTERM ({server.proc.returncode})")
    expect.finish()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--healthz-p99-ms", type=float, default=50)
    asyncio.run(main(p.parse_args()))
