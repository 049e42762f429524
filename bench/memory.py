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
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from engine_load import CENT, SYMBOLS, setup  # the sibling benchmark's engine and order mix
from oems.domain import orders as o
from oems.engine import commands as cmd

BASELINE = 10_000
TARGET_ORDERS = 1_000_000
TARGET_RATIO = 1.5


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
