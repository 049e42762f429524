"""Memory: the engine's RSS after many orders submitted and ended, against its RSS after 10,000.

Run: `.venv/bin/python bench/memory.py` (1,000,000 orders; minutes) or
`.venv/bin/python bench/memory.py --orders 200000` (faster: the figure at 1,000,000 is then a
projection, printed as such). It prints figures beside the target; it asserts nothing.

The engine is in-process and built as the server builds it (`bench/engine_load.py`'s `setup`:
`oems.runtime.Runtime` on a temporary database, the simulated clock frozen inside a session,
manual market data, one margin account with $1B, quotes pinned on 10 symbols), with no resting
orders at the start. Then orders go through `Engine.execute` and the writer loop, journaled, in
rounds of `--batch` orders:

* one `SubmitOrders` of `--batch` non-marketable limits (engine_load's order mix), a `RunDue`
  (the venue acknowledges them), one `CancelOrders` of all of them, a `RunDue` (canceled);
* every round also fills 2 orders: a marketable buy of 1 share of one symbol at its ask and a
  marketable sell of 1 at its bid (the quote is pinned again first, so it shows its size), so
  the account's executions grow too and its position stays flat.

RSS (`VmRSS` of /proc/self/status, after `gc.collect()`) is read after 10,000 orders and after
`--orders`. The target: RSS after 1,000,000 orders within 1.5x of RSS after 10,000. With fewer
orders than 1,000,000, the growth per order between the two readings is extended linearly to
1,000,000 and that projection is compared with the target.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.datastructures import QueryParams

from engine_load import CENT, SYMBOLS, setup  # the sibling benchmark's engine and order mix
from oems.api.executions import executions_page
from oems.api.orders import find_order_in, orders_page
from oems.domain import orders as o
from oems.engine import commands as cmd
from oems.runtime import Runtime
from oems.store.history import OrderQuery

BASELINE = 10_000
TARGET_ORDERS = 1_000_000
TARGET_RATIO = 1.5
TARGET_PAGE_MS = 10.0


def rss_bytes() -> int:
    """This process's resident set size, after a full collection."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise SystemExit("no VmRSS in /proc/self/status (Linux only)")


