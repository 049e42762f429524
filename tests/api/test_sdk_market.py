"""The fill model over a socket with the official `clearstreet` SDK: a static quote replenishes
its displayed size after the refresh interval (market time), depth beyond the touch, and queue
position behind the displayed size a resting limit joined.

Quotes are pinned through the admin API and the clock moves only through the admin surface.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.servers import ServerProcess, start_server
from tests.support.trading_helpers import D, Desk, desk_on

MARGIN = 100001
DAY1_AFTER_CLOSE = "2025-10-15T21:00:00Z"  # 17:00 ET, the regular session is over
DAY2_OPEN = "2025-10-16T13:30:00Z"  # 09:30 ET


@pytest.fixture
def desk(manual_server: ServerProcess, vendor_spec: dict[str, Any]) -> Iterator[Desk]:
    """The margin account of a manual-market server with the default refresh (1000 ms)."""
    yield from desk_on(manual_server, vendor_spec, MARGIN)


def _fills(desk: Desk, order: dict[str, Any]) -> list[tuple[D, D]]:
    executions = desk.executions(order_ids=[order["id"]])
    return sorted((D(e["quantity"]), D(e["price"])) for e in executions)


# ---- replenishing liquidity -------------------------------------------------------------------


def _consume_the_pinned_ask(desk: Desk) -> None:
    """Pin AAPL 199.99 x 200.01 (size 100); an IOC for 300 takes the whole ask and no more."""
    desk.pin("AAPL", "199.99", "200.01")
    ioc = desk.place("ioc", "AAPL BUY 300 MARKET IMMEDIATE_OR_CANCEL")
    desk.settle()
    done = desk.order(ioc["id"])
    assert (done["status"], D(done["filled_quantity"])) == ("CANCELED", D(100))


def test_a_market_order_after_an_ioc_took_the_pinned_size_fills_within_the_refresh(
    desk: Desk,
) -> None:
    _consume_the_pinned_ask(desk)
    later = desk.place("later", "AAPL BUY 1 MARKET DAY")
    desk.settle()
    assert desk.order(later["id"])["status"] == "NEW"  # the ask's size is used up for now
    desk.advance(0.999)
    assert desk.order(later["id"])["status"] == "NEW"  # not yet a refresh interval
    desk.advance(0.001)
    assert desk.order(later["id"])["status"] == "FILLED"
    assert _fills(desk, later) == [(D(1), D("200.01"))]


def test_a_market_order_queued_after_the_close_fills_at_the_next_open(desk: Desk) -> None:
    _consume_the_pinned_ask(desk)
    desk.advance_to(DAY1_AFTER_CLOSE)
    queued = desk.place("queued", "AAPL BUY 10 MARKET DAY")
    desk.settle()
    waiting = desk.order(queued["id"])
    assert (waiting["status"], waiting["queue_state"]) == ("NEW", "AWAITING_RELEASE")
    desk.advance_to(DAY2_OPEN)
    at_open = desk.order(queued["id"])
    assert (at_open["status"], at_open["queue_state"]) == ("FILLED", "RELEASED")
    assert _fills(desk, queued) == [(D(10), D("200.01"))]


def test_a_refresh_interval_of_zero_never_replenishes(
    tmp_path: Path, vendor_spec: dict[str, Any]
) -> None:
    server = start_server(
        tmp_path / "oems.db", "--market-data", "manual", "--venue-refresh-ms", "0"
    )
    try:
        for desk in desk_on(server, vendor_spec, MARGIN):
            _consume_the_pinned_ask(desk)
            later = desk.place("later", "AAPL BUY 1 MARKET DAY")
            desk.advance(3600)
            assert desk.order(later["id"])["status"] == "NEW"
            desk.pin("AAPL", "199.99", "200.01")  # a new quote offers its own size
            assert desk.order(later["id"])["status"] == "FILLED"
    finally:
        server.stop()


# ---- depth ---------------------------------------------------------------------------------


def _walk_the_book(server: ServerProcess, spec: dict[str, Any]) -> list[tuple[D, D]]:
    """Pin MSFT 499.99 x 500.01 (size 100) and buy 400 at market: the fills, cheapest first."""
    fills: list[tuple[D, D]] = []
    for desk in desk_on(server, spec, MARGIN):
        desk.pin("MSFT", "499.99", "500.01")
        big = desk.place("big", "MSFT BUY 400 MARKET DAY")
        desk.settle()
        assert desk.order(big["id"])["status"] == "FILLED"
        fills = sorted(((price, quantity) for quantity, price in _fills(desk, big)))
        # The snapshot still shows the top of the book only.
        snapshot = desk.sdk.v1.instrument_data.market_data.get_snapshots(instrument_ids=["MSFT"])
        quote = snapshot.data[0].last_quote
        assert quote is not None
        assert (quote.bid, quote.ask, quote.ask_size) == ("499.99", "500.01", 100)
    return fills


def test_with_depth_a_large_order_walks_the_book_deterministically(
    tmp_path: Path, vendor_spec: dict[str, Any]
) -> None:
    runs = []
    for name in ("a", "b"):
        server = start_server(
            tmp_path / f"{name}.db", "--market-data", "manual", "--venue-depth", "5"
        )
        try:
            runs.append(_walk_the_book(server, vendor_spec))
        finally:
            server.stop()
    fills = runs[0]
    assert runs[1] == fills  # same seed, same fills
    assert fills[0] == (D("500.01"), D(100))  # the touch first, all of it
    assert len(fills) > 1 and all(price > D("500.01") for price, _ in fills[1:])
    assert sum(quantity for _, quantity in fills) == 400
    average = sum(price * quantity for price, quantity in fills) / 400
    assert average > D("500.01")  # the impact of size


def test_without_depth_the_touch_is_all_there_is(desk: Desk) -> None:
    desk.pin("MSFT", "499.99", "500.01")
    big = desk.place("big", "MSFT BUY 400 MARKET DAY")
    desk.settle()
    assert desk.order(big["id"])["filled_quantity"] == "100"


# ---- queue position ------------------------------------------------------------------------


def _join_the_bid(desk: Desk) -> dict[str, Any]:
    """Pin AAPL 199.99 (300) x 200.01 (100); a limit buy at 199.99 joins the bid."""
    desk.pin("AAPL", "199.99", "200.01", bid_size=300, ask_size=100)
    order = desk.place("joined", "AAPL BUY 50 LIMIT DAY", limit_price="199.99")
    desk.settle()
    assert desk.order(order["id"])["status"] == "NEW"
    desk.pin("AAPL", "199.98", "199.99", bid_size=300, ask_size=100)  # the ask reaches it
    return order


def test_with_queue_position_a_joining_limit_waits_behind_the_displayed_size(
    tmp_path: Path, vendor_spec: dict[str, Any]
) -> None:
    server = start_server(tmp_path / "q.db", "--market-data", "manual", "--venue-queue", "on")
    try:
        for desk in desk_on(server, vendor_spec, MARGIN):
            order = _join_the_bid(desk)
            # 300 were ahead; each refresh of the ask's 100 trades with them first.
            assert desk.order(order["id"])["status"] == "NEW"
            desk.advance(1)
            assert desk.order(order["id"])["status"] == "NEW"
            desk.advance(1)
            assert desk.order(order["id"])["status"] == "NEW"
            desk.advance(1)
            assert desk.order(order["id"])["status"] == "FILLED"
            assert _fills(desk, order) == [(D(50), D("199.99"))]
    finally:
        server.stop()


def test_without_queue_position_a_joining_limit_fills_when_the_ask_reaches_it(
    desk: Desk,
) -> None:
    order = _join_the_bid(desk)
    assert desk.order(order["id"])["status"] == "FILLED"
