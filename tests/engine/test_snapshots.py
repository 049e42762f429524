"""Snapshots: snapshot + journal tail rebuilds what a full replay does; a bad snapshot falls back."""

from __future__ import annotations

import asyncio
import logging
import pickle
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.support.trading_engine import manual_market

from oems.cli.main import parse_args
from oems.cli.serve import config_from
from oems.domain import events as ev
from oems.domain import orders as o
from oems.domain.errors import InvalidRequest
from oems.domain.orders import OrderRequest
from oems.domain.state import TradingState
from oems.domain.terms import OrderTerms
from oems.domain.timefmt import parse_iso
from oems.engine import commands as cmd
from oems.engine.engine import Engine
from oems.market.calendar import TradingCalendar
from oems.market.clock import SIMULATED, Clock
from oems.runtime import Config, Runtime
from oems.store.journal import Journal

CALENDAR = TradingCalendar()
START = parse_iso("2025-10-15T14:30:00Z")
DAY_NS = 86_400 * 10**9


def make_engine(path: Path) -> Engine:
    """An engine on the journal at `path`, recovered, with a frozen simulated clock."""
    return Engine.open(Journal(path), Clock(SIMULATED, START, 0), CALENDAR, manual_market, seed=7)


def full_replay(path: Path) -> TradingState:
    """The state every event of the journal at `path` produces, snapshots ignored (its closed
    orders and executions gone to the history store, as after a batch)."""
    state = TradingState()
    journal = Journal(path)
    for event in journal.replay():
        state.apply(event)
    journal.close()
    state.retire()
    return state


def drive(engine: Engine, snapshot_every: int = 0) -> None:
    """Run a mix of commands that touches every part of the state, then stop the engine."""

    async def main() -> None:
        task = asyncio.create_task(engine.run(snapshot_every))
        await asyncio.sleep(0)
        try:
            await engine.execute(cmd.RunDue())
            ann = await engine.execute(cmd.OpenAccount("ann", "Ann", "MARGIN", 4, Decimal("1000")))
            bob = await engine.execute(cmd.OpenAccount("bob", "Bob", "CASH", 1, Decimal("50.25")))
            key = await engine.execute(cmd.IssueApiKey("ann", b"a" * 32, (ann.id,)))
            await engine.execute(cmd.IssueApiKey("root", b"r" * 32, admin=True))
            for day in (1, 2, 3):
                await engine.execute(cmd.AdjustCash(ann.id, Decimal("12.34") * day))
                await engine.execute(cmd.AdjustCash(bob.id, Decimal("-0.25")))
                await engine.execute(cmd.UpdateRiskSettings(ann.id, Decimal(5000 + day)))
                await engine.execute(
                    cmd.PinQuote(
                        f"S{day}", Decimal("9.99"), Decimal("10.01"), 100, 200, Decimal("10")
                    )
                )
                if day % 2 == 0:
                    await engine.execute(cmd.ReleaseQuote(f"S{day - 1}"))
                await engine.execute(cmd.AdvanceClock(START + day * DAY_NS))
            await engine.execute(cmd.RevokeApiKey(key.id))
            with pytest.raises(InvalidRequest):
                await engine.execute(cmd.AdjustCash(bob.id, Decimal("-1000")))
            await engine.writer.snapshot_written()
        finally:
            task.cancel()
            engine.close()

    asyncio.run(main())


def snapshot_rows(path: Path) -> list[tuple[int, str]]:
    """(seq, version) of every stored snapshot, oldest first."""
    with sqlite3.connect(path) as conn:
        return list(conn.execute("SELECT seq, version FROM snapshots ORDER BY seq"))