async def run(args: argparse.Namespace, workdir: Path) -> None:
    runtime, load = await setup(workdir / "memory.db", 0, args.seed, args.snapshot_every)
    engine = runtime.engine
    try:
        readings: list[tuple[int, int, float]] = [(0, rss_bytes(), 0.0)]
        started = time.perf_counter()
        done = 0
        marks = sorted({BASELINE, args.orders})
        while done < args.orders:
            n = min(args.batch, args.orders - done)
            submitted = await engine.execute(
                cmd.SubmitOrders(load.account_id, tuple(load.submit().orders[0] for _ in range(n)))
            )
            await engine.execute(cmd.RunDue())
            await engine.execute(cmd.CancelOrders(load.account_id, tuple(x.id for x in submitted)))
            symbol = SYMBOLS[(done // args.batch) % len(SYMBOLS)]
            bid = Decimal(9990 + SYMBOLS.index(symbol)) * CENT
            await engine.execute(cmd.PinQuote(symbol, bid, bid + 2 * CENT, 100, 100, bid + CENT))
            for buy in (True, False):
                price = bid + 2 * CENT if buy else bid
                request = load.limit(symbol, o.BUY if buy else o.SELL, Decimal(1), price)
                await engine.execute(cmd.SubmitOrders(load.account_id, (request,)))
                await engine.execute(cmd.RunDue())
            done += n + 2
            if marks and done >= marks[0]:
                marks.pop(0)
                readings.append((done, rss_bytes(), time.perf_counter() - started))
                print(
                    f"after {done:>9,} orders: RSS {readings[-1][1] / 2**20:8.1f} MiB"
                    f" ({readings[-1][2]:.1f} s)",
                    flush=True,
                )
        state = runtime.state
        fills = sum(len(v) for v in state.executions.values())
        open_orders = sum(len(v) for v in state.open_orders.values())
        print(
            f"state: {len(state.orders):,} orders held in memory, {open_orders} open,"
            f" {fills:,} executions"
        )
        time_list_pages(runtime, load.account_id)
    finally:
        await runtime.stop()
    (n0, rss0, _), (n1, rss1, _) = readings[1], readings[-1]
    per_order = (rss1 - rss0) / (n1 - n0) if n1 > n0 else 0.0
    projected = rss0 + per_order * (TARGET_ORDERS - n0)
    ran = "measured" if n1 >= TARGET_ORDERS else f"projected from a run of {n1:,} orders"
    ratio = projected / rss0
    print()
    print(
        f"RSS after {n0:,} orders {rss0 / 2**20:.1f} MiB, after {n1:,} {rss1 / 2**20:.1f} MiB:"
        f" {per_order:,.0f} bytes per order ended"
    )
    print(
        f"target: RSS after {TARGET_ORDERS:,} orders within {TARGET_RATIO}x of after {n0:,}:"
        f" {projected / 2**20:,.0f} MiB ({ran}), {ratio:.2f}x"
        f" ({'met' if ratio <= TARGET_RATIO else 'MISSED'})"
    )


def _ms(run: Callable[[], object], rounds: int = 15) -> tuple[float, float, float]:
    """(median wall, median CPU, worst wall) milliseconds of `run` over `rounds` calls (the
    reads run on this thread, so its CPU time is theirs; the machine's load is not)."""
    walls, cpus = [], []
    for _ in range(rounds):
        started, cpu = time.perf_counter(), time.thread_time()
        run()
        cpus.append((time.thread_time() - cpu) * 1000)
        walls.append((time.perf_counter() - started) * 1000)
    return statistics.median(walls), statistics.median(cpus), max(walls)


def time_list_pages(runtime: Runtime, account_id: int) -> None:
    """The list and get of orders as the handlers answer them (rendering included, HTTP not),
    with every order of the run closed and in the history store."""
    closed = runtime.journal.history.count("closed_orders", account_id, "", [])
    print(f"history: {closed:,} closed orders in the account")

    def page(**params: Any) -> dict[str, Any]:
        return orders_page(runtime, account_id, QueryParams(params)).metadata

    runtime.journal.history.forget()
    started = time.perf_counter()
    first = page(page_size=100)
    print(
        f"first list of the process (counts the account once): {(time.perf_counter() - started) * 1000:.1f} ms"
    )
    rows = [
        ("first page, page_size=100", lambda: page(page_size=100)),
        (
            "page 2 by next_page_token, page_size=100",
            lambda: page(page_token=first["next_page_token"]),
        ),
        ("first page, page_size=1000 (the default)", lambda: page()),
        ("status=FILLED, page_size=100", lambda: page(status="FILLED", page_size=100)),
        ("side=BUY, page_size=100 (counts every row)", lambda: page(side="BUY", page_size=100)),
    ]
    history = runtime.journal.history
    newest = history.orders(account_id, OrderQuery()).older(None, 1)[0]
    filled = history.orders(account_id, OrderQuery(statuses=frozenset({o.FILLED}))).older(None, 1)
    one = str(filled[0].id) if filled else str(newest.id)

    def fills(**params: Any) -> object:
        return executions_page(runtime, account_id, QueryParams(params))

    rows += [
        ("one closed order by id", lambda: find_order_in(runtime, account_id, str(newest.id))),
        ("order_ids=<one filled order>", lambda: page(order_ids=one, page_size=100)),
        ("executions, page_size=100", lambda: fills(page_size=100)),
        ("executions of one order (order_ids=)", lambda: fills(order_ids=one)),
    ]
    for name, run in rows:
        wall, cpu, worst = _ms(run)
        print(f"  {name:48} median {wall:7.2f} ms wall, {cpu:7.2f} ms CPU; worst {worst:7.2f} ms")
    wall, cpu, _ = _ms(rows[0][1])
    print(
        f"target: a list page <= {TARGET_PAGE_MS:.0f} ms with {closed:,} closed orders in the"
        f" account (page_size=100): {wall:.2f} ms wall, {cpu:.2f} ms CPU"
        f" ({'met' if wall <= TARGET_PAGE_MS else 'MISSED'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=TARGET_ORDERS, help="orders submitted")
    parser.add_argument("--batch", type=int, default=500, help="orders per SubmitOrders")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--snapshot-every", type=int, help="events between state snapshots (default: the server's)"
    )
    args = parser.parse_args()
    if not BASELINE < args.orders <= 2 * TARGET_ORDERS or not 1 <= args.batch <= 1_000:
        raise SystemExit(f"keep it bounded: {BASELINE:,} < orders <= 2,000,000, batch 1-1,000")
    print(
        f"python {sys.version.split()[0]}; {args.orders:,} orders in rounds of {args.batch}"
        " (submitted, acknowledged, canceled) plus 2 filled per round; seed"
        f" {args.seed}"
    )
    with tempfile.TemporaryDirectory(prefix="oems-bench-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
