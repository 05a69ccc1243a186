#!/usr/bin/env python3
"""Health checks under load: `--workers` clients post clips back to back against one instance at
the defaults (2 workers, all cores) while /healthz and /readyz are polled 10 times a second each.

Expectation (issue 16 item 0): the probes never wait for inference: p99 of each under 50 ms, none
failed, and the clips all scored. Figures go to docs/reliability.md ("Health checks under load").

    Tests/Load/health_under_load.py [--seconds 20] [--workers 2]
"""

import argparse
import asyncio
import time

from loadlib import Expectations, HTTPError, HealthPoller, Server, clip, figure, percentile, request


async def clip_client(port: int, body: bytes, headers: dict, stop: asyncio.Event, statuses: list, seconds: list) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            status, _, _ = await request(port, "POST", "/score", body, headers, timeout=120)
        except (HTTPError, asyncio.TimeoutError) as e:
            status = f"{type(e).__name__}"
        statuses.append(status)
        seconds.append(time.perf_counter() - t0)


async def main(args) -> None:
    expect = Expectations("health_under_load")
    body, headers = clip()
    with Server("--workers", str(args.workers)) as server:
        stop = asyncio.Event()
        statuses, clip_seconds = [], []
        clients = [asyncio.create_task(clip_client(server.port, body, headers, stop, statuses, clip_seconds))
                   for _ in range(args.workers)]
        await asyncio.sleep(1)  # the clips are running
        pollers = [HealthPoller(server.port, 0.1, path) for path in ("/healthz", "/readyz")]
        polling = [asyncio.create_task(p.run(stop)) for p in pollers]
        await asyncio.sleep(args.seconds)
        stop.set()
        await asyncio.gather(*polling, *clients)
        figure("clips", f"{len(statuses)} in {args.seconds + 1} s with {args.workers} clients, "
                        f"median {percentile(clip_seconds, 50):.2f} s each")
        expect.check(len(statuses) >= args.workers and all(s == 200 for s in statuses),
                     f"every clip scored ({sorted(set(map(str, statuses)))})")
        for poller in pollers:
            figure(poller.path, poller.summary())
            expect.check(not poller.failures, f"{poller.path}: no probe failed {poller.failures[:3]}")
            expect.check(len(poller.latencies) > 10 and percentile(poller.latencies, 99) < 50,
                         f"{poller.path}: p99 under 50 ms while {args.workers} clips run")
    expect.finish()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
