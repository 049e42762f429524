"""The stream under stress: `kill -9` mid-flow loses and repeats nothing; a slow client is cut off."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.servers import API_KEY, ServerProcess, start_server
from tests.support.stream_client import sequences, stream
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.slow


def _pin(server: ServerProcess, symbol: str, bid: str, ask: str) -> None:
    with server.admin() as admin:
        body = {"bid": bid, "ask": ask, "bid_size": 1_000_000, "ask_size": 1_000_000}
        assert admin.put(f"/admin/v1/quotes/{symbol}", json=body).status_code == 200


def _market(side: str) -> dict[str, str]:
    return {
        "symbol": "AAPL",
        "side": side,
        "quantity": "1",
        "order_type": "MARKET",
        "time_in_force": "DAY",
    }


def test_kill_9_mid_flow_then_resume_from_the_last_sequence_seen(tmp_path: Path) -> None:
    db = tmp_path / "oems.db"
    server = start_server(db, "--market-data", "manual")
    account = server.credentials["accounts"]["margin"]
    _pin(server, "AAPL", "100.00", "100.02")
    stop = threading.Event()

    def trade() -> None:  # orders flow until the server dies
        with httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {API_KEY}"}
        ) as client:
            n = 0
            while not stop.is_set():
                try:
                    client.post(
                        f"/v1/accounts/{account}/orders",
                        json=[_market("BUY" if n % 2 == 0 else "SELL")],
                    )
                except httpx.HTTPError:
                    return
                n += 1

    trader = threading.Thread(target=trade)

    async def before_the_crash() -> list[dict[str, Any]]:
        async with stream(server) as ws:
            await ws.subscribe(account)
            trader.start()
            while len(ws.activity) < 80:
                await ws.next()
            server.process.send_signal(signal.SIGKILL)
            with pytest.raises((ConnectionClosed, TimeoutError)):
                while True:  # whatever was already on its way
                    await ws.next(timeout=10)
            return ws.activity

    try:
        seen = asyncio.run(before_the_crash())
    finally:
        stop.set()
        server.process.wait(30)
        if trader.is_alive():
            trader.join(30)
    assert sequences(seen) == list(range(1, len(seen) + 1))
    assert {m["event"] for m in seen} >= {"order", "execution", "position", "balance"}

    restarted = start_server(db, "--market-data", "manual")
    try:

        async def after_the_restart() -> None:
            async with stream(restarted) as ws:
                latest, missed = await ws.subscribe(account, since=seen[-1]["sequence"])
                resumed = seen + missed
                assert sequences(resumed) == list(range(1, latest + 1)), "a gap or a repeat"
                async with stream(restarted) as again:
                    _, everything = await again.subscribe(account, since=0)
                assert everything == resumed  # what was delivered before the crash is on disk
                with httpx.Client(
                    base_url=restarted.base_url, headers={"Authorization": f"Bearer {API_KEY}"}
                ) as client:
                    response = client.post(f"/v1/accounts/{account}/orders", json=[_market("BUY")])
                    assert response.status_code == 200, response.text
                live = await ws.next()
                assert live["sequence"] == latest + 1

        asyncio.run(after_the_restart())
    finally:
        restarted.stop()


QUEUE = 600  # more than one batch of 100 orders makes (201 messages): the fast client keeps up
MAX_BATCHES = 60  # 7 MB of messages: more than the socket buffers on the way can hold
CUT_OFF = "stream connection closed: slow consumer"


def _resting(count: int, start: int) -> list[dict[str, str]]:
    return [
        {
            "symbol": "AAPL",
            "side": "BUY",
            "quantity": "1",
            "order_type": "LIMIT",
            "limit_price": f"{50 + (start + i) % 40}.00",
            "time_in_force": "DAY",
        }
        for i in range(count)
    ]


def test_a_slow_client_is_cut_off_with_429_and_another_is_not_slowed(tmp_path: Path) -> None:
    server = start_server(tmp_path / "oems.db", "--market-data", "manual", "--ws-queue", str(QUEUE))
    account = server.credentials["accounts"]["margin"]
    _pin(server, "AAPL", "100.00", "100.02")

    async def body() -> None:
        # The slow client reads nothing once subscribed: a small receive buffer, one queued frame.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        async with (
            stream(server, sock=sock, max_queue=1) as slow,
            stream(server) as fast,
        ):
            latest, _ = await slow.subscribe(account)
            await fast.subscribe(account)
            lags = []
            async with httpx.AsyncClient(
                base_url=server.base_url, headers={"Authorization": f"Bearer {API_KEY}"}
            ) as client:
                # Until the slow client's socket buffers are full and its queue overflows.
                for batch in range(MAX_BATCHES):
                    response = await client.post(
                        f"/v1/accounts/{account}/orders", json=_resting(100, batch * 100)
                    )
                    assert response.status_code == 200, response.text
                    answered = time.monotonic()
                    last_id = response.json()["data"][-1]["id"]
                    await fast.until_activity("order", id=last_id, status="NEW")
                    await fast.until_activity("balance")
                    lags.append(time.monotonic() - answered)
                    if CUT_OFF in server.log_path.read_text():
                        break
            assert CUT_OFF in server.log_path.read_text()
            assert sequences(fast.activity) == list(range(1, len(fast.activity) + 1))
            # A fan-out that waited on the slow reader would hold the fast one until the slow
            # one reads (never): seconds of lag on a loaded machine are not that, unbounded are.
            assert max(lags) < 10.0, lags

            # The slow client now reads what was already on its way, then the notice, then the end.
            notice = None
            with pytest.raises(ConnectionClosed):
                while True:
                    message = await slow.next(timeout=20)
                    if message["type"] == "error-notice":
                        notice = message
            assert notice is not None and notice["code"] == 429, notice
            assert "slow consumer" in notice["message"]
            got = slow.activity
            assert len(got) < len(fast.activity)
            assert got == fast.activity[: len(got)]  # in order, nothing skipped before the cut

        # It resumes from its last sequence and loses nothing.
        async with stream(server) as resumed:
            _, missed = await resumed.subscribe(
                account, since=got[-1]["sequence"] if got else latest
            )
            assert got + missed == fast.activity

    try:
        asyncio.run(body())
    finally:
        server.stop()  # a failed assertion must not leave the server running
