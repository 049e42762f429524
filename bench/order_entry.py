"""HTTP order entry side by side: oems, the vendor's mock (Steady) and a trivial handler.

Run: `.venv/bin/python bench/order_entry.py` (about two minutes). It prints figures beside the
targets; it asserts nothing.

The same request, POST /v1/accounts/{id}/orders with one non-marketable limit order,
`[{"symbol": "AAPL", "side": "BUY", "order_type": "LIMIT", "time_in_force": "DAY",
"quantity": "1", "limit_price": "1.00"}]`, goes from 32 keep-alive connections to three servers,
each a subprocess on 127.0.0.1:

* `oems`:    a real `oems serve` on a temporary database, simulated clock frozen at
             2025-10-15T14:30:00Z (Wednesday 10:30 ET), `--market-data manual`, an AAPL quote
             pinned at 199.99 / 200.01. The order is risk-checked, journaled (fsync) and rests
             (NEW) far below the market; each holds $1 of the sandbox margin account.
* `steady`:  Steady 0.22.2 (npm `@stdy/cli`), the mock server the vendor's SDKs are tested
             against, serving the vendor document: it validates the request and answers a
             canned example. The bench installs it into a temporary directory with npm when npm
             is on PATH and `../shared/spec/clear-street-trading-api.json` (or `--spec`) exists;
             otherwise the row is skipped with the reason. The document is read in place.
* `trivial`: a Starlette route under uvicorn (uvloop, httptools) that decodes the body with
             orjson and answers one canned order in the envelope: the ceiling of our stack.
* `version`: (only with `--variants ...,version`) GET /v1/version on the oems server: the
             trivial route behind the same wire layer.

Each variant gets a 1 s warm-up, then 5 s measured. The variants run interleaved for
`--rounds` rounds, and each variant's median round (by requests/s) is reported. The targets:
oems at least Steady's rate in the same run, at least 0.5 of the trivial handler's, p99 at most
10 ms, no errors. For each row the script also reads the server process's CPU time (user +
system, all threads) from /proc, and prints CPU microseconds per request and the server's CPU
share of the wall time: these depend much less than req/s on whatever else the machine runs.
After the run it checks that no oems order filled.

`--profile TOP` runs the oems server under cProfile, on its main thread, for the measured window
of one round (SIGUSR1 starts and stops it). It prints the cumulative time of the main components
per order, the garbage collector's share and the TOP functions. `--db-dir /dev/shm` puts the
database in memory, so fsync costs almost nothing, to see what is left without it.

The load generator is `wrk` when it is on PATH (`apt-get install -y wrk`), else a Python
asyncio raw-socket client that shares the machine's cores with the server (compare its rows with
each other only). Everything is loopback and bounded in time; the servers are killed on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from http_stack import percentile_ms, python_load, run_uvicorn  # the sibling benchmark's

HOST = "127.0.0.1"
API_KEY = "oems_bench_user_key_0123456789abcdef"
ADMIN_KEY = "oems_bench_admin_key_0123456789abcdef"
CLOCK_START = "2025-10-15T14:30:00Z"  # a Wednesday, 10:30 US/Eastern: the regular session
SYMBOL = "AAPL"
QUOTE = {"bid": "199.99", "ask": "200.01", "bid_size": 100, "ask_size": 100, "last": "200.00"}
ORDER = {
    "symbol": SYMBOL,
    "side": "BUY",
    "order_type": "LIMIT",
    "time_in_force": "DAY",
    "quantity": "1",
    "limit_price": "1.00",
}
STARTUP_TIMEOUT = 60.0
STEADY = "@stdy/cli@0.22.2"
SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "clear-street-trading-api.json"
VARIANTS = ("oems", "steady", "trivial", "version")
# The targets, oems against the others in the same run.
TARGET_VS_STEADY = 1.0
TARGET_VS_TRIVIAL = 0.5
TARGET_P99_MS = 10.0


@dataclass(frozen=True)
class Target:
    """One request the load generator repeats."""

    name: str
    method: str
    path: str
    body: bytes = b""
    auth: bool = True


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_s: float | None = None  # the server's CPU time (user + system, all threads) meanwhile
    wall_s: float = 0.0

    @property
    def cpu_us_per_request(self) -> float | None:
        return (
            self.cpu_s / self.requests * 1e6 if self.cpu_s is not None and self.requests else None
        )

    @property
    def cpu_share(self) -> float | None:
        return self.cpu_s / self.wall_s if self.cpu_s is not None and self.wall_s else None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of every process in the session `pid` leads (a server and any
    child it runs, all threads) from /proc; None elsewhere."""
    total, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == pid:
            found = True
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK") if found else None


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Child:
    """A server subprocess in its own session, logging to a file; `stop` kills the whole group."""

    def __init__(self, args: list[str], log_path: Path, port: int, env: dict[str, str]) -> None:
        self.port = port
        self.base_url = f"http://{HOST}:{port}"
        self.log_path = log_path
        self.profile: Path | None = None
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )

    def wait_until(self, ready: Callable[[], bool]) -> None:
        """Poll `ready` (HTTP errors count as not yet) until it holds, the child dies or time's up."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if ready():
                    return
            time.sleep(0.05)  # polling for the process to come up
        raise RuntimeError(f"server not ready after {STARTUP_TIMEOUT:g} s: {self.output()}")

    def toggle_profile(self) -> None:
        """Start or stop the profiled window (only when started with a profile)."""
        if self.profile is not None:
            os.kill(self.proc.pid, signal.SIGUSR1)

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=15)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)


class Server(Child):
    """`oems serve` on a temporary database."""

    def __init__(
        self,
        workdir: Path,
        log_level: str,
        profile: Path | None = None,
        launcher: list[str] | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        """`launcher`: what runs `oems` instead of `-m oems.cli.main`; `extra`: more serve options."""
        port = free_port()
        self.db_path = workdir / "oems.db"
        env = {**os.environ, "OEMS_API_KEY": API_KEY, "OEMS_ADMIN_KEY": ADMIN_KEY}
        # Under --profile the server runs inside this script (`--serve-profiled`), under cProfile.
        default_launcher = ["-m", "oems.cli.main"]
        if profile is not None:
            default_launcher = [
                str(Path(__file__).resolve()),
                "--serve-profiled",
                str(profile),
                "--",
            ]
        args = [
            sys.executable,
            *(launcher if launcher is not None else default_launcher),
            "serve",
            "--db",
            str(self.db_path),
            "--host",
            HOST,
            "--port",
            str(port),
            "--clock",
            "simulated",
            "--clock-start",
            CLOCK_START,
            "--clock-speed",
            "0",
            "--market-data",
            "manual",
            "--log-level",
            log_level,
            *extra,
        ]
        super().__init__(args, workdir / "oems.log", port, env)
        self.profile = profile

    def wait_profile(self) -> None:
        deadline = time.monotonic() + 30
        while self.profile is not None and time.monotonic() < deadline:
            if Path(f"{self.profile}.gc.json").exists():
                return
            time.sleep(0.05)

    def wait_ready(self) -> dict[str, object]:
        credentials = self.db_path.with_name(self.db_path.name + ".credentials.json")
        self.wait_until(
            lambda: (
                httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
                and credentials.exists()
            )
        )
        return dict(json.loads(credentials.read_text()))


def steady_command(workdir: Path, spec: Path) -> list[str] | str:
    """The command that runs Steady on `spec` (installed into `workdir` with npm), or why not."""
    if not spec.is_file():
        return f"skipped: no vendor document at {spec}"
    npm = shutil.which("npm")
    if npm is None:
        return "skipped: npm not on PATH"
    prefix = workdir / "steady"
    install = subprocess.run(
        [npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(prefix), STEADY],
        capture_output=True,
        text=True,
        timeout=300,
    )
    binary = prefix / "node_modules" / ".bin" / "steady"
    if install.returncode != 0 or not binary.exists():
        return f"skipped: npm install {STEADY} failed: {install.stderr.strip()[-300:]}"
    return [str(binary), "--host", HOST, "-q"]


def start_steady(command: list[str], workdir: Path, spec: Path) -> Child:
    port = free_port()
    child = Child(
        [*command, "-p", str(port), str(spec)], workdir / "steady.log", port, {**os.environ}
    )
    # Ready once it answers the order POST (Steady validates the body against the document).
    child.wait_until(
        lambda: (
            httpx.post(
                f"{child.base_url}/v1/accounts/100001/orders",
                content=json.dumps([ORDER]),
                headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
                timeout=1,
            ).status_code
            == 200
        )
    )
    return child


def trivial_app() -> Any:
    """The ceiling of the stack: decode the body with orjson, answer one canned order."""
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def submit(request: Request) -> Response:
        orders = orjson.loads(await request.body())
        data = [
            {
                **order,
                "id": str(uuid.uuid4()),
                "account_id": request.path_params["account_id"],
                "status": "PENDING_NEW",
                "filled_quantity": "0",
            }
            for order in orders
        ]
        body = {"data": data, "error": None, "metadata": {"request_id": str(uuid.uuid4())}}
        return Response(orjson.dumps(body), media_type="application/json")

    return Starlette(
        routes=[Route("/v1/accounts/{account_id:int}/orders", submit, methods=["POST"])]
    )


def serve_trivial(port: int) -> None:
    """(Child) the trivial handler under uvicorn until terminated."""
    run_uvicorn(trivial_app(), port)


def start_trivial(workdir: Path) -> Child:
    port = free_port()
    args = [sys.executable, str(Path(__file__).resolve()), "--serve-trivial", str(port)]
    child = Child(args, workdir / "trivial.log", port, {**os.environ})
    child.wait_until(
        lambda: (
            httpx.post(
                f"{child.base_url}/v1/accounts/1/orders", content=b"[]", timeout=1
            ).status_code
            == 200
        )
    )
    return child


# --------------------------------------------------------------------------- load generators

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _wrk_ms(text: str, label: str) -> float:
    m = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.MULTILINE)
    if not m:
        raise RuntimeError(f"no {label} in wrk output:\n{text}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{b}" for b in data) + '"'


def run_wrk(port: int, target: Target, connections: int, seconds: float, workdir: Path) -> Result:
    script = workdir / f"{target.name}.lua"
    lines = [f'wrk.method = "{target.method}"']
    if target.body:
        lines.append(f"wrk.body = {_lua_string(target.body)}")
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    if target.auth:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {API_KEY}"')
    script.write_text("\n".join(lines) + "\n")
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    out = subprocess.run(
        [*cmd, "-s", str(script), f"http://{HOST}:{port}{target.path}"],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in", out, re.MULTILINE)
    if not rps or not total:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{out}")
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses:\s+(\d+)", r"Socket errors:.*"):
        m = re.search(pattern, out)
        if m and m.groups():
            errors += int(m.group(1))
        elif m:
            errors += sum(int(n) for n in re.findall(r"\d+", m.group(0)))
    return Result(
        float(rps.group(1)), _wrk_ms(out, "50%"), _wrk_ms(out, "99%"), errors, int(total.group(1))
    )


async def _python_load(
    port: int, target: Target, connections: int, warmup: float, seconds: float
) -> Result:
    head = f"{target.method} {target.path} HTTP/1.1\r\nHost: {HOST}\r\n"
    if target.auth:
        head += f"Authorization: Bearer {API_KEY}\r\n"
    if target.body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(target.body)}\r\n"
    request = (head + "\r\n").encode() + target.body
    latencies, errors = await python_load(
        port, request, b"HTTP/1.1 2", connections, warmup, seconds
    )
    return Result(
        len(latencies) / seconds,
        percentile_ms(latencies, 0.50),
        percentile_ms(latencies, 0.99),
        errors,
        len(latencies),
    )


def measure(
    generator: str,
    server: Child,
    target: Target,
    connections: int,
    warmup: float,
    seconds: float,
    workdir: Path,
) -> Result:
    port = server.port
    if generator == "wrk":
        if warmup > 0:
            run_wrk(port, target, connections, warmup, workdir)  # warm-up, discarded
        server.toggle_profile()
        cpu0, t0 = cpu_seconds(server.proc.pid), time.perf_counter()
        result = run_wrk(port, target, connections, seconds, workdir)
        server.toggle_profile()
    else:
        # The Python generator's warm-up is inside the run (and in the profile, if any).
        server.toggle_profile()
        cpu0, t0 = cpu_seconds(server.proc.pid), time.perf_counter() + warmup
        result = asyncio.run(_python_load(port, target, connections, warmup, seconds))
        server.toggle_profile()
    cpu1, t1 = cpu_seconds(server.proc.pid), time.perf_counter()
    if cpu0 is not None and cpu1 is not None and generator == "wrk":
        result.cpu_s, result.wall_s = cpu1 - cpu0, t1 - t0
    return result


# --------------------------------------------------------------------------- profiling


def serve_profiled(out: Path, argv: list[str]) -> None:
    """(Child) run `oems` with `argv`; SIGUSR1 starts cProfile (main thread) and a GC timer, the
    next SIGUSR1 stops them and writes `out` (pstats) and `out`.gc.json."""
    import cProfile

    from gctimer import GcTimer
    from oems.cli.main import main as oems_main

    profiler = cProfile.Profile()
    timer = GcTimer().__enter__()
    window = {"started": 0.0}

    def toggle(signum: int, frame: object) -> None:
        if not timer.on:
            window["started"] = time.perf_counter()
            timer.on = True
            profiler.enable()
            return
        profiler.disable()
        timer.on = False
        profiler.dump_stats(str(out))
        summary = {
            "gc_seconds": timer.seconds,
            "collections": timer.collections,
            "longest": timer.longest,
            "window_seconds": time.perf_counter() - window["started"],
        }
        Path(f"{out}.gc.json").write_text(json.dumps(summary))

    signal.signal(signal.SIGUSR1, toggle)
    oems_main(argv)


# (label, path fragment, function name): the server's main thread, cumulative time per component.
COMPONENTS = (
    ("event loop waiting in epoll (idle)", "~", "<method 'poll' of 'select.epoll' objects>"),
    ("uvicorn: parse requests (data_received)", "uvicorn/protocols/http/", "data_received"),
    ("uvicorn: write responses (send)", "uvicorn/protocols/http/httptools_impl.py", "send"),
    ("starlette app, middleware, routing (all)", "starlette/applications.py", "__call__"),
    ("  oems wire layer + endpoint", "oems/api/wire.py", "asgi_endpoint"),
    ("    api submit_orders (decode, validate)", "oems/api/orders.py", "submit_orders"),
    ("    render_order", "oems/api/orders.py", "render_order"),
    ("engine writer loop (all)", "oems/engine/writer.py", "run"),
    ("  handlers (Writer.handle)", "oems/engine/writer.py", "handle"),
    ("    trading.submit_orders", "oems/engine/trading.py", "submit_orders"),
    ("      risk checks (RiskChecker.check)", "oems/engine/risk.py", "check"),
    ("      accept (plan the events)", "oems/engine/trading.py", "plan_submit"),
    ("    RunDue: venue acks (run_timers)", "oems/engine/venue.py", "run_timers"),
    ("    RunDue: evaluate_all", "oems/engine/venue.py", "evaluate_all"),
    ("  event apply (Engine._apply)", "oems/engine/engine.py", "_apply"),
    ("    SelfMatchIndex.update", "oems/engine/self_match.py", "update"),
    ("  order copies (trading.order_copy)", "oems/engine/trading.py", "order_copy"),
    ("  hand-off to the journal thread", "asyncio/base_events.py", "run_in_executor"),
)


def print_profile(path: Path, top: int, orders: int) -> None:
    import pstats

    stats = pstats.Stats(str(path))
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in raw.values())
    gc_info = json.loads(Path(f"{path}.gc.json").read_text())
    window = gc_info["window_seconds"]
    print(
        f"--- server main thread under cProfile, the measured window only ({window:.1f} s wall,"
        f" {total:.2f} s profiled, {orders} orders); cumulative time per component ---"
    )
    for label, fragment, name in COMPONENTS:
        cum = sum(
            ct
            for (file, _, func), (_, _, _, ct, _) in raw.items()
            if fragment in file and func == name
        )
        print(
            f"{label:<44} {cum:7.2f} s {cum / total * 100:5.1f}%"
            f" {cum / max(orders, 1) * 1e6:8.0f} us/order"
        )
    gc_s = gc_info["gc_seconds"]
    print(
        f"{'garbage collector (gc.callbacks, wall)':<44} {gc_s:7.2f} s {gc_s / window * 100:5.1f}%"
        f" of the window; collections {gc_info['collections']}, longest"
        f" {gc_info['longest'] * 1e3:.0f} ms"
    )
    print("(cumulative times of coroutines count only their running slices; components nest)")
    for key in ("cumulative", "tottime"):
        print(f"--- top {top} by {key} ---")
        stats.sort_stats(key).print_stats(top)


# --------------------------------------------------------------------------- main


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(results: dict[str, list[Result]], notes: dict[str, str]) -> None:
    """The median round of each variant, then oems against the targets."""
    print(
        "variant      req/s   p50 ms   p99 ms  errors  requests  server CPU us/req"
        "  server CPU %  req/s range"
    )
    median: dict[str, Result] = {}
    for name, runs in results.items():
        if name in notes:
            print(f"{name:<8} {notes[name]}")
            continue
        ordered = sorted(runs, key=lambda r: r.rps)
        r = median[name] = ordered[len(ordered) // 2]
        spread = f"{ordered[0].rps:.0f}-{ordered[-1].rps:.0f}"
        us, share = r.cpu_us_per_request, r.cpu_share
        print(
            f"{name:<8} {r.rps:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.errors:>7}"
            f" {r.requests:>9} {us if us is not None else float('nan'):>18.0f}"
            f" {share * 100 if share is not None else float('nan'):>13.0f}  {spread}"
        )
    print()
    oems = median.get("oems")
    if oems is None:
        return
    for other, target in (("steady", TARGET_VS_STEADY), ("trivial", TARGET_VS_TRIVIAL)):
        if other not in median:
            continue
        ratio = oems.rps / median[other].rps
        per_round = [o.rps / t.rps for o, t in zip(results["oems"], results[other], strict=False)]
        print(
            f"target: oems / {other} >= {target:.2f}: {ratio:.2f} ({verdict(ratio >= target)});"
            " per round: " + ", ".join(f"{x:.2f}" for x in per_round)
        )
    print(
        f"target: oems p99 <= {TARGET_P99_MS:g} ms at the connections used: {oems.p99_ms:.2f} ms"
        f" ({verdict(oems.p99_ms <= TARGET_P99_MS)})"
    )
    errors = sum(r.errors for r in results["oems"])
    print(f"target: no errors: {errors} over all oems rounds ({verdict(errors == 0)})")
    if "version" in median:
        print(f"oems orders / oems version (median rounds): {oems.rps / median['version'].rps:.2f}")


def main() -> None:  # noqa: C901
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-profiled":
        rest = sys.argv[3:]
        serve_profiled(Path(sys.argv[2]), rest[1:] if rest[:1] == ["--"] else rest)
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-trivial":
        serve_trivial(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds, discarded")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions, median reported")
    parser.add_argument(
        "--variants", default="oems,steady,trivial", help="comma-separated: " + ",".join(VARIANTS)
    )
    parser.add_argument("--spec", type=Path, default=SPEC, help="the vendor document for Steady")
    parser.add_argument("--log-level", default="warning", help="the oems server's log level")
    parser.add_argument(
        "--db-dir",
        type=Path,
        help="where the temporary database goes (default: the system temp dir); /dev/shm takes"
        " the fsync cost out, to see what is left",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="TOP",
        help="run the oems server under cProfile, load only `oems` for one round, print the TOP"
        " functions by own and by cumulative time (figures are slowed by the profiler)",
    )
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    if (
        not 1 <= args.connections <= 256
        or not 0 < args.duration <= 60
        or not 0 <= args.warmup <= 30
        or not 1 <= args.rounds <= 10
        or not variants
        or any(v not in VARIANTS for v in variants)
    ):
        raise SystemExit(
            "keep it bounded: 1-256 connections, duration <= 60 s, warm-up <= 30 s, rounds <= 10;"
            " variants among " + ",".join(VARIANTS)
        )
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "python"
    if generator == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk not found on PATH")
    rounds = 1 if args.profile else args.rounds
    if args.profile:
        variants = ["oems"]

    import starlette
    import uvicorn

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average"
        f" {' '.join(f'{x:.2f}' for x in os.getloadavg())}, starlette {starlette.__version__},"
        f" uvicorn {uvicorn.__version__}; load: {generator}, {args.connections} keep-alive"
        f" connections, {args.warmup:g} s warm-up + {args.duration:g} s measured per variant,"
        f" {rounds} rounds interleaved, generator on the same machine"
    )
    if generator == "python":
        print(
            "note: wrk not used; the Python load generator shares the cores with the server and"
            " is likely the bottleneck (apt-get install -y wrk)"
        )

    with tempfile.TemporaryDirectory(prefix="oems-bench-", dir=args.db_dir) as tmp:
        workdir = Path(tmp)
        profile = workdir / "server.prof" if args.profile else None
        notes: dict[str, str] = {}
        children: dict[str, Child] = {}
        results: dict[str, list[Result]] = {v: [] for v in variants}
        try:
            server = Server(workdir, args.log_level, profile)
            credentials = server.wait_ready()
            accounts = credentials["accounts"]
            assert isinstance(accounts, dict)
            account = int(accounts["margin"])
            orders_path = f"/v1/accounts/{account}/orders"
            body = json.dumps([ORDER], separators=(",", ":")).encode()
            admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
            user = {"Authorization": f"Bearer {API_KEY}"}
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                http.put(f"/admin/v1/quotes/{SYMBOL}", json=QUOTE, headers=admin).raise_for_status()
                probe = http.post(orders_path, content=body, headers=user)
                probe.raise_for_status()
                status = probe.json()["data"][0]["status"]
            print(
                f"oems: {server.base_url}, db {server.db_path}; account {account};"
                f" {SYMBOL} pinned {QUOTE['bid']} / {QUOTE['ask']};"
                f" probe order -> HTTP {probe.status_code} {status}"
            )
            print(f"order body: {body.decode()}")
            targets = {
                "oems": (server, Target("oems", "POST", orders_path, body)),
                "version": (server, Target("version", "GET", "/v1/version")),
            }
            if "trivial" in variants:
                children["trivial"] = start_trivial(workdir)
                targets["trivial"] = (
                    children["trivial"],
                    Target("trivial", "POST", orders_path, body),
                )
            if "steady" in variants:
                command = steady_command(workdir, args.spec)
                if isinstance(command, str):
                    notes["steady"] = command
                else:
                    children["steady"] = start_steady(command, workdir, args.spec)
                    targets["steady"] = (
                        children["steady"],
                        Target("steady", "POST", orders_path, body),
                    )
                    print(f"steady: {STEADY} serving {args.spec}")
            print()
            for _ in range(rounds):
                for name in variants:
                    if name in notes:
                        continue
                    child, target = targets[name]
                    results[name].append(
                        measure(
                            generator,
                            child,
                            target,
                            args.connections,
                            args.warmup,
                            args.duration,
                            workdir,
                        )
                    )

            with httpx.Client(base_url=server.base_url, timeout=60) as http:
                http.post(
                    "/admin/v1/clock/advance", json={"seconds": 0}, headers=admin
                ).raise_for_status()
                executions = http.get(f"/v1/accounts/{account}/executions", headers=user)
            filled = len(executions.json()["data"]) if executions.status_code == 200 else None
            if server.proc.poll() is not None:
                raise RuntimeError(f"server died during the run: {server.output()}")
            server.wait_profile()
        finally:
            for child in children.values():
                child.stop()
            with contextlib.suppress(UnboundLocalError):
                server.stop()

        report(results, notes)
        print(f"after the run: {filled} oems executions on the first page (expected 0)")
        if profile is not None:
            print()
            print_profile(profile, args.profile, results["oems"][0].requests)


if __name__ == "__main__":
    main()
