"""HTTP order entry: orders/s and latency of POST /v1/accounts/{id}/orders beside a trivial route.

Run: `.venv/bin/python bench/order_entry.py` (about a minute). It prints figures; it asserts nothing.

It starts a real `oems serve` subprocess on 127.0.0.1 (a free port, a temporary database, the
simulated clock frozen at 2025-10-15T14:30:00Z = Wednesday 10:30 ET, `--market-data manual`),
pins an AAPL quote of 199.99 / 200.01, then drives the server from 32 keep-alive connections:

* `orders`:  POST /v1/accounts/100001/orders with one non-marketable order per request,
             `[{"symbol": "AAPL", "side": "BUY", "order_type": "LIMIT", "time_in_force": "DAY",
             "quantity": "1", "limit_price": "1.00"}]` (no `id`: the server makes one). The
             order rests (NEW) far below the market and never fills; each holds $1 of the
             sandbox margin account's $4M intraday buying power.
* `version`: GET /v1/version with the same bearer key: the trivial handler behind the same
             wire layer (authentication, envelope, request id, metrics) on the same server.
* `healthz`: GET /healthz: the trivial handler without authentication.

Each variant gets a 1 s warm-up, then 5 s measured. The variants run interleaved for
`--rounds` rounds, and the median round (by requests/s) is reported with the ratio
orders / version (target: at least 0.60). For each row the script also reads the server
process's CPU time (user + system, all threads) from /proc. It prints the CPU microseconds per
request and the server's CPU share of the wall time. These depend much less than req/s on
whatever else the machine is running. After the run it checks that no order filled, and it
prints the open order hold (one $1 hold per resting order).

`--profile TOP` runs the server under cProfile, on its main thread, for the measured window of
one `orders` round (SIGUSR1 starts and stops it). It prints the cumulative time of the main
components per order, the garbage collector's share and the TOP functions. `--db-dir /dev/shm`
puts the database in memory, so fsync costs almost nothing, to see what is left without it.

The load generator is `wrk` when it is on PATH (`apt-get install -y wrk`), else a Python
asyncio raw-socket client that shares the machine's cores with the server (compare its rows with
each other only). Everything is loopback and bounded in time; the server is killed on exit.
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
from dataclasses import dataclass
from pathlib import Path

import httpx

from http_stack import percentile_ms, python_load  # the sibling benchmark's load generator

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
    """User + system CPU time of a process (all its threads) from /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    """`oems serve` in its own session on a temporary database; `stop` kills the whole group."""

    def __init__(self, workdir: Path, log_level: str, profile: Path | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.db_path = workdir / "oems.db"
        self.log_path = workdir / "oems.log"
        self.profile = profile
        env = {**os.environ, "OEMS_API_KEY": API_KEY, "OEMS_ADMIN_KEY": ADMIN_KEY}
        # Under --profile the server runs inside this script (`--serve-profiled`), under cProfile.
        launcher = ["-m", "oems.cli.main"]
        if profile is not None:
            launcher = [str(Path(__file__).resolve()), "--serve-profiled", str(profile), "--"]
        args = [
            sys.executable,
            *launcher,
            "serve",
            "--db",
            str(self.db_path),
            "--host",
            HOST,
            "--port",
            str(self.port),
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
        ]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )

    def toggle_profile(self) -> None:
        """Start or stop the profiled window (only when started with a profile)."""
        if self.profile is not None:
            os.kill(self.proc.pid, signal.SIGUSR1)

    def wait_profile(self) -> None:
        deadline = time.monotonic() + 30
        while self.profile is not None and time.monotonic() < deadline:
            if Path(f"{self.profile}.gc.json").exists():
                return
            time.sleep(0.05)

    def wait_ready(self) -> dict[str, object]:
        credentials = self.db_path.with_name(self.db_path.name + ".credentials.json")
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            with contextlib.suppress(httpx.HTTPError):
                reply = httpx.get(f"{self.base_url}/healthz", timeout=1)
                if reply.status_code == 200 and credentials.exists():
                    return dict(json.loads(credentials.read_text()))
            time.sleep(0.05)  # polling for the process to come up
        raise RuntimeError(f"server not ready after {STARTUP_TIMEOUT:g} s: {self.output()}")

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
    server: Server,
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
    ("  order snapshots (dataclasses.replace)", "oems/engine/trading.py", "snapshot"),
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


