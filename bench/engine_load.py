"""The engine in-process: commands/s for a mixed load of submits, replaces, cancels and ticks.

Run: `.venv/bin/python bench/engine_load.py` (about 2 minutes). It prints figures; it asserts
nothing. No HTTP: the engine is built the way the server builds it (`oems.runtime.Runtime` on a
temporary database, simulated clock frozen at 2025-10-15T14:30:00Z = Wednesday 10:30 ET,
`market_data="manual"`, venue latency 0).

Setup: one margin account with $1,000,000,000 of cash (so buying power never binds), quotes pinned
on 10 symbols around 100.00 (bid 99.90-99.99, ask bid + 0.02), and a pool of `--resting`
non-marketable orders spread over them (buys limited 90.00-99.00, short sales 101.00-110.00,
quantity 1-10, DAY). Then the measured load, in windows of `--window` commands (511 by default:
with the engine's own RunDue that is one batch of `MAX_BATCH` = 512):

* 30% `SubmitOrders` with one new order of the same kind (as one HTTP request would),
* 30% `ReplaceOrder` of a resting order (a new limit price on its side, sometimes a new quantity),
* 30% `CancelOrders` of one resting order,
* 10% ticks: `PinQuote` of one symbol with a new bid/ask that crosses nothing. The pin handler
  evaluates every book (`venue.evaluate_all`).

The pool stays about the same size, and no order ever fills. The venue's answers (acknowledge,
replace, cancel) come in the engine's own `RunDue` at the start of the next window, as in the
server. Those internal RunDues are not counted as commands, but their time is included. The
load is deterministic (seeded). Two ways of driving it:

* `execute`: through `Engine.execute` and the real writer loop. A window's commands are
  queued together, so they form one batch: one journal transaction and one fsync, then the
  futures resolve. This is the server's path without HTTP. It includes the state snapshots the
  writer loop takes every `snapshot_every` events (the server's default unless
  `--snapshot-every` says otherwise): how long the loop stalled for them (the longest against
  the 50 ms target) and how long their writing took are printed apart.
* `handlers`: the same commands handed straight to the engine's dispatcher (`Writer.handle`,
  the function the writer loop calls for each command). No asyncio, no journal, no snapshots.
  This measures the engine's own cost per command. The events of each window are then appended
  to the journal separately, and that time is reported on its own line.

Each mode prints wall-clock commands/s and commands per CPU second. The CPU figure depends less
on whatever else the machine runs. The garbage collector's share comes from `gc.callbacks`.
The collector is set as the server sets it (`Config.tune_gc`: the heap frozen when the runtime
starts and before each snapshot, thresholds 50,000/20/100). `--gc freeze` also freezes it after
the setup, and `--gc off` shows the cost without the collector.

`--profile N` also runs the `handlers` load under cProfile. It prints the cumulative time of the
engine's main components, then the top N functions by cumulative time and by own time.
Everything runs in-process and is bounded: `--commands` is capped at 2,000,000, and
`--max-seconds` (default 120) stops each mode early.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from gctimer import GcTimer  # bench/gctimer.py: the script's directory is on sys.path
from oems.domain import orders as o
from oems.domain.errors import OemsError
from oems.domain.orders import Order, OrderRequest
from oems.domain.terms import OrderTerms
from oems.domain.timefmt import parse_iso
from oems.engine import commands as cmd
from oems.market.clock import SIMULATED
from oems.runtime import Config, Runtime

START = "2025-10-15T14:30:00Z"  # a Wednesday, 10:30 US/Eastern: the regular session is open
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM", "V", "SPY")
CENT = Decimal("0.01")
MIX = (("submit", 30), ("replace", 30), ("cancel", 30), ("tick", 10))
MAX_COMMANDS = 2_000_000
TARGET_RATE = 50_000  # commands/s over 200,000 commands at a 10,000-order book
TARGET_SLOWDOWN = 0.10  # the second half of the run at most this much slower than the first
TARGET_STALL = 0.050  # seconds the writer loop may stall for a state snapshot


@dataclass
class Load:
    """Deterministic generator of the mixed load, tracking the pool of resting orders."""

    runtime: Runtime
    account_id: int
    seed: int
    rng: random.Random = field(init=False)
    pool: list[uuid.UUID] = field(default_factory=list)  # resting (or about to rest) orders
    where: dict[uuid.UUID, int] = field(default_factory=dict)  # order id -> index in pool
    instruments: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        for symbol in SYMBOLS:
            instrument = self.runtime.instruments.resolve(symbol)
            if instrument is None:
                raise SystemExit(f"{symbol} is not in the instrument master")
            self.instruments[symbol] = instrument

    # ---- the pool -------------------------------------------------------------------------

    def add(self, order_id: uuid.UUID) -> None:
        self.where[order_id] = len(self.pool)
        self.pool.append(order_id)

    def take(self) -> uuid.UUID:
        """Remove and return a random resting order (O(1): swap with the last)."""
        i = self.rng.randrange(len(self.pool))
        order_id = self.pool[i]
        last = self.pool.pop()
        if last != order_id:
            self.pool[i] = last
            self.where[last] = i
        del self.where[order_id]
        return order_id

    # ---- commands -------------------------------------------------------------------------

    def price(self, buy: bool) -> Decimal:
        cents = self.rng.randint(9000, 9900) if buy else self.rng.randint(10100, 11000)
        return Decimal(cents) * CENT

    def limit(self, symbol: str, side: str, quantity: Decimal, price: Decimal) -> OrderRequest:
        """A DAY limit order of `symbol`."""
        instrument = self.instruments[symbol]
        return OrderRequest(
            instrument_id=instrument.id,
            symbol=instrument.symbol,
            instrument_type=instrument.instrument_type,
            is_fractionable=instrument.is_fractionable,
            terms=OrderTerms(
                side=side,
                order_type=o.LIMIT,
                time_in_force=o.DAY,
                quantity=quantity,
                limit_price=price,
            ),
        )

    def submit(self) -> cmd.SubmitOrders:
        """One new non-marketable order of the mix."""
        symbol = self.rng.choice(SYMBOLS)
        buy = self.rng.random() < 0.5
        quantity = Decimal(self.rng.randint(1, 10))
        request = self.limit(symbol, o.BUY if buy else o.SELL_SHORT, quantity, self.price(buy))
        return cmd.SubmitOrders(self.account_id, (request,))

    def tick(self) -> cmd.PinQuote:
        bid = Decimal(self.rng.randint(9990, 9999)) * CENT
        return cmd.PinQuote(self.rng.choice(SYMBOLS), bid, bid + 2 * CENT, 100, 100, bid + CENT)

    def window(self, size: int) -> tuple[list[Any], list[uuid.UUID]]:
        """`size` commands; replaced and canceled orders are taken out of the pool meanwhile.

        Returns the commands and the replaced orders, which go back to the pool after the window
        (an order is touched at most once per window, so every replace and cancel finds its
        order acknowledged and idle).
        """
        commands: list[Any] = []
        replaced: list[uuid.UUID] = []
        orders = self.runtime.state.orders
        kinds = [k for k, _ in MIX]
        weights = [w for _, w in MIX]
        for kind in self.rng.choices(kinds, weights, k=size):
            if kind in ("replace", "cancel") and not self.pool:
                kind = "submit"
            if kind == "submit":
                commands.append(self.submit())
            elif kind == "tick":
                commands.append(self.tick())
            elif kind == "cancel":
                commands.append(cmd.CancelOrders(self.account_id, (self.take(),)))
            else:
                order_id = self.take()
                order = orders[order_id]
                quantity = None
                if self.rng.random() < 0.25:
                    quantity = Decimal(self.rng.randint(1, 10))
                commands.append(
                    cmd.ReplaceOrder(
                        self.account_id,
                        order_id,
                        quantity=quantity,
                        limit_price=self.price(order.is_buy),
                    )
                )
                replaced.append(order_id)
        return commands, replaced

    def settle(self, commands: list[Any], results: list[Any], replaced: list[uuid.UUID]) -> int:
        """Put new and replaced orders in the pool; returns the number of refused commands."""
        refused = 0
        for command, result in zip(commands, results, strict=True):
            if isinstance(result, BaseException):
                refused += 1
            elif isinstance(command, cmd.SubmitOrders):
                order: Order = result[0]
                self.add(order.id)
        for order_id in replaced:
            self.add(order_id)
        return refused


async def setup(
    db_path: Path, resting: int, seed: int, snapshot_every: int | None = None
) -> tuple[Runtime, Load]:
    """A started runtime with the bench account, pinned quotes and `resting` resting orders.

    `snapshot_every`: the writer loop's state snapshots (None: the server's default).
    """
    settings: dict[str, Any] = {
        "db_path": db_path,
        "clock_mode": SIMULATED,
        "clock_start_ns": parse_iso(START),
        "clock_speed": 0.0,
        "market_data": "manual",
        "seed": seed,
    }
    names = {f.name for f in fields(Config)}
    if snapshot_every is not None and "snapshot_every" in names:
        settings["snapshot_every"] = snapshot_every
    if "tune_gc" in names:
        settings["tune_gc"] = True  # the collector as the server sets it
    runtime = Runtime(Config(**settings))
    await runtime.start()
    engine = runtime.engine
    account = await engine.execute(
        cmd.OpenAccount("bench", "Bench Account", "MARGIN", 4, Decimal(1_000_000_000))
    )
    load = Load(runtime, account.id, seed)
    for i, symbol in enumerate(SYMBOLS):
        bid = Decimal(9990 + i) * CENT
        await engine.execute(cmd.PinQuote(symbol, bid, bid + 2 * CENT, 100, 100, bid + CENT))
    # Pre-fill in requests of up to 500 orders (one command each), then let the venue ack them.
    remaining = resting
    while remaining > 0:
        n = min(500, remaining)
        requests = tuple(load.submit().orders[0] for _ in range(n))
        for order in await engine.execute(cmd.SubmitOrders(account.id, requests)):
            load.add(order.id)
        remaining -= n
    await engine.execute(cmd.RunDue())
    return runtime, load


@dataclass
class Outcome:
    commands: int
    seconds: float
    refused: int
    kinds: Counter[str]
    events: int
    windows: int = 0
    cpu_seconds: float = 0.0  # CPU time of this process over the same span (all threads)
    journal_seconds: float = 0.0  # `handlers` mode only: the separate journal appends
    run_due_seconds: float = 0.0  # `handlers` mode only: the internal venue RunDues
    per_kind: Counter[str] = field(default_factory=Counter)  # `handlers` only: seconds per kind
    gc: GcTimer | None = None
    snapshots: SnapshotFigures | None = None  # `execute` only
    half_commands: int = 0  # commands done, and their seconds, when the first half was reached
    half_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.commands / self.seconds

    def halves(self) -> tuple[float, float]:
        """Commands/s over the first half of the run and over the second."""
        first = self.half_commands / self.half_seconds if self.half_seconds else float("nan")
        rest = self.seconds - self.half_seconds
        second = (self.commands - self.half_commands) / rest if rest > 0 else float("nan")
        return first, second


def _kind(command: Any) -> str:
    return {
        cmd.SubmitOrders: "submit",
        cmd.ReplaceOrder: "replace",
        cmd.CancelOrders: "cancel",
        cmd.PinQuote: "tick",
    }[type(command)]


@dataclass
class SnapshotFigures:
    count: int = 0
    stall_seconds: float = 0.0  # the writer loop waiting for the snapshot to start (the fork)
    longest_stall: float = 0.0
    write_seconds: float = 0.0  # the journal thread writing the blob


class SnapshotTimer(SnapshotFigures):
    """Counts and times the writer loop's state snapshots (when the engine takes any): what the
    loop waits for (`Writer.start_snapshot`: the fork, or the whole pickling where the writer
    pickles in-process) and the blob's write in the journal thread, between two commits."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        writer, journal = runtime.engine.writer, runtime.journal
        start = getattr(writer, "start_snapshot", None) or getattr(writer, "snapshot", None)
        write = getattr(journal, "save_snapshot", None)
        if start is None or write is None:
            return

        def timed_start() -> Any:
            started = time.perf_counter()
            try:
                return start()
            finally:
                spent = time.perf_counter() - started
                self.count += 1
                self.stall_seconds += spent
                self.longest_stall = max(self.longest_stall, spent)

        def timed_write(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return write(*args)
            finally:
                self.write_seconds += time.perf_counter() - started

        # Instance attributes: the writer loop looks both up at each use.
        setattr(writer, start.__name__, timed_start)
        journal.save_snapshot = timed_write  # type: ignore[method-assign]


async def run_execute(load: Load, total: int, window: int, deadline: float) -> Outcome:
    """The load through `Engine.execute`: one window = one batch = one journal transaction."""
    engine = load.runtime.engine
    journal = load.runtime.journal
    snapshots = SnapshotTimer(load.runtime)
    events0 = journal.count()
    kinds: Counter[str] = Counter()
    done = refused = half_commands = 0
    half_seconds = 0.0
    started, cpu_started = time.perf_counter(), time.process_time()
    while done < total and time.perf_counter() < deadline:
        commands, replaced = load.window(min(window, total - done))
        results = await asyncio.gather(
            *(engine.execute(c) for c in commands), return_exceptions=True
        )
        refused += load.settle(commands, results, replaced)
        kinds.update(_kind(c) for c in commands)
        done += len(commands)
        if not half_commands and done >= total // 2:
            half_commands, half_seconds = done, time.perf_counter() - started
    # The venue's answers to the last window: part of the work of the load.
    await engine.execute(cmd.RunDue())
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    windows = -(-done // window)
    outcome = Outcome(done, seconds, refused, kinds, journal.count() - events0, windows, cpu)
    outcome.half_commands, outcome.half_seconds = half_commands, half_seconds
    # Figures as of the end of the measured load (the runtime's stop takes one more snapshot).
    outcome.snapshots = SnapshotFigures(
        snapshots.count, snapshots.stall_seconds, snapshots.longest_stall, snapshots.write_seconds
    )
    return outcome


def run_handlers(
    load: Load,
    total: int,
    window: int,
    deadline: float,
    profiler: cProfile.Profile | None,
    timer: GcTimer | None,
) -> Outcome:
    """The same load handed to the engine's dispatcher: no asyncio, no journal in the timing."""
    engine = load.runtime.engine
    journal = load.runtime.journal
    handle = engine.writer.handle  # the writer loop's per-command call
    kinds: Counter[str] = Counter()
    per_kind: Counter[str] = Counter()
    done = refused = events = half_commands = 0
    handler_s = journal_s = run_due_s = cpu_s = half_seconds = 0.0
    clock, cpu_clock = time.perf_counter, time.thread_time
    while done < total and clock() < deadline:
        commands, replaced = load.window(min(window, total - done))
        names = [_kind(c) for c in commands]
        results: list[Any] = []
        if profiler is not None:
            profiler.enable()
        c0, t0 = cpu_clock(), clock()
        handle(cmd.RunDue())  # the venue answers the previous window (the writer loop's RunDue)
        t1 = clock()
        for name, command in zip(names, commands, strict=True):
            before = clock()
            try:
                results.append(handle(command))
            except OemsError as exc:
                results.append(exc)
            per_kind[name] += clock() - before
        t2, c2 = clock(), cpu_clock()
        if profiler is not None:
            profiler.disable()
        if timer is not None:
            timer.on = False
        pending, rows = engine.writer.take_batch()
        if rows:
            journal.append(rows)
        t3 = clock()
        if timer is not None:
            timer.on = True
        run_due_s += t1 - t0
        handler_s += t2 - t0
        cpu_s += c2 - c0
        journal_s += t3 - t2
        events += len(pending)
        refused += load.settle(commands, results, replaced)
        kinds.update(names)
        done += len(commands)
        if not half_commands and done >= total // 2:
            half_commands, half_seconds = done, handler_s
    c0, t0 = cpu_clock(), clock()
    handle(cmd.RunDue())
    t1 = clock()
    run_due_s += t1 - t0
    handler_s += t1 - t0
    cpu_s += cpu_clock() - c0
    pending, rows = engine.writer.take_batch()
    if rows:
        journal.append(rows)
        journal_s += clock() - t1
        events += len(pending)
    windows = -(-done // window)
    outcome = Outcome(
        done, handler_s, refused, kinds, events, windows, cpu_s, journal_s, run_due_s, per_kind
    )
    outcome.half_commands, outcome.half_seconds = half_commands, half_seconds
    return outcome


# (label, path fragment, function name): cumulative time of the handlers load per component.
COMPONENTS = (
    ("all commands and RunDues (Writer.handle)", "oems/engine/writer.py", "handle"),
    ("  trading.submit_orders", "oems/engine/trading.py", "submit_orders"),
    ("    risk checks (RiskChecker.check)", "oems/engine/risk.py", "check"),
    ("      Valuation.account_value", "oems/engine/valuation.py", "account_value"),
    ("    plan (checks, OrderAccepted events)", "oems/engine/trading.py", "plan_submit"),
    ("  trading.replace_order", "oems/engine/trading.py", "replace_order"),
    ("  trading.cancel_orders", "oems/engine/trading.py", "cancel_orders"),
    ("  PinQuote (tick)", "oems/engine/sandbox.py", "pin_quote"),
    ("  RunDue (venue answers, then a tick)", "oems/engine/sessions.py", "run_due"),
    ("    venue answers (Venue._venue_answer)", "oems/engine/venue.py", "_venue_answer"),
    ("  Venue.evaluate_all (ticks and RunDues)", "oems/engine/venue.py", "evaluate_all"),
    ("  events applied (Engine._apply)", "oems/engine/engine.py", "_apply"),
    ("    TradingState.apply", "oems/domain/state.py", "apply"),
    ("    SelfMatchIndex.update", "oems/engine/self_match.py", "update"),
    ("    Venue.applied", "oems/engine/venue.py", "applied"),
    ("  order copies (trading.order_copy)", "oems/engine/trading.py", "order_copy"),
    ("  dataclasses.replace (all callers)", "dataclasses.py", "replace"),
    ("  Context.quote", "oems/engine/context.py", "quote"),
    ("  TradingCalendar.session_at", "oems/market/calendar.py", "session_at"),
)


def print_profile(path: Path, top: int) -> None:
    stats = pstats.Stats(str(path))
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(
        ct for (f, _, fn), (_, _, _, ct, _) in raw.items() if fn == "handle" and "writer" in f
    )
    print(
        f"--- cProfile of the handlers load: cumulative time per component"
        f" (share of Writer.handle's {total:.2f} s; components nest) ---"
    )
    for label, fragment, name in COMPONENTS:
        cum = sum(
            ct
            for (file, _, func), (_, _, _, ct, _) in raw.items()
            if fragment in file and func == name
        )
        print(f"{label:<46} {cum:7.2f} s {cum / total * 100:5.1f}%")
    for key in ("cumulative", "tottime"):
        print(f"--- cProfile of the handlers load, top {top} by {key} ---")
        stats.sort_stats(key).print_stats(top)


async def bench(args: argparse.Namespace, mode: str, workdir: Path) -> tuple[Outcome, int]:
    db_path = workdir / f"{mode}.db"
    runtime, load = await setup(db_path, args.resting, args.seed, args.snapshot_every)
    try:
        deadline = time.perf_counter() + args.max_seconds
        profiler = cProfile.Profile() if mode == "profile" else None
        if args.gc == "freeze":
            gc.collect()
            gc.freeze()  # what the server could do once started: old objects leave the GC's scans
        elif args.gc == "off":
            gc.disable()
        with GcTimer() as timer:
            timer.on = True
            if mode == "execute":
                outcome = await run_execute(load, args.commands, args.window, deadline)
            else:
                outcome = run_handlers(load, args.commands, args.window, deadline, profiler, timer)
            timer.on = False
        outcome.gc = timer
        if profiler is not None:
            path = workdir / "engine.prof"
            profiler.dump_stats(str(path))
            print_profile(path, args.profile)
        open_orders = sum(len(v) for v in runtime.state.open_orders.values())
        return outcome, open_orders
    finally:
        gc.enable()
        gc.unfreeze()
        await runtime.stop()


def report(mode: str, outcome: Outcome, open_orders: int) -> None:
    per = outcome.seconds / outcome.commands * 1e6
    kinds = ", ".join(f"{k} {outcome.kinds[k]}" for k, _ in MIX)
    print(
        f"{mode:<9} {outcome.rate:>10,.0f} commands/s  ({outcome.commands:,} commands in"
        f" {outcome.seconds:.2f} s, {per:.1f} us each; {outcome.events:,} events,"
        f" {outcome.events / outcome.commands:.2f} per command; refused {outcome.refused};"
        f" open orders after: {open_orders:,})"
    )
    print(f"          mix: {kinds}")
    first, second = outcome.halves()
    slowdown = 1 - second / first
    print(
        f"          first {outcome.half_commands:,} commands {first:,.0f}/s, the rest"
        f" {second:,.0f}/s: the second half {slowdown:+.0%} slower"
    )
    cpu_rate = outcome.commands / outcome.cpu_seconds if outcome.cpu_seconds else float("nan")
    what = "this process, all threads" if mode == "execute" else "this thread"
    print(
        f"          CPU time ({what}): {outcome.cpu_seconds:.2f} s ="
        f" {cpu_rate:,.0f} commands per CPU second"
    )
    if outcome.gc is not None:
        print(f"          garbage collector: {outcome.gc.summary(outcome.seconds)}")
    snaps = outcome.snapshots
    if snaps is not None:
        print(
            f"          state snapshots taken by the writer loop: {snaps.count}; the loop"
            f" stalled {snaps.stall_seconds:.3f} s in all, longest"
            f" {snaps.longest_stall * 1e3:.1f} ms (target <= {TARGET_STALL * 1e3:.0f} ms:"
            f" {'met' if snaps.longest_stall <= TARGET_STALL else 'MISSED'}); writing the blobs"
            f" {snaps.write_seconds:.2f} s in the journal thread"
        )
    if mode == "handlers":
        for kind, _ in MIX:
            n = outcome.kinds[kind]
            if n:
                print(
                    f"          {kind:<8} {outcome.per_kind[kind] / n * 1e6:7.1f} us per command"
                    f" (dispatch included, {outcome.per_kind[kind]:.2f} s)"
                )
        print(
            f"          internal RunDues (venue answers): {outcome.run_due_seconds:.2f} s,"
            f" {outcome.run_due_seconds / outcome.commands * 1e6:.1f} us per command"
        )
        journal = outcome.journal_seconds
        print(
            f"          journal appends, timed apart: {journal:.2f} s"
            f" ({journal / outcome.commands * 1e6:.1f} us per command,"
            f" {journal / max(outcome.events, 1) * 1e6:.1f} us per event,"
            f" {journal / max(1, outcome.windows) * 1e3:.2f} ms per window);"
            f" handlers + journal: {outcome.commands / (outcome.seconds + journal):,.0f}"
            " commands/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200_000, help="measured commands per mode")
    parser.add_argument("--resting", type=int, default=10_000, help="orders resting at the start")
    parser.add_argument(
        "--window",
        type=int,
        default=511,
        help="commands queued together (511: with the engine's own RunDue, one 512-command batch)",
    )
    parser.add_argument("--modes", default="execute,handlers", help="execute,handlers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="per mode, a bound")
    parser.add_argument(
        "--snapshot-every",
        type=int,
        help="events between the writer loop's state snapshots (default: the server's; 0: none)",
    )
    parser.add_argument(
        "--gc",
        choices=("default", "freeze", "off"),
        default="default",
        help="garbage collector during the measured load: as is; `gc.freeze()` after the setup;"
        " disabled (to see the cost without it)",
    )
    parser.add_argument(
        "--profile", type=int, metavar="TOP", help="also profile the handlers load (cProfile)"
    )
    args = parser.parse_args()
    if (
        not 1 <= args.commands <= MAX_COMMANDS
        or not 0 <= args.resting <= 200_000
        or not 1 <= args.window <= 10_000
        or not 0 < args.max_seconds <= 600
    ):
        raise SystemExit(
            f"keep it bounded: commands 1-{MAX_COMMANDS:,}, resting <= 200,000, window"
            " <= 10,000, max-seconds <= 600"
        )
    modes = [m for m in args.modes.split(",") if m]
    if any(m not in ("execute", "handlers") for m in modes):
        raise SystemExit("modes: execute, handlers")
    if args.profile:
        modes.append("profile")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {args.commands:,} commands per"
        f" mode in windows of {args.window}, {args.resting:,} orders resting at the start on"
        f" {len(SYMBOLS)} symbols; mix "
        + ", ".join(f"{k} {w}%" for k, w in MIX)
        + f"; seed {args.seed}; gc {args.gc}"
    )
    print()
    outcomes: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="oems-bench-") as tmp:
        for mode in modes:
            outcome, open_orders = asyncio.run(bench(args, mode, Path(tmp)))
            if mode != "profile":
                outcomes[mode] = outcome
                report(mode, outcome, open_orders)
    print()
    for mode, outcome in outcomes.items():
        first, second = outcome.halves()
        print(
            f"target ({mode}): >= {TARGET_RATE:,} commands/s over {outcome.commands:,} commands at"
            f" a {args.resting:,}-order book: {outcome.rate:,.0f}/s"
            f" ({'met' if outcome.rate >= TARGET_RATE else 'MISSED'}); the second half within"
            f" {TARGET_SLOWDOWN:.0%} of the first: {1 - second / first:+.1%} slower"
            f" ({'met' if second >= first * (1 - TARGET_SLOWDOWN) else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
