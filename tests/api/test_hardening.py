"""Inputs that once stopped the server or changed state on a failure: each is a clear 4xx now.

Every test asserts the status and the envelope, and that the journal did not change (its event
count, which `/healthz` reports, before and after).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.contract import assert_error
from tests.support.servers import ServerProcess, start_server

LIMIT_ORDER = {
    "symbol": "AAPL",
    "side": "BUY",
    "quantity": "1",
    "order_type": "LIMIT",
    "limit_price": "100.00",
    "time_in_force": "DAY",
}


def events(http: httpx.Client) -> int:
    """The number of journaled events, as the server reports it."""
    response = http.get("/healthz")
    assert response.status_code == 200, response.text
    return int(response.json()["data"]["events"])


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def refused(http: httpx.Client, response: httpx.Response, code: int, before: int) -> dict[str, Any]:
    """The response is a `code` error in the envelope, and the journal holds no new event."""
    error = assert_error(response, code)
    assert events(http) == before
    return error


def submit(http: httpx.Client, account: int, **changes: Any) -> httpx.Response:
    return http.post(f"/v1/accounts/{account}/orders", json=[{**LIMIT_ORDER, **changes}])


def test_an_order_expiring_in_2600_is_refused_and_the_server_goes_on(
    http: httpx.Client, accounts: dict[str, int]
) -> None:
    account, before = accounts["margin"], events(http)
    far = {"time_in_force": "GOOD_TILL_DATE", "expires_at": "2600-01-01T00:00:00Z"}
    error = refused(http, submit(http, account, **far), 422, before)
    assert "[0].expires_at" in error["message"]
    beyond_horizon = {"time_in_force": "GOOD_TILL_DATE", "expires_at": "2035-01-01T00:00:00Z"}
    error = refused(http, submit(http, account, **beyond_horizon), 400, before)
    assert error["message"] == "[0].expires_at: expires_at may be at most 3 years ahead"
    # Every endpoint still answers, and orders are still taken.
    assert http.get("/v1/clock").status_code == 200
    accepted = submit(
        http, account, time_in_force="GOOD_TILL_DATE", expires_at="2026-01-01T00:00:00Z"
    )
    assert accepted.status_code == 200, accepted.text
    order_id = accepted.json()["data"][0]["id"]
    assert http.delete(f"/v1/accounts/{account}/orders/{order_id}").status_code == 200


@pytest.mark.parametrize("field", ["limit_price", "quantity"])
@pytest.mark.parametrize("text", ["1e400", "1e999999999", "1e-400", "1_0", " 10", "+10", "0x10"])
def test_a_decimal_not_in_plain_notation_is_422_naming_the_field(
    http: httpx.Client, accounts: dict[str, int], field: str, text: str
) -> None:
    before = events(http)
    error = refused(http, submit(http, accounts["margin"], **{field: text}), 422, before)
    assert f"[0].{field}: `{text}` is not a decimal in plain notation" in error["message"]


@pytest.mark.parametrize(
    ("changes", "subject"),
    [
        ({"limit_price": "100000000"}, "[0].limit_price"),
        ({"quantity": "10000000000"}, "[0].quantity"),
        ({"quantity": "0.0000000001"}, "[0].quantity"),
        (
            {"order_type": "STOP", "limit_price": None, "stop_price": "99999999.99"},
            "[0].stop_price",
        ),
        (
            {
                "order_type": "TRAILING_STOP",
                "limit_price": None,
                "trailing_offset": "20000000",
                "trailing_offset_type": "PRICE",
            },
            "[0].trailing_offset",
        ),
    ],
)
def test_a_decimal_beyond_its_bound_is_400_naming_the_field(
    http: httpx.Client, accounts: dict[str, int], changes: dict[str, Any], subject: str
) -> None:
    before = events(http)
    order = {k: v for k, v in {**LIMIT_ORDER, **changes}.items() if v is not None}
    response = http.post(f"/v1/accounts/{accounts['margin']}/orders", json=[order])
    error = refused(http, response, 400, before)
    assert error["message"].startswith(f"{subject}: ")
    assert error["details"][0]["subject"] == subject


def test_replace_with_huge_numbers_is_refused_and_the_order_keeps_its_terms(
    http: httpx.Client, accounts: dict[str, int]
) -> None:
    account = accounts["margin"]
    accepted = submit(http, account, limit_price="90.00")
    assert accepted.status_code == 200, accepted.text
    order_id = accepted.json()["data"][0]["id"]
    path = f"/v1/accounts/{account}/orders/{order_id}"
    before = events(http)
    for body, code in (
        ({"limit_price": "1e999999999"}, 422),
        ({"quantity": "1e999999999"}, 422),
        ({"limit_price": "1e400"}, 422),
        ({"quantity": "99999999999"}, 400),
    ):
        refused(http, http.patch(path, json=body), code, before)
    order = http.get(path).json()["data"]
    assert (order["limit_price"], order["quantity"]) == ("90.00", "1")
    assert http.delete(path).status_code == 200


def test_an_instruction_with_a_huge_quantity_or_id_is_refused(
    http: httpx.Client, accounts: dict[str, int]
) -> None:
    path = f"/v1/accounts/{accounts['margin']}/positions/instructions"
    chain = http.get("/v1/instruments/options/contracts", params={"underlier": "AAPL"})
    contract = chain.json()["data"][0]["id"]
    row = {"instrument_id": contract, "instruction_type": "EXERCISE", "quantity": "1"}
    before = events(http)
    refused(http, http.post(path, json=[{**row, "quantity": "1e999999999"}]), 422, before)
    error = refused(
        http, http.post(path, json=[{**row, "instruction_id": "x" * 100_000}]), 400, before
    )
    assert error["message"].startswith("[0].instruction_id: must be at most 64 characters")


def test_a_max_notional_of_1e400_is_refused_and_not_saved(
    http: httpx.Client, accounts: dict[str, int]
) -> None:
    path = f"/v1/accounts/{accounts['cash']}"
    setting_before = http.get(path).json()["data"]
    before = events(http)
    refused(http, http.patch(path, json={"risk": {"max_notional": "1e400"}}), 422, before)
    error = refused(
        http, http.patch(path, json={"risk": {"max_notional": "10000000000000000"}}), 400, before
    )
    assert error["message"].startswith("risk.max_notional: ")
    assert http.get(path).json()["data"] == setting_before


def test_path_ids_are_read_in_canonical_form_only(
    http: httpx.Client, accounts: dict[str, int]
) -> None:
    account = accounts["margin"]
    assert http.get(f"/v1/accounts/{account}").status_code == 200
    for spelled in ("1_00001", f"+{account}", f"0{account}", f" {account}"):
        assert_error(http.get(f"/v1/accounts/{spelled}"), 400)
    assert_error(http.get(f"/v1/accounts/{account}/orders", params={"page_size": "1_0"}), 400)


def test_cancel_all_with_an_empty_filter_cancels_nothing(
    http: httpx.Client, accounts: dict[str, int]
) -> None:
    account = accounts["margin"]
    accepted = submit(http, account, limit_price="91.00")
    order_id = accepted.json()["data"][0]["id"]
    orders = f"/v1/accounts/{account}/orders"
    before = events(http)
    for params in (
        {"instrument_ids": ","},
        {"instrument_ids": ""},
        {"instrument_ids": "AAPL,"},
        {"side": ""},
        {"from": ""},
        {"order_ids": " , "},
    ):
        refused(http, http.delete(orders, params=params), 400, before)
        assert_error(http.get(orders, params=params), 400)
    assert http.get(f"{orders}/{order_id}").json()["data"]["status"] in ("NEW", "PENDING_NEW")
    assert http.delete(f"{orders}/{order_id}").status_code == 200


def test_admin_names_and_amounts_are_bounded(admin: httpx.Client, http: httpx.Client) -> None:
    before = events(http)
    account = {"full_name": "A", "subtype": "CASH", "owner": "someone", "cash": "100"}
    refused(
        http,
        admin.post("/admin/v1/accounts", json={**account, "full_name": "n" * 200}),
        400,
        before,
    )
    refused(http, admin.post("/admin/v1/accounts", json={**account, "cash": "1e12"}), 422, before)
    refused(
        http,
        admin.post("/admin/v1/accounts", json={**account, "cash": "2000000000000"}),
        400,
        before,
    )
    refused(http, admin.post("/admin/v1/api-keys", json={"user": "u" * 500}), 400, before)
    key = {"user": "someone", "expires_at": "2600-01-01T00:00:00Z"}
    refused(http, admin.post("/admin/v1/api-keys", json=key), 400, before)


def test_a_clock_advance_is_bounded_and_answers(fresh_server: ServerProcess) -> None:
    with fresh_server.admin() as admin, fresh_server.client() as http:
        before = events(http)
        for body in ('{"seconds": 1e30}', '{"seconds": -1}'):
            refused(http, admin.post("/admin/v1/clock/advance", content=body), 400, before)
        refused(
            http, admin.post("/admin/v1/clock/advance", content='{"seconds": 1e400}'), 422, before
        )
        refused(http, admin.post("/admin/v1/clock/advance", json={"to": "2600-01-01"}), 400, before)
        assert (
            "the last recorded instant is"
            in refused(
                http,
                admin.post("/admin/v1/clock/advance", json={"to": "2027-06-01T00:00:00Z"}),
                400,
                before,
            )["message"]
        )
        for speed in ("-1", "1e9"):
            body = f'{{"mode": "simulated", "speed": {speed}}}'
            error = refused(http, admin.post("/admin/v1/clock", content=body), 400, before)
            assert "speed must be between 0 and 10000" in error["message"]
        # A long but allowed advance runs in day-sized steps and answers with the new instant.
        moved = admin.post("/admin/v1/clock/advance", json={"seconds": 20 * 86_400})
        assert moved.status_code == 200, moved.text
        assert moved.json()["data"]["now"].startswith("2025-11-04T14:30:00")
        assert http.get("/healthz").status_code == 200


def test_the_wall_clock_is_refused_while_the_journal_is_ahead_of_it(tmp_path: Path) -> None:
    server = start_server(tmp_path / "oems.db", "--clock", "wall")
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with server.admin() as admin, server.client() as http:
        ahead = admin.post(
            "/admin/v1/clock", json={"mode": "simulated", "now": "2039-01-01T15:00:00Z", "speed": 0}
        )
        assert_error(ahead, 400)  # a jump of years is refused too
        assert "advance in several steps" in ahead.json()["error"]["message"]
        moved = admin.post(
            "/admin/v1/clock", json={"mode": "simulated", "now": tomorrow, "speed": 0}
        )
        assert moved.status_code == 200, moved.text
        before = events(http)
        error = refused(http, admin.post("/admin/v1/clock", json={"mode": "wall"}), 400, before)
        assert "the journal is ahead of the wall clock" in error["message"]
        assert f"the last recorded instant is {tomorrow[:19]}" in error["message"]
        assert "/admin/v1/reset" in error["message"] and "a new --db" in error["message"]
        assert admin.get("/admin/v1/clock").json()["data"]["mode"] == "simulated"
    server.stop()
