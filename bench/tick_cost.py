"""The cost of one market data tick with few and with many resting orders on the symbol.

Run: `.venv/bin/python bench/tick_cost.py` (one to two minutes). It prints figures; it asserts
nothing. The engine is in-process, built as the server builds it (`oems.runtime.Runtime` on a
temporary database, simulated clock frozen at 2025-10-15T14:30:00Z = Wednesday 10:30 ET,
`market_data="manual"`), with one margin account holding $1,000,000,000 of cash so buying power
never binds.

For each order kind and each book size (default 10 and 100,000), a fresh engine gets that
many resting orders on AAPL. They are submitted through `Engine.execute` in requests of 1,000
orders and acknowledged by the venue. Half are buys and half short sales, at prices spread
over 90 levels, all far from the market, so no tick fills or triggers anything:

* `limit`:    buys limited 100.00-189.99, short sales 210.00-299.99,
* `stop`:     buy stops 210.00-299.99, sell-short stops 100.00-189.99,
* `trailing`: trailing stops 10.00-99.99 away (PRICE offsets), so they never trigger.

One tick is a new quote for AAPL: bid 199.90-199.99 (random), ask bid + 0.02, last bid + 0.01.
The three ways of running it are timed separately:

* `evaluate_instrument`: `venue.evaluate_instrument(AAPL, now)` after the quote is set in the
  pinned-quote map: the venue's work for one symbol's tick (quote lookup, session check, the
  symbol's books).
* `evaluate_all`: `venue.evaluate_all(now)`: every book (only AAPL's hold orders here).
* `PinQuote`: the whole `PinQuote` command through the engine's dispatcher (`Engine._handle`):
  validation, the `QuotePinned` event applied to state, then `evaluate_all`. Its events are
  dropped, not journaled, because the journal is measured by the other benchmarks.

Both engines of a kind (10 and 100,000 orders) live in the same process. Their six
measurements run interleaved for 5 rounds. Each round of a measurement is a calibrated
number of ticks, about 0.2 s and at least 3 ticks. Time is the measuring thread's CPU time,
so other work on the machine does not count. The garbage collector runs as usual, and its
share of the wall time is printed. The best round is reported, with the median round, and
the ratio of the best rounds, 100,000 : 10. The target is within 1.2x.

A fourth way times order entry with the same books: `order entry` is one `SubmitOrders` of one
more order of the kind (the next of its sequence of prices), its `CancelOrders` and the
venue's answers (`RunDue`), through the dispatcher, events dropped. The book keeps its size. The
target is again within 1.2x of the 10-order book's figure.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from gctimer import GcTimer  # bench/gctimer.py: the script's directory is on sys.path
from oems.domain import orders as o
from oems.domain.orders import OrderRequest
from oems.domain.state import PinnedQuote
from oems.domain.terms import OrderTerms
from oems.domain.timefmt import parse_iso
from oems.engine import commands as cmd
from oems.market.clock import SIMULATED
from oems.runtime import Config, Runtime

START = "2025-10-15T14:30:00Z"  # a Wednesday, 10:30 US/Eastern: the regular session is open
SYMBOL = "AAPL"
CENT = Decimal("0.01")
KINDS = ("limit", "stop", "trailing")
WAYS = ("evaluate_instrument", "evaluate_all", "PinQuote", "order entry")
TARGET_RATIO = 1.2  # many resting orders against few: a tick's cost, and an order entry's
ROUNDS = 5
TARGET_SECONDS = 0.2  # per round and measurement
CALIBRATION_SECONDS = 0.05
MAX_ORDERS = 200_000
REQUEST_SIZE = 1_000


def request(instrument: Any, kind: str, i: int) -> OrderRequest:
    """The i-th resting order of a kind: alternately a buy and a short sale, never reached."""
    buy = i % 2 == 0
    level = Decimal(i // 2 % 9000) * CENT  # 0.00-89.99
    common: dict[str, Any] = {
        "side": o.BUY if buy else o.SELL_SHORT,
        "time_in_force": o.DAY,
        "quantity": Decimal(1),
    }
    if kind == "limit":
        price = Decimal(100) + level if buy else Decimal(210) + level
        terms = OrderTerms(**common, order_type=o.LIMIT, limit_price=price)
    elif kind == "stop":
        price = Decimal(210) + level if buy else Decimal(100) + level
        terms = OrderTerms(**common, order_type=o.STOP, stop_price=price)
    else:
        terms = OrderTerms(
            **common,
            order_type=o.TRAILING_STOP,
            trailing_offset=Decimal(10) + level,
            trailing_offset_type=o.PRICE,
        )
    return OrderRequest(
        instrument_id=instrument.id,
        symbol=instrument.symbol,
        instrument_type=instrument.instrument_type,
        is_fractionable=instrument.is_fractionable,
        terms=terms,
    )


async def build(db_path: Path, kind: str, count: int) -> Runtime:
    """A started runtime with `count` resting orders of `kind` on SYMBOL."""
    settings: dict[str, Any] = {
        "db_path": db_path,
        "clock_mode": SIMULATED,
        "clock_start_ns": parse_iso(START),
        "clock_speed": 0.0,
        "market_data": "manual",
    }
    if "snapshot_every" in {f.name for f in dataclasses.fields(Config)}:
        # Ticks here apply events that are never journaled: no state snapshot of that.
        settings["snapshot_every"] = 0
    runtime = Runtime(Config(**settings))
    await runtime.start()
    engine = runtime.engine
    account = await engine.execute(
        cmd.OpenAccount("bench", "Bench Account", "MARGIN", 4, Decimal(1_000_000_000))
    )
    await engine.execute(
        cmd.PinQuote(SYMBOL, Decimal("199.95"), Decimal("199.97"), 100, 100, Decimal("199.96"))
    )
    instrument = runtime.instruments.resolve(SYMBOL)
    assert instrument is not None
    for first in range(0, count, REQUEST_SIZE):
        batch = tuple(
            request(instrument, kind, i) for i in range(first, min(count, first + REQUEST_SIZE))
        )
        await engine.execute(cmd.SubmitOrders(account.id, batch))
    await engine.execute(cmd.RunDue())  # the venue acknowledges; the orders start working
    resting = sum(1 for order in runtime.state.orders.values() if order.status == o.NEW)
    if resting != count:
        raise RuntimeError(f"{resting} of {count} {kind} orders rest; expected all")
    return runtime


def tick_functions(
    runtime: Runtime, kind: str, rng: random.Random
) -> dict[str, Callable[[], None]]:
    engine = runtime.engine
    venue = engine.venue
    instrument = runtime.instruments.resolve(SYMBOL)
    assert instrument is not None
    pins = runtime.state.pinned_quotes
    template = pins[SYMBOL]
    now = engine.now_ns()

    # Trailing watermarks first see both ends of the quotes to come, so the timed ticks move none
    # of them (otherwise whichever way is timed first pays for moving them).
    for bid in (Decimal("199.99"), Decimal("199.90")):
        pins[SYMBOL] = _with_prices(template, bid, bid + 2 * CENT, bid + CENT)
        venue.evaluate_all(now)
    drop = engine.writer.take_batch
    drop()

    def new_quote() -> tuple[Decimal, Decimal, Decimal]:
        bid = Decimal(rng.randint(19990, 19999)) * CENT
        return bid, bid + 2 * CENT, bid + CENT

    def set_pin() -> None:
        bid, ask, last = new_quote()
        pins[SYMBOL] = _with_prices(template, bid, ask, last)

    # Events a tick emits (trailing watermarks moving) are applied to state, then dropped from
    # the writer's batch (`take_batch`): the journal is not part of this measurement.

    def by_instrument() -> None:
        set_pin()
        venue.evaluate_instrument(instrument, now)
        drop()

    def by_all() -> None:
        set_pin()
        venue.evaluate_all(now)
        drop()

    handle = engine.writer.handle  # the writer loop's per-command call

    def by_command() -> None:
        bid, ask, last = new_quote()
        handle(cmd.PinQuote(SYMBOL, bid, ask, 100, 100, last))
        drop()

    account_id = next(iter(runtime.state.accounts))
    entries = itertools.count(10**6)  # the kind's order sequence, past the resting orders

    def by_entry() -> None:
        # One order in, then out again, so the book keeps its size: submit, cancel, the venue's
        # answers (RunDue), as the writer loop runs them.
        (order,) = handle(cmd.SubmitOrders(account_id, (request(instrument, kind, next(entries)),)))
        handle(cmd.CancelOrders(account_id, (order.id,)))
        handle(cmd.RunDue())
        drop()

    return {
        "evaluate_instrument": by_instrument,
        "evaluate_all": by_all,
        "PinQuote": by_command,
        "order entry": by_entry,
    }


def _with_prices(pin: PinnedQuote, bid: Decimal, ask: Decimal, last: Decimal) -> PinnedQuote:
    return dataclasses.replace(pin, bid=bid, ask=ask, last=last)


@dataclass
class Timing:
    samples: list[float] = field(default_factory=list)  # CPU seconds per tick, one per round
    ticks: int = 0  # per round
    gc_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def gc_share(self) -> float:
        return self.gc_seconds / self.wall_seconds if self.wall_seconds else 0.0


def calibrate(tick: Callable[[], None]) -> int:
    """How many ticks make about TARGET_SECONDS of CPU time (at least 3)."""
    clock = time.thread_time
    tick()  # warm up
    n, started = 0, clock()
    while n < 3 or (clock() - started < CALIBRATION_SECONDS and n < 1000):
        tick()
        n += 1
    once = max((clock() - started) / n, 1e-7)
    return max(3, min(100_000, int(TARGET_SECONDS / once)))


def run_round(tick: Callable[[], None], timing: Timing, timer: GcTimer) -> None:
    """One round: `timing.ticks` ticks, timed in this thread's CPU time."""
    clock = time.thread_time
    gc_before, wall = timer.seconds, time.perf_counter()
    started = clock()
    for _ in range(timing.ticks):
        tick()
    timing.samples.append((clock() - started) / timing.ticks)
    timing.wall_seconds += time.perf_counter() - wall
    timing.gc_seconds += timer.seconds - gc_before


