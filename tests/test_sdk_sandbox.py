"""Sandbox controls a test suite needs, over a socket with the official `clearstreet` SDK: reset
(keeping the keys), scenario rules forcing the venue's answer, and rate limits."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CLOCK_START, ServerProcess, start_server
from tests.test_cli_operator import answer, oems
from tests.trading_helpers import Desk, desk_on

MARGIN, CASH, OTHER = 100001, 100002, 100003
DAY2 = "2025-10-16T14:30:00Z"


@pytest.fixture
def desk(manual_server: ServerProcess, vendor_spec: dict[str, Any]) -> Iterator[Desk]:
    """The margin account of a manual-market server of the test's own."""
    yield from desk_on(manual_server, vendor_spec, MARGIN)


def _reset(desk: Desk, **body: Any) -> dict[str, Any]:
    response = desk.admin.post("/admin/v1/reset", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def _trade_a_morning(desk: Desk) -> dict[str, Any]:
    """A fill, a resting order, an extra account; returns the extra account."""
    desk.pin("AAPL", "199.99", "200.01")
    desk.place("bought", "AAPL BUY 10 MARKET DAY")
    desk.place("resting", "AAPL BUY 5 LIMIT GOOD_TILL_CANCEL", limit_price="150.00")
    desk.settle()
    assert desk.positions()
    created = desk.admin.post(
        "/admin/v1/accounts",
        json={"owner": "sandbox", "full_name": "Extra", "subtype": "CASH", "cash": "5000"},
    )
    assert created.status_code == 201, created.text
    extra = dict(created.json()["data"])
    funded = desk.admin.post(f"/admin/v1/accounts/{extra['id']}/cash", json={"amount": "1000"})
    assert funded.status_code == 200, funded.text
    return extra


# ---- reset ---------------------------------------------------------------------------------


def test_reset_goes_back_to_the_bootstrap_keeping_the_keys(desk: Desk) -> None:
    extra = _trade_a_morning(desk)
    data = _reset(desk)
    assert [a["id"] for a in data["accounts"]] == [MARGIN, CASH, OTHER]
    assert extra["id"] not in [a["id"] for a in data["accounts"]]
    assert [a["trade_cash"] for a in data["accounts"]] == ["1000000.00", "100000.00", "250000.00"]
    # The same user key answers through the SDK, on an untraded sandbox.
    assert [a["id"] for a in desk.sdk.v1.accounts.get_accounts().to_dict()["data"]] == [
        MARGIN,
        CASH,
    ]
    assert desk.orders() == [] and desk.executions() == [] and desk.positions() == {}
    assert desk.balances()["trade_cash"] == "1000000.00"
    assert desk.admin.get("/admin/v1/faults").status_code == 200  # the same admin key works
    # The sandbox trades again.
    desk.pin("AAPL", "199.99", "200.01")
    bought = desk.place("again", "AAPL BUY 1 MARKET DAY")
    desk.settle()
    assert desk.order(bought["id"])["status"] == "FILLED"


def test_reset_keeping_accounts_leaves_each_at_its_opening_cash(desk: Desk) -> None:
    extra = _trade_a_morning(desk)
    data = _reset(desk, keep_accounts=True)
    cash = {a["id"]: a["trade_cash"] for a in data["accounts"]}
    assert cash == {
        MARGIN: "1000000.00",
        CASH: "100000.00",
        OTHER: "250000.00",
        extra["id"]: "5000.00",  # the deposit after it was opened is gone with the trading
    }
    assert desk.orders() == [] and desk.positions() == {}
    assert desk.for_account(extra["id"]).orders() == []


def test_reset_can_set_the_simulated_clock_back(desk: Desk) -> None:
    _trade_a_morning(desk)
    desk.advance_to(DAY2)
    data = _reset(desk, clock={"mode": "simulated", "now": CLOCK_START, "speed": 0})
    assert data["clock"]["now"] == "2025-10-15T14:30:00.000000000Z"
    desk.pin("AAPL", "199.99", "200.01")
    bought = desk.place("morning", "AAPL BUY 1 MARKET DAY")
    desk.settle()
    order = desk.order(bought["id"])
    assert order["status"] == "FILLED"
    assert order["created_at"].startswith("2025-10-15T14:30:00")


def test_reset_refuses_a_bad_body_and_changes_nothing(desk: Desk) -> None:
    desk.pin("AAPL", "199.99", "200.01")
    desk.place("kept", "AAPL BUY 1 MARKET DAY")
    desk.settle()
    for body, status in (
        ({"keep_accounts": "yes"}, 422),
        ({"clock": {"mode": "sundial"}}, 400),
        ({"clock": {"mode": "wall", "now": CLOCK_START}}, 400),
        ({"unknown": 1}, 422),
    ):
        response = desk.admin.post("/admin/v1/reset", json=body)
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == status
    assert len(desk.orders()) == 1
    user = desk.server.client()
    assert user.post("/admin/v1/reset", json={}).status_code in (401, 403)


def test_a_reset_survives_a_crash_right_after_it(
    tmp_path: Path, vendor_spec: dict[str, Any]
) -> None:
    db = tmp_path / "oems.db"
    server = start_server(db, "--market-data", "manual")
    desk = Desk(server, vendor_spec, MARGIN)
    try:
        _trade_a_morning(desk)
        _reset(desk)
        assert server.stop(signal.SIGKILL) != 0
        desk.close()
        server = start_server(db, "--market-data", "manual")
        desk = Desk(server, vendor_spec, MARGIN)
        assert desk.orders() == [] and desk.positions() == {}
        accounts = desk.admin.get("/admin/v1/accounts").json()["data"]
        assert [a["id"] for a in accounts] == [MARGIN, CASH, OTHER]
    finally:
        desk.close()
        server.stop()


def test_oems_reset_command(manual_server: ServerProcess) -> None:
    with manual_server.admin() as admin:
        admin.post(
            "/admin/v1/accounts",
            json={"owner": "sandbox", "full_name": "Extra", "subtype": "CASH", "cash": "1"},
        )
    data = answer(oems(manual_server, "reset", "--json"))
    assert [a["id"] for a in data["accounts"]] == [MARGIN, CASH, OTHER]
    data = answer(
        oems(
            manual_server,
            "reset",
            "--keep-accounts",
            "--clock",
            "simulated",
            "--now",
            DAY2,
            "--json",
        )
    )
    assert data["keep_accounts"] is True
    assert data["clock"]["now"].startswith("2025-10-16T14:30:00")
