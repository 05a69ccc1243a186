#!/usr/bin/env python3
"""Graceful shutdown on SIGTERM, three ways:
  1. idle (--unready-seconds 0): exits 0 at once;
  2. a request in flight that fits the grace: /readyz answers 503 at once while the listener still
     accepts (--unready-seconds 1.5), then new connections are refused, the client gets 200, exit 0;
  3. an inference that outlives the grace (--drain-seconds 1, a 4-clip request): the client is cut
     and the process still exits 0 within grace + 2 s cut + slack (regression: exit() used to hang
     in OpenBLAS's library destructor while a forward pass was running).

    Tests/Load/shutdown.py [--slack 5]
"""

import argparse
import asyncio
import signal
import time

from loadlib import HOST, Expectations, HTTPError, Server, clip, figure, metric, request


async def exited(server: Server, within: float) -> tuple[int | None, float]:
    """(exit code or None if still running, seconds waited)."""
    t0 = time.monotonic()
    while server.proc.poll() is None and time.monotonic() - t0 < within:
        await asyncio.sleep(0.05)
    return server.proc.poll(), time.monotonic() - t0


async def running(port: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await metric(port, "dfgaze_inference_in_flight") >= 1:
            return True
        await asyncio.sleep(0.05)
    return False


async def main(args) -> None:
    expect = Expectations("shutdown")

    server = Server("--drain-seconds", "5", "--unready-seconds", "0")
    server.start()
    server.proc.send_signal(signal.SIGTERM)
    code, took = await exited(server, args.slack)
    figure("idle", f"exit {code} after {took:.1f} s")
    expect.check(code == 0, "idle: SIGTERM -> exit 0 at once")
    server.stop()

    body, headers = clip()
    server = Server("--drain-seconds", "60", "--unready-seconds", "1.5")
    server.start()
    answer = asyncio.create_task(request(server.port, "POST", "/score", body, headers, timeout=120))
    expect.check(await running(server.port), "in flight: the request is running")
    server.proc.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.3)
    try:
        readiness = (await request(server.port, "GET", "/readyz", timeout=5))[0]
    except (HTTPError, OSError, asyncio.TimeoutError) as e:
        readiness = type(e).__name__
    await asyncio.sleep(1.7)
    try:
        await asyncio.open_connection(HOST, server.port)
        refused = False
    except OSError:
        refused = True
    try:
        status = (await answer)[0]
    except (HTTPError, asyncio.TimeoutError) as e:
        status = f"{type(e).__name__}: {e}"
    code, took = await exited(server, args.slack)
    figure("in flight within the grace", f"client got {status}; exit {code} {took:.1f} s after the answer")
    expect.check(readiness == 503, f"in flight: /readyz 503 right after SIGTERM, listener still open ({readiness})")
    expect.check(refused, "in flight: new connections refused once the unready period is over")
    expect.check(status == 200, f"in flight: the client got its answer ({status})")
    expect.check(code == 0, "in flight: exit 0 once it was answered")
    server.stop()

    long_body, long_headers = clip(repeat=4)
    server = Server("--drain-seconds", "1", "--unready-seconds", "0")
    server.start()
    answer = asyncio.create_task(request(server.port, "POST", "/score", long_body, long_headers, timeout=120))
    expect.check(await running(server.port), "outliving the grace: the request is running")
    t0 = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    try:
        status = (await answer)[0]
    except (HTTPError, asyncio.TimeoutError) as e:
        status = "cut"
    code, _ = await exited(server, 1 + 2 + args.slack)
    took = time.monotonic() - t0
    figure("inference outliving the grace", f"client {status}; exit {code} {took:.1f} s after SIGTERM")
    expect.check(status == "cut", f"outliving the grace: the client is cut ({status})")
    expect.check(code == 0, f"outliving the grace: exit 0 within {1 + 2 + args.slack:.0f} s ({code})")
    if code is None:
        server.proc.kill()
    server.stop()
    expect.finish()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--slack", type=float, default=5, help="seconds allowed past the expected exit")
    asyncio.run(main(p.parse_args()))
