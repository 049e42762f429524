"""Position instructions over a real socket with the official `clearstreet` SDK: the submit batch
paths (200, 207, 400, 404, 409, 503), listing, cancel to CANCELLED, the reference page's cancel
example field for field, and an expiration day with long and short contracts in and out of the
money, positions and cash checked afterwards. Every body is validated against the vendor
document's schema for its operation and status.

The SDK (0.11.0) names the idempotency key `client_instruction_id`; the document and the
reference page name it `instruction_id`. The server takes either on submit and answers with the
document's `instruction_id`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clearstreet import APIStatusError
from tests.support.conformance import assert_sdk_finds_every_field
from tests.support.schema_check import assert_matches_schema
from tests.support.servers import ServerProcess, start_server
from tests.support.trading_helpers import D, Desk

MARGIN = 100001
SUBMIT = "/v1/accounts/{account_id}/positions/instructions"
CANCEL = "/v1/accounts/{account_id}/positions/instructions/{instruction_id}"
SEED = Path(__file__).resolve().parents[2].parent / "shared" / "seeds" / "003_00b2ce8e356eb868.txt"
C250 = "AAPL  251017C00250000"
C265 = "AAPL  251017C00265000"
P250 = "AAPL  251017P00250000"
P265 = "AAPL  251017P00265000"
WEEKLY_C250 = "AAPL  251024C00250000"


@pytest.fixture
def desk(manual_server: ServerProcess, vendor_spec: dict[str, Any]) -> Iterator[Desk]:
    """The margin account (Reg T, $1,000,000, options level 4) through the SDK."""
    trading_desk = Desk(manual_server, vendor_spec, MARGIN)
    yield trading_desk
    trading_desk.close()
    log = manual_server.log_path.read_text()
    assert "Traceback" not in log and " 500 " not in log, log[-4000:]


def contract_id(desk: Desk, symbol: str) -> str:
    """The contract's id, found through the option contracts endpoint."""
    expiry = f"20{symbol[6:8]}-{symbol[8:10]}-{symbol[10:12]}"
    kind = "CALL" if symbol[12] == "C" else "PUT"
    listed = desk.sdk.v1.instruments.get_option_contracts(
        underlier="AAPL", expiry=expiry, contract_type=kind, page_size=1000
    )
    (found,) = [c for c in listed.data if c.symbol == symbol]
    return str(found.id)


def trade(desk: Desk, symbol: str, side: str, quantity: str, bid: str, ask: str) -> None:
    """Pin a quote and trade at its touch with a MARKET DAY order."""
    desk.pin(symbol, bid, ask)
    (order,) = desk.submit(
        {
            "symbol": symbol,
            "side": side,
            "quantity": quantity,
            "order_type": "MARKET",
            "time_in_force": "DAY",
        }
    )
    desk.settle()
    assert desk.order(order["id"])["status"] == "FILLED"


