#!/usr/bin/env python3
"""Vanishing clients: connections that close mid-upload, and clients that hang up while their
request waits in the inference queue behind a slow one (or while their own inference runs).

Expectations: the server never crashes and keeps serving (a normal clip scored afterwards); every
queued request whose client left is dropped without inference and counted as
`dfgaze_requests_rejected_total{reason="client_gone"}`; threads return to baseline; over
repeated rounds RSS stays flat (within 32 MiB after the first round: each round abandons 50 MiB
of uploads, so a leak would show).

    Tests/Load/vanishing_clients.py [--uploads 50] [--queued 6] [--rounds 3]
"""

import argparse
import asyncio
import socket
import struct
import time

from loadlib import HOST, Expectations, HTTPError, Server, clip, figure, memory, metric, request

UPLOAD_BYTES = 4 << 20
SENT_BEFORE_LEAVING = 1 << 20


async def leave_mid_upload(port: int, abort: bool) -> None:
    """Declares a 4 MiB body, sends 1 MiB of it, then closes (with a reset when `abort`)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {UPLOAD_BYTES}\r\n\r\n".encode() + b'{"frames": ["' + b"A" * SENT_BEFORE_LEAVING)
    await writer.drain()
    await asyncio.sleep(0.05)
    if abort:
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


async def send_and_leave(port: int, body: bytes, headers: dict, after: float) -> None:
    """Sends a whole /score request, then resets the connection `after` seconds later without reading the answer."""
    reader, writer = await asyncio.open_connection(HOST, port)
    lines = [f"POST /score HTTP/1.1", f"Host: {HOST}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    await asyncio.sleep(after)
    # A reset: a client that merely shut its sending side (FIN) is still there and gets its answer.
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


async def wait_for_metric(port: int, name: str, value: float, seconds: float, labels=None) -> float:
    deadline = time.monotonic() + seconds
    while True:
        current = await metric(port, name, labels)
        if current >= value or time.monotonic() > deadline:
            return current
        await asyncio.sleep(0.1)


async def abandon_round(server: Server, args, expect: Expectations, body, headers, long_body, long_headers) -> None:
    """Uploads abandoned mid-body, then a long request left while it runs and clips left while
    queued behind it, then a normal clip that must still be scored."""
    port = server.port
    # 1. Mid-upload: half close politely (FIN), half with a reset.
    await asyncio.gather(*(leave_mid_upload(port, abort=i % 2 == 1) for i in range(args.uploads)))
    await asyncio.sleep(1)
    status, _, _ = await request(port, "GET", "/healthz", timeout=5)
    expect.check(status == 200 and server.alive(), f"alive after {args.uploads} uploads abandoned mid-body")

    # 2. Mid-inference: the long request's client leaves while it runs; the clips queued behind
    #    it are left before their turn.
    gone_before = await metric(port, "dfgaze_requests_rejected_total", {"reason": "client_gone"})
    frames_before = await metric(port, "dfgaze_frames_scored_total")
    long_leaver = asyncio.create_task(send_and_leave(port, long_body, long_headers, after=2.0))
    running = await wait_for_metric(port, "dfgaze_inference_in_flight", 1, 30)
    expect.check(running >= 1, "the long request is running")
    await asyncio.gather(*(send_and_leave(port, body, headers, after=0.3) for _ in range(args.queued)))
    queued = await metric(port, "dfgaze_inference_queue_depth")
    await long_leaver
    # A normal client behind them all still gets its answer.
    t0 = time.monotonic()
    try:
        status, _, _ = await request(port, "POST", "/score", body, headers, timeout=300)
    except (HTTPError, asyncio.TimeoutError) as e:
        status = f"{type(e).__name__}: {e}"
    waited = time.monotonic() - t0
    gone = await metric(port, "dfgaze_requests_rejected_total", {"reason": "client_gone"}) - gone_before
    scored = await metric(port, "dfgaze_frames_scored_total") - frames_before
    figure("queued when their clients left / client_gone in /metrics", f"{queued:.0f} / {gone:.0f}")
    figure("frames scored", f"{scored:.0f} (long request {4 * args.long_clips} + final 4)")
    figure("normal /score after them", f"{status} in {waited:.1f} s")
    expect.check(queued >= args.queued - 1, f"the abandoned clips were waiting in the queue ({queued:.0f})")
    expect.check(gone == args.queued, f"each abandoned queued request counted as client_gone ({gone:.0f} of {args.queued})")
    expect.check(scored == 4 * args.long_clips + 4, "no inference ran for the abandoned queued requests")
    expect.check(status == 200, f"a normal /score afterwards answered 200 ({status})")


async def main(args) -> None:
    expect = Expectations("vanishing clients")
    body, headers = clip()
    long_body, long_headers = clip(repeat=args.long_clips)
    with Server("--workers", "1", "--queue-depth", str(max(8, args.queued + 2))) as server:
        # Warm up with both request sizes used below, so the baseline holds their working memory.
        for b, h in ((body, headers), (long_body, long_headers)):
            status, _, _ = await request(server.port, "POST", "/score", b, h, timeout=180)
            assert status == 200, status
        await asyncio.sleep(0.5)
        after = [memory(server.pid)]
        print(f"vanishing clients: {args.rounds} rounds of {args.uploads} uploads abandoned mid-body and "
              f"{args.queued} queued requests abandoned; warm baseline RSS {after[0]['VmRSS']} MiB", flush=True)
        for round in range(1, args.rounds + 1):
            print(f" round {round}", flush=True)
            await abandon_round(server, args, expect, body, headers, long_body, long_headers)
            await asyncio.sleep(1)
            after.append(memory(server.pid))
        figure("RSS MiB baseline / after each round", " / ".join(str(m["VmRSS"]) for m in after)
               + f" (VmHWM {after[-1]['VmHWM']})")
        figure("threads baseline / end", f"{after[0]['Threads']} / {after[-1]['Threads']}")
        # glibc keeps what the first round's threads freed in its per-thread arenas for reuse
        # (not given back to the system), so RSS settles above the baseline once; a leak would
        # keep growing with every round.
        growth = after[-1]["VmRSS"] - after[1]["VmRSS"]
        expect.check(growth <= 32, f"RSS does not grow round after round ({growth:+d} MiB after round 1)")
        expect.check(after[-1]["Threads"] <= after[0]["Threads"] + 4, "threads back to baseline")
        expect.check(server.alive(), "server still running")
    expect.check(server.proc.returncode == 0, f"server drained and exited 0 on SIGTERM ({server.proc.returncode})")
    expect.finish()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--uploads", type=int, default=50, help="connections closed mid-body")
    p.add_argument("--queued", type=int, default=6, help="queued requests whose clients leave")
    p.add_argument("--long-clips", type=int, default=4, help="clips in the long request they queue behind")
    p.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(p.parse_args()))
