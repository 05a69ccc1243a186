"""Shared pieces of the load and fault scripts: start a `dfgaze serve`, speak HTTP/1.1 over
asyncio streams (stdlib only), build clips, sample the server's memory, tally expectations.

Every script is bounded in time and request count, prints its figures and exits non-zero when an
expectation fails.
"""

import asyncio
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FRAMES = REPO / "Tests" / "Fixtures" / "dfgaze-demo-v1" / "frames"
HOST = "127.0.0.1"


def binary() -> str:
    path = os.environ.get("DFGAZE_BIN") or str(REPO / ".build" / "release" / "dfgaze")
    if not os.access(path, os.X_OK):
        sys.exit(f"no dfgaze binary at {path}: run `swift build -c release --product dfgaze` or set DFGAZE_BIN")
    return path


# MARK: - The server under test

class Server:
    """`dfgaze serve` on a free loopback port, its JSON log in a temp file. Use as a context manager."""

    def __init__(self, *options: str, ready_timeout: float = 300, env: dict | None = None):
        self.options = list(options)
        self.ready_timeout = ready_timeout
        self.env = env
        self.log_path = Path(tempfile.mkstemp(prefix="dfgaze-serve-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None
        self.log = None
        self.port = 0

    def __enter__(self) -> "Server":
        try:
            self.start()
        except BaseException:
            self.stop(grace=5)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        env = dict(os.environ, **(self.env or {}))
        # The job store in a temp folder unless the test names one (--data-dir beats the variable).
        env.setdefault("DFGAZE_DATA_DIR", tempfile.mkdtemp(prefix="dfgaze-data-"))
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary(), "serve", "--host", HOST, "--port", "0", *self.options],
                                     stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        deadline = time.monotonic() + self.ready_timeout
        while not self.port:
            self._check_alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"server did not report its port in {self.ready_timeout} s; log: {self.log_path}")
            for line in self.log_lines():
                if line.get("message") == "listening" and line.get("port"):
                    self.port = int(line["port"])
            time.sleep(0.1)
        while True:
            self._check_alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"server not ready in {self.ready_timeout} s; log: {self.log_path}")
            try:
                connection = http.client.HTTPConnection(HOST, self.port, timeout=2)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.3)

    def _check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise SystemExit(f"server exited with {self.proc.returncode}; log: {self.log_path}\n{self.log_tail()}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_lines(self) -> list[dict]:
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                lines.append({"message": raw})
        return lines

    def log_tail(self, n: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self, grace: float = 30) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()
        return self.proc.returncode if self.proc else None


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process in MiB, and its thread count."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) // 1024
            elif key == "Threads":
                out[key] = int(value)
    return out


class MemorySampler:
    """Samples a process's VmRSS every `interval` seconds while running (an asyncio task)."""

    def __init__(self, pid: int, interval: float = 0.5):
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self.start = memory(pid)

    async def run(self, stop: asyncio.Event) -> None:
        t0 = time.monotonic()
        while not stop.is_set():
            try:
                self.samples.append((time.monotonic() - t0, memory(self.pid)["VmRSS"]))
            except (FileNotFoundError, ProcessLookupError):
                return
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except asyncio.TimeoutError:
                pass

    @property
    def peak(self) -> int:
        return max([rss for _, rss in self.samples] + [self.start["VmRSS"]])


# MARK: - HTTP/1.1 over asyncio streams

class HTTPError(Exception):
    """The connection broke or the answer was not HTTP."""


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise HTTPError(f"bad status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return int(parts[1]), headers, body


def encode_request(method: str, path: str, body: bytes = b"", headers: dict | None = None,
                   keep_alive: bool = False) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def request(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None,
                  timeout: float = 120, host: str = HOST) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection. Raises HTTPError on a reset or premature close,
    asyncio.TimeoutError when no answer came within `timeout`."""
    async def exchange():
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as e:
            raise HTTPError(f"connect: {e}") from e
        try:
            writer.write(encode_request(method, path, body, headers))
            await writer.drain()
            return await read_response(reader)
        except (asyncio.IncompleteReadError, ConnectionError) as e:
            raise HTTPError(f"{type(e).__name__}: {e}") from e
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
    return await asyncio.wait_for(exchange(), timeout)


# MARK: - Request bodies

def frames(prefix: str = "a") -> list[bytes]:
    return [(FRAMES / f"{prefix}_{i}.jpg").read_bytes() for i in range(4)]


def multipart(jpegs: list[bytes], client_id: str | None = None) -> tuple[bytes, str]:
    """(body, content type) of a multipart/form-data clip."""
    boundary = "dfgaze-" + uuid.uuid4().hex
    out = bytearray()
    if client_id is not None:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\n{client_id}\r\n").encode()
    for i, jpeg in enumerate(jpegs):
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"frame\"; filename=\"{i}.jpg\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + jpeg + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def clip(prefix: str = "a", repeat: int = 1) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a POST /score with `repeat` clips of 4 fixture frames."""
    body, content_type = multipart(frames(prefix) * repeat)
    return body, {"Content-Type": content_type}


# MARK: - Metrics and figures

async def metric(port: int, name: str, labels: dict[str, str] | None = None) -> float:
    """The sum of a Prometheus series' samples matching `labels` (0 when absent)."""
    status, _, body = await request(port, "GET", "/metrics", timeout=10)
    if status != 200:
        raise HTTPError(f"/metrics answered {status}")
    total = 0.0
    for line in body.decode().splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric_name, _, label_text = series.partition("{")
        if metric_name != name:
            continue
        if labels and not all(f'{k}="{v}"' in label_text for k, v in labels.items()):
            continue
        total += float(value)
    return total


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class HealthPoller:
    """GETs /healthz on a fresh connection every `interval` seconds and keeps the latencies (ms)."""

    def __init__(self, port: int, interval: float = 0.1, path: str = "/healthz"):
        self.port, self.interval, self.path = port, interval, path
        self.latencies: list[float] = []
        self.failures: list[str] = []

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                status, _, _ = await request(self.port, "GET", self.path, timeout=5)
                if status == 200:
                    self.latencies.append((time.perf_counter() - t0) * 1000)
                else:
                    self.failures.append(f"status {status}")
            except (HTTPError, asyncio.TimeoutError) as e:
                self.failures.append(f"{type(e).__name__}: {e}")
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except asyncio.TimeoutError:
                pass

    def summary(self) -> str:
        return (f"{len(self.latencies)} ok, {len(self.failures)} failed, p50 {percentile(self.latencies, 50):.1f} ms, "
                f"p99 {percentile(self.latencies, 99):.1f} ms, max {max(self.latencies, default=float('nan')):.1f} ms")


class Expectations:
    """Collects pass/fail lines; `finish()` prints them and exits 1 if any failed."""

    def __init__(self, title: str):
        self.title = title
        self.results: list[tuple[bool, str]] = []

    def check(self, ok: bool, what: str) -> bool:
        self.results.append((bool(ok), what))
        print(f"  [{'ok' if ok else 'FAIL'}] {what}", flush=True)
        return ok

    def finish(self) -> None:
        failed = [w for ok, w in self.results if not ok]
        print(f"{self.title}: {len(self.results) - len(failed)}/{len(self.results)} expectations met", flush=True)
        sys.exit(1 if failed else 0)


def figure(name: str, value) -> None:
    print(f"  {name}: {value}", flush=True)