def submit(desk: Desk, *rows: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST through the SDK whatever the outcome; returns (status, body), schema-checked."""
    raw = desk.sdk.v1.positions.with_raw_response
    try:
        response = raw.submit_position_instructions(desk.account_id, instructions=list(rows))
    except APIStatusError as error:  # 4xx / 5xx: the SDK raises, the body still has the rows
        status, body = error.status_code, error.response.json()
    else:
        status, body = response.status_code, response.json()
        assert_sdk_finds_every_field(response.parse(), body)
    # The document types the POST 404 as a bare ApiError, yet says an all-rejected batch keeps
    # its rows in `data`: a 404 is checked against the other all-rejected statuses' schema.
    desk.check_schema("POST", SUBMIT, body, 400 if status == 404 else status)
    return status, body


def listed(desk: Desk, **filters: Any) -> list[dict[str, Any]]:
    response = desk.sdk.v1.positions.with_raw_response.get_position_instructions(
        desk.account_id, **filters
    )
    assert response.status_code == 200, response.text()
    body = response.json()
    desk.check_schema("GET", SUBMIT, body, 200)
    assert_sdk_finds_every_field(response.parse(), body)
    return list(body["data"])


def cancel(desk: Desk, instruction_id: str) -> tuple[int, dict[str, Any]]:
    raw = desk.sdk.v1.positions.with_raw_response
    try:
        response = raw.cancel_position_instruction(instruction_id, account_id=desk.account_id)
    except APIStatusError as error:
        return error.status_code, error.response.json()
    body = response.json()
    desk.check_schema("DELETE", CANCEL, body, response.status_code)
    assert_sdk_finds_every_field(response.parse(), body)
    return response.status_code, body


def exercise(instrument_id: str, key: str | None = None, **extra: str) -> dict[str, Any]:
    row = {"instruction_type": "EXERCISE", "instrument_id": instrument_id, "quantity": "1"}
    if key is not None:
        row["client_instruction_id"] = key
    return {**row, **extra}


def test_submit_paths_list_and_cancel(desk: Desk) -> None:
    c250, weekly = contract_id(desk, C250), contract_id(desk, WEEKLY_C250)
    trade(desk, C250, "BUY", "2", "10.90", "11.00")
    trade(desk, WEEKLY_C250, "BUY", "1", "11.90", "12.00")

    # 200: every row SENT, the caller's key echoed as `instruction_id`.
    status, body = submit(desk, exercise(c250, "ex-1"))
    assert status == 200 and body["error"] is None
    (first,) = body["data"]
    assert first["status"] == "SENT" and first["instruction_id"] == "ex-1"
    assert (first["account_id"], first["instrument_id"], first["symbol"]) == (MARGIN, c250, C250)
    assert (first["quantity"], first["accepted_quantity"], first["rejection_reason"]) == (
        "1",
        None,
        None,
    )
    uuid.UUID(first["id"])
    assert first["created_at"] == first["updated_at"] == "2025-10-15T14:30:00.000000000Z"

    # 207: one row SENT, a duplicate of it in the same batch ENGINE_REJECTED (refused before the
    # clearing venue saw it, as the seed's status list has it); `error` summarizes.
    status, body = submit(desk, exercise(c250, "ex-2"), exercise(c250, "ex-2"))
    assert status == 207
    assert [r["status"] for r in body["data"]] == ["SENT", "ENGINE_REJECTED"]
    assert body["data"][1]["id"] == "00000000-0000-0000-0000-000000000000"
    assert body["data"][1]["rejection_reason"] == "Duplicate exercise instruction"
    assert body["error"] == {"code": 409, "message": "Duplicate exercise instruction"}
    second = body["data"][0]

    # 409: every row a duplicate of a stored instruction (the key in the document's name).
    status, body = submit(desk, exercise(c250, instruction_id="ex-1"))
    assert status == 409
    assert body["error"] == {"code": 409, "message": "Duplicate exercise instruction"}
    assert body["data"][0]["rejection_reason"] == (
        f"Duplicate exercise instruction; existing_id={first['id']}"
    )

    # 400: DO_NOT_EXERCISE away from the expiration date; more contracts than held.
    dne = {**exercise(weekly, "dne-1"), "instruction_type": "DO_NOT_EXERCISE"}
    status, body = submit(desk, dne)
    message = "DO_NOT_EXERCISE must be submitted on the contract's expiration date"
    assert status == 400 and body["error"] == {"code": 400, "message": message}
    assert body["data"][0]["status"] == "ENGINE_REJECTED"
    status, body = submit(desk, {**exercise(weekly, "big"), "quantity": "5"})
    assert status == 400
    assert body["data"][0]["rejection_reason"] == "Insufficient position: available 1, requested 5"

    # 404: an instrument that does not resolve.
    unknown = str(uuid.UUID(int=42))
    status, body = submit(desk, exercise(unknown, "nowhere"))
    assert status == 404
    assert body["error"] == {"code": 404, "message": f"Instrument {unknown} not found"}
    assert (body["data"][0]["instrument_id"], body["data"][0]["symbol"]) == (unknown, "")

    # 503: the clearing service fault, switched on and off through the admin surface.
    desk.set_faults(clearing_unavailable=True)
    assert desk.admin.get("/admin/v1/faults").json()["data"]["clearing_unavailable"] is True
    status, body = submit(desk, exercise(weekly, "down"))
    assert status == 503
    assert body["error"] == {"code": 503, "message": "Clearing service unavailable"}
    assert desk.admin.delete("/admin/v1/faults").json()["data"]["clearing_unavailable"] is False

    # Only accepted rows are stored; filters by OSI symbol and by UUID.
    assert [i["instruction_id"] for i in listed(desk)] == ["ex-1", "ex-2"]
    assert [i["id"] for i in listed(desk, instrument_id=C250)] == [first["id"], second["id"]]
    assert listed(desk, instrument_id=weekly) == []
    assert len(listed(desk, underlying_instrument_id="AAPL")) == 2
    with pytest.raises(APIStatusError) as missing:
        listed(desk, instrument_id="NOPE  251017C00250000")
    assert missing.value.status_code == 404

    # Cancel: CANCEL_REQUESTED now, CANCELLED once the clearing service answers (30 s).
    status, body = cancel(desk, second["id"])
    assert status == 200 and body["data"]["status"] == "CANCEL_REQUESTED"
    desk.advance(30)
    (by_key,) = [i for i in listed(desk) if i["instruction_id"] == "ex-2"]
    assert by_key["status"] == "CANCELLED"
    status, body = cancel(desk, second["id"])
    assert status == 409
    assert body["error"]["message"] == (
        f"Instruction {second['id']} is CANCELLED and can no longer be cancelled"
    )
    status, body = cancel(desk, str(uuid.UUID(int=5)))
    assert status == 404

    # The other is ACCEPTED after 60 s, then terminal: 409.
    desk.advance(30)
    (accepted,) = [i for i in listed(desk) if i["instruction_id"] == "ex-1"]
    assert (accepted["status"], accepted["accepted_quantity"]) == ("ACCEPTED", "1")
    assert accepted["updated_at"] == "2025-10-15T14:31:00.000000000Z"
    assert cancel(desk, first["id"])[0] == 409

    # Exercised at the close: 100 shares at 250, the 1,100.00 premium in their cost.
    desk.advance_to("2025-10-15T20:00:00Z")
    positions = desk.positions()
    assert positions[C250]["quantity"] == "1"
    assert (positions["AAPL"]["quantity"], positions["AAPL"]["cost_basis"]) == ("100", "26100.00")
    balances = desk.balances()
    assert balances["trade_cash"] == "971600.00"  # 1,000,000 - 2,200 - 1,200 - 25,000
    assert balances["unsettled_debits"] == "28400.00"  # a magnitude, as the vendor shows it


def test_expiration_day_through_the_sdk(desk: Desk) -> None:
    trade(desk, C250, "BUY", "1", "10.90", "11.00")  # in the money at 260: exercised
    trade(desk, P250, "BUY", "1", "0.95", "1.00")  # out of the money: expires
    trade(desk, P265, "SELL", "1", "6.00", "6.10")  # in the money: assigned
    trade(desk, C265, "SELL", "1", "3.00", "3.10")  # out of the money: expires
    # A GTC order on an expiring contract.
    (resting,) = desk.submit(
        {
            "symbol": P250,
            "side": "SELL",
            "quantity": "1",
            "order_type": "LIMIT",
            "limit_price": "9.00",
            "time_in_force": "GOOD_TILL_CANCEL",
        }
    )
    desk.pin("AAPL", "259.99", "260.01")
    desk.advance_to("2025-10-17T19:59:00Z")
    assert set(desk.positions()) == {C250, P250, P265, C265}
    desk.advance_to("2025-10-17T20:00:00Z")
    positions = desk.positions()
    # +100 at 250 (cost + 1,100 premium) and +100 at 265 (cost - 600 premium kept).
    assert set(positions) == {"AAPL"}
    assert positions["AAPL"]["quantity"] == "200"
    assert positions["AAPL"]["cost_basis"] == "52000.00"
    assert positions["AAPL"]["avg_price"] == "260.0000"
    expired = desk.order(resting["id"])
    assert expired["status"] == "EXPIRED" and expired["details"][-1] == "Option contract expired"
    # 1,000,000 - 1,100 - 100 + 600 + 300 - 25,000 - 26,500
    cash = D("948200.00")
    balances = desk.balances()
    assert D(balances["trade_cash"]) == cash
    assert balances["settled_cash"] == "999700.00"
    assert D(balances["equity"]) == cash + 200 * D("260.00")
    desk.advance_to("2025-10-20T08:05:00Z")  # Monday: settled, and the day is in the history
    balances = desk.balances()
    assert D(balances["settled_cash"]) == D(balances["trade_cash"]) == cash
    history = desk.sdk.v1.accounts.with_raw_response.get_portfolio_history(
        MARGIN, start_date="2025-10-17", end_date="2025-10-17"
    )
    (friday,) = history.json()["data"]["segments"]
    assert friday["date"] == "2025-10-17"
    assert D(friday["eod_equity"]) == cash + 200 * D("260.00")
    # Measured from Thursday's closes (the pinned midpoints): the long put's 0.975 lost, the
    # short call's 3.05 kept; exercise and assignment realize nothing.
    assert friday["realized_pnl"] == "207.50"


@pytest.fixture
def seed_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server on 2027-08-18, when the reference page's contract (Jan 2028) is listed."""
    proc = start_server(
        tmp_path / "oems.db",
        "--market-data",
        "manual",
        "--clock",
        "simulated",
        "--clock-start",
        "2027-08-18T14:30:00Z",
        "--clock-speed",
        "0",
    )
    yield proc
    proc.stop()


def _seed_example() -> dict[str, Any]:
    """The response example of the reference page (its first JSON block)."""
    text = SEED.read_text()
    start = text.index("{", text.index("curl "))
    example, _ = json.JSONDecoder().raw_decode(text[start:])
    return dict(example)


def test_reference_page_cancel_example(
    seed_server: ServerProcess, vendor_spec: dict[str, Any]
) -> None:
    if not SEED.exists():
        pytest.skip(f"reference page not found at {SEED}")
    example = _seed_example()
    expected = example["data"]
    desk = Desk(seed_server, vendor_spec, MARGIN)
    try:
        trade(desk, expected["symbol"], "BUY", "1", "60.90", "61.00")
        # As the page's curl sends it: the document's field names, over plain HTTP.
        with seed_server.client() as http:
            posted = http.post(
                f"/v1/accounts/{MARGIN}/positions/instructions",
                json=[
                    {
                        "instruction_id": expected["instruction_id"],
                        "instruction_type": expected["instruction_type"],
                        "instrument_id": contract_id(desk, expected["symbol"]),
                        "quantity": expected["quantity"],
                    }
                ],
            )
            assert posted.status_code == 200, posted.text
            (sent,) = posted.json()["data"]
            response = http.delete(f"/v1/accounts/{MARGIN}/positions/instructions/{sent['id']}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert_matches_schema(vendor_spec, "DELETE", CANCEL, body, 200)
        data = body["data"]
        # The page's fields, and the official SDK's name for the key beside them.
        assert data.pop("client_instruction_id") == data["instruction_id"]
        assert set(data) == set(expected)
        ids_and_times = {"id", "account_id", "instrument_id", "created_at", "updated_at"}
        # The page's prose: "Returns the updated instruction with status CANCEL_REQUESTED"; its
        # example repeats the schema's generic example, which shows SENT.
        assert data.pop("status") == "CANCEL_REQUESTED" and expected.pop("status") == "SENT"
        assert {k: v for k, v in data.items() if k not in ids_and_times} == {
            k: v for k, v in expected.items() if k not in ids_and_times
        }
        assert data["id"] == sent["id"] and data["account_id"] == MARGIN
        # The example's envelope carries the generator's placeholder `error` and paging keys;
        # a successful answer has `error` null and the request id.
        assert body["error"] is None and set(body["metadata"]) == {"request_id"}
        desk.advance(30)
        (cancelled,) = listed(desk)
        assert cancelled["status"] == "CANCELLED"
    finally:
        desk.close()
