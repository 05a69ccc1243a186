#!/usr/bin/env python3
"""Throughput under concurrent requests against the single-request rate, side by side in one run
(a benchmark: it prints figures and ratios and fails only when a request fails).

For each server configuration: one client scoring clips back to back (the single-request rate),
then `--clients` clients at once for the same time, in alternating rounds; clips/s of each, their
ratio (the goal is >= 1: no collapse from oversubscribed threads), p50 latency and the server's
peak RSS. Default configurations: the defaults (2 workers, each request's work shared over all
cores) and 1 worker.

    Tests/Load/throughput.py [--seconds 10] [--rounds 3] [--clients 4] [--config "--workers 1" ...]
"""

import argparse
import asyncio
import json
import shlex
import time

from loadlib import Server, clip, memory, percentile, request


async def closed_loop(port: int, clients: int, seconds: float, body: bytes, headers: dict) -> dict:
    latencies: list[float] = []
    failures: list[str] = []
    until = time.monotonic() + seconds
    start = time.monotonic()

    async def client() -> None:
        while time.monotonic() < until:
            t0 = time.perf_counter()
            status, _, answer = await request(port, "POST", "/score", body, headers, timeout=300)
            if status == 200:
                latencies.append(time.perf_counter() - t0)
            else:
                failures.append(f"{status}: {answer[:120]!r}")

    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.monotonic() - start
    return {"clips_per_s": len(latencies) / elapsed, "p50_s": percentile(latencies, 50), "failures": failures}


async def measure(options: list[str], clients: int, seconds: float, rounds: int) -> dict:
    """Rounds of (one client, then `clients` clients), each phase `seconds` long, so that both
    rates see the same drift of a shared machine; medians over the rounds."""
    body, headers = clip()
    singles, concurrents, ratios, failures = [], [], [], []
    with Server(*options) as server:
        await closed_loop(server.port, 1, 3, body, headers)  # warm-up
        for _ in range(rounds):
            single = await closed_loop(server.port, 1, seconds, body, headers)
            concurrent = await closed_loop(server.port, clients, seconds, body, headers)
            singles.append(single)
            concurrents.append(concurrent)
            ratios.append(concurrent["clips_per_s"] / single["clips_per_s"])
            failures += single["failures"] + concurrent["failures"]
        peak = memory(server.pid)["VmHWM"]

    def median(xs: list[float]) -> float:
        return sorted(xs)[len(xs) // 2]
    return {"options": " ".join(options) or "(defaults)",
            "single_clips_per_s": round(median([r["clips_per_s"] for r in singles]), 3),
            "concurrent_clips_per_s": round(median([r["clips_per_s"] for r in concurrents]), 3),
            "ratio": round(median(ratios), 2), "ratios": [round(r, 2) for r in ratios],
            "single_p50_s": round(median([r["p50_s"] for r in singles]), 3),
            "concurrent_p50_s": round(median([r["p50_s"] for r in concurrents]), 3),
            "peak_rss_mib": peak, "failures": failures}


async def main(args) -> int:
    configs = [shlex.split(c) for c in (args.config or ["", "--workers 1"])]
    failed = False
    print(f"{'server options':<24} {'1 client':>10} {f'{args.clients} clients':>10} {'ratio':>6} {'p50 1':>7} "
          f"{f'p50 {args.clients}':>7} {'peak RSS':>9}  ratio per round")
    for options in configs:
        r = await measure(options, args.clients, args.seconds, args.rounds)
        print(f"{r['options']:<24} {r['single_clips_per_s']:>8.3f}/s {r['concurrent_clips_per_s']:>8.3f}/s "
              f"{r['ratio']:>6.2f} {r['single_p50_s']:>6.2f}s {r['concurrent_p50_s']:>6.2f}s {r['peak_rss_mib']:>6} MiB  {r['ratios']}",
              flush=True)
        if args.json:
            print(json.dumps(r))
        failed |= bool(r["failures"])
    print("goal: ratio >= 1 (throughput under concurrency at least the single-request rate), peak RSS <= 1024 MiB")
    return 1 if failed else 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10, help="length of each phase")
    p.add_argument("--rounds", type=int, default=3, help="rounds of (one client, then many); medians are reported")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--config", action="append", help="server options of one configuration (repeatable)")
    p.add_argument("--json", action="store_true", help="also print each configuration's figures as JSON")
    raise SystemExit(asyncio.run(main(p.parse_args())))
