"""Choose-the-HTTP-stack benchmark: which ASGI server, and what our wire layer costs per request.

Run: `.venv/bin/python bench/http_stack.py` (about a minute). It prints figures; it asserts nothing.

For each server it starts a Starlette app with one `GET /v1/version` route as a subprocess on
127.0.0.1 (a free port), drives it from this process with 32 concurrent keep-alive connections
(1 s warm-up, then 5 s measured) and prints requests/s, p50 and p99 latency. Two apps:

* `plain`: the handler builds the envelope itself and returns it orjson-encoded.
* `wire`:  the same data through `oems.api.wire.endpoint(PUBLIC, ...)`: request id, envelope,
           `X-Request-Id` header, error mapping and the Prometheus request metrics.

Servers: uvicorn (uvloop + httptools), granian (one worker process) and granian's embedded
server (`granian.server.embed.Server`, awaited inside our own asyncio loop, which is how an
in-process single-writer engine would share the loop with the HTTP server). Granian is not a
project dependency; install it into the venv for the bench: `.venv/bin/pip install granian==2.8.7`.

The load generator is `wrk` when it is on PATH (`apt-get install -y wrk`), else a Python asyncio
raw-socket client, which on a small machine is itself the bottleneck (the figures then measure
the client more than the server). Everything is loopback, bounded in time, and the server
subprocesses are killed on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HOST = "127.0.0.1"
PATH = "/v1/version"
VERSION = "2025-10-31"
BENCH_DIR = Path(__file__).resolve().parent
SERVERS = ("uvicorn", "granian", "granian-embed")
APPS = ("plain", "wire")
STARTUP_TIMEOUT = 20.0
MAX_SAMPLES = 2_000_000  # cap on latencies kept by the Python generator


# --------------------------------------------------------------------------- the apps under test


def plain_app() -> Starlette:
    """The trivial handler: envelope built by hand, orjson-encoded."""

    async def version(request: Request) -> Response:
        body = {"data": {"version": VERSION}, "error": None}
        body["metadata"] = {"request_id": str(uuid.uuid4())}
        return Response(orjson.dumps(body), media_type="application/json")

    return Starlette(routes=[Route(PATH, version, methods=["GET"])])


def wire_app() -> Starlette:
    """The same data behind the real oems wire stack (envelope, request id, metrics)."""
    from oems.api.wire import PUBLIC, Call, endpoint

    @endpoint(PUBLIC, PATH)
    async def version(call: Call) -> Any:
        return {"version": VERSION}

    app = Starlette(routes=[Route(PATH, version, methods=["GET"])])
    # A PUBLIC endpoint reads `app.state.runtime` but uses nothing on it.
    app.state.runtime = SimpleNamespace()
    return app


APP_FACTORIES = {"plain": plain_app, "wire": wire_app}


# --------------------------------------------------------------------------- server side (child)


def run_uvicorn(app: Any, port: int) -> None:
    """Serve `app` on HOST:`port` under uvicorn (uvloop, httptools, quiet) until terminated."""
    import uvicorn

    uvicorn.run(
        app,
        host=HOST,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


def serve(server: str, app_name: str, port: int) -> None:
    """Run one server in this (child) process until it is terminated."""
    if server == "uvicorn":
        run_uvicorn(APP_FACTORIES[app_name](), port)
    elif server == "granian":
        from granian import Granian
        from granian.constants import Interfaces

        sys.path.insert(0, str(BENCH_DIR))
        Granian(
            f"http_stack:{app_name}_app",
            address=HOST,
            port=port,
            interface=Interfaces.ASGINL,
            workers=1,
            factory=True,
            log_enabled=False,
        ).serve()
    elif server == "granian-embed":
        import uvloop
        from granian.constants import Interfaces
        from granian.server.embed import Server

        embedded = Server(
            APP_FACTORIES[app_name](),
            address=HOST,
            port=port,
            interface=Interfaces.ASGINL,
            log_enabled=False,
        )
        uvloop.run(embedded.serve())
    else:
        raise SystemExit(f"unknown server {server!r}")


# --------------------------------------------------------------------------- driver side (parent)


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def granian_version() -> str | None:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return None
    try:
        return version("granian")
    except PackageNotFoundError:
        return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def fetch_once(port: int) -> bytes | None:
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as s:
            s.sendall(f"GET {PATH} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)
    except OSError:
        return None


class ServerProcess:
    """One server subprocess in its own session, so the whole group is killed at the end."""

    def __init__(self, server: str, app_name: str) -> None:
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        script = str(Path(__file__).resolve())
        self.proc = subprocess.Popen(
            [sys.executable, script, "--serve", server, app_name, "--port", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            reply = fetch_once(self.port)
            if reply and reply.startswith(b"HTTP/1.1 200") and VERSION.encode() in reply:
                return
            time.sleep(0.1)
        raise RuntimeError(f"server not ready after {STARTUP_TIMEOUT}s: {self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        # Granian's worker may outlive its parent briefly: kill whatever is left of the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.log.close()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _wrk_ms(text: str, label: str) -> float:
    m = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.MULTILINE)
    if not m:
        raise RuntimeError(f"no {label} in wrk output:\n{text}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def run_wrk(port: int, connections: int, seconds: float) -> Result:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    out = subprocess.run(
        [*cmd, f"http://{HOST}:{port}{PATH}"],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.MULTILINE)
    if not rps:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{out}")
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses:\s+(\d+)", r"Socket errors:.*"):
        m = re.search(pattern, out)
        if m and m.groups():
            errors += int(m.group(1))
        elif m:
            errors += sum(int(n) for n in re.findall(r"\d+", m.group(0)))
    return Result(float(rps.group(1)), _wrk_ms(out, "50%"), _wrk_ms(out, "99%"), errors)


async def python_load(
    port: int, request: bytes, ok: bytes, connections: int, warmup: float, seconds: float
) -> tuple[list[float], int]:
    """Send `request` over `connections` keep-alive connections for warm-up plus `seconds`;
    returns the measured latencies (seconds, sorted) and how many answers did not start `ok`."""
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds
    latencies: list[float] = []
    errors = 0

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while (t0 := time.perf_counter()) < stop_at:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                if m is None:
                    raise RuntimeError("response without content-length")
                await reader.readexactly(int(m.group(1)))
                t1 = time.perf_counter()
                if t0 >= measure_from and t1 <= stop_at and len(latencies) < MAX_SAMPLES:
                    latencies.append(t1 - t0)
                    if not head.startswith(ok):
                        errors += 1
        finally:
            writer.close()

    await asyncio.wait_for(
        asyncio.gather(*(client() for _ in range(connections))), timeout=warmup + seconds + 30
    )
    if not latencies:
        raise RuntimeError("no requests completed")
    latencies.sort()
    return latencies, errors


def percentile_ms(latencies: list[float], p: float) -> float:
    """The `p` quantile of sorted latencies, in milliseconds."""
    return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1e3


async def _python_load(port: int, connections: int, warmup: float, seconds: float) -> Result:
    request = f"GET {PATH} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    latencies, errors = await python_load(
        port, request, b"HTTP/1.1 200", connections, warmup, seconds
    )
    return Result(
        len(latencies) / seconds,
        percentile_ms(latencies, 0.50),
        percentile_ms(latencies, 0.99),
        errors,
    )


def run_python(port: int, connections: int, warmup: float, seconds: float) -> Result:
    try:
        import uvloop

        return uvloop.run(_python_load(port, connections, warmup, seconds))
    except ImportError:
        return asyncio.run(_python_load(port, connections, warmup, seconds))


async def _handler_seconds(app: Starlette, calls: int) -> float:
    endpoint = app.routes[0].endpoint  # type: ignore[attr-defined]
    scope = {"type": "http", "method": "GET", "path": PATH, "headers": [], "query_string": b""}
    request = Request({**scope, "app": app})
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            await endpoint(request)
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def handler_cost(calls: int = 20_000) -> dict[str, float]:
    """Microseconds per call of each app's endpoint function, in process, no HTTP (best of 5)."""
    return {
        name: asyncio.run(_handler_seconds(factory(), calls)) * 1e6
        for name, factory in APP_FACTORIES.items()
    }


