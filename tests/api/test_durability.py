"""Acknowledged changes survive `kill -9`; a restart replays the journal to the same state."""

from __future__ import annotations

import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from tests.support.servers import ADMIN_KEY, start_server

pytestmark = pytest.mark.slow


def test_kill_9_during_cash_burst_loses_no_acknowledged_movement(tmp_path: Path) -> None:
    db = tmp_path / "oems.db"
    server = start_server(db)
    account = server.credentials["accounts"]["cash"]
    with server.client() as client:
        initial = Decimal(
            client.get(f"/v1/accounts/{account}/balances").json()["data"]["trade_cash"]
        )

    acknowledged: list[Decimal] = []
    attempted: list[Decimal] = []
    lock = threading.Lock()
    enough = threading.Event()
    killed = threading.Event()
    admin = httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        limits=httpx.Limits(max_connections=8),
    )

    def deposit(n: int) -> None:
        if killed.is_set():
            return
        amount = Decimal(n) / 100 + 1
        with lock:
            attempted.append(amount)
        try:
            response = admin.post(
                f"/admin/v1/accounts/{account}/cash", json={"amount": str(amount)}
            )
        except httpx.HTTPError:
            return
        if response.status_code == 200:
            with lock:
                acknowledged.append(amount)
                if len(acknowledged) >= 150:
                    enough.set()

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(deposit, n) for n in range(1, 2001)]
        assert enough.wait(120), "the server acknowledged too few deposits"
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(30)
        killed.set()
        for future in futures:
            future.result()
    admin.close()

    assert 150 <= len(acknowledged) < len(attempted)
    restarted = start_server(db)
    try:
        with restarted.client() as client:
            trade_cash = Decimal(
                client.get(f"/v1/accounts/{account}/balances").json()["data"]["trade_cash"]
            )
        delta = trade_cash - initial
        unacknowledged = sum(attempted, Decimal(0)) - sum(acknowledged, Decimal(0))
        assert delta >= sum(acknowledged), "an acknowledged deposit was lost"
        assert delta <= sum(acknowledged) + unacknowledged
    finally:
        restarted.stop()


def test_restart_replays_to_identical_state(tmp_path: Path) -> None:
    db = tmp_path / "oems.db"
    server = start_server(db)
    account = server.credentials["accounts"]["margin"]
    with server.admin() as admin:
        admin.post(
            f"/admin/v1/accounts/{account}/cash", json={"amount": "-1234.56"}
        ).raise_for_status()
        admin.post(
            "/admin/v1/clock/advance", json={"to": "2025-10-20T15:00:00Z"}
        ).raise_for_status()
        admin.put(
            "/admin/v1/quotes/AAPL", json={"bid": "200.00", "ask": "200.02", "last": "200.01"}
        ).raise_for_status()
    with server.client() as client:
        client.patch(
            f"/v1/accounts/{account}", json={"risk": {"max_notional": "250000"}}
        ).raise_for_status()
        paths = [
            "/v1/accounts",
            f"/v1/accounts/{account}",
            f"/v1/accounts/{account}/balances",
            f"/v1/accounts/{account}/portfolio-history?start_date=2025-10-01",
            "/v1/clock",
            "/v1/market-data/snapshot?instrument_ids=AAPL",
        ]
        before = {p: client.get(p).json()["data"] for p in paths}
    assert server.stop() == 0
    restarted = start_server(db)
    try:
        with restarted.client() as client:
            after = {p: client.get(p).json()["data"] for p in paths}
    finally:
        restarted.stop()
    assert after == before
    assert before["/v1/clock"]["clock"].startswith("2025-10-20T15:00:00")


def test_kill_9_during_order_burst_keeps_every_acknowledged_order_and_trigger(
    tmp_path: Path,
) -> None:
    db = tmp_path / "oems.db"
    server = start_server(db, "--market-data", "manual")
    account = server.credentials["accounts"]["margin"]
    orders_path = f"/v1/accounts/{account}/orders"
    with server.admin() as admin, server.client() as client:
        admin.put("/admin/v1/quotes/AAPL", json={"bid": "200.00", "ask": "200.02"})
        bought = client.post(
            orders_path,
            json=[
                {
                    "symbol": "AAPL",
                    "side": "BUY",
                    "quantity": "50",
                    "order_type": "MARKET",
                    "time_in_force": "DAY",
                }
            ],
        )
        assert bought.status_code == 200
        admin.post("/admin/v1/clock/advance", json={"seconds": 0}).raise_for_status()
        stop = client.post(
            orders_path,
            json=[
                {
                    "symbol": "AAPL",
                    "side": "SELL",
                    "quantity": "50",
                    "order_type": "STOP",
                    "stop_price": "190.00",
                    "time_in_force": "GOOD_TILL_CANCEL",
                    "id": "guard",
                }
            ],
        )
        assert stop.status_code == 200

    acknowledged: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()
    killed = threading.Event()
    client = server.client()

    def submit(n: int) -> None:
        if killed.is_set():
            return
        body = [
            {
                "symbol": "MSFT",
                "side": "BUY",
                "quantity": "1",
                "order_type": "LIMIT",
                "limit_price": "1.00",
                "time_in_force": "GOOD_TILL_CANCEL",
                "id": f"burst-{n}",
            }
        ]
        try:
            response = client.post(orders_path, json=body)
        except httpx.HTTPError:
            return
        if response.status_code == 200:
            with lock:
                acknowledged.append(response.json()["data"][0]["id"])
                if len(acknowledged) >= 150:
                    enough.set()

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(submit, n) for n in range(2000)]
        assert enough.wait(120), "the server acknowledged too few orders"
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(30)
        killed.set()
        for future in futures:
            future.result()
    client.close()

    restarted = start_server(db, "--market-data", "manual")
    try:
        with restarted.client() as after, restarted.admin() as admin:
            for order_id in acknowledged:
                found = after.get(f"{orders_path}/{order_id}")
                assert found.status_code == 200, f"acknowledged order {order_id} was lost"
                assert found.json()["data"]["status"] in ("PENDING_NEW", "NEW")
            # The resting stop survived: quoting through it fills it.
            admin.put("/admin/v1/quotes/AAPL", json={"bid": "189.00", "ask": "189.05"})
            admin.post("/admin/v1/clock/advance", json={"seconds": 0}).raise_for_status()
            guard = after.get(f"{orders_path}/{stop.json()['data'][0]['id']}").json()["data"]
            assert guard["status"] == "FILLED"
            assert guard["average_fill_price"] == "189.00"
    finally:
        restarted.stop()
