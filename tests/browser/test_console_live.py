"""The console live through `/v1/ws`: the admin panel moves the market and the account views follow
from the stream alone (the page reads REST after its own actions only while the stream is down,
and each test first waits for the badge to say `live`). Screenshots: build/browser/<test name>/."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.browser.conftest import Steps, place_limit, sign_in
from tests.support.servers import ServerProcess

pytestmark = [
    pytest.mark.slow,
    # Until the stream (issue 12) is in the tree there is no /v1/ws to be live through.
    pytest.mark.skipif(
        importlib.util.find_spec("oems.api.stream") is None, reason="no /v1/ws in this tree yet"
    ),
]

EQUITY = "[data-key=equity] dd"


def live(page: Any) -> None:
    """Wait until the stream has caught up on the account (the badge says `live`)."""
    expect(page.get_by_test_id("stream-status")).to_have_text("live")


def pin(page: Any, symbol: str, bid: str, ask: str, last: str) -> None:
    """Pin a quote through the admin panel."""
    form = page.locator("#pin-form")
    form.get_by_label("Symbol").fill(symbol)
    form.get_by_label("Bid", exact=True).fill(bid)
    form.get_by_label("Ask", exact=True).fill(ask)
    form.get_by_label("Last").fill(last)
    form.get_by_role("button", name="Pin").click()


def test_a_pinned_quote_fills_the_order_and_the_views_follow(
    page: Any, steps: Steps, fresh_server: ServerProcess
) -> None:
    sign_in(page, fresh_server)
    live(page)
    chart = page.get_by_test_id("equity-chart")
    expect(chart).to_have_attribute("data-last-equity", "1000000.00")
    row = place_limit(page, "AAPL", "10", "100.00")
    expect(row).to_have_attribute("data-status", "NEW")  # acknowledged: a stream message
    steps.shot("order-working")

    reads: list[str] = []
    page.on("request", lambda request: reads.append(request.url))
    pin(page, "AAPL", "99.98", "100.00", "100.00")
    expect(row).to_have_attribute("data-status", "FILLED")
    quote = page.get_by_test_id("quote-panel").locator("tr[data-symbol=AAPL]")
    expect(quote.locator("td.bid")).to_have_text("99.98")
    expect(quote.locator("td.ask")).to_have_text("100.00")
    position = page.get_by_test_id("positions-table").locator("tr[data-symbol=AAPL]")
    expect(position.locator("td").nth(0)).to_have_text("10")
    expect(position.locator("td").nth(1)).to_have_text("$100.0000")
    executions = page.get_by_test_id("executions-table").locator("[data-testid=execution-row]")
    expect(executions).to_have_count(1)
    expect(executions.first).to_contain_text("$100.00")
    # Cash -1,000.00, 10 shares at the pinned midpoint 99.99: equity 999,999.90, in the balances
    # and as the chart's newest point.
    expect(page.get_by_test_id("balances").locator(EQUITY)).to_have_text("$999,999.90")
    expect(chart).to_have_attribute("data-last-equity", "999999.90")
    with fresh_server.client() as http:
        balances = http.get("/v1/accounts/100001/balances").json()["data"]
    assert balances["equity"] == "999999.90"
    # The order, the fill and the quote came through the stream: the page read no orders,
    # executions or snapshots after the pin (it may revalue balances and positions on a quote).
    assert not [url for url in reads if "/orders" in url or "/executions" in url], reads
    assert not [url for url in reads if "/market-data/" in url], reads
    steps.shot("filled")


def test_a_day_order_expires_when_the_clock_passes_the_close(
    page: Any, steps: Steps, fresh_server: ServerProcess
) -> None:
    sign_in(page, fresh_server)
    live(page)
    row = place_limit(page, "AAPL", "5", "50.00")
    expect(row).to_have_attribute("data-status", "NEW")
    steps.shot("day-order-working")

    clock = page.get_by_test_id("clock-panel")
    clock.get_by_label("or to an instant (UTC)").fill("2025-10-15T20:00:01Z")  # 16:00:01 New York
    clock.get_by_role("button", name="Advance", exact=True).click()
    expect(clock.locator("#clock-figures")).to_have_attribute(
        "data-now", "2025-10-15T20:00:01.000000000Z"
    )
    expect(row).to_have_attribute("data-status", "EXPIRED")
    expect(page.get_by_test_id("orders-table").locator("[data-status=NEW]")).to_have_count(0)
    steps.shot("expired")
