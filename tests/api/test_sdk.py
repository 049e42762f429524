"""The official `clearstreet` SDK against a real server: every foundation operation, parsed and
checked against the vendor document's response schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from clearstreet import ClearStreet, PermissionDeniedError
from tests.support.conformance import OPERATIONS, assert_complete, assert_sdk_finds_every_field
from tests.support.schema_check import assert_matches_schema
from tests.support.servers import API_KEY, ServerProcess


@pytest.fixture(scope="module")
def sdk(server: ServerProcess) -> Iterator[ClearStreet]:
    """The SDK pointed at the shared server."""
    client = ClearStreet(api_key=API_KEY, base_url=server.base_url, max_retries=0)
    yield client
    client.close()


def call(
    spec: dict[str, Any],
    method: str,
    path: str,
    operation: Callable[..., Any],
    *args: Any,
    **kwargs: Any,
) -> Any:
    """Call an SDK operation's raw form, validate the body against `path`'s schema, return the parsed model."""
    raw = operation(*args, **kwargs)
    body = raw.json()
    assert_matches_schema(spec, method, path, body, raw.status_code)
    if 200 <= raw.status_code < 300 and (method, path) in OPERATIONS:
        assert_complete(method, path, body["data"])
    parsed = raw.parse()
    assert_sdk_finds_every_field(parsed, body)
    return parsed


def test_meta_operations(sdk: ClearStreet, vendor_spec: dict[str, Any]) -> None:
    raw = sdk.v1.with_raw_response
    version = call(vendor_spec, "GET", "/v1/version", raw.api_version.get_version)
    assert version.data.version == "2025-10-31"
    clock = call(vendor_spec, "GET", "/v1/clock", raw.calendar.get_clock)
    assert str(clock.data.clock).startswith("2025-10-15")
    hours = call(
        vendor_spec, "GET", "/v1/calendars/market-hours", raw.calendar.get_market_hours_calendar
    )
    assert [h.market for h in hours.data] == ["us_equities", "us_options"]
    assert hours.data[0].status.is_open is True
    holiday = call(
        vendor_spec,
        "GET",
        "/v1/calendars/market-hours",
        raw.calendar.get_market_hours_calendar,
        date="2025-12-25",
        market="us_equities",
    )
    assert holiday.data[0].status.day_type == "HOLIDAY"


def test_account_operations(
    sdk: ClearStreet, server: ServerProcess, vendor_spec: dict[str, Any]
) -> None:
    ids = server.credentials["accounts"]
    raw = sdk.v1.accounts.with_raw_response
    listed = call(vendor_spec, "GET", "/v1/accounts", raw.get_accounts)
    assert sorted(a.id for a in listed.data) == sorted([ids["margin"], ids["cash"]])
    by_name = call(vendor_spec, "GET", "/v1/accounts", raw.get_accounts, account_name="cash")
    assert [a.id for a in by_name.data] == [ids["cash"]]
    margin = call(
        vendor_spec, "GET", "/v1/accounts/{account_id}", raw.get_account_by_id, ids["margin"]
    )
    assert (margin.data.subtype, margin.data.options_level) == ("MARGIN", 4)
    patched = call(
        vendor_spec,
        "PATCH",
        "/v1/accounts/{account_id}",
        raw.patch_account_by_id,
        ids["margin"],
        risk={"max_notional": "5000000.00"},
    )
    assert patched.data.risk.max_notional == "5000000.00"
    balances = call(
        vendor_spec,
        "GET",
        "/v1/accounts/{account_id}/balances",
        raw.get_account_balances,
        ids["cash"],
    )
    assert balances.data.margin_type == "NONE"
    margin_balances = call(
        vendor_spec,
        "GET",
        "/v1/accounts/{account_id}/balances",
        raw.get_account_balances,
        ids["margin"],
        top_margin_contributors_limit=5,
    )
    assert margin_balances.data.margin_details.overnight_details.multiplier == "2"
    history = call(
        vendor_spec,
        "GET",
        "/v1/accounts/{account_id}/portfolio-history",
        raw.get_portfolio_history,
        ids["margin"],
        start_date="2025-10-01",
    )
    assert [s.date.isoformat() for s in history.data.segments] == ["2025-10-15"]
    with pytest.raises(PermissionDeniedError):
        sdk.v1.accounts.get_account_by_id(ids["other_user_account"])


def test_instrument_operations(sdk: ClearStreet, vendor_spec: dict[str, Any]) -> None:
    raw = sdk.v1.instruments.with_raw_response
    listed = call(
        vendor_spec, "GET", "/v1/instruments", raw.get_instruments, instrument_type="COMMON_STOCK"
    )
    assert len(listed.data) >= 50
    aapl = call(
        vendor_spec,
        "GET",
        "/v1/instruments/{instrument_id}",
        raw.get_instrument_by_id,
        "AAPL",
        include_options_expiry_dates=True,
    )
    assert aapl.data.symbol == "AAPL"
    same = call(
        vendor_spec,
        "GET",
        "/v1/instruments/{instrument_id}",
        raw.get_instrument_by_id,
        str(aapl.data.id),
    )
    assert same.data.id == aapl.data.id
    found = call(vendor_spec, "GET", "/v1/instruments/search", raw.search_instruments, q="apple")
    assert found.data[0].symbol == "AAPL"
    chain = call(
        vendor_spec,
        "GET",
        "/v1/instruments/options/contracts",
        raw.get_option_contracts,
        underlier="AAPL",
    )
    assert chain.data and all(c.underlying_instrument_id == aapl.data.id for c in chain.data)
    contract = chain.data[0]
    by_osi = call(
        vendor_spec,
        "GET",
        "/v1/instruments/{instrument_id}",
        raw.get_instrument_by_id,
        contract.symbol,
    )
    assert by_osi.data.id == contract.id
    direct = call(
        vendor_spec,
        "GET",
        "/v1/instruments/options/contracts",
        raw.get_option_contracts,
        contract_ids=[contract.symbol],
    )
    assert [c.id for c in direct.data] == [contract.id]


def test_market_data_operations(sdk: ClearStreet, vendor_spec: dict[str, Any]) -> None:
    raw = sdk.v1.instrument_data.market_data.with_raw_response
    chain = sdk.v1.instruments.get_option_contracts(underlier="SPY").data
    snapshots = call(
        vendor_spec,
        "GET",
        "/v1/market-data/snapshot",
        raw.get_snapshots,
        instrument_ids=["AAPL", chain[0].symbol],
    )
    equity, option = snapshots.data
    assert equity.symbol == "AAPL"
    assert equity.last_quote is not None
    assert float(equity.last_quote.bid) < float(equity.last_quote.ask)
    assert option.greeks is not None
    summary = call(
        vendor_spec,
        "GET",
        "/v1/market-data/daily-summary",
        raw.get_daily_summaries,
        instrument_ids="AAPL,MSFT",
    )
    assert [row.symbol for row in summary.data] == ["AAPL", "MSFT"]
