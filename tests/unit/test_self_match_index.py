"""The self-match index follows an order's events: what it indexes after each one."""

from __future__ import annotations

from decimal import Decimal

from tests.unit.scenario import AAPL, ACCOUNT, ORDER, T0, limit_buy, opened

from oems.domain import events as ev
from oems.domain.state import TradingState
from oems.engine.self_match import SelfMatchIndex


def test_the_index_follows_a_resting_buy_through_replace_and_cancel() -> None:
    state, index = TradingState(), SelfMatchIndex()

    def apply(event: ev.Event) -> None:
        state.apply(event)
        index.follow(event, state.orders[ORDER])

    for event in opened("100000.00", "MARGIN"):
        state.apply(event)
    apply(limit_buy("10", "100.00"))
    apply(ev.OrderAcknowledged(ts_ns=T0 + 2, order_id=ORDER))
    # A sell at or under the resting buy's 100.00 would trade with it; above, it would not.
    assert index.crosses(ACCOUNT, AAPL, False, Decimal("100.00"))
    assert not index.crosses(ACCOUNT, AAPL, False, Decimal("100.01"))
    apply(
        ev.OrderReplaceRequested(
            ts_ns=T0 + 3, order_id=ORDER, venue_due_ns=T0 + 4, changes={"limit_price": "99.00"}
        )
    )
    assert index.crosses(ACCOUNT, AAPL, False, Decimal("100.00"))  # not replaced yet
    apply(ev.OrderReplaced(ts_ns=T0 + 4, order_id=ORDER))
    assert not index.crosses(ACCOUNT, AAPL, False, Decimal("100.00"))
    assert index.crosses(ACCOUNT, AAPL, False, Decimal("99.00"))
    apply(ev.OrderCancelRequested(ts_ns=T0 + 5, order_id=ORDER, venue_due_ns=T0 + 6))
    assert index.crosses(ACCOUNT, AAPL, False, Decimal("99.00"))  # still working until canceled
    apply(ev.OrderCanceled(ts_ns=T0 + 6, order_id=ORDER, reason="canceled"))
    assert not index.crosses(ACCOUNT, AAPL, False, None)  # not even a market sell: none left
