"""Conformance: every response of an SDK day walk carries every field the vendor document, the
seeds and the vendor's newer SDK define for its object (null only where the document allows),
so the next missing field fails here, not in a client. The field lists are the project's own
(`tests/support/conformance.py`); `test_field_lists_match_the_document_and_the_seeds` compares them with
../shared and is the one part skipped where that directory is absent."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.support.conformance import (
    FIELDS,
    NULLABLE,
    OPERATIONS,
    SDK_FIELDS,
    assert_sdk_finds_every_field,
)
from tests.support.schema_check import SEED_ENUMS, with_seed_enums
from tests.support.servers import SPEC_PATH
from tests.support.trading_helpers import Desk

MARGIN = 100001
CASH = 100002
SEEDS = SPEC_PATH.parent.parent / "seeds"
C250 = "AAPL  251017C00250000"  # listed on 2025-10-15, the server's first day


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """Runs the day walk once; yields how many objects of each kind it checked."""
    from tests.support.servers import start_server

    server = start_server(
        tmp_path_factory.mktemp("conformance") / "oems.db", "--market-data", "manual"
    )
    spec = with_seed_enums(json.loads(SPEC_PATH.read_text())) if SPEC_PATH.exists() else None
    desk = Desk(server, spec, MARGIN)
    try:
        _day_walk(desk)
        yield desk.checked
    finally:
        desk.close()
        server.stop()


def _checked(desk: Desk, method: str, path: str) -> Callable[..., Any]:
    """An SDK raw operation wrapped: 2xx, schema (where the document is), every field (counted
    in `desk.checked`), and the SDK's validating models."""

    def run(operation: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        raw = operation(*args, **kw)
        assert 200 <= raw.status_code < 300, raw.text()
        body = raw.json()
        desk.check_schema(method, path, body, raw.status_code)
        assert_sdk_finds_every_field(raw.parse(), body)
        return body["data"]

    return run


def _day_walk(desk: Desk) -> None:
    sdk = desk.sdk.v1
    get = lambda path: _checked(desk, "GET", path)  # noqa: E731
    get("/v1/version")(sdk.api_version.with_raw_response.get_version)
    get("/v1/clock")(sdk.calendar.with_raw_response.get_clock)
    get("/v1/calendars/market-hours")(sdk.calendar.with_raw_response.get_market_hours_calendar)
    accounts = sdk.accounts.with_raw_response
    get("/v1/accounts")(accounts.get_accounts)
    get("/v1/accounts/{account_id}")(accounts.get_account_by_id, MARGIN)
    _checked(desk, "PATCH", "/v1/accounts/{account_id}")(
        accounts.patch_account_by_id, MARGIN, risk={"max_notional": "5000000.00"}
    )
    instruments = sdk.instruments.with_raw_response
    get("/v1/instruments")(instruments.get_instruments, page_size=5)
    get("/v1/instruments/{instrument_id}")(
        instruments.get_instrument_by_id, "AAPL", include_options_expiry_dates=True
    )
    get("/v1/instruments/search")(instruments.search_instruments, q="AAPL")
    get("/v1/instruments/options/contracts")(
        instruments.get_option_contracts, underlier="AAPL", expiry="2025-10-17", page_size=4
    )
    desk.pin("AAPL", "254.99", "255.01")
    desk.pin(C250, "5.00", "5.20")
    market = sdk.instrument_data.market_data.with_raw_response
    get("/v1/market-data/snapshot")(
        market.get_snapshots, instrument_ids=["AAPL", C250.replace(" ", "")]
    )
    get("/v1/market-data/daily-summary")(market.get_daily_summaries, instrument_ids=["AAPL"])

    # Orders: a fill, an option fill, a resting limit replaced and canceled, a crossing order
    # canceled by cancel-all, and one received after the close (AWAITING_RELEASE).
    for order in (
        {"symbol": "AAPL", "side": "BUY", "quantity": "10", "order_type": "MARKET", "time_in_force": "DAY"},
        {"symbol": C250, "side": "BUY", "quantity": "2", "order_type": "MARKET", "time_in_force": "DAY"},
        {"symbol": "AAPL", "side": "BUY", "quantity": "5", "order_type": "LIMIT", "limit_price": "200.00", "time_in_force": "GOOD_TILL_CANCEL", "id": "resting"},
        {"symbol": "AAPL", "side": "BUY", "quantity": "5", "order_type": "LIMIT", "limit_price": "201.00", "time_in_force": "GOOD_THROUGH_CROSSING"},
    ):  # fmt: skip
        desk.submit(order)
    desk.settle()
    desk.replace("resting", limit_price="199.00")
    desk.settle()
    desk.cancel("resting")
    desk.cancel_all()
    desk.settle()
    desk.orders()
    desk.executions()
    desk.positions()
    balances = _checked(desk, "GET", "/v1/accounts/{account_id}/balances")
    margin = balances(accounts.get_account_balances, MARGIN, top_margin_contributors_limit=5)
    assert margin["margin_details"]["top_contributors"], "the walk holds positions"
    balances(accounts.get_account_balances, CASH)
    get("/v1/accounts/{account_id}/portfolio-history")(
        accounts.get_portfolio_history, MARGIN, start_date="2025-10-15"
    )

    # Position instructions: submit, list, cancel.
    positions = sdk.positions.with_raw_response
    contract = desk.positions()[C250]["instrument_id"]
    (sent,) = _checked(desk, "POST", "/v1/accounts/{account_id}/positions/instructions")(
        positions.submit_position_instructions,
        MARGIN,
        instructions=[{"instruction_type": "EXERCISE", "instrument_id": contract, "quantity": "1"}],
    )
    get("/v1/accounts/{account_id}/positions/instructions")(
        positions.get_position_instructions, MARGIN
    )
    _checked(desk, "DELETE", "/v1/accounts/{account_id}/positions/instructions/{instruction_id}")(
        positions.cancel_position_instruction, sent["id"], account_id=MARGIN
    )

    # Close one position, then the rest; after the close, an order waits for the release.
    desk.close_position("AAPL")
    desk.settle()
    desk.close_positions()
    desk.settle()
    desk.advance_to("2025-10-15T22:00:00Z")
    (waiting,) = desk.submit(
        {"symbol": "AAPL", "side": "BUY", "quantity": "1", "order_type": "LIMIT", "limit_price": "100.00", "time_in_force": "DAY"}
    )  # fmt: skip
    assert waiting["queue_state"] == "AWAITING_RELEASE"


def test_every_response_of_the_walk_carries_every_field(walk: dict[str, int]) -> None:
    top = set(OPERATIONS.values())
    assert top <= set(walk), f"the walk never rendered {sorted(top - set(walk))}"


# ---- the lists against the document and the seeds -------------------------------------------


def _document() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip(f"the vendor document is not at {SPEC_PATH}: only its comparison is skipped")
    return dict(json.loads(SPEC_PATH.read_text()))


def _resolve(schemas: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """(properties, nullable names) of a schema through $ref, allOf and oneOf."""
    if "$ref" in schema:
        return _resolve(schemas, schemas[schema["$ref"].rsplit("/", 1)[-1]])
    properties = dict(schema.get("properties", {}))
    for key in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(key, []):
            if part.get("type") != "null":
                properties.update(_resolve(schemas, part)[0])
    return properties, {n for n, p in properties.items() if _nullable(p)}


def _nullable(prop: dict[str, Any]) -> bool:
    kind = prop.get("type")
    if isinstance(kind, list) and "null" in kind:
        return True
    return any(p.get("type") == "null" for key in ("oneOf", "anyOf") for p in prop.get(key, []))


def _seed_fields(name: str) -> set[str]:
    """The field names a reference page lists for its returned object."""
    text = (SEEDS / name).read_text()
    returns = text.split("ReturnsExpand Collapse", 1)[1]
    listing = re.split(r"\n(?:curl |clear-street |\{)", returns, maxsplit=1)[0]
    names = set(re.findall(r"^([a-z][a-z0-9_]*): ", listing, re.MULTILINE))
    return names - {"data"}


def test_field_lists_match_the_document_and_the_seeds() -> None:
    schemas = _document()["components"]["schemas"]
    for name, fields in FIELDS.items():
        properties, nullable = _resolve(schemas, schemas[name])
        expected = set(properties) | set(SDK_FIELDS.get(name, ()))
        assert set(fields) == expected, name
        assert set(NULLABLE.get(name, ())) == nullable, name
    order_pages = ("000_1ae151ac99db37a8.txt", "004_cad3671fb1153879.txt")
    for page in order_pages:
        assert _seed_fields(page) <= set(FIELDS["Order"]), page
    assert _seed_fields("003_00b2ce8e356eb868.txt") <= set(FIELDS["PositionInstruction"])
    seeds = "\n".join(p.read_text() for p in SEEDS.glob("*.txt"))
    for values in SEED_ENUMS.values():
        for value in values:
            assert f'"{value}"' in seeds, value


def test_operations_name_the_documents_response_objects() -> None:
    document = _document()
    for (method, path), name in OPERATIONS.items():
        schema = document["paths"][path][method.lower()]["responses"]["200"]["content"][
            "application/json"
        ]["schema"]
        data = next(
            p["properties"]["data"] for p in schema["allOf"] if "data" in p.get("properties", {})
        )
        ref = data["$ref"].rsplit("/", 1)[-1]
        listed = document["components"]["schemas"][ref]
        if "items" in listed:
            ref = listed["items"]["$ref"].rsplit("/", 1)[-1]
        assert ref == name, (method, path)
