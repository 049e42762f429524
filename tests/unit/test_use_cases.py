"""The use cases alone: planned over an engine on an in-memory journal, with no event loop.

Planning may refuse and emits nothing; applying a plan cannot refuse.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.support.trading_engine import CALENDAR, START, manual_market, request

from oems.domain import orders as o
from oems.domain.errors import InvalidRequest
from oems.engine import commands as cmd
from oems.engine import trading
from oems.engine.engine import Engine
from oems.market.clock import SIMULATED, Clock
from oems.store.journal import Journal


def engine_in_memory() -> Engine:
    """An engine over a `:memory:` journal, driven by `handle` without its writer loop."""
    return Engine.open(Journal(":memory:"), Clock(SIMULATED, START, 0), CALENDAR, manual_market)


def commit(engine: Engine, command: object) -> object:
    """Handle one command and append its events, as one batch of the writer loop would."""
    result = engine.writer.handle(command)
    _, rows = engine.writer.take_batch()
    if rows:
        engine.journal.append(rows)
    return result


def funded(engine: Engine, cash: str = "100000") -> int:
    """A margin account with `cash`, and AAPL quoted at 99.99 / 100.01."""
    account = commit(engine, cmd.OpenAccount("trader", "Test", "MARGIN", 4, Decimal(cash)))
    commit(engine, cmd.PinQuote("AAPL", Decimal("99.99"), Decimal("100.01"), 100, 100, None))
    return int(account.id)  # type: ignore[attr-defined]


def test_planning_a_submit_emits_nothing_and_applying_it_accepts_every_order() -> None:
    engine = engine_in_memory()
    account = funded(engine)
    limit = {"order_type": o.LIMIT, "limit_price": "90.00"}
    submit = cmd.SubmitOrders(
        account, (request("AAPL", o.BUY, "10", **limit), request("AAPL", o.BUY, "5", **limit))
    )
    events_before = engine.state.events_applied
    planned = trading.plan_submit(engine.ctx, engine.self_match, submit)
    assert [e.terms.quantity for e in planned] == [Decimal(10), Decimal(5)]
    assert engine.state.events_applied == events_before
    assert not engine.state.open_orders.get(account)
    orders = commit(engine, submit)
    assert [order.status for order in orders] == [o.PENDING_NEW, o.PENDING_NEW]  # type: ignore[attr-defined]
    assert len(engine.state.open_orders[account]) == 2


def test_a_batch_over_buying_power_is_refused_whole_in_planning() -> None:
    engine = engine_in_memory()
    account = funded(engine, cash="10000")  # buying power 20,000
    limit = {"order_type": o.LIMIT, "limit_price": "90.00"}
    one = request("AAPL", o.BUY, "150", **limit)  # 13,500 each: alone it fits
    events_before = engine.state.events_applied
    with pytest.raises(InvalidRequest, match="Risk check failed") as refused:
        trading.plan_submit(engine.ctx, engine.self_match, cmd.SubmitOrders(account, (one, one)))
    reasons = [d["type"] for d in refused.value.details or [] if "type" in d]
    assert reasons == ["BUYING_POWER"]
    assert engine.state.events_applied == events_before
    assert len(commit(engine, cmd.SubmitOrders(account, (one,)))) == 1  # type: ignore[arg-type]


def test_a_replace_that_needs_more_buying_power_than_is_left_is_refused_by_the_risk_checks() -> (
    None
):
    engine = engine_in_memory()
    account = funded(engine, cash="10000")
    (order,) = commit(  # type: ignore[misc]
        engine,
        cmd.SubmitOrders(
            account, (request("AAPL", o.BUY, "150", order_type=o.LIMIT, limit_price="90.00"),)
        ),
    )
    commit(engine, cmd.RunDue())  # the venue acknowledges it
    with pytest.raises(InvalidRequest, match="Risk check failed") as refused:
        trading.plan_replace(
            engine.ctx,
            engine.self_match,
            cmd.ReplaceOrder(account, order.id, quantity=Decimal(300)),
        )
    (detail,) = [d for d in refused.value.details or [] if "metadata" in d]
    assert detail["reason"] == "BUYING_POWER"
    assert detail["metadata"]["required_total"] == "13500"  # 150 more at 90
    assert engine.state.orders[order.id].status == o.NEW


def test_planning_a_cancel_lists_only_the_accounts_open_orders() -> None:
    engine = engine_in_memory()
    account = funded(engine)
    (order,) = commit(  # type: ignore[misc]
        engine,
        cmd.SubmitOrders(
            account, (request("AAPL", o.BUY, "1", order_type=o.LIMIT, limit_price="90.00"),)
        ),
    )
    other = funded(engine)
    orders, requests = trading.plan_cancel(engine.ctx, cmd.CancelOrders(other, (order.id,)))
    assert (orders, requests) == ([], [])
    orders, requests = trading.plan_cancel(engine.ctx, cmd.CancelOrders(account, (order.id,)))
    assert [r.order_id for r in requests] == [order.id]
    assert engine.state.orders[order.id].status == o.PENDING_NEW  # planned, not applied