def main() -> None:  # noqa: C901
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-profiled":
        rest = sys.argv[3:]
        serve_profiled(Path(sys.argv[2]), rest[1:] if rest[:1] == ["--"] else rest)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds, discarded")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions, median reported")
    parser.add_argument("--log-level", default="warning", help="the server's log level")
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
        help="run the server under cProfile, load only `orders` for one round, print the TOP"
        " functions by own and by cumulative time (figures are slowed by the profiler)",
    )
    args = parser.parse_args()
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
    rounds = 1 if args.profile else args.rounds

    import starlette
    import uvicorn

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, starlette"
        f" {starlette.__version__}, uvicorn {uvicorn.__version__}; load: {generator},"
        f" {args.connections} keep-alive connections, {args.warmup:g} s warm-up +"
        f" {args.duration:g} s measured per variant, {rounds} rounds interleaved,"
        " generator on the same machine"
    )
    if generator == "python":
        print(
            "note: wrk not used; the Python load generator shares the cores with the server and"
            " is likely the bottleneck (apt-get install -y wrk)"
        )

    with tempfile.TemporaryDirectory(prefix="oems-bench-", dir=args.db_dir) as tmp:
        workdir = Path(tmp)
        profile = workdir / "server.prof" if args.profile else None
        server = Server(workdir, args.log_level, profile)
        try:
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
                f"server: {server.base_url}, db {server.db_path}; account {account};"
                f" {SYMBOL} pinned {QUOTE['bid']} / {QUOTE['ask']};"
                f" probe order -> HTTP {probe.status_code} {status}"
            )
            print(f"order body: {body.decode()}")
            print()

            targets = [
                Target("version", "GET", "/v1/version"),
                Target("orders", "POST", orders_path, body),
                Target("healthz", "GET", "/healthz", auth=False),
            ]
            if args.profile:
                targets = [t for t in targets if t.name == "orders"]
            results: dict[str, list[Result]] = {t.name: [] for t in targets}
            for _ in range(rounds):
                for target in targets:
                    results[target.name].append(
                        measure(
                            generator,
                            server,
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
                balances = http.get(f"/v1/accounts/{account}/balances", headers=user)
            filled = len(executions.json()["data"]) if executions.status_code == 200 else None
            hold = (
                balances.json()["data"].get("open_order_adjustment")
                if balances.status_code == 200
                else None
            )
            if server.proc.poll() is not None:
                raise RuntimeError(f"server died during the run: {server.output()}")
            server.wait_profile()
        finally:
            server.stop()

        print(
            "variant      req/s   p50 ms   p99 ms  errors  requests  server CPU us/req"
            "  server CPU %  req/s range"
        )
        median: dict[str, Result] = {}
        for name, runs in results.items():
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
        if "version" in median:
            ratio = median["orders"].rps / median["version"].rps
            per_round = [
                o.rps / v.rps for o, v in zip(results["orders"], results["version"], strict=True)
            ]
            verdict = "met" if ratio >= 0.6 else "MISSED"
            print(
                f"orders / version (median rounds): {ratio:.2f}  (target >= 0.60: {verdict});"
                " per round: " + ", ".join(f"{x:.2f}" for x in per_round)
            )
            healthz = median["orders"].rps / median["healthz"].rps
            print(f"orders / healthz (median rounds): {healthz:.2f}")
            cost_o, cost_v = (
                median["orders"].cpu_us_per_request,
                median["version"].cpu_us_per_request,
            )
            if cost_o and cost_v:
                print(
                    f"server CPU per request, version / orders: {cost_v / cost_o:.2f} (the ratio a"
                    " CPU-bound server would reach: an order costs"
                    f" {cost_o / cost_v:.1f}x the trivial request)"
                )
        print(
            f"after the run: {filled} executions on the first page (expected 0);"
            f" open_order_adjustment {hold} (one $1 hold per resting order)"
        )
        if profile is not None:
            print()
            print_profile(profile, args.profile, median["orders"].requests)


if __name__ == "__main__":
    main()