async def measure_kind(
    workdir: Path, kind: str, sizes: tuple[int, ...], seed: int
) -> dict[tuple[int, str], Timing]:
    """Build one engine per size, then time every (size, way) in interleaved rounds."""
    runtimes: dict[int, Runtime] = {}
    try:
        for size in sizes:
            built = time.perf_counter()
            runtimes[size] = await build(workdir / f"{kind}-{size}.db", kind, size)
            print(
                f"  {kind}: {size:,} resting orders built in {time.perf_counter() - built:.1f} s",
                flush=True,
            )
        ticks = {
            (size, way): tick
            for size, runtime in runtimes.items()
            for way, tick in tick_functions(runtime, kind, random.Random(seed)).items()
        }
        timings = {key: Timing(ticks=calibrate(tick)) for key, tick in ticks.items()}
        with GcTimer() as timer:
            timer.on = True
            for _ in range(ROUNDS):
                for key, tick in ticks.items():
                    run_round(tick, timings[key], timer)
        return timings
    finally:
        for runtime in runtimes.values():
            await runtime.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset")
    parser.add_argument("--few", type=int, default=10)
    parser.add_argument("--many", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    if any(k not in KINDS for k in kinds):
        raise SystemExit(f"kinds: {', '.join(KINDS)}")
    if not 1 <= args.few <= args.many <= MAX_ORDERS:
        raise SystemExit(f"keep it bounded: 1 <= few <= many <= {MAX_ORDERS:,}")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; one tick = a new {SYMBOL}"
        f" quote; {ROUNDS} interleaved rounds of about {TARGET_SECONDS:g} s of thread CPU time"
        " per measurement; gc enabled"
    )
    results: dict[str, dict[tuple[int, str], Timing]] = {}
    sizes = (args.few, args.many)
    with tempfile.TemporaryDirectory(prefix="oems-bench-") as tmp:
        for kind in kinds:
            results[kind] = asyncio.run(measure_kind(Path(tmp), kind, sizes, args.seed))
            gc.collect()
    print()
    print(
        "us per tick: best round (median round) [ticks per round, share of wall time in gc];"
        " ratio of the best rounds"
    )
    few_head, many_head = f"{args.few:,} resting", f"{args.many:,} resting"
    print(
        f"{'orders':<9} {'way':<20} {few_head:>30} {many_head:>30}  ratio"
        f"  target <= {TARGET_RATIO}x"
    )
    for kind in kinds:
        for way in WAYS:
            cells = []
            for size in sizes:
                t = results[kind][size, way]
                cells.append(
                    f"{t.best * 1e6:,.1f} ({t.median * 1e6:,.1f}) [{t.ticks}, {t.gc_share:.0%}]"
                )
            ratio = results[kind][args.many, way].best / results[kind][args.few, way].best
            verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
            print(f"{kind:<9} {way:<20} {cells[0]:>30} {cells[1]:>30}  {ratio:>5.2f}  {verdict}")


if __name__ == "__main__":
    main()
