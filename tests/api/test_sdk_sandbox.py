"""Sandbox controls a test suite needs, over a socket with the official `clearstreet` SDK: reset
(keeping the keys), scenario rules forcing the venue's answer, and rate limits."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clearstreet import ClearStreet, RateLimitError
from tests.support.cli import answer, oems
from tests.support.servers import API_KEY, CLOCK_START, ServerProcess, start_server
from tests.support.trading_helpers import Desk, desk_on

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
    _rule(desk, action="reject")
    desk.set_faults(reject_next=3)
    data = _reset(desk)
    assert _rules(desk) == []  # scenario rules, faults and pins go with the old sandbox
    assert desk.admin.get("/admin/v1/faults").json()["data"]["reject_next"] == 0
    assert desk.admin.delete("/admin/v1/quotes/AAPL").status_code == 404
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


def _restarted(desk: Desk, sig: int = signal.SIGTERM) -> Desk:
    """Stop the desk's server with `sig`, start it again on its database: a desk on the new one."""
    desk.close()
    desk.server.stop(sig)
    server = start_server(desk.server.db_path, "--market-data", "manual")
    return Desk(server, desk.spec, desk.account_id)


def test_a_reset_survives_a_crash_right_after_it(
    tmp_path: Path, vendor_spec: dict[str, Any]
) -> None:
    desk = Desk(start_server(tmp_path / "oems.db", "--market-data", "manual"), vendor_spec, MARGIN)
    try:
        _trade_a_morning(desk)
        _reset(desk)
        killed = desk.server.process
        desk = _restarted(desk, signal.SIGKILL)
        assert killed.returncode == -signal.SIGKILL
        assert desk.orders() == [] and desk.positions() == {}
        accounts = desk.admin.get("/admin/v1/accounts").json()["data"]
        assert [a["id"] for a in accounts] == [MARGIN, CASH, OTHER]
    finally:
        desk.close()
        desk.server.stop()


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


# ---- scenario rules ------------------------------------------------------------------------


def _rule(desk: Desk, **body: Any) -> dict[str, Any]:
    response = desk.admin.post("/admin/v1/scenarios", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


def _rules(desk: Desk) -> list[dict[str, Any]]:
    response = desk.admin.get("/admin/v1/scenarios")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _executions(desk: Desk, order: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["quantity"], e["price"]) for e in desk.executions(order_ids=[order["id"]])]


def test_scenario_reject_refuses_the_orders_it_matches_only(desk: Desk) -> None:
    _rule(desk, symbol="TSLA", min_quantity="100", action="reject", reason="No TSLA blocks")
    desk.pin("TSLA", "249.99", "250.01")
    desk.pin("AAPL", "199.99", "200.01")
    block = desk.place("block", "TSLA BUY 100 MARKET DAY")
    small = desk.place("small", "TSLA BUY 99 MARKET DAY")
    other = desk.place("other", "AAPL BUY 100 MARKET DAY")
    desk.settle()
    rejected = desk.order(block["id"])
    assert rejected["status"] == "REJECTED"
    assert "No TSLA blocks" in rejected["details"]
    assert desk.order(small["id"])["status"] == "FILLED"
    assert desk.order(other["id"])["status"] == "FILLED"
    assert _rules(desk)[0]["matched"] == 1


def test_scenario_fill_fraction_fills_part_then_cancels_the_rest(desk: Desk) -> None:
    _rule(desk, client_id_prefix="half-", action="fill_fraction", fraction="0.5")
    desk.pin("AAPL", "199.99", "200.01", ask_size=100)
    half = desk.place("half-1", "AAPL BUY 301 LIMIT DAY", limit_price="201.00")
    desk.settle()
    done = desk.order(half["id"])
    assert (done["status"], done["filled_quantity"]) == ("CANCELED", "150")
    assert _executions(desk, half) == [("150", "200.01")]
    whole = desk.place("whole-1", "AAPL BUY 100 MARKET DAY")  # no match: the usual fill
    desk.settle()
    assert desk.order(whole["id"])["status"] == "FILLED"


def test_scenario_fill_at_price_for_the_next_match_only(desk: Desk) -> None:
    rule = _rule(desk, symbol="MSFT", action="fill_at_price", price="123.45", times=1)
    assert rule["remaining"] == 1
    desk.pin("MSFT", "499.99", "500.01")
    forced = desk.place("forced", "MSFT BUY 10 MARKET DAY")
    desk.settle()
    assert desk.order(forced["id"])["status"] == "FILLED"
    assert _executions(desk, forced) == [("10", "123.45")]
    assert _rules(desk) == []  # used up
    usual = desk.place("usual", "MSFT BUY 10 MARKET DAY")
    desk.settle()
    assert _executions(desk, usual) == [("10", "500.01")]


