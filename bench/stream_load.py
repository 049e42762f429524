"""The stream under load: 100 `/v1/ws` subscribers while market orders fill.

Run: `.venv/bin/python bench/stream_load.py` (about a minute). It prints figures; it asserts nothing.

It starts a real `oems serve` subprocess (a temporary database, the simulated clock frozen at
2025-10-15T14:30:00Z, `--market-data manual`, an AAPL quote pinned with ample size), opens
`--accounts` margin accounts for the sandbox user, and runs three phases, each over `--conns`
keep-alive HTTP connections sending one marketable order per request (`MARKET BUY 1 AAPL`, the
accounts in turn; each fills at once: 6 activity messages, `order` x3, `execution`,
`position`, `balance`):

1. `entry, no subscribers`: closed loop for `--seconds`: orders/s (= fills/s).
2. `entry, N subscribers`: the same with `--subscribers` connections subscribed, one account
   each in turn (a subscriber process of its own counts what they receive): orders/s, and
   activity messages/s delivered. The ratio to phase 1 is the issue's bar (at least 0.8).
3. `paced`: open loop at `--rate` orders/s with the subscribers: the latency from each fill's
   journal commit to its `execution` message reaching a subscriber. The server runs with
   `Journal.append` timed (this script's `--serve-instrumented` launcher): the instant the
   transaction returned, on CLOCK_MONOTONIC, which the subscriber process reads too.

The load generator and the subscribers share the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from order_entry import ADMIN_KEY, API_KEY, HOST, Server, cpu_seconds

QUOTE = {"bid": "199.99", "ask": "200.01", "bid_size": 100_000_000, "ask_size": 100_000_000}
EXECUTION = b'"event":"execution"'


# --------------------------------------------------------------------------- the server


def serve_instrumented(out: Path, argv: list[str]) -> None:
    """Run `oems <argv>` with `Journal.append` noting when each execution row became durable."""
    from oems.cli.main import main
    from oems.store import journal

    commits: list[tuple[int, int, int]] = []  # (account, sequence, monotonic ns after commit)
    append = journal.Journal.append

    def timed(self: journal.Journal, rows: Any, activity: Any = ()) -> None:
        append(self, rows, activity)
        now = time.monotonic_ns()
        commits.extend((r.account_id, r.sequence, now) for r in activity if EXECUTION in r.payload)

    journal.Journal.append = timed  # type: ignore[method-assign]
    atexit.register(lambda: out.write_text(json.dumps(commits)))
    main(argv)


def start_server(workdir: Path, subscribers: int) -> tuple[Server, Path]:
    """The server with `Journal.append` timed (see `serve_instrumented`), and where its commit
    times will be written when it stops."""
    commits = workdir / "commits.json"
    launcher = [str(Path(__file__).resolve()), "--serve-instrumented", str(commits)]
    extra = ("--ws-connections-per-key", str(subscribers + 10))
    server = Server(workdir, "warning", launcher=launcher, extra=extra)
    server.wait_ready()
    return server, commits


def commit_times(path: Path) -> dict[tuple[int, int], int]:
    """(account, sequence) -> when the execution's row was committed (monotonic ns)."""
    if not path.exists():
        return {}
    return {(a, s): t for a, s, t in json.loads(path.read_text())}