@pytest.fixture
def replays(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The `after_seq` of every `Journal.replay` call made during the test."""
    calls: list[int] = []
    original = Journal.replay

    def spy(self: Journal, after_seq: int = 0) -> Iterator[ev.Event]:
        calls.append(after_seq)
        return original(self, after_seq)

    monkeypatch.setattr(Journal, "replay", spy)
    yield calls


@pytest.mark.parametrize("snapshot_every", [1, 4, 9])
def test_snapshot_plus_tail_equals_full_replay(
    tmp_path: Path, snapshot_every: int, replays: list[int]
) -> None:
    db = tmp_path / "j.db"
    engine = make_engine(db)
    drive(engine, snapshot_every)
    last_seq = engine.journal.last_seq
    engine.journal.close()
    rows = snapshot_rows(db)
    assert 1 <= len(rows) <= 2  # only the newest two are kept
    newest = rows[-1][0]
    # A snapshot is pickled by a forked child while batches go on, one at a time: the newest
    # one written may be older than the last `snapshot_every` events, never newer than the journal.
    assert snapshot_every <= newest <= last_seq

    restored = make_engine(db)
    assert replays[-1] == newest  # the snapshot was loaded, only the tail replayed
    assert restored.state.events_applied == last_seq
    expected = full_replay(db)
    assert restored.state == expected
    assert restored.state == engine.state
    assert restored.clock.now_ns() == engine.clock.now_ns()
    key = next(iter(restored.state.api_keys.values()))
    assert restored.state.keys_by_digest[key.digest] is key  # shared references stay shared


def test_snapshot_refuses_a_state_ahead_of_the_journal(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "j.db")
    drive(engine)
    engine.state.apply(ev.UserCreated(ts_ns=START, user_id=99, name="ghost"))  # not journaled
    with pytest.raises(RuntimeError, match="batch boundary"):
        engine.state_blob()


def _garbage(blob: bytes, seq: int) -> tuple[bytes, int, str | None]:
    return b"\x80\x05not a pickle", seq, None


def _truncated(blob: bytes, seq: int) -> tuple[bytes, int, str | None]:
    return blob[: len(blob) // 2], seq, None


def _not_a_state(blob: bytes, seq: int) -> tuple[bytes, int, str | None]:
    return pickle.dumps({"events_applied": seq}, protocol=5), seq, None


def _wrong_seq(blob: bytes, seq: int) -> tuple[bytes, int, str | None]:
    return blob, seq - 3, None  # claims fewer events than the state holds


def _other_version(blob: bytes, seq: int) -> tuple[bytes, int, str | None]:
    return blob, seq, "0:written-by-other-code"


@pytest.mark.parametrize("spoil", [_garbage, _truncated, _not_a_state, _wrong_seq, _other_version])
def test_unusable_snapshot_falls_back_to_full_replay(
    tmp_path: Path,
    spoil: Any,
    replays: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = tmp_path / "j.db"
    engine = make_engine(db)
    drive(engine)
    seq, blob = engine.state_blob()
    engine.journal.save_snapshot(seq, blob)
    engine.journal.close()
    bad_blob, bad_seq, version = spoil(blob, seq)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE snapshots SET seq = ?, blob = ?, version = COALESCE(?, version)",
            (bad_seq, bad_blob, version),
        )

    with caplog.at_level(logging.WARNING, logger="oems"):
        restored = make_engine(db)
    assert replays[-1] == 0  # the whole journal
    assert any(r.levelno == logging.WARNING for r in caplog.records)
    assert restored.state == full_replay(db) == engine.state


def test_snapshot_taken_on_stop_is_used_on_next_start(tmp_path: Path, replays: list[int]) -> None:
    config = Config(
        db_path=tmp_path / "oems.db",
        clock_mode=SIMULATED,
        clock_start_ns=START,
        clock_speed=0,
        market_data="manual",
    )

    async def first_life() -> tuple[int, TradingState]:
        runtime = Runtime(config)
        await runtime.start()
        execute = runtime.engine.execute
        account = await execute(cmd.OpenAccount("ann", "Ann", "MARGIN", 4, Decimal("100000")))
        await execute(cmd.AdjustCash(account.id, Decimal("0.05")))
        aapl = runtime.instruments.by_symbol("AAPL")
        assert aapl is not None
        await execute(
            cmd.PinQuote("AAPL", Decimal("254.99"), Decimal("255.01"), 500, 500, Decimal(255))
        )

        def order(order_type: str, tif: str, quantity: int, limit: str | None) -> OrderRequest:
            return OrderRequest(
                aapl.id,
                aapl.symbol,
                aapl.instrument_type,
                aapl.is_fractionable,
                OrderTerms(
                    side=o.BUY,
                    order_type=order_type,
                    time_in_force=tif,
                    quantity=Decimal(quantity),
                    limit_price=Decimal(limit) if limit else None,
                ),
            )

        await execute(
            cmd.SubmitOrders(
                account.id, (order(o.MARKET, o.DAY, 10, None), order(o.LIMIT, o.GTC, 5, "200"))
            )
        )
        await execute(cmd.RunDue())
        await execute(cmd.AdvanceClock(START + 2 * DAY_NS))
        assert list(runtime.journal.history.every_execution())  # the market order filled
        assert runtime.state.open_orders[account.id]  # the limit order still works
        await runtime.stop()
        return runtime.journal.last_seq, runtime.state

    last_seq, state = asyncio.run(first_life())
    assert [seq for seq, _ in snapshot_rows(config.db_path)] == [last_seq]

    async def second_life() -> Runtime:
        runtime = Runtime(config)
        assert runtime.engine.venue.has_working_orders  # books rebuilt from the snapshot's state
        await runtime.stop()
        return runtime

    runtime = asyncio.run(second_life())
    assert replays[-1] == last_seq
    assert runtime.recovered_events == last_seq
    assert not runtime.is_new
    assert runtime.state == state == full_replay(config.db_path)
    assert [seq for seq, _ in snapshot_rows(config.db_path)] == [last_seq]  # nothing new to save


def test_snapshot_every_option_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_from(parse_args(["serve"])).snapshot_every == 1_000_000
    assert config_from(parse_args(["serve", "--snapshot-every", "0"])).snapshot_every == 0
    monkeypatch.setenv("OEMS_SNAPSHOT_EVERY", "2500")
    assert config_from(parse_args(["serve"])).snapshot_every == 2500
    with pytest.raises(ValueError, match="negative"):
        config_from(parse_args(["serve", "--snapshot-every", "-1"]))
