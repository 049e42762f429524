"""Closed orders and executions read from the history store over HTTP: right after they close,
paged across the boundary between open and closed orders, and the same after `kill -9`."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.servers import start_server

pytestmark = pytest.mark.slow


def _order(side: str, quantity: str, kind: str = "MARKET", **extra: str) -> dict[str, str]:
    return {
        "symbol": "AAPL",
        "side": side,
        "quantity": quantity,
        "order_type": kind,
        "time_in_force": "DAY" if kind == "MARKET" else "GOOD_TILL_CANCEL",
        **extra,
    }


def _walk(client: httpx.Client, path: str, size: int, **params: str) -> list[dict[str, Any]]:
    """Every item of a list, page after page by `next_page_token` (the filters sent again with
    each token, as they must be); then back to the first page by `previous_page_token`."""
    body = client.get(path, params={"page_size": size, **params}).json()
    pages = [body]
    while body["metadata"]["next_page_token"]:
        token = body["metadata"]["next_page_token"]
        body = client.get(path, params={"page_token": token, **params}).json()
        pages.append(body)
    total = pages[0]["metadata"]["total_items"]
    assert [p["metadata"]["page_number"] for p in pages] == list(range(1, len(pages) + 1))
    assert all(p["metadata"]["total_items"] == total for p in pages)
    back = body
    for expected in reversed(pages[:-1]):
        token = back["metadata"]["previous_page_token"]
        back = client.get(path, params={"page_token": token, **params}).json()
        assert back["data"] == expected["data"]
    assert back["metadata"]["previous_page_token"] is None
    items = [item for page in pages for item in page["data"]]
    assert len(items) == total
    return items


def _everything(client: httpx.Client, account: int, closed: list[str]) -> dict[str, Any]:
    base = f"/v1/accounts/{account}"
    return {
        "orders": client.get(f"{base}/orders").json()["data"],
        "executions": client.get(f"{base}/executions").json()["data"],
        "closed": [client.get(f"{base}/orders/{order_id}").json()["data"] for order_id in closed],
        "canceled": client.get(f"{base}/orders", params={"status": "CANCELED"}).json(),
    }


def test_closed_orders_read_from_the_history_across_pages_and_a_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "oems.db"
    server = start_server(db, "--market-data", "manual")
    account = server.credentials["accounts"]["margin"]
    orders = f"/v1/accounts/{account}/orders"
    closed: list[str] = []
    with server.admin() as admin, server.client() as client:
        admin.put("/admin/v1/quotes/AAPL", json={"bid": "200.00", "ask": "200.02"})
        for n in range(9):  # open and closed orders interleaved in time
            if n % 3 == 0:
                body = client.post(orders, json=[_order("BUY", "2", id=f"filled-{n}")]).json()
                order_id = body["data"][0]["id"]
                # Right after its answer: closed, read from the history by id, in lists, fills.
                now = client.get(f"{orders}/{order_id}").json()["data"]
                assert now["status"] == "FILLED", now
                listed = client.get(orders, params={"order_ids": f"filled-{n}"}).json()["data"]
                assert [o["id"] for o in listed] == [order_id]
                fills = client.get(
                    f"/v1/accounts/{account}/executions", params={"order_ids": f"filled-{n}"}
                ).json()["data"]
                assert [f["order_id"] for f in fills] == [order_id]
                closed.append(order_id)
            else:
                limit = _order("BUY", "1", "LIMIT", limit_price=f"1{n}.00", id=f"rest-{n}")
                order_id = client.post(orders, json=[limit]).json()["data"][0]["id"]
                if n % 3 == 2:
                    client.delete(f"{orders}/{order_id}").raise_for_status()
                    now = client.get(f"{orders}/{order_id}").json()["data"]
                    assert now["status"] == "CANCELED", now
                    closed.append(order_id)
        # A closed order keeps its client order id taken, and takes no cancel or replace.
        again = client.post(orders, json=[_order("BUY", "1", id="filled-0")])
        assert again.status_code == 409
        assert client.delete(f"{orders}/{closed[0]}").status_code == 400
        replace = client.patch(f"{orders}/{closed[0]}", json={"quantity": "3"})
        assert replace.status_code == 400 and "FILLED" in replace.json()["error"]["message"]
        # By client order id only while open, as before.
        assert client.get(f"{orders}/filled-0").status_code == 404
        assert client.get(f"{orders}/rest-1").json()["data"]["status"] == "NEW"

        everything = client.get(orders).json()["data"]
        statuses = [o["status"] for o in everything]
        assert statuses.count("NEW") == 3 and len(everything) == 9
        assert [o["id"] for o in _walk(client, orders, 2)] == [o["id"] for o in everything]
        assert [o["id"] for o in _walk(client, orders, 4, side="BUY")] == [
            o["id"] for o in everything
        ]
        assert everything == sorted(everything, key=lambda o: o["id"], reverse=True)
        fills = _walk(client, f"/v1/accounts/{account}/executions", 2)
        assert len(fills) == 3
        before = _everything(client, account, closed)
    assert before["canceled"]["metadata"]["total_items"] == 3

    server.process.send_signal(signal.SIGKILL)
    server.process.wait(30)
    restarted = start_server(db, "--market-data", "manual")
    try:
        with restarted.client() as client:
            after = _everything(client, account, closed)
    finally:
        restarted.stop()
    for kind in ("orders", "executions", "closed"):
        assert after[kind] == before[kind], kind
    assert after["canceled"]["data"] == before["canceled"]["data"]
