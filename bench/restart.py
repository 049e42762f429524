"""Restart time: full journal replay against snapshot + tail, on a journal of 1,000,000 events.

Writes the journal straight through `Journal.append` into a temporary directory, then times
`recovery.recover` from nothing, the snapshot (pickling and writing), and `recovery.recover` from that
snapshot plus a tail of newer events. Prints figures; asserts only that both restarts agree.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import random
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from oems.domain import events as ev
from oems.domain.state import FIRST_ACCOUNT_ID, TradingState
from oems.domain.terms import OrderTerms, TradedInstrument
from oems.engine import recovery
from oems.market.clock import SIMULATED, Clock
from oems.store.history import history_rows
from oems.store.journal import Journal, encode_rows
from oems.store.snapshots import ChildDump, collector_paused, dump_state

START_NS = 1_760_538_600_000_000_000  # 2025-10-15T14:30:00Z
START_DAY = dt.date(2025, 10, 15)
SYMBOLS = [f"SYM{i:04d}" for i in range(2000)]
INSTRUMENT_IDS = {s: uuid.uuid5(uuid.NAMESPACE_URL, f"oems:bench:{s}") for s in SYMBOLS}
SYMBOLS_PER_ACCOUNT = 8
TARGET_STALL = 0.050  # seconds the writer may stall for a snapshot
TARGET_RESTART = 3.0  # seconds a restart may take with 1,000,000 journaled events


def weekdays(first: dt.date) -> Iterator[dt.date]:
    """Monday-to-Friday dates from `first` on (holidays do not matter to the state)."""
    day = first
    while True:
        if day.weekday() < 5:
            yield day
        day += dt.timedelta(days=1)


def generate(
    total: int, accounts: int, days: int, order_share: float, seed: int
) -> Iterator[ev.Event]:
    """Accounts and keys, then order lifecycles, cash moves, quotes and `days` day starts."""
    rng = random.Random(seed)
    ts = START_NS
    yield ev.ClockSet(ts_ns=ts, mode=SIMULATED, now_ns=ts, speed=0.0)
    calendar = weekdays(START_DAY)
    yield ev.TradingDayStarted(ts_ns=ts, date=next(calendar))
    emitted = 2
    for n in range(accounts):
        account_id = FIRST_ACCOUNT_ID + n
        yield ev.UserCreated(ts_ns=ts, user_id=n + 1, name=f"user{n + 1}")
        yield ev.AccountOpened(
            ts_ns=ts,
            account_id=account_id,
            owner_id=n + 1,
            short_name=f"OEMS-{account_id}",
            full_name=f"User {n + 1}",
            subtype="MARGIN" if n % 3 else "CASH",
            options_level=n % 6,
            open_date=START_DAY,
            holder_entity_id=900000000 + n + 1,
            cash=Decimal(rng.randrange(10_000, 1_000_000)),
        )
        yield ev.ApiKeyIssued(
            ts_ns=ts,
            key_id=uuid.UUID(int=rng.getrandbits(128)),
            user_id=n + 1,
            digest=hashlib.sha256(f"key{n}".encode()).digest(),
            account_ids=[account_id],
        )
        emitted += 3
    day_every = max((total - emitted) // max(days, 1), 1)
    next_day = emitted + day_every
    pinned: list[str] = []
    while True:
        ts += rng.randrange(1_000, 5_000_000)
        if emitted >= next_day:
            next_day += day_every
            emitted += 1
            yield ev.TradingDayStarted(ts_ns=ts, date=next(calendar))
            continue
        account_id = FIRST_ACCOUNT_ID + rng.randrange(accounts)
        if rng.random() < order_share:
            lifecycle = list(order_lifecycle(rng, ts, account_id))
            emitted += len(lifecycle)
            yield from lifecycle
            continue
        emitted += 1
        roll = rng.random()
        if roll < 0.50:
            cents = rng.randrange(-50_000, 200_000)
            yield ev.CashAdjusted(ts_ns=ts, account_id=account_id, amount=Decimal(cents) / 100)
        elif roll < 0.96:
            symbol = rng.choice(SYMBOLS)
            pinned.append(symbol)
            bid = Decimal(rng.randrange(100, 50_000)) / 100
            yield ev.QuotePinned(
                ts_ns=ts,
                symbol=symbol,
                bid=bid,
                ask=bid + Decimal("0.01") * rng.randrange(1, 20),
                bid_size=rng.randrange(1, 50) * 100,
                ask_size=rng.randrange(1, 50) * 100,
                last=bid,
            )
        elif roll < 0.98 and pinned:
            yield ev.QuoteReleased(ts_ns=ts, symbol=pinned.pop(rng.randrange(len(pinned))))
        else:
            limit = Decimal(rng.randrange(10_000, 1_000_000)) if roll < 0.99 else None
            yield ev.RiskSettingsChanged(ts_ns=ts, account_id=account_id, max_notional=limit)


def order_lifecycle(rng: random.Random, ts: int, account_id: int) -> Iterator[ev.Event]:
    """One limit order: accepted, then rejected, or acked and filled, canceled or left working."""
    symbol = SYMBOLS[(account_id * 7 + rng.randrange(SYMBOLS_PER_ACCOUNT)) % len(SYMBOLS)]
    order_id = uuid.UUID(int=rng.getrandbits(128))
    quantity = Decimal(rng.randrange(1, 50) * 10)
    price = Decimal(rng.randrange(1_000, 50_000)) / 100
    buy = rng.random() < 0.55
    yield ev.OrderAccepted(
        ts_ns=ts,
        order_id=order_id,
        account_id=account_id,
        client_order_id=f"c{order_id.hex[:12]}" if rng.random() < 0.5 else None,
        instrument=TradedInstrument(
            instrument_id=INSTRUMENT_IDS[symbol],
            symbol=symbol,
            instrument_type="COMMON_STOCK",
            underlying_instrument_id=None,
            multiplier=Decimal(1),
            venue="XNMS",
        ),
        terms=OrderTerms(
            side="BUY" if buy else "SELL",
            order_type="LIMIT",
            time_in_force="DAY",
            quantity=quantity,
            limit_price=price,
        ),
        hold_per_unit=price if buy else Decimal(0),
    )
    outcome = rng.random()
    if outcome < 0.05:
        yield ev.OrderRejected(ts_ns=ts + 1, order_id=order_id, reason="Venue rejected the order")
        return
    yield ev.OrderAcknowledged(ts_ns=ts + 1, order_id=order_id)
    if outcome < 0.65:
        first = quantity if rng.random() < 0.7 else quantity / 2
        for part, step in ((first, 2), (quantity - first, 3)):
            if part:
                yield ev.OrderFilled(
                    ts_ns=ts + step,
                    order_id=order_id,
                    execution_id=uuid.UUID(int=rng.getrandbits(128)),
                    quantity=part,
                    price=price,
                    venue="XNMS",
                    settles_on=START_DAY,
                )
    elif outcome < 0.90:
        yield ev.OrderCancelRequested(ts_ns=ts + 2, order_id=order_id, venue_due_ns=ts + 3)
        yield ev.OrderCanceled(ts_ns=ts + 3, order_id=order_id, reason="Canceled by user")


def write(
    journal: Journal, events: Iterator[ev.Event], count: int, batch: int, state: TradingState
) -> None:
    """Append `count` events from the iterator in batches of `batch`, as the writer does: each
    batch with the history rows of the orders it closed and executions it booked (`state`
    follows the journal to know them)."""
    remaining = count
    while remaining:
        chunk = [next(events) for _ in range(min(batch, remaining))]
        for event in chunk:
            state.apply(event)
        closed = history_rows(
            state.closed_orders,
            state.new_executions(),
            state.history_reset,
            journal.last_seq + len(chunk),
        )
        journal.append(encode_rows(chunk), (), closed)
        state.retire()
        remaining -= len(chunk)


def recovered(journal: Journal, notes: list[str] | None = None) -> TradingState:
    """The state recovered from `journal` as a restarting engine recovers it."""
    state = TradingState()
    count = recovery.recover(journal, state, Clock(SIMULATED, START_NS, 0))
    if notes is not None:
        notes.append(f"({count:,} events)")
    return state


class Notes(list[str]):
    """What a timed block appends to its line; `wall` is set when the block ends."""

    wall = 0.0


@contextlib.contextmanager
def timed(label: str) -> Iterator[Notes]:
    """Print the wall and CPU time the block took, and the notes it appended."""
    notes = Notes()
    wall, cpu = time.perf_counter(), time.process_time()
    yield notes
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    notes.wall = wall
    print(f"{label:<46} {wall:7.2f} s wall {cpu:7.2f} s CPU  {' '.join(notes)}", flush=True)


def verdict(label: str, seconds: float, target: float) -> None:
    print(
        f"target: {label} <= {target * 1e3:,.0f} ms: {seconds * 1e3:,.0f} ms"
        f" ({'met' if seconds <= target else 'MISSED'})",
        flush=True,
    )


def describe(state: TradingState, journal: Journal) -> None:
    """Print what the state holds, and the history store."""
    print(
        f"state: {len(state.accounts):,} accounts, {len(state.api_keys):,} keys, "
        f"{len(state.pinned_quotes):,} pinned quotes, "
        f"{sum(len(a.history) for a in state.accounts.values()):,} day segments, "
        f"{len(state.orders):,} orders "
        f"({sum(len(b) for b in state.open_orders.values()):,} open), "
        f"{sum(len(x) for x in state.executions.values()):,} executions, "
        f"{sum(len(b) for b in state.positions.values()):,} positions",
        flush=True,
    )
    orders, executions = journal.history.totals()
    print(f"history store: {orders:,} closed orders, {executions:,} executions", flush=True)


def phase_full(path: Path) -> None:
    """In a fresh process: replay the whole journal, then snapshot the state."""
    journal = Journal(path)
    with timed(f"full replay of {journal.last_seq:,} events"):
        state = recovered(journal)
    describe(state, journal)
    with timed("snapshot: pickle in-process (as before)"):
        dump_state(state)
    with timed("snapshot: fork (the writer loop's stall)") as stall:
        seq, dump = journal.last_seq, ChildDump(state)
    verdict("the writer's stall for a snapshot", stall.wall, TARGET_STALL)
    with timed("snapshot: the child pickles (off the loop)"):
        blob = dump.result()
    with timed("snapshot: write (journal thread)") as notes:
        journal.save_snapshot(seq, blob)
        notes.append(f"{len(blob) / 2**20:.1f} MiB")
    for level in (1, 6):
        with timed(f"  not used: zlib level {level}") as notes:
            packed = zlib.compress(blob, level)
            notes.append(f"{len(packed) / 2**20:.1f} MiB")
        with timed(f"  not used: zlib level {level} decompress"):
            zlib.decompress(packed)
    journal.close()


def phase_restart(path: Path) -> None:
    """In a fresh process: restart from the snapshot and the tail, check it against a replay."""
    journal = Journal(path)
    tail = journal.last_seq - journal.snapshot_seq
    with timed(f"restart: snapshot + {tail:,}-event tail") as notes:
        state = recovered(journal, notes)
    verdict(f"restart with {journal.last_seq:,} journaled events", notes.wall, TARGET_RESTART)
    expected = TradingState()
    with timed("  check: full replay (TradingState.apply)"), collector_paused():
        for event in journal.replay():
            expected.apply(event)
        expected.retire()  # the closed orders and executions are the history store's
    assert state == expected, "snapshot + tail differs from the full replay"
    print("  check: snapshot + tail state == full replay state", flush=True)
    journal.close()


def main() -> None:
    """Build the journal, run each measurement in a fresh process, print, clean up."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="events before the snapshot")
    parser.add_argument("--tail", type=int, default=10_000, help="events after the snapshot")
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=60, help="trading days the journal spans")
    parser.add_argument(
        "--order-share", type=float, default=0.25, help="share of draws that are order lifecycles"
    )
    parser.add_argument("--batch", type=int, default=10_000, help="events per append")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=600, help="limit of each measuring process")
    parser.add_argument("--phase", choices=["full", "restart"], help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase is not None:
        {"full": phase_full, "restart": phase_restart}[args.phase](args.db)
        return

    events = generate(
        args.events + args.tail, args.accounts, args.days, args.order_share, args.seed
    )
    with tempfile.TemporaryDirectory(prefix="oems-restart-") as tmp:
        path = Path(tmp) / "journal.db"
        journal = Journal(path)
        writing = TradingState()
        with timed(f"write {args.events:,} events") as notes:
            write(journal, events, args.events, args.batch, writing)
            notes.append(f"{path.stat().st_size / 2**20:.0f} MiB")
        for phase, count in (("full", args.tail), ("restart", 0)):
            subprocess.run(
                [sys.executable, __file__, "--phase", phase, "--db", str(path)],
                check=True,
                timeout=args.timeout,
            )
            write(journal, events, count, args.batch, writing)
        journal.close()


if __name__ == "__main__":
    main()
