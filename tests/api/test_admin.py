"""The sandbox administration surface, keys and grants, health and metrics."""

from __future__ import annotations

import os
import stat

import httpx
from tests.support.contract import assert_error
from tests.support.servers import ServerProcess


def test_credentials_file_is_owner_only_and_uses_given_keys(server: ServerProcess) -> None:
    path = server.db_path.with_name(server.db_path.name + ".credentials.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    credentials = server.credentials
    assert credentials["api_key"].startswith("oems_test_user")
    assert set(credentials["accounts"]) == {"margin", "cash", "other_user_account"}


def test_secrets_are_not_stored_in_the_database(server: ServerProcess) -> None:
    raw = (
        server.db_path.read_bytes()
        + server.db_path.with_name(server.db_path.name + "-wal").read_bytes()
    )
    assert server.credentials["api_key"].encode() not in raw
    assert server.credentials["admin_key"].encode() not in raw


def test_new_account_new_key_grants_exactly_its_accounts(
    server: ServerProcess, admin: httpx.Client
) -> None:
    created = admin.post(
        "/admin/v1/accounts",
        json={
            "full_name": "Quant Desk",
            "subtype": "CASH",
            "options_level": 1,
            "cash": "2500.50",
            "owner": "quant",
        },
    )
    assert created.status_code == 201, created.text
    account = created.json()["data"]
    assert (account["subtype"], account["cash"]) == ("CASH", "2500.50")
    other = admin.post(
        "/admin/v1/accounts",
        json={"full_name": "Quant Two", "subtype": "MARGIN", "owner": "quant", "cash": "1"},
    ).json()["data"]
    issued = admin.post(
        "/admin/v1/api-keys", json={"user": "quant", "account_ids": [account["id"]]}
    )
    assert issued.status_code == 201
    key = issued.json()["data"]
    with server.client(key["api_key"]) as quant:
        listed = quant.get("/v1/accounts").json()["data"]
        assert [a["id"] for a in listed] == [account["id"]]
        assert (
            quant.get(f"/v1/accounts/{account['id']}/balances").json()["data"]["trade_cash"]
            == "2500.50"
        )
        assert_error(quant.get(f"/v1/accounts/{other['id']}"), 403)
        revoked = admin.delete(f"/admin/v1/api-keys/{key['id']}")
        assert revoked.json()["data"]["revoked"] is True
        assert_error(quant.get("/v1/accounts"), 401)
    assert "api_key" not in revoked.json()["data"]


def test_key_without_account_list_reaches_all_of_its_users_accounts(
    server: ServerProcess, admin: httpx.Client
) -> None:
    key = admin.post("/admin/v1/api-keys", json={"user": "sandbox"}).json()["data"]["api_key"]
    with server.client(key) as sandbox:
        ids = {a["id"] for a in sandbox.get("/v1/accounts").json()["data"]}
    assert ids == {server.credentials["accounts"]["margin"], server.credentials["accounts"]["cash"]}


def test_expired_key_is_refused(server: ServerProcess, admin: httpx.Client) -> None:
    error = admin.post(
        "/admin/v1/api-keys", json={"user": "sandbox", "expires_at": "2020-01-01T00:00:00Z"}
    )
    assert_error(error, 400)
    key = admin.post(
        "/admin/v1/api-keys", json={"user": "sandbox", "expires_at": "2099-01-01T00:00:00Z"}
    )
    assert key.json()["data"]["expires_at"].startswith("2099-01-01T00:00:00.000000000Z")


def test_cash_movements(
    admin: httpx.Client, client: httpx.Client, accounts: dict[str, int]
) -> None:
    account = accounts["cash"]
    before = client.get(f"/v1/accounts/{account}/balances").json()["data"]["trade_cash"]
    moved = admin.post(f"/admin/v1/accounts/{account}/cash", json={"amount": "0.10"}).json()["data"]
    assert moved["amount"] == "0.10"
    admin.post(f"/admin/v1/accounts/{account}/cash", json={"amount": "-0.10"}).raise_for_status()
    assert client.get(f"/v1/accounts/{account}/balances").json()["data"]["trade_cash"] == before
    assert_error(admin.post("/admin/v1/accounts/999999/cash", json={"amount": "1"}), 404)


def test_quote_pin_and_release(admin: httpx.Client, client: httpx.Client) -> None:
    pinned = admin.put(
        "/admin/v1/quotes/MSFT", json={"bid": "401.10", "ask": "401.20", "last": "401.15"}
    )
    assert pinned.status_code == 200, pinned.text
    snap = client.get("/v1/market-data/snapshot", params={"instrument_ids": "MSFT"}).json()["data"][
        0
    ]
    assert (snap["last_quote"]["bid"], snap["last_quote"]["ask"], snap["last_trade"]["price"]) == (
        "401.10",
        "401.20",
        "401.15",
    )
    assert admin.delete("/admin/v1/quotes/MSFT").status_code == 200
    released = client.get("/v1/market-data/snapshot", params={"instrument_ids": "MSFT"}).json()[
        "data"
    ][0]
    assert released["last_quote"]["bid"] != "401.10"
    assert_error(admin.delete("/admin/v1/quotes/MSFT"), 404)
    assert_error(admin.put("/admin/v1/quotes/NOPE", json={"bid": "1"}), 404)
    assert_error(admin.put("/admin/v1/quotes/MSFT", json={"bid": "5", "ask": "4"}), 400)


def test_clock_admin_moves_simulated_time_and_runs_due_days(fresh_server: ServerProcess) -> None:
    with fresh_server.admin() as admin, fresh_server.client() as client:
        clock = admin.get("/admin/v1/clock").json()["data"]
        assert (clock["mode"], clock["speed"], clock["session"]) == ("simulated", 0.0, "regular")
        moved = admin.post("/admin/v1/clock/advance", json={"seconds": 3600}).json()["data"]
        assert moved["now"] == "2025-10-15T15:30:00.000000000Z"
        admin.post(
            "/admin/v1/clock/advance", json={"to": "2025-10-18T12:00:00Z"}
        ).raise_for_status()
        hours = client.get("/v1/calendars/market-hours", params={"market": "us_equities"}).json()[
            "data"
        ][0]
        assert hours["status"] == {"current_session": None, "day_type": "WEEKEND", "is_open": False}
        margin = fresh_server.credentials["accounts"]["margin"]
        history = client.get(
            f"/v1/accounts/{margin}/portfolio-history", params={"start_date": "2025-10-01"}
        )
        assert [s["date"] for s in history.json()["data"]["segments"]] == [
            "2025-10-15",
            "2025-10-16",
            "2025-10-17",
        ]
        assert_error(
            admin.post("/admin/v1/clock/advance", json={"to": "2025-10-01T00:00:00Z"}), 400
        )
        assert_error(admin.post("/admin/v1/clock/advance", json={}), 400)
        reset = admin.post(
            "/admin/v1/clock", json={"mode": "simulated", "now": "2025-11-28T16:00:00Z", "speed": 0}
        )
        assert reset.json()["data"]["session"] == "regular"
        early = client.get("/v1/calendars/market-hours", params={"market": "us_equities"}).json()[
            "data"
        ][0]
        assert early["status"]["day_type"] == "EARLY_CLOSE"
        assert early["today_sessions"]["regular"]["close"] == "2025-11-28T13:00:00-05:00"
        assert early["today_sessions"]["regular"]["time_until_close"] == "PT2H"


def test_health_and_metrics(server: ServerProcess, client: httpx.Client) -> None:
    client.get("/v1/version")
    with server.client(None) as anonymous:
        assert anonymous.get("/healthz").json()["data"]["status"] == "ok"
        metrics = anonymous.get("/metrics").text
    assert 'oems_http_requests_total{method="GET",route="/v1/version",status="200"}' in metrics
    assert "oems_journal_batch_events_count" in metrics
