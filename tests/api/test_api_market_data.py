"""The market data endpoints over a real socket, checked against the vendor document's schemas."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tests.support.contract import assert_error
from tests.support.schema_check import assert_matches_schema
from tests.support.servers import ServerProcess

from oems.domain.ids import stable_uuid

SNAPSHOT = "/v1/market-data/snapshot"
SUMMARY = "/v1/market-data/daily-summary"
AAPL_ID = str(stable_uuid("equity", "AAPL"))
AAPL_CALL = "AAPL  251219C00250000"  # listed on the shared server's date, 2025-10-15
AAPL_CALL_ID = str(stable_uuid("option", AAPL_CALL))
PRICE = re.compile(r"^-?\d+\.\d{2,4}$")
UNKNOWN_ID = "a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8"


@pytest.fixture
def spec(vendor_spec: dict[str, Any]) -> dict[str, Any]:
    return vendor_spec


def _ok(response: httpx.Response, spec: dict[str, Any], path: str) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert_matches_schema(spec, "GET", path, body)
    assert body["error"] is None
    return list(body["data"])


def test_equity_snapshot(client: httpx.Client, spec: dict[str, Any]) -> None:
    (row,) = _ok(client.get(SNAPSHOT, params={"instrument_ids": "AAPL"}), spec, SNAPSHOT)
    assert row["instrument_id"] == AAPL_ID
    assert (row["symbol"], row["name"]) == ("AAPL", "Apple Inc.")
    quote = row["last_quote"]
    bid, ask = Decimal(quote["bid"]), Decimal(quote["ask"])
    assert PRICE.match(quote["bid"]) and PRICE.match(quote["ask"])
    assert bid < ask and Decimal(quote["midpoint"]) == (bid + ask) / 2
    assert quote["bid_size"] >= 100 and quote["ask_size"] >= 100
    trade = row["last_trade"]
    assert bid <= Decimal(trade["price"]) <= ask and trade["size"] > 0
    assert row["cumulative_volume"] > 0
    session = row["session"]
    previous = Decimal(session["previous_close"])
    change = Decimal(session["change"])
    assert change == Decimal(trade["price"]) - previous
    assert re.match(r"^-?\d+\.\d{4}$", session["change_percent"])
    assert Decimal(session["change_percent"]) == (change / previous * 100).quantize(
        Decimal("0.0001")
    )
    assert session["previous_close_unadjusted"] is None
    assert row["greeks"] is None


def test_option_snapshot_has_greeks(client: httpx.Client, spec: dict[str, Any]) -> None:
    data = _ok(client.get(SNAPSHOT, params={"instrument_ids": f"{AAPL_CALL},AAPL"}), spec, SNAPSHOT)
    option, equity = data
    assert option["instrument_id"] == AAPL_CALL_ID and equity["symbol"] == "AAPL"
    greeks = option["greeks"]
    assert 0 < Decimal(greeks["delta"]) < 1
    assert Decimal(greeks["gamma"]) > 0 and Decimal(greeks["vega"]) > 0
    assert Decimal(greeks["theta"]) < 0 and Decimal(greeks["rho"]) > 0
    assert Decimal(greeks["iv"]) > 0
    assert greeks["timestamp"] == "2025-10-15T14:30:00.000000000Z"
    quote = option["last_quote"]
    assert Decimal(quote["bid"]) <= Decimal(greeks["theo_price"]) <= Decimal(quote["ask"])


def test_snapshot_resolves_every_form_once_each_in_request_order(
    client: httpx.Client, spec: dict[str, Any]
) -> None:
    unpadded = AAPL_CALL.replace(" ", "")
    ids = f"MSFT,{AAPL_ID},{unpadded},aapl,SPY"
    data = _ok(client.get(SNAPSHOT, params={"instrument_ids": ids}), spec, SNAPSHOT)
    assert [row["symbol"] for row in data] == ["MSFT", "AAPL", AAPL_CALL, "SPY"]
    # The clock stands still: asking again gives the same market.
    again = _ok(client.get(SNAPSHOT, params={"instrument_ids": ids}), spec, SNAPSHOT)
    assert again == data


def test_snapshot_errors(client: httpx.Client) -> None:
    required = "At least one instrument_id is required"
    assert_error(client.get(SNAPSHOT), 400, required)
    assert_error(client.get(SNAPSHOT, params={"instrument_ids": " , "}), 400, required)
    assert_error(
        client.get(SNAPSHOT, params={"instrument_ids": f"AAPL,{UNKNOWN_ID}"}),
        404,
        f"Instrument not found for id `{UNKNOWN_ID}`",
    )
    assert_error(
        client.get(SNAPSHOT, params={"instrument_ids": "NOPE"}),
        404,
        "Instrument not found for id `NOPE`",
    )


def test_daily_summary_rows(client: httpx.Client, spec: dict[str, Any]) -> None:
    ids = f"AAPL,NOPE,{AAPL_CALL},AAPL,{UNKNOWN_ID}"
    data = _ok(client.get(SUMMARY, params={"instrument_ids": ids}), spec, SUMMARY)
    assert [row["instrument_id"] for row in data] == [AAPL_ID, "NOPE", AAPL_CALL_ID, UNKNOWN_ID]
    equity, unknown, option, unknown_uuid = data
    assert equity["symbol"] == "AAPL" and equity["trade_date"] == "2025-10-15"
    assert not equity["not_applicable"] and equity["open_interest"] is None
    low, high = Decimal(equity["low"]), Decimal(equity["high"])
    assert low <= Decimal(equity["open"]) <= high and equity["volume"] > 0
    for row in (unknown, unknown_uuid):
        assert row["symbol"] is None
        assert all(
            row[name] is None
            for name in ("open", "high", "low", "volume", "trade_date", "open_interest")
        )
    assert option["symbol"] == AAPL_CALL and option["open_interest"] > 0
    assert Decimal(option["low"]) <= Decimal(option["high"])
    # The summary agrees with the snapshot at the same instant.
    (snap,) = _ok(client.get(SNAPSHOT, params={"instrument_ids": "AAPL"}), spec, SNAPSHOT)
    assert low <= Decimal(snap["last_trade"]["price"]) <= high
    assert snap["cumulative_volume"] == equity["volume"]


def test_daily_summary_errors(client: httpx.Client) -> None:
    assert_error(
        client.get(SUMMARY),
        400,
        "Failed to deserialize query string: missing field `instrument_ids`",
    )
    assert_error(
        client.get(SUMMARY, params={"instrument_ids": ""}),
        400,
        "At least one instrument_id is required",
    )
    too_many = ",".join(f"X{n}" for n in range(101))
    response = client.get(SUMMARY, params={"instrument_ids": too_many})
    assert_error(response, 400)
    assert "at most 100" in response.json()["error"]["message"]
    hundred = ",".join(f"X{n}" for n in range(100))
    assert client.get(SUMMARY, params={"instrument_ids": hundred}).status_code == 200


def test_pinned_quote_shows_and_moves_the_options(
    fresh_server: ServerProcess, vendor_spec: dict[str, Any]
) -> None:
    ids = {"instrument_ids": f"AAPL,{AAPL_CALL}"}
    with fresh_server.client() as client, fresh_server.admin() as admin:
        before = _ok(client.get(SNAPSHOT, params=ids), vendor_spec, SNAPSHOT)
        pin = {"bid": "400.00", "ask": "400.10", "bid_size": 200, "ask_size": 300, "last": "400.05"}
        assert admin.put("/admin/v1/quotes/AAPL", json=pin).status_code == 200
        equity, option = _ok(client.get(SNAPSHOT, params=ids), vendor_spec, SNAPSHOT)
        assert equity["last_quote"] == {
            "ask": "400.10",
            "ask_size": 300,
            "bid": "400.00",
            "bid_size": 200,
            "midpoint": "400.05",
        }
        assert equity["last_trade"]["price"] == "400.05"
        # The 250 call is now 150 in the money: valued from the pinned underlier.
        assert Decimal(option["last_quote"]["bid"]) > 140
        assert Decimal(option["greeks"]["delta"]) > Decimal("0.95")
        assert admin.delete("/admin/v1/quotes/AAPL").status_code == 200
        after = _ok(client.get(SNAPSHOT, params=ids), vendor_spec, SNAPSHOT)
        assert after == before
