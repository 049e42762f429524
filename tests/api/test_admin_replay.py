"""The admin surface's account list and market data replay, over HTTP."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.contract import assert_error
from tests.support.servers import ServerProcess, start_server

REPLAY = "/admin/v1/market-data/replay"


def test_admin_lists_every_account_in_id_order(server: ServerProcess, admin: httpx.Client) -> None:
    created = admin.post(
        "/admin/v1/accounts",
        json={
            "full_name": "Listed",
            "subtype": "CASH",
            "owner": "lister",
            "options_level": 1,
            "cash": "12.5",
        },
    )
    assert created.status_code == 201, created.text
    listed = admin.get("/admin/v1/accounts")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["error"] is None and body["metadata"]["request_id"]
    accounts = body["data"]
    ids = [account["id"] for account in accounts]
    assert ids == sorted(ids)
    by_id = {account["id"]: account for account in accounts}
    new = by_id[created.json()["data"]["id"]]
    assert new == {
        "id": new["id"],
        "owner": "lister",
        "full_name": "Listed",
        "subtype": "CASH",
        "status": "ACTIVE",
        "options_level": 1,
        "trade_cash": "12.50",
        "settled_cash": "12.50",
    }
    sandbox = server.credentials["accounts"]
    assert by_id[sandbox["margin"]]["owner"] == by_id[sandbox["cash"]]["owner"] == "sandbox"
    assert by_id[sandbox["margin"]]["subtype"] == "MARGIN"
    assert by_id[sandbox["other_user_account"]]["owner"] != "sandbox"
    with server.client() as user:
        assert_error(user.get("/admin/v1/accounts"), 403)


def replay_row(ts: str, symbol: str = "AAPL", **fields: Any) -> dict[str, Any]:
    return {
        "ts": ts,
        "symbol": symbol,
        **{
            name: fields.get(name)
            for name in ("bid", "ask", "bid_size", "ask_size", "last", "last_size")
        },
    }


def test_bad_rows_are_refused_and_nothing_is_loaded(
    server: ServerProcess, admin: httpx.Client, client: httpx.Client
) -> None:
    def aapl() -> dict[str, Any]:
        response = client.get("/v1/market-data/snapshot", params={"instrument_ids": "AAPL"})
        return dict(response.json()["data"][0])

    before = aapl()
    now = "2025-10-15T14:30:00Z"
    good = replay_row(now, bid="1.00", ask="1.02", bid_size=100, ask_size=100)
    cases: list[tuple[list[dict[str, Any]], int, str]] = [
        ([good, replay_row(now, bid="abc")], 422, "rows[1].bid: invalid bid `abc`"),
        ([good, replay_row("noon", last="1.01")], 422, "rows[1].ts: invalid timestamp `noon`"),
        ([good, replay_row(now, ask="0")], 422, "rows[1].ask: ask must be positive"),
        ([good, replay_row(now, bid_size=-1)], 422, "rows[1].bid_size: bid_size must not"),
        ([good, replay_row(now, last_size=5)], 422, "rows[1].last_size: last_size given"),
        ([good, {**good, "bid_size": 1.5}], 422, "rows[1].bid_size"),
        ([good, {**good, "extra": 1}], 422, "unknown field `extra`"),
        ([good, {**good, "bid": 1.5}], 422, "rows[1].bid"),
        (
            [good, replay_row(now, "NOPE"), replay_row(now, "ZZZZ")],
            400,
            "Instrument not found: NOPE (rows[1].symbol), ZZZZ (rows[2].symbol)",
        ),
        ([good, replay_row(now, bid="1.05")], 400, "rows[1].bid: crossed quote"),
        ([], 400, "at least one row"),
    ]
    for rows, status, message in cases:
        refused = admin.post(REPLAY, json={"rows": rows})
        assert_error(refused, status)
        assert message in refused.json()["error"]["message"], (message, refused.text)
    assert_error(admin.post(REPLAY, content=b'{"rows": [}'), 400)
    with server.client() as user:
        assert_error(user.post(REPLAY, json={"rows": [good]}), 403)
    assert aapl()["last_quote"] == before["last_quote"]
    assert not server.db_path.with_name(server.db_path.name + ".replay.csv").exists()


ROWS = [
    replay_row(
        "2025-10-15T14:30:00Z",
        bid="210.10",
        ask="210.14",
        bid_size=300,
        ask_size=200,
        last="210.12",
        last_size=100,
    ),
    replay_row(
        "2025-10-15T14:31:00Z", "SPY", bid="600.00", ask="600.02", bid_size=100, ask_size=100
    ),
    replay_row("2025-10-15T14:35:00Z", last="210.50", last_size=50),
]


def snapshots(client: httpx.Client) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/market-data/snapshot", params={"instrument_ids": "AAPL,SPY"})
    assert response.status_code == 200, response.text
    return {snap["symbol"]: snap for snap in response.json()["data"]}


def advance(admin: httpx.Client, to: str) -> None:
    moved = admin.post("/admin/v1/clock/advance", json={"to": to})
    assert moved.status_code == 200, moved.text


def order_status(client: httpx.Client, account: int, order_id: str) -> dict[str, Any]:
    listed = client.get(f"/v1/accounts/{account}/orders", params={"page_size": 1000})
    assert listed.status_code == 200, listed.text
    return next(o for o in listed.json()["data"] if o["id"] == order_id)


@pytest.mark.slow
def test_replayed_rows_follow_the_clock_fill_orders_and_survive_a_restart(
    tmp_path: Path,
) -> None:
    db = tmp_path / "oems.db"
    proc = start_server(db)
    try:
        with proc.admin() as admin, proc.client() as client:
            spy_before = snapshots(client)["SPY"]["last_quote"]
            loaded = admin.post(REPLAY, json={"rows": ROWS[:2]})
            assert loaded.status_code == 200, loaded.text
            assert loaded.json()["data"] == {"rows": 2, "symbols": ["AAPL", "SPY"]}
            assert admin.post(REPLAY, json={"rows": ROWS[2:]}).json()["data"]["rows"] == 1
            # 14:30: AAPL's first row is in force; SPY's starts at 14:31, the source before it.
            now = snapshots(client)
            assert (now["AAPL"]["last_quote"]["bid"], now["AAPL"]["last_quote"]["ask"]) == (
                "210.10",
                "210.14",
            )
            assert now["AAPL"]["last_trade"] == {"price": "210.12", "size": 100}
            assert now["SPY"]["last_quote"] == spy_before
            advance(admin, "2025-10-15T14:31:00Z")
            spy = snapshots(client)["SPY"]["last_quote"]
            assert (spy["bid"], spy["ask"], spy["bid_size"]) == ("600.00", "600.02", 100)
            advance(admin, "2025-10-15T14:35:00Z")
            aapl = snapshots(client)["AAPL"]
            assert aapl["last_trade"] == {"price": "210.50", "size": 50}
            assert aapl["last_quote"]["bid"] == "210.10"  # a trade-only row keeps the quote
            assert aapl["cumulative_volume"] == 150

            # A resting buy fills as soon as a loaded row offers through its limit.
            account = proc.credentials["accounts"]["margin"]
            submitted = client.post(
                f"/v1/accounts/{account}/orders",
                json=[
                    {
                        "symbol": "AAPL",
                        "side": "BUY",
                        "quantity": "10",
                        "order_type": "LIMIT",
                        "limit_price": "209.50",
                        "time_in_force": "DAY",
                    }
                ],
            )
            assert submitted.status_code == 200, submitted.text
            order_id = submitted.json()["data"][0]["id"]
            advance(admin, "2025-10-15T14:35:00Z")
            assert order_status(client, account, order_id)["status"] == "NEW"
            cheaper = replay_row(
                "2025-10-15T14:35:00Z", bid="208.98", ask="209.00", bid_size=500, ask_size=500
            )
            assert admin.post(REPLAY, json={"rows": [cheaper]}).status_code == 200
            filled = order_status(client, account, order_id)
            assert filled["status"] == "FILLED"
            assert Decimal(filled["average_fill_price"]) <= Decimal("209.50")
        assert proc.stop() == 0

        kept = db.with_name("oems.db.replay.csv").read_text().splitlines()
        assert kept[0] == "ts,symbol,bid,ask,bid_size,ask_size,last,last_size"
        assert kept[1] == "2025-10-15T14:30:00.000000000Z,AAPL,210.10,210.14,300,200,210.12,100"
        assert len(kept) == 5

        proc = start_server(db)
        with proc.admin() as admin, proc.client() as client:
            clock = admin.get("/admin/v1/clock").json()["data"]
            assert clock["now"] == "2025-10-15T14:35:00.000000000Z"
            after = snapshots(client)
            assert (after["AAPL"]["last_quote"]["ask"], after["SPY"]["last_quote"]["ask"]) == (
                "209.00",
                "600.02",
            )
            assert after["AAPL"]["last_trade"] == {"price": "210.50", "size": 50}
            # Rows loaded after the restart merge with the kept ones.
            later = replay_row("2025-10-15T14:36:00Z", last="209.01", last_size=10)
            assert admin.post(REPLAY, json={"rows": [later]}).status_code == 200
            advance(admin, "2025-10-15T14:36:00Z")
            aapl = snapshots(client)["AAPL"]
            assert aapl["last_trade"] == {"price": "209.01", "size": 10}
            assert aapl["last_quote"]["ask"] == "209.00"
    finally:
        if proc.process.poll() is None:
            proc.stop()