def measure(
    server: str, app_name: str, generator: str, connections: int, warmup: float, seconds: float
) -> Result:
    proc = ServerProcess(server, app_name)
    try:
        proc.wait_ready()
        if generator == "wrk":
            if warmup > 0:
                run_wrk(proc.port, connections, warmup)  # warm-up, discarded
            return run_wrk(proc.port, connections, seconds)
        return run_python(proc.port, connections, warmup, seconds)
    finally:
        proc.stop()


def main() -> None:  # noqa: C901
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", nargs=2, metavar=("SERVER", "APP"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset")
    parser.add_argument("--apps", default=",".join(APPS), help="comma-separated subset")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds, discarded")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions, median reported")
    args = parser.parse_args()

    if args.serve:
        serve(args.serve[0], args.serve[1], args.port)
        return

    if (
        not 1 <= args.connections <= 256
        or not 0 < args.duration <= 60
        or not 0 <= args.warmup <= 30
        or not 1 <= args.rounds <= 10
    ):
        raise SystemExit(
            "keep it bounded: 1-256 connections, duration <= 60 s, warm-up <= 30 s, rounds <= 10"
        )

    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "python"
    if generator == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk not found on PATH")

    import starlette
    import uvicorn

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, starlette {starlette.__version__}"
        f", uvicorn {uvicorn.__version__}, granian {granian_version() or 'not installed'}"
    )
    print(
        f"load: {generator}, {args.connections} keep-alive connections, {args.warmup:g} s warm-up"
        f" + {args.duration:g} s measured, GET http://{HOST}{PATH}, generator on the same machine"
    )
    if generator == "python":
        print(
            "note: wrk not used; the Python load generator shares this machine's cores with the"
            " server and is likely the bottleneck: compare rows with each other, not with wrk"
            " figures (apt-get install -y wrk)"
        )
    print()
    cost = handler_cost()
    print(
        "endpoint function alone, in process, no HTTP (best of 5 x 20000 calls): "
        + ", ".join(f"{name} {us:.1f} us" for name, us in cost.items())
        + f"; wire layer adds {cost['wire'] - cost['plain']:.1f} us per request"
    )
    print()
    print(
        f"rounds: {args.rounds}, variants interleaved; figures are the median round"
        " (by req/s), with the req/s range over rounds"
    )
    print()
    variants = [(sv, ap) for sv in args.servers.split(",") for ap in args.apps.split(",")]
    results: dict[tuple[str, str], list[Result]] = {v: [] for v in variants}
    notes: dict[tuple[str, str], str] = {}
    for _ in range(args.rounds):
        for server, app_name in variants:
            if (server, app_name) in notes:
                continue
            if server.startswith("granian") and granian_version() is None:
                notes[server, app_name] = "skipped: granian not installed"
                continue
            try:
                results[server, app_name].append(
                    measure(
                        server, app_name, generator, args.connections, args.warmup, args.duration
                    )
                )
            except Exception as exc:
                notes[server, app_name] = f"failed: {exc}"

    header = f"{'server':<15} {'app':<6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    print(f"{header}  req/s range")
    for server, app_name in variants:
        label = f"{server:<15} {app_name:<6}"
        if (server, app_name) in notes:
            print(f"{label} {notes[server, app_name]}")
            continue
        runs = sorted(results[server, app_name], key=lambda r: r.rps)
        r = runs[len(runs) // 2]
        spread = f"{runs[0].rps:.0f}-{runs[-1].rps:.0f}"
        print(f"{label} {r.rps:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.errors:>7}  {spread}")


if __name__ == "__main__":
    main()
