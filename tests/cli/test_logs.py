"""The server's log: a readable line per request, order event and fill; failed logins as
warnings; JSON lines on request; and never a key, whatever the client does."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clearstreet import AuthenticationError, ClearStreet
from tests.support.servers import ADMIN_KEY, API_KEY, ServerProcess, start_server

pytestmark = pytest.mark.slow
MARGIN = 100001
ORDER = {
    "symbol": "AAPL",
    "side": "BUY",
    "quantity": "10",
    "order_type": "MARKET",
    "time_in_force": "DAY",
}
REQUEST_LINE = re.compile(
    r" INFO oems\.access (?P<method>[A-Z]+) (?P<route>\S+) (?P<status>\d{3}) [\d.]+ms "
    r"request_id=(?P<request_id>[0-9a-f-]{36}) key=(?P<key>\S+) account=(?P<account>\S+)$"
)


@pytest.fixture
def logged_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A manual-market server whose quotes the test pins."""
    server = start_server(tmp_path / "oems.db", "--market-data", "manual")
    yield server
    server.stop()


def log_lines(server: ServerProcess, until: str = "") -> list[str]:
    """The server's log, line by line, once it holds `until` (a request is logged just after its
    answer is sent, so a client can see the answer first)."""
    deadline = time.monotonic() + 30
    while until not in server.log_path.read_text():
        assert time.monotonic() < deadline, server.log_path.read_text()
        time.sleep(0.02)  # polling a process's output, not waiting on the market
    return server.log_path.read_text().splitlines()


def buy_and_fill(server: ServerProcess) -> str:
    """Pin an AAPL quote and buy 10 at market in the margin account: it fills at once; its id."""
    with server.admin() as admin, server.client() as client:
        assert (
            admin.put("/admin/v1/quotes/AAPL", json={"bid": "250.00", "ask": "250.02"}).status_code
            == 200
        )
        placed = client.post(f"/v1/accounts/{MARGIN}/orders", json=[ORDER])
        assert placed.status_code == 200, placed.text
        order_id = str(placed.json()["data"][0]["id"])
        shown = client.get(f"/v1/accounts/{MARGIN}/orders/{order_id}").json()["data"]
        assert shown["status"] == "FILLED"
        return order_id


def test_a_request_an_order_and_a_fill_each_leave_one_readable_log_line(
    logged_server: ServerProcess,
) -> None:
    order_id = buy_and_fill(logged_server)
    lines = log_lines(logged_server, "/v1/accounts/{account_id}/orders/{order_id} 200")
    submits = [
        m
        for m in map(REQUEST_LINE.search, lines)
        if m and m["method"] == "POST" and m["route"] == "/v1/accounts/{account_id}/orders"
    ]
    assert len(submits) == 1, lines
    (submit,) = submits
    assert submit["status"] == "200" and submit["account"] == str(MARGIN)
    assert re.fullmatch(r"[0-9a-f-]{36}", submit["key"])  # the key's id, not the key
    accepted = [
        line for line in lines if "oems.trading order accepted:" in line and order_id in line
    ]
    assert len(accepted) == 1, lines
    assert f"BUY AAPL MARKET quantity=10 account={MARGIN} order={order_id}" in accepted[0]
    fills = [line for line in lines if "oems.trading fill:" in line and order_id in line]
    assert len(fills) == 1, lines
    assert re.search(
        rf"fill: BUY AAPL quantity=10 price=250\.02 account={MARGIN} order={order_id} execution=[0-9a-f-]{{36}}$",
        fills[0],
    )


def test_failed_authentication_is_a_warning_that_names_no_key(logged_server: ServerProcess) -> None:
    wrong = "oems_not_a_key_of_this_server_0123456789"
    with logged_server.client(wrong) as client:
        assert client.get("/v1/accounts").status_code == 401
    warnings = [
        line
        for line in log_lines(logged_server, "authentication failed")
        if " WARNING oems.access authentication failed:" in line
    ]
    assert len(warnings) == 1
    assert "GET /v1/accounts 401" in warnings[0] and "client=127.0.0.1:" in warnings[0]
    assert wrong not in logged_server.log_path.read_text()


def test_json_log_format_gives_one_object_per_line_with_the_request_fields(tmp_path: Path) -> None:
    server = start_server(tmp_path / "oems.db", "--market-data", "manual", "--log-format", "json")
    try:
        order_id = buy_and_fill(server)
    finally:
        server.stop()
    records = [json.loads(line) for line in log_lines(server) if line.startswith("{")]
    submit = [
        r
        for r in records
        if r.get("route") == "/v1/accounts/{account_id}/orders" and r["method"] == "POST"
    ]
    assert len(submit) == 1
    assert submit[0]["status"] == 200 and submit[0]["account_id"] == str(MARGIN)
    assert submit[0]["level"] == "info" and submit[0]["logger"] == "oems.access"
    assert {"request_id", "key_id", "latency_ms", "time"} <= set(submit[0])
    fill = [r for r in records if r.get("event") == "fill" and r["order_id"] == order_id]
    assert len(fill) == 1 and fill[0]["price"] == "250.02" and fill[0]["fill_quantity"] == "10"


def test_warning_level_leaves_requests_and_trading_events_out(tmp_path: Path) -> None:
    server = start_server(tmp_path / "oems.db", "--market-data", "manual", "--log-level", "warning")
    try:
        buy_and_fill(server)
    finally:
        server.stop()
    text = server.log_path.read_text()
    assert "oems.access" not in text and "oems.trading" not in text


def test_no_key_ever_appears_in_the_log_of_a_full_sdk_walk(logged_server: ServerProcess) -> None:
    server = logged_server
    with server.admin() as admin:
        issued = admin.post("/admin/v1/api-keys", json={"user": "sandbox", "account_ids": [MARGIN]})
        assert issued.status_code == 201
        new_key = issued.json()["data"]["api_key"]
        admin.put("/admin/v1/quotes/AAPL", json={"bid": "250.00", "ask": "250.02"})
        admin.get("/admin/v1/accounts")
    for key in (API_KEY, new_key):
        sdk = ClearStreet(api_key=key, base_url=server.base_url, max_retries=0)
        v1 = sdk.v1
        v1.accounts.get_accounts()
        v1.accounts.get_account_by_id(MARGIN)
        v1.accounts.get_account_balances(MARGIN)
        v1.instruments.get_instruments(instrument_type="COMMON_STOCK")
        placed = v1.orders.submit_orders(
            account_id=MARGIN, orders=[{**ORDER, "order_type": "LIMIT", "limit_price": "1.00"}]
        )
        order_id = placed.data[0].id
        v1.orders.get_orders(account_id=MARGIN)
        v1.orders.get_order_by_id(order_id, account_id=MARGIN)
        v1.orders.cancel_open_order(order_id, account_id=MARGIN)
        v1.orders.submit_orders(account_id=MARGIN, orders=[ORDER])
        v1.positions.get_positions(account_id=MARGIN)
        v1.orders.get_executions(account_id=MARGIN)
        sdk.close()
    wrong = "oems_wrong_key_for_the_log_scan_0123456789"
    with pytest.raises(AuthenticationError):
        ClearStreet(
            api_key=wrong, base_url=server.base_url, max_retries=0
        ).v1.accounts.get_accounts()
    server.stop()
    text = server.log_path.read_text()
    assert text.count(" oems.access ") > 25 and "oems.trading fill:" in text
    for secret in (API_KEY, ADMIN_KEY, new_key, wrong):
        assert secret not in text
        assert secret[len("oems_") :] not in text
