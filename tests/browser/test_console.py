"""The console in a real browser: sign in, trade from the ticket, drive the sandbox from the admin
panel and watch the views follow. Screenshots of each step: build/browser/<test name>/."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.browser.conftest import Steps, place_limit, sign_in
from tests.support.servers import API_KEY, ServerProcess

pytestmark = pytest.mark.slow


def test_sign_in_and_place_a_limit_order(
    page: Any, steps: Steps, fresh_server: ServerProcess
) -> None:
    page.goto(fresh_server.base_url + "/")
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    loaded_ms = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    steps.shot("sign-in")
    page.get_by_test_id("api-key").fill(API_KEY)
    started = time.perf_counter()
    page.get_by_test_id("sign-in").get_by_role("button", name="Sign in").click()
    equity = page.get_by_test_id("balances").locator("[data-key=equity] dd")
    expect(equity).to_have_text("$1,000,000.00")
    print(
        f"page loaded in {loaded_ms:.0f} ms; sign-in to balances shown "
        f"{(time.perf_counter() - started) * 1000:.0f} ms"
    )
    picker = page.get_by_test_id("account-picker")
    expect(picker.locator("option")).to_have_count(2)
    expect(page.locator("#admin-panel")).to_be_hidden()  # no admin key given
    # The key is in this tab's session storage only: not in the URL, not in a cookie.
    assert API_KEY not in page.url
    assert page.context.cookies() == []
    assert page.evaluate("Object.values(sessionStorage).join()").count(API_KEY) == 1
    assert API_KEY not in page.evaluate("Object.values(localStorage).join()")
    steps.shot("signed-in")

    # The server's validation error is shown at its field, and nothing is placed.
    ticket = page.get_by_test_id("order-ticket").locator("#ticket-form")
    ticket.get_by_label("Symbol").fill("AAPL")
    ticket.get_by_label("Quantity").fill("10")
    ticket.get_by_label("Limit price").fill("100.001")
    ticket.get_by_role("button", name="Submit order").click()
    error = ticket.locator("[data-field=limit_price] .field-error")
    expect(error).to_contain_text("INVALID_TICK_SIZE")
    expect(ticket.get_by_label("Limit price")).to_have_attribute("aria-invalid", "")
    expect(page.get_by_test_id("order-row")).to_have_count(0)
    steps.shot("field-error")

    row = place_limit(page, "AAPL", "10", "100.00")
    expect(row).to_have_attribute("data-status", re.compile("PENDING_NEW|NEW"))
    expect(row).to_have_attribute("data-order-id", re.compile(r"^[0-9a-f-]{36}$"))
    expect(error).to_have_text("")
    with fresh_server.client() as http:
        orders = http.get("/v1/accounts/100001/orders").json()["data"]
    assert [o["id"] for o in orders] == [row.get_attribute("data-order-id")]
    steps.shot("order-placed")


def test_replace_and_cancel_from_the_blotter(
    page: Any, steps: Steps, fresh_server: ServerProcess
) -> None:
    sign_in(page, fresh_server, admin=False)
    row = place_limit(page, "MSFT", "4", "200.00")
    expect(row).to_have_attribute("data-status", "NEW")
    order_id = row.get_attribute("data-order-id")
    row = page.locator(f"[data-testid=order-row][data-order-id='{order_id}']")
    row.get_by_role("button", name="Replace").click()
    dialog = page.get_by_test_id("replace-dialog")
    dialog.get_by_label("Limit price").fill("200.005")
    dialog.get_by_role("button", name="Replace").click()
    expect(dialog.locator("[data-field=limit_price] .field-error")).to_contain_text("tick")
    steps.shot("replace-refused-at-the-field")
    dialog.get_by_label("Limit price").fill("201.50")
    dialog.get_by_label("Quantity").fill("6")
    dialog.get_by_role("button", name="Replace").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("$201.50")
    expect(row.locator("td").nth(3)).to_have_text("6")
    steps.shot("replaced")
    row.get_by_role("button", name="Cancel").click()
    expect(row).to_have_attribute("data-status", "CANCELED")
    expect(row.get_by_role("button", name="Cancel")).to_have_count(0)
    with fresh_server.client() as http:
        order = http.get(f"/v1/accounts/100001/orders/{order_id}").json()["data"]
    assert (order["status"], order["limit_price"], order["quantity"]) == ("CANCELED", "201.50", "6")
    steps.shot("canceled")


def test_a_strategy_from_the_option_chain(
    page: Any, steps: Steps, fresh_server: ServerProcess
) -> None:
    sign_in(page, fresh_server, admin=False)
    chain = page.locator("#option-chain")
    expect(chain.locator("tbody tr[data-strike]")).to_have_count(10)
    rows = chain.locator("tbody tr[data-strike]")
    buy = rows.nth(4).get_by_role("button", name=re.compile(r"^Buy AAPL .*C"))
    sell = rows.nth(5).get_by_role("button", name=re.compile(r"^Sell AAPL .*C"))
    buy.click()
    sell.click()
    legs = page.locator("#legs-table tbody tr")
    expect(legs).to_have_count(2)
    steps.shot("legs-picked")
    form = page.locator("#legs-form")
    form.get_by_label("Type").select_option("MARKET")
    form.get_by_role("button", name="Submit strategy").click()
    row = page.get_by_test_id("order-row").first
    expect(row).to_be_visible()
    expect(legs).to_have_count(1)  # the builder is empty again: its one "no legs" row
    with fresh_server.client() as http:
        (order,) = http.get("/v1/accounts/100001/orders").json()["data"]
    assert [leg["side"] for leg in order["legs"]] == ["BUY", "SELL"]
    assert row.get_attribute("data-order-id") == order["id"]
    steps.shot("strategy-placed")


def test_close_a_position_and_switch_accounts(
    page: Any, steps: Steps, fresh_server: ServerProcess
) -> None:
    sign_in(page, fresh_server, admin=False)
    ticket = page.get_by_test_id("order-ticket").locator("#ticket-form")
    ticket.get_by_label("Symbol").fill("MSFT")
    ticket.get_by_label("Quantity").fill("3")
    ticket.get_by_label("Type").select_option("MARKET")
    ticket.get_by_role("button", name="Submit order").click()
    position = page.get_by_test_id("positions-table").locator("tr[data-symbol=MSFT]")
    expect(position.locator("td").nth(0)).to_have_text("3")
    steps.shot("position-opened")
    position.get_by_role("button", name="Close MSFT").click()
    expect(position).to_have_count(0)
    expect(page.get_by_test_id("positions-table")).to_contain_text("No positions.")
    with fresh_server.client() as http:
        assert http.get("/v1/accounts/100001/positions").json()["data"] == []
    steps.shot("position-closed")

    page.get_by_test_id("account-picker").select_option("100002")
    equity = page.get_by_test_id("balances").locator("[data-key=equity] dd")
    expect(equity).to_have_text("$100,000.00")
    expect(page.get_by_test_id("orders-table")).to_contain_text("No orders yet.")
    steps.shot("cash-account")


def test_without_the_chart_library_the_chart_says_how_to_install_it(
    page: Any, steps: Steps, fresh_server: ServerProcess
) -> None:
    page.route("**/console/vendor/**", lambda route: route.fulfill(status=404, body="{}"))
    sign_in(page, fresh_server, admin=False)
    chart = page.get_by_test_id("equity-chart")
    expect(chart).to_have_attribute("data-state", "missing")
    expect(chart).to_contain_text("npm ci")
    expect(page.get_by_test_id("balances").locator("[data-key=equity] dd")).to_have_text(
        "$1,000,000.00"
    )
    steps.shot("chart-missing")