@pytest.mark.parametrize(
    ("rule", "before"),
    [
        ({"action": "delay_ack", "delay_ms": 5000}, "PENDING_NEW"),  # not even acknowledged
        ({"order_type": "MARKET", "action": "delay_fill", "delay_ms": 5000}, "NEW"),
    ],
)
def test_scenario_delays_hold_the_order_for_a_market_time_span(
    desk: Desk, rule: dict[str, Any], before: str
) -> None:
    _rule(desk, **rule)
    desk.pin("AAPL", "199.99", "200.01")
    late = desk.place("late", "AAPL BUY 1 MARKET DAY")
    desk.settle()
    assert desk.order(late["id"])["status"] == before
    desk.advance(4.999)
    assert desk.order(late["id"])["status"] == before
    desk.advance(0.001)
    assert desk.order(late["id"])["status"] == "FILLED"


def test_scenario_refuse_cancel_keeps_the_order_working(desk: Desk) -> None:
    _rule(desk, action="refuse_cancel", reason="Too late to cancel", times=1)
    desk.pin("AAPL", "199.99", "200.01")
    resting = desk.place("resting", "AAPL BUY 5 LIMIT DAY", limit_price="190.00")
    desk.settle()
    assert desk.cancel(resting["id"])["status"] == "PENDING_CANCEL"
    desk.settle()
    working = desk.order(resting["id"])
    assert working["status"] == "NEW"
    assert "Cancel rejected: Too late to cancel" in working["details"]
    desk.pin("AAPL", "189.99", "190.00")  # it still works: the ask reaches its limit
    assert desk.order(resting["id"])["status"] == "FILLED"


def test_scenario_refuse_replace_leaves_the_order_unchanged(desk: Desk) -> None:
    _rule(desk, action="refuse_replace")
    desk.pin("AAPL", "199.99", "200.01")
    resting = desk.place("resting", "AAPL BUY 5 LIMIT DAY", limit_price="190.00")
    desk.settle()
    desk.replace(resting["id"], limit_price="195.00")
    desk.settle()
    unchanged = desk.order(resting["id"])
    assert (unchanged["status"], unchanged["limit_price"]) == ("NEW", "190.00")
    assert "Replace rejected: Refused by scenario rule 1" in unchanged["details"]
    assert desk.cancel(resting["id"])["status"] == "PENDING_CANCEL"  # cancels still go through
    desk.settle()
    assert desk.order(resting["id"])["status"] == "CANCELED"


def test_scenario_expire_ends_matching_orders_at_once(desk: Desk) -> None:
    _rule(desk, account_id=MARGIN, side="BUY", action="expire")
    desk.pin("AAPL", "199.99", "200.01")
    gone = desk.place("gone", "AAPL BUY 1 LIMIT GOOD_TILL_CANCEL", limit_price="150.00")
    desk.settle()
    expired = desk.order(gone["id"])
    assert expired["status"] == "EXPIRED"
    assert "Expired by scenario rule 1" in expired["details"]
    elsewhere = desk.for_account(CASH)
    try:
        kept = elsewhere.place("kept", "AAPL BUY 1 LIMIT GOOD_TILL_CANCEL", limit_price="150.00")
        desk.settle()
        assert elsewhere.order(kept["id"])["status"] == "NEW"
    finally:
        elsewhere.close()


def test_scenario_rules_are_journaled_and_survive_a_restart(
    tmp_path: Path, vendor_spec: dict[str, Any]
) -> None:
    desk = Desk(start_server(tmp_path / "oems.db", "--market-data", "manual"), vendor_spec, MARGIN)
    try:
        _rule(desk, symbol="AAPL", action="reject", times=2)
        desk.pin("AAPL", "199.99", "200.01")
        desk.place("first", "AAPL BUY 1 MARKET DAY")
        desk.settle()
        desk = _restarted(desk)
        (rule,) = _rules(desk)
        assert (rule["remaining"], rule["matched"]) == (1, 1)
        second = desk.place("second", "AAPL BUY 1 MARKET DAY")
        desk.settle()
        assert desk.order(second["id"])["status"] == "REJECTED"
        assert _rules(desk) == []
    finally:
        desk.close()
        desk.server.stop()


