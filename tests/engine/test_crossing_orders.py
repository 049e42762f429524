"""The crossing times in force on the simulated clock: AT_CROSSING joins only the next auction,
GOOD_TILL_CROSSING works until the closing crossing cancels it, GOOD_THROUGH_CROSSING works and
then joins the closing crossing. Each to its terminal status, cash to the cent."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tests.support.trading_engine import Desk, every_execution, make_engine, request, run

from oems.domain import orders as o
from oems.domain.errors import InvalidRequest
from oems.domain.order_rules import validate_order
from oems.domain.orders import Order
from oems.domain.timefmt import parse_iso
from oems.engine.engine import Engine

D = Decimal
START_CASH = D("1000000")
DAY1_CLOSE = "2025-10-15T20:00:00Z"  # 16:00 ET; the engine starts at 10:30 ET that Wednesday
DAY1_EVENING = "2025-10-15T22:00:00Z"
DAY2_OPEN = "2025-10-16T13:30:00Z"
DAY2_CLOSE = "2025-10-16T20:00:00Z"


def _cash(engine: Engine, account: int) -> Decimal:
    return engine.state.accounts[account].trade_cash


async def _partly_filled(desk: Desk, account: int, tif: str) -> Order:
    """A buy of 100 at 100.02 against 40 displayed at that ask: 40 fill now, 60 rest."""
    await desk.quote("AAPL", "100.00", "100.02", size=40)
    (order,) = await desk.submit(
        account, request("AAPL", o.BUY, "100", o.LIMIT, limit_price="100.02", time_in_force=tif)
    )
    assert (order.status, order.filled_quantity) == (o.PARTIALLY_FILLED, 40)
    return order


def test_at_crossing_joins_only_the_next_crossing(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.quote("AAPL", "100.00", "100.02")
        (closing,) = await desk.submit(
            account, request("AAPL", o.BUY, "10", time_in_force=o.AT_CROSSING)
        )
        (missed,) = await desk.submit(
            account,
            request(
                "AAPL", o.BUY, "10", o.LIMIT, limit_price="100.50", time_in_force=o.AT_CROSSING
            ),
        )
        # Received mid-session: it does not trade on a marketable quote, it waits for the close.
        assert (closing.status, closing.auction_ns, closing.releases_ns) == (
            o.NEW,
            parse_iso(DAY1_CLOSE),
            None,
        )
        await desk.quote("AAPL", "101.00", "101.04")
        await desk.advance_to(DAY1_CLOSE)
        assert closing.status == o.FILLED and closing.average_fill_price == D("101.02")
        assert missed.status == o.CANCELED
        assert missed.details == ["Limit not reached in the closing auction: canceled"]
        # Received after the close: the next crossing is tomorrow's opening auction.
        await desk.advance_to(DAY1_EVENING)
        (opening,) = await desk.submit(
            account, request("AAPL", o.BUY, "5", time_in_force=o.AT_CROSSING)
        )
        assert (opening.status, opening.queue_state) == (o.NEW, o.AWAITING_RELEASE)
        await desk.quote("AAPL", "102.00", "102.02")
        await desk.advance_to(DAY2_OPEN)
        assert opening.status == o.FILLED and opening.average_fill_price == D("102.01")
        assert _cash(engine, account) == START_CASH - D("1010.20") - D("510.05")

    run(make_engine(tmp_path / "j.db"), body)


def test_good_till_crossing_works_then_is_canceled_as_the_closing_crossing_starts(
    tmp_path: Path,
) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        partial = await _partly_filled(desk, account, o.GTX)
        (resting,) = await desk.submit(
            account, request("AAPL", o.BUY, "10", o.LIMIT, limit_price="99.00", time_in_force=o.GTX)
        )
        assert resting.status == o.NEW
        await desk.quote("AAPL", "100.00", "100.04")  # the ask moves above both limits
        # The closing auction's price (the midpoint, 100.02) reaches the 100.02 limit: a GTX
        # order takes no part in it.
        await desk.advance_to(DAY1_CLOSE)
        for order in (partial, resting):
            assert order.status == o.CANCELED
            assert (
                order.details[-1] == "Good-till-crossing: canceled as the closing crossing starts"
            )
        assert (partial.filled_quantity, resting.filled_quantity) == (40, 0)
        assert _cash(engine, account) == START_CASH - D("4000.80")
        assert engine.state.accounts[account].open_order_hold == 0

    run(make_engine(tmp_path / "j.db"), body)


def test_good_till_crossing_received_after_the_close_works_the_next_session(
    tmp_path: Path,
) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await desk.advance_to(DAY1_EVENING)
        await desk.quote("AAPL", "100.00", "100.02")
        (order,) = await desk.submit(
            account, request("AAPL", o.BUY, "10", o.LIMIT, limit_price="99.00", time_in_force=o.GTX)
        )
        assert (order.status, order.queue_state) == (o.NEW, o.AWAITING_RELEASE)
        await desk.advance_to(DAY2_OPEN)
        assert (order.status, order.queue_state) == (o.NEW, o.RELEASED)
        await desk.quote("AAPL", "98.99", "99.00")  # the ask reaches the limit in the session
        assert order.status == o.FILLED and order.average_fill_price == D("99.00")
        assert _cash(engine, account) == START_CASH - D("990.00")

    run(make_engine(tmp_path / "j.db"), body)


def test_good_through_crossing_works_joins_the_closing_crossing_and_the_rest_is_canceled(
    tmp_path: Path,
) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        through = await _partly_filled(desk, account, o.GTC_THROUGH)
        (below,) = await desk.submit(
            account,
            request("AAPL", o.BUY, "10", o.LIMIT, limit_price="99.00", time_in_force=o.GTC_THROUGH),
        )
        await desk.quote("AAPL", "100.00", "100.02", size=0)  # nothing left to take before 16:00
        await desk.advance_to(DAY1_CLOSE)
        # The closing auction (midpoint 100.01) fills the 60 left; the limit below it is canceled.
        assert through.status == o.FILLED and through.filled_quantity == 100
        prices = [(e.quantity, e.price) for e in every_execution(engine)[account]]
        assert prices == [(D(40), D("100.02")), (D(60), D("100.01"))]
        assert below.status == o.CANCELED
        assert below.details == ["Limit not reached in the closing auction: canceled"]
        assert _cash(engine, account) == START_CASH - D("4000.80") - D("6000.60")

    run(make_engine(tmp_path / "j.db"), body)


@pytest.mark.parametrize("tif", [o.AT_CROSSING, o.GTC_THROUGH])
def test_crossing_orders_that_join_an_auction_are_market_or_limit(tif: str) -> None:
    with pytest.raises(InvalidRequest, match=f"{tif} accepts only MARKET or LIMIT orders"):
        validate_order(request("AAPL", o.BUY, "1", o.STOP, stop_price="200", time_in_force=tif), 0)
    validate_order(request("AAPL", o.BUY, "1", o.STOP, stop_price="200", time_in_force=o.GTX), 0)
