"""Closed orders and executions leave memory for the history store, exactly when their batch is
durable, and recovery keeps the store equal to what the journal says."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.support.old_journal import FIXTURE
from tests.support.trading_engine import (
    Desk,
    every_execution,
    every_order,
    make_engine,
    request,
    run,
)

from oems.api.rendering import render_execution, render_order
from oems.domain import orders as o
from oems.domain.errors import Conflict, InvalidRequest, ServiceUnavailable
from oems.engine import commands as cmd
from oems.engine.engine import Engine
from oems.store import history
from oems.store.journal import Journal


@contextlib.contextmanager
def opened(path: Path) -> Iterator[Engine]:
    """An engine recovered from `path`, not running; closed afterwards."""
    engine = make_engine(path)
    try:
        yield engine
    finally:
        engine.close()
        engine.journal.close()


def _history_picture(engine: Engine) -> dict[str, Any]:
    """What a user can read of orders and executions, rendered."""
    return {
        "orders": {str(k): render_order(v) for k, v in every_order(engine).items()},
        "executions": {
            a: [render_execution(e) for e in fills] for a, fills in every_execution(engine).items()
        },
        "open": sorted(str(k) for k in engine.state.orders),
    }


async def _trade(engine: Engine) -> int:
    """An account with a filled order, a canceled one, a rejected one and two resting ones."""
    desk = Desk(engine)
    account = await desk.account()
    await desk.quote("AAPL", "100.00", "100.02", size=1000)
    await desk.submit(account, request("AAPL", o.BUY, "10", client_order_id="bought"))
    resting = await desk.submit(
        account,
        request("AAPL", o.BUY, "5", o.LIMIT, limit_price="90.00", time_in_force=o.GTC),
        request("AAPL", o.SELL, "5", o.LIMIT, limit_price="120.00", time_in_force=o.GTC),
        request("AAPL", o.BUY, "1", o.LIMIT, limit_price="80.00", time_in_force=o.GTC),
    )
    await engine.execute(cmd.CancelOrders(account, (resting[0].id,)))
    await desk.settle()
    return account


def test_a_closed_order_leaves_memory_for_the_history_exactly_as_it_was(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.02", size=1000)
        [resting] = await desk.submit(
            account,
            request("AAPL", o.BUY, "5", o.LIMIT, limit_price="90.00", client_order_id="mine"),
        )
        live = engine.state.orders[resting.id]
        await engine.execute(cmd.CancelOrders(account, (resting.id,)))
        await desk.settle()
        assert live.status == o.CANCELED
        assert resting.id not in engine.state.orders
        assert (account, "mine") not in engine.state.client_order_ids
        assert engine.state.closed_orders == [] and engine.state.executions == {}
        assert engine.journal.history.order(account, resting.id) == live
        [bought] = await desk.submit(account, request("AAPL", o.BUY, "7"))
        assert bought.status == o.FILLED and bought.id not in engine.state.orders
        [fill] = every_execution(engine)[account]
        assert (fill.order_id, fill.quantity, str(fill.price)) == (bought.id, 7, "100.02")
        assert engine.journal.history.order(account + 1, resting.id) is None  # another account's

    run(make_engine(tmp_path / "j.db"), body)


def test_a_read_waits_for_the_batch_that_moves_an_order_to_the_history(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.02", size=1000)
        [resting] = await desk.submit(
            account, request("AAPL", o.BUY, "5", o.LIMIT, limit_price="90.00")
        )
        entered, release = threading.Event(), threading.Event()
        append = engine.journal.append

        def held_append(rows: Any, activity: Any = (), closed: Any = None) -> None:
            if closed is not None and closed.orders:  # the batch that closes the order
                entered.set()
                release.wait(30)
            append(rows, activity, closed)

        engine.journal.append = held_append  # type: ignore[method-assign]
        cancel = asyncio.create_task(engine.execute(cmd.CancelOrders(account, (resting.id,))))
        await asyncio.to_thread(entered.wait, 30)
        read = asyncio.create_task(engine.readable())
        await asyncio.sleep(0.01)  # the loop runs; the read must still wait
        assert not read.done()
        # Closed in memory, not yet in the table: only a read that does not wait could see this.
        assert engine.state.orders[resting.id].status == o.CANCELED
        assert engine.journal.history.order(account, resting.id) is None
        release.set()
        await read
        assert resting.id not in engine.state.orders
        closed = engine.journal.history.order(account, resting.id)
        assert closed is not None and closed.status == o.CANCELED
        await cancel

    run(make_engine(tmp_path / "j.db"), body)


def test_a_client_order_id_stays_taken_and_a_closed_order_stays_unchangeable(
    tmp_path: Path,
) -> None:
    async def body(engine: Engine) -> None:
        account = await _trade(engine)
        [bought] = [o_ for o_ in every_order(engine).values() if o_.client_order_id == "bought"]
        assert bought.id not in engine.state.orders
        with pytest.raises(Conflict, match="`bought` already exists"):
            await Desk(engine).submit(
                account, request("AAPL", o.BUY, "1", client_order_id="bought")
            )
        with pytest.raises(InvalidRequest, match="is FILLED and can no longer be replaced"):
            await engine.execute(cmd.ReplaceOrder(account, bought.id, quantity=Decimal(20)))
        assert await engine.execute(cmd.CancelOrders(account, (bought.id,))) == []

    run(make_engine(tmp_path / "j.db"), body)


def test_a_restart_from_a_snapshot_and_the_tail_keeps_the_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "j.db"

    async def trade(engine: Engine) -> dict[str, Any]:
        account = await _trade(engine)
        engine.journal.save_snapshot(*engine.state_blob())
        open_ids = sorted(engine.state.open_orders[account])
        await engine.execute(cmd.CancelOrders(account, (open_ids[0],)))  # closes after it
        await Desk(engine).settle()
        return _history_picture(engine)

    before = run(make_engine(db), trade)
    replayed_after: list[int] = []
    replay = Journal.replay

    def spy(journal: Journal, after_seq: int = 0) -> Any:
        replayed_after.append(after_seq)
        return replay(journal, after_seq)

    monkeypatch.setattr(Journal, "replay", spy)
    with opened(db) as engine:
        assert replayed_after[0] > 0  # the snapshot was used
        assert _history_picture(engine) == before


def test_a_history_behind_the_journal_is_rebuilt_and_the_snapshot_past_it_ignored(
    tmp_path: Path,
) -> None:
    db = tmp_path / "j.db"

    async def trade(engine: Engine) -> dict[str, Any]:
        await _trade(engine)
        engine.journal.save_snapshot(*engine.state_blob())
        return _history_picture(engine)

    before = run(make_engine(db), trade)
    with sqlite3.connect(db) as conn:  # as a journal written by code without the history
        conn.executescript(
            "DELETE FROM closed_orders; DELETE FROM executions; DELETE FROM history_meta;"
        )
    with opened(db) as engine:
        assert _history_picture(engine) == before
        assert engine.journal.history_through_seq() == engine.journal.last_seq


def test_an_old_journal_gets_its_history_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / FIXTURE.name
    shutil.copyfile(FIXTURE, copy)
    with sqlite3.connect(copy) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "closed_orders" not in tables  # written before the history store existed
    with opened(copy) as engine:
        closed = [order for order in every_order(engine).values() if not order.is_open]
        assert closed and not any(order.id in engine.state.orders for order in closed)
        assert engine.journal.history_through_seq() == engine.journal.last_seq
        before = _history_picture(engine)

    def rebuild(*args: Any) -> None:
        raise AssertionError("the history was already complete")

    monkeypatch.setattr(Journal, "rebuild_history", rebuild)
    with opened(copy) as engine:
        assert _history_picture(engine) == before


def test_the_history_rows_commit_with_their_events_or_neither_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "j.db"
    write_history = history.write_history

    def failing(conn: sqlite3.Connection, rows: history.HistoryRows, through_seq: int) -> None:
        if rows.orders:  # the batch that closes an order: fails after its events were inserted
            raise sqlite3.OperationalError("disk I/O error")
        write_history(conn, rows, through_seq)

    async def body(engine: Engine) -> dict[str, Any]:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.02", size=1000)
        [resting] = await desk.submit(
            account, request("AAPL", o.BUY, "5", o.LIMIT, limit_price="90.00")
        )
        events = engine.journal.count()
        monkeypatch.setattr(history, "write_history", failing)
        with pytest.raises(ServiceUnavailable):
            await engine.execute(cmd.CancelOrders(account, (resting.id,)))
        assert engine.journal.count() == events  # the events went with the history rows
        assert engine.state.orders[resting.id].status == o.NEW
        assert engine.journal.history.order(account, resting.id) is None
        return _history_picture(engine)

    before = run(make_engine(db), body)
    monkeypatch.setattr(history, "write_history", write_history)
    with opened(db) as engine:
        assert _history_picture(engine) == before
