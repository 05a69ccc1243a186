#!/usr/bin/env python3
"""Hostile and vanishing video uploads against `dfgaze serve` (issue 18): clear 4xx, the server
alive, and no ffprobe/ffmpeg child left behind (checked in /proc):
  1. a truncated file, a file declaring a 9000x9000 frame, 20 minutes of tiny frames (a small
     file that decodes to ~36,000 frames, over --max-video-seconds);
  2. a video upload that never ends (chunked, trickling; its body timeout answers);
  3. a client that disconnects mid-upload, and one that resets mid-decode (ffmpeg killed);
  4. SIGTERM with a video in flight: finished within the grace (200), or cancelled when the grace
     is shorter than the work (503 draining); exit 0 either way, no child left.

    Tests/Load/video_faults.py
"""

import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from loadlib import HOST, REPO, Expectations, Server, figure

VIDEO = REPO / "Tests" / "Fixtures" / "dfgaze-video-v1" / "talking_astronaut.mp4"
TOOLS = ("ffmpeg", "ffprobe")


def children(pid: int, tools: tuple = TOOLS) -> list[int]:
    """ffmpeg/ffprobe processes (or only `tools`) whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        if ppid == pid and comm in tools:
            found.append(int(stat.parent.name))
    return found


def alive(pids: list[int]) -> list[int]:
    return [p for p in pids if Path(f"/proc/{p}").exists() and "(Z)" not in Path(f"/proc/{p}/stat").read_text()[:64]]


def post(port: int, body: bytes, content_type: str = "video/mp4", timeout: float = 120) -> tuple[int, bytes]:
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(f"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                  f"Connection: close\r\n\r\n".encode() + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


def reset(s: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the server sees the client gone."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def wait_for_child(pid: int, seconds: float = 20, tools: tuple = TOOLS) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := children(pid, tools):
            return found
        time.sleep(0.02)
    return []


def main() -> None:
    expect = Expectations("video_faults")
    video = VIDEO.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        huge, long = Path(tmp) / "huge.mkv", Path(tmp) / "long.mp4"
        ffmpeg("-f", "lavfi", "-i", "color=size=9000x9000:rate=1", "-frames:v", "1", "-c:v", "mjpeg",
               "-pix_fmt", "yuvj420p", str(huge))
        ffmpeg("-f", "lavfi", "-i", "color=size=16x16:rate=30", "-t", "1200", "-c:v", "libx264", "-preset", "ultrafast",
               "-pix_fmt", "yuv420p", str(long))
        files = [("truncated", video[:len(video) // 2], (422,)), ("huge frame", huge.read_bytes(), (415,)),
                 ("20 minutes", long.read_bytes(), (413,))]

        with Server("--max-video-seconds", "600", "--body-timeout", "3", "--drain-seconds", "20") as server:
            # 1. Hostile files.
            for name, body, statuses in files:
                t0 = time.monotonic()
                status, answer = post(server.port, body)
                figure(name, f"{status} {answer[:120]!r} in {time.monotonic() - t0:.2f} s ({len(body)} bytes)")
                expect.check(status in statuses, f"{name}: {statuses}")
            expect.check(not children(server.pid), "no child after the hostile files")

            # 2. An upload that never ends: trickled chunks, the body timeout answers.
            with socket.create_connection((HOST, server.port), timeout=30) as s:
                s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\nTransfer-Encoding: chunked\r\n\r\n")
                t0, answer = time.monotonic(), b""
                try:
                    while time.monotonic() - t0 < 15 and not answer:
                        s.sendall(b"400\r\n" + video[:1024] + b"\r\n")
                        s.settimeout(0.2)
                        try:
                            answer = s.recv(4096)
                        except socket.timeout:
                            pass
                except (BrokenPipeError, ConnectionResetError):
                    pass
                figure("never-ending upload", f"{answer[:40]!r} after {time.monotonic() - t0:.1f} s")
                expect.check(answer.startswith(b"HTTP/1.1 408"), "never-ending upload: 408 at the body timeout")
            expect.check(not children(server.pid), "never-ending upload: no child started")

            # 3a. Gone mid-upload: half the body, then a reset.
            s = socket.create_connection((HOST, server.port))
            s.sendall(f"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\nContent-Length: {len(video)}\r\n\r\n".encode()
                      + video[:len(video) // 2])
            time.sleep(0.3)
            reset(s)
            time.sleep(0.5)
            expect.check(not children(server.pid), "gone mid-upload: no child started")

            # 3b. Gone mid-decode: a reset while ffmpeg runs; it must be killed.
            s = socket.create_connection((HOST, server.port))
            s.sendall(f"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\nContent-Length: {len(video)}\r\n\r\n".encode() + video)
            seen = wait_for_child(server.pid, tools=("ffmpeg",))
            expect.check(bool(seen), f"mid-decode: ffmpeg was decoding ({seen})")
            reset(s)
            t0 = time.monotonic()
            while alive(seen) and time.monotonic() - t0 < 5:
                time.sleep(0.05)
            figure("mid-decode reset: children gone after", f"{time.monotonic() - t0:.2f} s")
            time.sleep(1)
            expect.check(not alive(seen) and not children(server.pid), "gone mid-decode: no ffmpeg/ffprobe survives")
            status, _ = post(server.port, video)
            expect.check(status == 200, f"the server still scores a video afterwards ({status})")

        # 4. SIGTERM with a video in flight: finished within the grace, or cancelled after it.
        for grace, wanted in (("20", 200), ("1", 503)):
            with Server("--drain-seconds", grace, "--unready-seconds", "0") as server:
                result = {}
                thread = threading.Thread(target=lambda: result.update(status=post(server.port, video)[0]))
                thread.start()
                seen = wait_for_child(server.pid)
                server.proc.send_signal(15)
                code = server.proc.wait(int(grace) + 15)
                thread.join(30)
                figure(f"SIGTERM, grace {grace} s", f"client {result.get('status')}, exit {code}, children seen {seen}")
                expect.check(result.get("status") == wanted and code == 0,
                             f"SIGTERM with a video in flight, grace {grace} s: client {wanted}, exit 0")
                time.sleep(0.5)
                expect.check(bool(seen) and not alive(seen), f"grace {grace} s: no ffmpeg/ffprobe left")
    expect.finish()


if __name__ == "__main__":
    main()
