#!/usr/bin/env python3
"""Slow clients (slowloris): hundreds of connections that trickle their headers or their body, or
send nothing, while a normal client keeps using the server.

The server runs with short timeouts. Expectations: while the slow connections are open, /healthz
keeps answering (p99 under 50 ms) and a /score is answered 200; each trickling request then gets
408 (or is closed) within its timeout plus slack, each silent connection is closed within the
header timeout plus slack; no slow connection outlives that; the server's thread count returns to
its baseline.

    Tests/Load/slow_clients.py [--connections 300] [--header-timeout 8] [--body-timeout 10]
"""

import argparse
import asyncio
import time
from collections import Counter

from loadlib import (HOST, Expectations, HealthPoller, HTTPError, Server, clip, figure, memory, percentile,
                     request)

KINDS = ("headers", "body", "silent")


async def slow_connection(port: int, kind: str, interval: float, give_up: float) -> tuple[str, str, float]:
    """Opens a connection and trickles (or stays silent) until the server answers or closes.
    Returns (kind, outcome, seconds open): outcome is "408", "closed", "reset", "status N" or "still open"."""
    t0 = time.monotonic()
    reader, writer = await asyncio.open_connection(HOST, port)
    if kind == "headers":
        writer.write(b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    elif kind == "body":
        writer.write(b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000000\r\n\r\n{\"frames\": [\"")

    async def trickle() -> None:
        n = 0
        while kind != "silent":
            await asyncio.sleep(interval)
            n += 1
            writer.write(f"X-Slow-{n}: y\r\n".encode() if kind == "headers" else b"QUFB")
            await writer.drain()

    trickler = asyncio.create_task(trickle())
    received = b""
    outcome = "still open"
    try:
        async with asyncio.timeout(give_up):
            while chunk := await reader.read(4096):
                received += chunk
            outcome = "closed"
    except TimeoutError:
        pass
    except ConnectionError:
        outcome = "reset"
    if received.startswith(b"HTTP/1.1 "):
        status = received[9:12].decode()
        outcome = "408" if status == "408" else f"status {status}"
    trickler.cancel()
    try:
        await trickler
    except (asyncio.CancelledError, ConnectionError):
        pass
    writer.close()
    return kind, outcome, time.monotonic() - t0


async def main(args) -> None:
    expect = Expectations("slow clients")
    body, headers = clip()
    with Server("--header-timeout", str(args.header_timeout), "--body-timeout", str(args.body_timeout),
                "--idle-timeout", str(args.header_timeout), "--max-connections", "1024") as server:
        # A warm-up score, so the one measured below is not the first inference.
        status, _, _ = await request(server.port, "POST", "/score", body, headers, timeout=120)
        baseline = memory(server.pid)
        give_up = args.header_timeout + args.body_timeout + 3 * args.slack
        print(f"slow clients: {args.connections} connections ({', '.join(KINDS)}), header timeout "
              f"{args.header_timeout} s, body timeout {args.body_timeout} s", flush=True)

        stop = asyncio.Event()
        health = HealthPoller(server.port, interval=0.05)
        poller = asyncio.create_task(health.run(stop))
        t0 = time.monotonic()
        slow = [asyncio.create_task(slow_connection(server.port, KINDS[i % len(KINDS)], args.interval, give_up))
                for i in range(args.connections)]
        await asyncio.sleep(0.5)
        during = memory(server.pid)
        score_started = time.monotonic() - t0
        try:
            score_status, _, answer = await request(server.port, "POST", "/score", body, headers, timeout=120)
        except (HTTPError, asyncio.TimeoutError) as e:
            score_status, answer = f"{type(e).__name__}: {e}", b""
        score_done = time.monotonic() - t0
        results = await asyncio.gather(*slow)
        stop.set()
        await poller
        await asyncio.sleep(1)
        after = memory(server.pid)

        outcomes = Counter((kind, outcome) for kind, outcome, _ in results)
        longest = {kind: max(t for k, _, t in results if k == kind) for kind in KINDS}
        figure("slow connections", len(results))
        for kind in KINDS:
            figure(f"  {kind}", ", ".join(f"{o}: {n}" for (k, o), n in sorted(outcomes.items()) if k == kind)
                   + f"; longest open {longest[kind]:.1f} s")
        figure("normal /score", f"{score_status} (from {score_started:.1f} s to {score_done:.1f} s)")
        figure("/healthz during", health.summary())
        figure("server threads before / during / after", f"{baseline['Threads']} / {during['Threads']} / {after['Threads']}")
        figure("RSS MiB before / during / after", f"{baseline['VmRSS']} / {during['VmRSS']} / {after['VmRSS']}")

        limits = {"headers": args.header_timeout, "body": args.body_timeout, "silent": args.header_timeout}
        for kind in KINDS:
            ended = [o for k, o, _ in results if k == kind]
            expected = ("408", "closed", "reset") if kind != "silent" else ("closed", "reset")
            expect.check(all(o in expected for o in ended), f"{kind}: every connection ended with {'/'.join(expected)}")
            bound = limits[kind] + args.slack
            expect.check(longest[kind] <= bound, f"{kind}: none open longer than {bound:.0f} s ({longest[kind]:.1f} s)")
        trickled = [o for k, o, _ in results if k != "silent"]
        expect.check(trickled.count("408") > 0, f"trickled requests got 408 ({trickled.count('408')} of {len(trickled)})")
        expect.check(during["Threads"] >= baseline["Threads"] + args.connections // 2,
                     f"the slow connections were held open at once ({during['Threads']} threads)")
        expect.check(score_status == 200, f"a normal /score was answered 200 while they were open ({score_status})")
        first_end = min(t for _, _, t in results)
        expect.check(score_done < first_end, f"that /score finished before any slow connection ended ({first_end:.1f} s)")
        expect.check(not health.failures, f"/healthz always answered ({len(health.failures)} failures)")
        p99 = percentile(health.latencies, 99)
        expect.check(p99 < args.healthz_p99_ms, f"/healthz p99 {p99:.1f} ms < {args.healthz_p99_ms:.0f} ms")
        expect.check(after["Threads"] <= baseline["Threads"] + 4,
                     f"threads back to baseline ({after['Threads']} vs {baseline['Threads']})")
        expect.check(server.alive(), "server still running")
    expect.check(server.proc.returncode == 0, f"server drained and exited 0 on SIGTERM ({server.proc.returncode})")
    expect.finish()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connections", type=int, default=300)
    p.add_argument("--header-timeout", type=float, default=8)
    p.add_argument("--body-timeout", type=float, default=10)
    p.add_argument("--interval", type=float, default=0.5, help="seconds between trickled bytes")
    p.add_argument("--slack", type=float, default=3, help="seconds allowed past a timeout")
    p.add_argument("--healthz-p99-ms", type=float, default=50)
    asyncio.run(main(p.parse_args()))