def setup(base_url: str, accounts: int) -> list[int]:
    """Pin the quote and open the accounts; their ids."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as admin:
        assert admin.put("/admin/v1/quotes/AAPL", json=QUOTE).status_code == 200
        ids = []
        for i in range(accounts):
            body = {
                "owner": "sandbox",
                "full_name": f"Stream bench {i}",
                "subtype": "MARGIN",
                "cash": "1000000",
            }
            response = admin.post("/admin/v1/accounts", json=body)
            assert response.status_code in (200, 201), response.text
            ids.append(int(response.json()["data"]["id"]))
    return ids


# --------------------------------------------------------------------------- order entry


def _request(account: int) -> bytes:
    body = json.dumps(
        [
            {
                "symbol": "AAPL",
                "side": "BUY",
                "quantity": "1",
                "order_type": "MARKET",
                "time_in_force": "DAY",
            }
        ]
    ).encode()
    head = (
        f"POST /v1/accounts/{account}/orders HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def entry(
    port: int, accounts: list[int], conns: int, seconds: float, rate: float | None
) -> tuple[int, int]:
    """Send orders for `seconds` over `conns` connections, as fast as answered or at `rate`/s;
    returns (answered 200, other answers)."""
    requests = [_request(a) for a in accounts]
    stop_at = time.monotonic() + seconds
    ok = failed = 0
    sent = 0
    start = time.monotonic()

    async def client(index: int) -> None:
        nonlocal ok, failed, sent
        reader, writer = await asyncio.open_connection(HOST, port)
        n = index
        try:
            while time.monotonic() < stop_at:
                if rate is not None:
                    due = start + sent / rate
                    sent += 1
                    if due > time.monotonic():
                        await asyncio.sleep(due - time.monotonic())
                writer.write(requests[n % len(requests)])
                n += conns
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                assert length is not None
                await reader.readexactly(int(length.group(1)))
                if head.startswith(b"HTTP/1.1 200"):
                    ok += 1
                else:
                    failed += 1
        finally:
            writer.close()

    await asyncio.gather(*(client(i) for i in range(conns)))
    return ok, failed


# --------------------------------------------------------------------------- subscribers


async def subscribe_all(url: str, accounts: list[int], count: int, out: Path) -> None:
    """Hold `count` subscribers (accounts in turn) until SIGTERM; write what they received."""
    from websockets.asyncio.client import connect

    received = 0
    arrivals: list[tuple[int, int, int]] = []
    ready = 0
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)

    async def one(index: int) -> None:
        nonlocal received, ready
        account = accounts[index % len(accounts)]
        async with connect(url, additional_headers={"Authorization": f"Bearer {API_KEY}"}) as ws:
            await ws.send(json.dumps({"type": "subscribe-activity", "account_id": account}))
            async for raw in ws:
                data = raw.encode() if isinstance(raw, str) else raw
                if b'"replay-complete"' in data:
                    ready += 1
                    if ready == count:
                        print("ready", flush=True)
                elif data.startswith(b'{"type":"activity"'):
                    received += 1
                    if EXECUTION in data:
                        message = json.loads(data)
                        arrivals.append(
                            (message["account_id"], message["sequence"], time.monotonic_ns())
                        )

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    await stopping.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    out.write_text(json.dumps({"received": received, "arrivals": arrivals}))


class Subscribers:
    """The subscriber process."""

    def __init__(self, server: Server, accounts: list[int], count: int, workdir: Path) -> None:
        self.out = workdir / f"subscribers-{time.monotonic_ns()}.json"
        url = f"ws://{HOST}:{server.port}/v1/ws"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--subscribe",
                url,
                str(self.out),
                str(count),
                ",".join(map(str, accounts)),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until every subscriber has caught up
        if line.strip() != "ready":
            raise RuntimeError(f"subscribers failed: {line!r}")

    def stop(self) -> dict[str, Any]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        return dict(json.loads(self.out.read_text()))


# --------------------------------------------------------------------------- the phases


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--conns", type=int, default=16, help="HTTP connections sending orders")
    parser.add_argument("--seconds", type=float, default=8.0, help="per phase")
    parser.add_argument("--rate", type=float, default=1000.0, help="orders/s of the paced phase")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="oems-stream-bench-") as tmp:
        workdir = Path(tmp)
        server, commits_path = start_server(workdir, args.subscribers)
        try:
            accounts = setup(server.base_url, args.accounts)
            asyncio.run(entry(server.port, accounts, args.conns, 1.0, None))  # warm-up

            cpu0 = cpu_seconds(server.proc.pid)
            ok0, bad0 = asyncio.run(entry(server.port, accounts, args.conns, args.seconds, None))
            cpu1 = cpu_seconds(server.proc.pid)
            subscribers = Subscribers(server, accounts, args.subscribers, workdir)
            before = time.monotonic()
            ok1, bad1 = asyncio.run(entry(server.port, accounts, args.conns, args.seconds, None))
            cpu2 = cpu_seconds(server.proc.pid)
            paced_from = time.monotonic_ns()
            ok2, bad2 = asyncio.run(
                entry(server.port, accounts, args.conns, args.seconds, args.rate)
            )
            delivered = subscribers.stop()
            delivery_wall = time.monotonic() - before
        finally:
            server.stop()
        commits = commit_times(commits_path)

    received = delivered["received"]
    lags = [
        (t - commits[(a, s)]) / 1e6
        for a, s, t in delivered["arrivals"]
        if (a, s) in commits and commits[(a, s)] >= paced_from
    ]
    r0, r1, r2 = ok0 / args.seconds, ok1 / args.seconds, ok2 / args.seconds
    per_order0 = (cpu1 - cpu0) / ok0 * 1e6 if cpu0 is not None and cpu1 is not None else None
    per_order1 = (
        (cpu2 - cpu1) / ok1 * 1e6 if cpu1 is not None and cpu2 is not None and ok1 else None
    )
    print(f"{args.subscribers} subscribers over {args.accounts} accounts, {args.conns} HTTP conns")
    print(f"entry, no subscribers   {r0:8.0f} orders/s  errors {bad0}", end="")
    print(f"  server CPU {per_order0:.0f} us/order" if per_order0 else "")
    print(f"entry, {args.subscribers} subscribers  {r1:8.0f} orders/s  errors {bad1}", end="")
    print(f"  server CPU {per_order1:.0f} us/order" if per_order1 else "")
    print(f"ratio with/without      {r1 / r0:8.2f}  (bar: at least 0.80)")
    print(
        f"delivered               {received / delivery_wall:8.0f} activity messages/s "
        f"({received} over phases 2 and 3)"
    )
    print(f"paced at {args.rate:.0f}/s            {r2:8.0f} orders/s (fills/s)  errors {bad2}")
    print(
        f"commit -> execution message at a subscriber, {len(lags)} fills: "
        f"p50 {percentile(lags, 0.5):.1f} ms  p99 {percentile(lags, 0.99):.1f} ms  "
        f"max {max(lags, default=float('nan')):.1f} ms  (target p99 <= 20 ms)"
    )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-instrumented":
        serve_instrumented(Path(sys.argv[2]), sys.argv[3:])
    elif len(sys.argv) > 1 and sys.argv[1] == "--subscribe":
        url, out, count, ids = sys.argv[2:6]
        asyncio.run(subscribe_all(url, [int(i) for i in ids.split(",")], int(count), Path(out)))
    else:
        main()
