"""The stream's activity recorder on an in-process engine: what it stores, in which order, and
that a refused command leaves no message and no gap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.support.trading_engine import (
    Desk,
    every_execution,
    make_engine,
    order_of,
    request,
    run,
)

from oems.api.accounts import render_balances
from oems.api.positions import render_position
from oems.api.rendering import render_execution, render_order
from oems.api.stream.recorder import ActivityRecorder
from oems.domain.errors import OemsError
from oems.engine import commands as cmd
from oems.engine.engine import Engine
from oems.store.journal import ActivityRow


def _messages(rows: list[ActivityRow]) -> list[dict[str, Any]]:
    return [json.loads(row.payload) for row in rows]


async def _recording_desk(
    engine: Engine, delivered: list[ActivityRow]
) -> tuple[ActivityRecorder, Desk, int]:
    """The engine recording activity into `delivered`, a desk, an account and a quote on AAPL."""
    recorder = ActivityRecorder(
        engine, engine.journal.activity_heads(), delivered.extend, lambda: None, lambda: None
    )
    engine.recorder = recorder
    desk = Desk(engine)
    account = await desk.account()
    await desk.quote("AAPL", "100.00", "100.02", size=1000)
    return recorder, desk, account


def test_a_fill_is_recorded_in_order_as_rest_renders_it_and_a_refusal_leaves_no_gap(
    tmp_path: Path,
) -> None:
    delivered: list[ActivityRow] = []

    async def body(engine: Engine) -> None:
        _, desk, account = await _recording_desk(engine, delivered)
        [order] = await desk.submit(account, request("AAPL", "BUY", "10"))
        with pytest.raises(OemsError):  # far beyond the buying power: refused, nothing recorded
            await desk.submit(account, request("AAPL", "BUY", "10000000"))
        await engine.execute(cmd.CancelOrders(account, ()))  # changes nothing: no message
        [second] = await desk.submit(account, request("AAPL", "SELL", "4"))

        messages = _messages(delivered)
        assert [m["account_id"] for m in messages] == [account] * len(messages)
        assert [m["sequence"] for m in messages] == list(range(1, len(messages) + 1))
        kinds = [m["event"] for m in messages]
        fill = ["order", "order", "execution", "order", "position", "balance"]
        # The account opened, the trading day began, then the two fills with nothing between.
        assert kinds == ["balance", "balance", *fill, *fill], kinds
        state = engine.state
        now = engine.now_ns()
        last = messages[-6:]
        assert last[3]["data"] == render_order(order_of(engine, account, second.id))
        assert last[2]["data"] == render_execution(every_execution(engine)[account][-1])
        position = state.positions[account][order.instrument.instrument_id]
        assert last[4]["data"] == render_position(
            position, engine.mark_price(position.instrument_id, now)
        )
        value = engine.account_value(account, now)
        assert last[5]["data"] == render_balances(state.accounts[account], value, None)
        assert [m["data"]["status"] for m in messages[1:7] if m["event"] == "order"] == [
            "PENDING_NEW",
            "NEW",
            "FILLED",
        ]
        assert engine.journal.read_activity(account, 0) == delivered
        assert engine.journal.activity_heads() == {account: len(messages)}

    run(make_engine(tmp_path / "j.db"), body)


def test_a_change_that_cannot_be_rendered_is_a_resync_message_in_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivered: list[ActivityRow] = []

    async def body(engine: Engine) -> None:
        _, desk, account = await _recording_desk(engine, delivered)

        def broken(order: Any) -> dict[str, Any]:
            raise RuntimeError("a renderer bug")

        monkeypatch.setattr("oems.api.stream.recorder.render_order", broken)
        [order] = await desk.submit(account, request("AAPL", "BUY", "10"))
        monkeypatch.setattr("oems.api.stream.recorder.render_order", render_order)
        monkeypatch.setattr("oems.api.stream.recorder.render_balances", broken)
        [sale] = await desk.submit(account, request("AAPL", "SELL", "4"))

        messages = _messages(delivered)
        assert [m["sequence"] for m in messages] == list(range(1, len(messages) + 1))
        kinds = [m["event"] for m in messages]
        # Each change that could not be rendered left a `resync` in its place (the fill's
        # execution, order and position are one change): nothing vanished without a trace.
        buy = ["resync", "resync", "resync"]
        sell = ["order", "order", "execution", "order", "position", "resync"]
        assert kinds == ["balance", "balance", *buy, *sell], kinds
        assert "read the account by REST" in messages[-1]["data"]["reason"]
        assert order_of(engine, account, order.id).status == "FILLED"  # the trades stand
        assert messages[-3]["data"] == render_order(order_of(engine, account, sale.id))

    run(make_engine(tmp_path / "j.db"), body)


def test_a_recorder_that_fails_undoes_its_batch_instead_of_leaving_a_silent_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivered: list[ActivityRow] = []

    async def body(engine: Engine) -> None:
        recorder, desk, account = await _recording_desk(engine, delivered)
        before = (len(engine.state.orders), engine.journal.last_seq, len(delivered))

        def broken() -> list[ActivityRow]:
            raise RuntimeError("a numbering bug")

        monkeypatch.setattr(recorder, "take_rows", broken)
        with pytest.raises(RuntimeError, match="numbering bug"):
            await desk.submit(account, request("AAPL", "BUY", "10"))
        assert (len(engine.state.orders), engine.journal.last_seq, len(delivered)) == before
        monkeypatch.undo()
        [order] = await desk.submit(account, request("AAPL", "BUY", "10"))
        assert order_of(engine, account, order.id).status == "FILLED"
        messages = _messages(delivered)
        assert [m["sequence"] for m in messages] == list(range(1, len(messages) + 1))

    run(make_engine(tmp_path / "j.db"), body)


def test_a_delivery_that_fails_after_the_commit_stops_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivered: list[ActivityRow] = []

    async def body(engine: Engine) -> None:
        recorder, desk, account = await _recording_desk(engine, delivered)
        durable = recorder.durable

        def broken(rows: list[ActivityRow]) -> None:
            durable(rows)  # the heads move on, as the rows are on disk
            raise RuntimeError("a subscriber bug")

        monkeypatch.setattr(recorder, "durable", broken)
        [first] = await desk.submit(account, request("AAPL", "BUY", "10"))  # answered all the same
        monkeypatch.undo()
        [second] = await desk.submit(account, request("AAPL", "BUY", "10"))
        assert order_of(engine, account, first.id).status == "FILLED"
        assert order_of(engine, account, second.id).status == "FILLED"
        messages = _messages(delivered)
        assert [m["sequence"] for m in messages] == list(range(1, len(messages) + 1))

    run(make_engine(tmp_path / "j.db"), body)