def test_scenario_bodies_are_checked_and_a_refused_one_adds_nothing(desk: Desk) -> None:
    for body, status in (
        ({"action": "explode"}, 400),
        ({"action": "fill_fraction"}, 400),
        ({"action": "fill_fraction", "fraction": "1.5"}, 400),
        ({"action": "fill_at_price", "price": "-1"}, 400),
        ({"action": "reject", "price": "10"}, 400),
        ({"action": "delay_ack", "delay_ms": 0}, 400),
        ({"action": "reject", "times": 0}, 400),
        ({"action": "reject", "side": "UP"}, 400),
        ({"action": "reject", "min_quantity": "5", "max_quantity": "1"}, 400),
        ({"action": "reject", "symbol": "NOSUCH"}, 404),
        ({"action": "reject", "account_id": 999}, 404),
        ({"action": "reject", "fraction": "abc"}, 422),
        ({"action": "reject", "colour": "red"}, 422),
    ):
        response = desk.admin.post("/admin/v1/scenarios", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["code"] == status
    assert _rules(desk) == []
    assert desk.admin.delete("/admin/v1/scenarios/7").status_code == 404


def test_oems_scenarios_add_list_clear(manual_server: ServerProcess) -> None:
    added = answer(
        oems(
            manual_server,
            "scenarios",
            "add",
            "reject",
            "--symbol",
            "TSLA",
            "--reason",
            "x",
            "--json",
        )
    )
    assert (added["id"], added["symbol"], added["reason"]) == (1, "TSLA", "x")
    listed = answer(oems(manual_server, "scenarios", "list", "--json"))
    assert [rule["id"] for rule in listed] == [1]
    answer(oems(manual_server, "scenarios", "add", "expire", "--json"))
    removed = answer(oems(manual_server, "scenarios", "remove", "2", "--json"))
    assert removed["action"] == "expire"
    cleared = answer(oems(manual_server, "scenarios", "clear", "--json"))
    assert [rule["id"] for rule in cleared] == [1]
    assert answer(oems(manual_server, "scenarios", "list", "--json")) == []
    bad = oems(manual_server, "scenarios", "add", "fill_fraction", "--fraction", "2")
    assert bad.returncode == 1 and "fraction" in bad.stderr


# ---- rate limits ---------------------------------------------------------------------------


def test_rate_limit_answers_429_in_the_envelope_with_rate_limit_headers(
    tmp_path: Path, vendor_spec: dict[str, Any]
) -> None:
    server = start_server(tmp_path / "oems.db", "--market-data", "manual", "--rate-limit", "3/m")
    sdk = ClearStreet(api_key=API_KEY, base_url=server.base_url, max_retries=0)
    try:
        for remaining in ("2", "1", "0"):
            raw = sdk.v1.accounts.with_raw_response.get_accounts()
            assert raw.status_code == 200
            assert raw.headers["X-RateLimit-Limit"] == "3"
            assert raw.headers["X-RateLimit-Remaining"] == remaining
            assert 0 < int(raw.headers["X-RateLimit-Reset"]) <= 60
        with pytest.raises(RateLimitError) as refused:
            sdk.v1.accounts.get_accounts()
        response = refused.value.response
        assert response.status_code == 429
        body = response.json()
        assert body["error"]["code"] == 429
        assert "3 per minute" in body["error"]["message"]
        assert body["metadata"]["request_id"] == response.headers["X-Request-Id"]
        assert 1 <= int(response.headers["Retry-After"]) <= 20  # one token comes back in 20 s
        assert response.headers["X-RateLimit-Remaining"] == "0"
        # The admin surface is not limited, and every user key has a bucket of its own.
        with server.admin() as admin:
            issued = admin.post("/admin/v1/api-keys", json={"user": "sandbox"})
            assert issued.status_code == 201, issued.text
            assert "X-RateLimit-Limit" not in issued.headers
        other = ClearStreet(api_key=issued.json()["data"]["api_key"], base_url=server.base_url)
        try:
            assert len(other.v1.accounts.get_accounts().data) == 2
        finally:
            other.close()
    finally:
        sdk.close()
        server.stop()


def test_without_a_rate_limit_answers_carry_no_rate_limit_headers(desk: Desk) -> None:
    for _ in range(20):
        raw = desk.sdk.v1.accounts.with_raw_response.get_accounts()
        assert raw.status_code == 200
        assert "X-RateLimit-Limit" not in raw.headers


def test_reset_to_the_wall_clock_when_the_journal_ran_ahead_of_it(desk: Desk) -> None:
    ahead = "2027-03-01T15:00:00Z"
    desk.advance_to("2026-10-01T15:00:00Z")  # a clock moves at most a year at a time
    desk.advance_to(ahead)
    data = _reset(desk, clock={"mode": "wall"})
    assert data["clock"]["mode"] == "wall"
    assert data["clock"]["now"] < ahead
    assert desk.orders() == []
