#!/usr/bin/env python3
"""Worst-case memory: the largest requests the defaults allow, all at once, and the server's peak
RSS against the deployment's memory limit (Deploy/systemd MemoryMax=1536M, Kubernetes 1536Mi).

Each request carries --max-frames frames of --max-pixels pixels each (grey 4000x4000 baseline
JPEGs, nearly all zero bytes: about 0.1 MiB each, so a whole request is far below
--max-body-bytes); `workers + queue-depth` of them are sent together, so both workers are busy
and the queue is full. Expectation (issue 16 item 1): every request is answered (200, or 503
overloaded for any beyond the queue), the server lives, and its peak RSS (VmHWM) stays under
the limit. The figure goes to docs/reliability.md ("Worst-case memory").

Takes a few minutes on 2 cores (every frame is decoded at 16 megapixels, and 10 x 16 clips run).

    Tests/Load/worst_case_memory.py [--limit-mib 1536] [--max-frames 64] [--workers 2] [--queue-depth 8]
"""

import argparse
import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

from loadlib import Expectations, HTTPError, Server, figure, memory, multipart, request

SIDE = 4000  # 16 megapixels, the default --max-pixels


def worst_frame() -> bytes:
    """A grey SIDE x SIDE baseline JPEG of one flat colour (ffmpeg, as the service's video path uses)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "flat.jpg"
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"color=c=gray:s={SIDE}x{SIDE}", "-frames:v", "1",
                        "-pix_fmt", "gray", "-q:v", "31", "-y", str(out)], check=True)
        return out.read_bytes()


async def main(args) -> None:
    expect = Expectations("worst_case_memory")
    jpeg = worst_frame()
    body, content_type = multipart([jpeg] * args.max_frames)
    figure("request", f"{args.max_frames} frames of {SIDE}x{SIDE} ({SIDE * SIDE / 1e6:.0f} MP), "
                      f"{len(body) / 2**20:.1f} MiB body")
    concurrent = args.workers + args.queue_depth
    with Server("--workers", str(args.workers), "--queue-depth", str(args.queue_depth),
                "--max-frames", str(args.max_frames), "--max-pixels", str(SIDE * SIDE)) as server:
        before = memory(server.pid)
        figure("RSS when ready", f"{before['VmRSS']} MiB")
        t0 = time.monotonic()
        results = await asyncio.gather(*(request(server.port, "POST", "/score", body, {"Content-Type": content_type},
                                                 timeout=1800) for _ in range(concurrent)), return_exceptions=True)
        statuses = [r[0] if isinstance(r, tuple) else type(r).__name__ for r in results]
        after = memory(server.pid)
        figure("answers", f"{sorted(statuses, key=str)} in {time.monotonic() - t0:.0f} s")
        figure("peak RSS (VmHWM)", f"{after['VmHWM']} MiB (limit {args.limit_mib} MiB)")
        expect.check(server.alive(), "the server survived")
        expect.check(all(s in (200, 503) for s in statuses) and statuses.count(200) >= args.workers,
                     f"every request answered, at least {args.workers} scored")
        expect.check(after["VmHWM"] < args.limit_mib, f"peak RSS {after['VmHWM']} MiB under {args.limit_mib} MiB")
    expect.finish()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit-mib", type=int, default=1536)
    parser.add_argument("--max-frames", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queue-depth", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
