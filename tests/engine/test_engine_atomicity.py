"""No command can stop the engine or leave half of itself behind; a failing journal stops writes only."""

from __future__ import annotations

import dataclasses
import pickle
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.support.trading_engine import Desk, make_engine, order_of, request, run

from oems.domain import orders as o
from oems.domain.errors import InvalidRequest, ServiceUnavailable
from oems.domain.state import TradingState
from oems.engine import commands as cmd
from oems.engine import trading, writer
from oems.engine.engine import Engine
from oems.store.history import HistoryRows
from oems.store.journal import ActivityRow, Journal, Row
from oems.store.snapshots import dump_state


def copy_of(state: TradingState) -> TradingState:
    """A deep copy of the state, to compare with later."""
    copy = pickle.loads(dump_state(state))
    assert isinstance(copy, TradingState)
    return copy


def same_state(state: TradingState, before: TradingState) -> bool:
    """True when every field of the state equals the copy's."""
    return all(getattr(state, f.name) == getattr(before, f.name) for f in dataclasses.fields(state))


def _fail_on_call(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, call: int) -> None:
    """Make `target.name` raise RuntimeError on its `call`-th call (counting from 1)."""
    original = getattr(target, name)
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == call:
            raise RuntimeError("injected failure")
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, failing)


def test_a_batch_whose_second_order_fails_its_schedule_leaves_no_order_and_the_engine_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "99.99", "100.01")
        events, before = engine.journal.count(), copy_of(engine.state)
        _fail_on_call(monkeypatch, trading, "order_schedule", 2)  # in planning: nothing emitted
        limit = {"order_type": o.LIMIT, "limit_price": "90.00"}
        with pytest.raises(RuntimeError, match="injected"):
            await desk.submit(
                account, request("AAPL", o.BUY, "1", **limit), request("AAPL", o.BUY, "2", **limit)
            )
        assert engine.journal.count() == events
        assert same_state(engine.state, before)
        assert not engine.state.open_orders.get(account)
        (order,) = await desk.submit(account, request("AAPL", o.BUY, "3", **limit))
        assert order.status == o.NEW
        assert engine.journal.count() > events

    run(make_engine(tmp_path / "j.db"), body)


def test_close_positions_failing_after_its_cancels_cancels_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "99.99", "100.01")
        await desk.submit(account, request("AAPL", o.BUY, "10"))
        (resting,) = await desk.submit(
            account, request("AAPL", o.SELL, "5", order_type=o.LIMIT, limit_price="150.00")
        )
        events, before = engine.journal.count(), copy_of(engine.state)
        _fail_on_call(monkeypatch, trading, "order_copy", 1)  # after the events were emitted
        with pytest.raises(RuntimeError, match="injected"):
            await engine.execute(cmd.ClosePositions(account, None, cancel_orders=True))
        assert engine.journal.count() == events
        assert same_state(engine.state, before)
        assert engine.state.orders[resting.id].status == o.NEW
        # The venue still works the resting order: it fills when the market reaches it.
        await desk.quote("AAPL", "150.00", "150.02")
        assert order_of(engine, account, resting.id).status == o.FILLED

    run(make_engine(tmp_path / "j.db"), body)


def test_a_closed_order_whose_history_row_fails_undoes_its_batch_and_the_engine_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "99.99", "100.01")
        events, before = engine.journal.count(), copy_of(engine.state)
        _fail_on_call(monkeypatch, writer, "history_rows", 1)  # the fill's batch: nothing kept
        with pytest.raises(RuntimeError, match="injected"):
            await desk.submit(account, request("AAPL", o.BUY, "1"))
        assert engine.journal.count() == events
        assert same_state(engine.state, before)
        (order,) = await desk.submit(account, request("AAPL", o.BUY, "2"))
        assert order_of(engine, account, order.id).status == o.FILLED
        assert engine.journal.history.order(account, order.id) is not None

    run(make_engine(tmp_path / "j.db"), body)


def test_an_event_the_journal_cannot_encode_refuses_its_command_only(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        events, before = engine.journal.count(), copy_of(engine.state)
        beyond_uint64 = 2**65  # the journal's integers are 64-bit; the API bounds sizes long before
        with pytest.raises(OverflowError):
            await engine.execute(
                cmd.PinQuote("AAPL", Decimal(100), Decimal(101), beyond_uint64, 1, None)
            )
        assert engine.journal.count() == events
        assert same_state(engine.state, before)
        assert "AAPL" not in engine.state.pinned_quotes
        await desk.quote("AAPL", "99.99", "100.01")
        (order,) = await desk.submit(account, request("AAPL", o.BUY, "1"))
        assert order.status == o.FILLED

    run(make_engine(tmp_path / "j.db"), body)


class FailingJournal(Journal):
    """A journal whose appends fail on demand, as a full disk makes them fail."""

    fail = False

    def append(
        self,
        rows: list[Row],
        activity: Sequence[ActivityRow] = (),
        closed: HistoryRows | None = None,
    ) -> None:
        if self.fail:
            raise sqlite3.OperationalError("database or disk is full")
        super().append(rows, activity, closed)


def test_a_full_disk_refuses_writes_with_503_keeps_reads_and_loses_nothing_acknowledged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    journal = FailingJournal(path)
    engine = make_engine(path, journal=journal)
    kept: dict[str, Any] = {}

    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "99.99", "100.01")
        (acknowledged,) = await desk.submit(
            account, request("AAPL", o.BUY, "1", order_type=o.LIMIT, limit_price="90.00")
        )
        events, before = journal.count(), copy_of(engine.state)
        journal.fail = True
        with pytest.raises(ServiceUnavailable, match="disk is full"):
            await desk.submit(account, request("AAPL", o.BUY, "2"))
        assert journal.count() == events
        assert same_state(engine.state, before)  # reads see exactly what is on disk
        await engine.readable()
        journal.fail = False  # even with the disk back, writes wait for a restart
        with pytest.raises(ServiceUnavailable, match="restarted"):
            await engine.execute(cmd.AdjustCash(account, Decimal(5), "memo"))
        kept.update(account=account, order=acknowledged.id, events=events)

    run(engine, body)
    restarted = make_engine(path)
    assert restarted.journal.count() == kept["events"]
    assert restarted.state.orders[kept["order"]].status == o.NEW
    assert restarted.journal_failure is None


def test_a_refused_command_still_refuses_cleanly(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        events = engine.journal.count()
        with pytest.raises(InvalidRequest):
            await engine.execute(cmd.AdjustCash(account, Decimal(0), "nothing"))
        assert engine.journal.count() == events

    run(make_engine(tmp_path / "j.db"), body)
