"""The trading state alone: hand-built events applied one by one, and what each leaves behind."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from tests.unit.scenario import (
    AAPL,
    ACCOUNT,
    ORDER,
    SETTLES,
    T0,
    bought,
    fill,
    limit_buy,
    opened,
)

from oems.domain import events as ev
from oems.domain import orders as o
from oems.domain.state import TradingState

D = Decimal


def state_of(events: list[ev.Event]) -> TradingState:
    """A fresh state with `events` applied in order."""
    state = TradingState()
    for event in events:
        state.apply(event)
    return state


def test_an_opened_account_holds_its_cash_settled() -> None:
    state = state_of(opened("10000.00"))
    account = state.accounts[ACCOUNT]
    assert state.users_by_name["trader"].id == 1
    assert account.owner_id == 1 and not account.is_margin
    assert account.trade_cash == account.settled_cash == D("10000.00")
    assert account.sod is not None and account.sod.equity == D("10000.00")
    assert state.next_account_id() == ACCOUNT + 1
    assert state.events_applied == 2 and state.last_event_ns == T0


def test_a_cash_adjustment_moves_trade_and_settled_cash_at_once() -> None:
    state = state_of(
        [*opened(), ev.CashAdjusted(ts_ns=T0, account_id=ACCOUNT, amount=D("-2500.25"))]
    )
    account = state.accounts[ACCOUNT]
    assert account.trade_cash == account.settled_cash == D("7499.75")


def test_an_accepted_limit_buy_is_open_and_holds_its_notional() -> None:
    state = state_of([*opened(), limit_buy("30", "150.00")])
    order = state.orders[ORDER]
    assert order.status == o.PENDING_NEW
    assert state.open_orders[ACCOUNT] == {ORDER: order}
    assert state.client_order_ids[(ACCOUNT, "c-1")] is order
    assert state.accounts[ACCOUNT].open_order_hold == D("4500.00")  # 30 x 150.00


def test_an_order_filled_leaves_a_position_cash_and_executions() -> None:
    state = state_of(bought())
    order, account = state.orders[ORDER], state.accounts[ACCOUNT]
    assert order.status == o.FILLED and not order.is_open
    assert order.filled_quantity == 30 and order.leaves_quantity == 0
    assert order.average_fill_price == D("149.833333")  # (1,495 + 3,000) / 30, 6 places
    assert ACCOUNT not in state.open_orders or ORDER not in state.open_orders[ACCOUNT]
    assert account.open_order_hold == 0  # released as it filled
    position = state.positions[ACCOUNT][AAPL]
    assert position.quantity == 30
    assert position.cost == D("4495.00")  # 10 x 149.50 + 20 x 150.00
    assert position.bought_today == D("4495.00")
    # 12,500.00 less 4,495.00 paid; settled cash waits for T+1.
    assert account.trade_cash == D("8005.00")
    assert account.settled_cash == D("12500.00")
    # The two fills' debits settle on the same day: one total for that day.
    assert account.unsettled == [(SETTLES, D("-4495.00"))]
    assert [e.quantity for e in state.executions[ACCOUNT]] == [10, 20]


def test_a_partial_fill_keeps_the_order_open_and_holds_the_rest() -> None:
    state = state_of(bought()[:-1])
    order = state.orders[ORDER]
    assert order.status == o.PARTIALLY_FILLED
    assert order.leaves_quantity == 20
    assert state.accounts[ACCOUNT].open_order_hold == D("3000.00")  # 20 x 150.00 still held


def test_the_next_trading_day_settles_and_rolls_the_baseline() -> None:
    closes = {str(AAPL): D("151.00")}
    state = state_of(
        [
            *bought(),
            ev.TradingDayStarted(
                ts_ns=T0 + 86_400 * 10**9,
                date=SETTLES,
                closes=closes,
                close_date=dt.date(2025, 10, 15),
            ),
        ]
    )
    account = state.accounts[ACCOUNT]
    assert account.settled_cash == account.trade_cash == D("8005.00")
    assert account.unsettled == []
    position = state.positions[ACCOUNT][AAPL]
    assert position.sod_price == D("151.00") and position.sod_quantity == 30
    assert position.day_cost == D("4530.00")  # 30 x 151.00
    assert position.bought_today == 0
    assert state.trading_day == SETTLES


def test_a_cancel_releases_what_the_order_held() -> None:
    events = [
        *opened(),
        limit_buy("30", "150.00"),
        ev.OrderAcknowledged(ts_ns=T0, order_id=ORDER),
        fill("10", "150.00", 3),
        ev.OrderCancelRequested(ts_ns=T0, order_id=ORDER, venue_due_ns=T0),
        ev.OrderCanceled(ts_ns=T0, order_id=ORDER, reason="Canceled by user"),
    ]
    state = state_of(events)
    order = state.orders[ORDER]
    assert order.status == o.CANCELED and order.details == ["Canceled by user"]
    assert state.accounts[ACCOUNT].open_order_hold == 0
    assert state.positions[ACCOUNT][AAPL].quantity == 10


def test_an_event_the_lifecycle_forbids_raises() -> None:
    state = state_of([*opened(), limit_buy("30", "150.00")])
    with pytest.raises(o.IllegalTransition):  # the venue has not acknowledged it
        state.apply(fill("10", "150.00", 3))
