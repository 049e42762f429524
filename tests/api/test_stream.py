"""`/v1/ws` over a real socket with a real WebSocket client: activity, quotes, replay, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.servers import ADMIN_KEY, ServerProcess, start_server
from tests.support.stream_client import sequences, stream
from websockets.exceptions import ConnectionClosed

from oems.engine.sandbox import SANDBOX_USER

pytestmark = pytest.mark.slow

AUTH_TIMEOUT_S = 0.5


@pytest.fixture(scope="module")
def manual(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with manual quotes, a frozen simulated clock and a short authorization timeout."""
    proc = start_server(
        tmp_path_factory.mktemp("stream") / "oems.db",
        "--market-data",
        "manual",
        "--ws-auth-timeout",
        str(AUTH_TIMEOUT_S),
    )
    yield proc
    proc.stop()


def pin(server: ServerProcess, symbol: str, bid: str, ask: str, **more: Any) -> None:
    with server.admin() as admin:
        response = admin.put(f"/admin/v1/quotes/{symbol}", json={"bid": bid, "ask": ask, **more})
        assert response.status_code == 200, response.text


def rest(server: ServerProcess, method: str, path: str, **kwargs: Any) -> Any:
    with server.client() as client:
        response = client.request(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()["data"]


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_an_orders_lifecycle_arrives_in_order_and_equals_what_rest_returns(
    manual: ServerProcess,
) -> None:
    account = manual.credentials["accounts"]["margin"]
    pin(manual, "MSFT", "400.00", "400.10", bid_size=100, ask_size=100)

    async def body() -> None:
        async with stream(manual) as ws:
            latest, _ = await ws.subscribe(account)
            order = rest(
                manual,
                "POST",
                f"/v1/accounts/{account}/orders",
                json=[
                    {
                        "symbol": "MSFT",
                        "side": "BUY",
                        "quantity": "10",
                        "order_type": "LIMIT",
                        "limit_price": "399.00",
                        "time_in_force": "DAY",
                    }
                ],
            )[0]
            order_id = order["id"]
            accepted = await ws.until_activity("order", id=order_id, status="NEW")
            rest(
                manual,
                "PATCH",
                f"/v1/accounts/{account}/orders/{order_id}",
                json={"limit_price": "399.50"},
            )
            replaced = await ws.until_activity("order", id=order_id, limit_price="399.50")
            pin(manual, "MSFT", "399.30", "399.40", bid_size=100, ask_size=100)
            filled = await ws.until_activity("order", id=order_id, status="FILLED")
            filled += await ws.activities(2)
            messages = accepted + replaced + filled
            assert sequences(messages) == list(range(latest + 1, latest + 1 + len(messages)))
            assert {m["account_id"] for m in messages} == {account}

            orders = [m["data"] for m in messages if m["event"] == "order"]
            statuses = [o["status"] for o in orders]
            assert statuses[0] == "PENDING_NEW" and statuses[1] == "NEW"
            assert "PENDING_REPLACE" in statuses and statuses[-1] == "FILLED"
            assert orders[0] == order  # what the POST answered is the first message
            kinds = [m["event"] for m in filled]
            assert kinds[-4:] == ["execution", "order", "position", "balance"], kinds

            execution, final, position, balance = (m["data"] for m in filled[-4:])
            assert final == rest(manual, "GET", f"/v1/accounts/{account}/orders/{order_id}")
            executions = rest(
                manual, "GET", f"/v1/accounts/{account}/executions", params={"order_ids": order_id}
            )
            assert [execution] == executions
            assert (
                execution["quantity"] == "10" and execution["price"] == final["average_fill_price"]
            )
            positions = rest(
                manual,
                "GET",
                f"/v1/accounts/{account}/positions",
                params={"instrument_ids": "MSFT"},
            )
            assert [position] == positions
            assert balance == rest(manual, "GET", f"/v1/accounts/{account}/balances")

    run(body())


def test_quotes_arrive_at_once_and_after_a_pin_equal_to_the_snapshot(manual: ServerProcess) -> None:
    pin(manual, "AAPL", "200.00", "200.10")

    async def body() -> None:
        async with stream(manual) as ws:
            await ws.send(type="market-data-l1-subscribe", symbols=["AAPL", "NOSUCHSYMBOL"])
            refusal = await ws.expect("error-notice", code=404)
            assert "NOSUCHSYMBOL" in refusal["message"]
            await ws.expect("market-data-l1-subscribe-ack", symbols=["AAPL"])
            first = await ws.expect("market-data-l1")
            assert first["data"]["last_quote"]["bid"] == "200.00"
            pin(manual, "AAPL", "201.00", "201.20", bid_size=300, ask_size=400)
            moved = await ws.expect("market-data-l1")
            snapshot = rest(
                manual, "GET", "/v1/market-data/snapshot", params={"instrument_ids": "AAPL"}
            )
            assert [moved["data"]] == snapshot
            assert moved["data"]["last_quote"] == {
                "ask": "201.20",
                "ask_size": 400,
                "bid": "201.00",
                "bid_size": 300,
                "midpoint": "201.10",
            }
            await ws.send(type="market-data-l1-unsubscribe", symbols=["AAPL"])
            await ws.expect("market-data-l1-unsubscribe-ack", symbols=["AAPL"])
            pin(manual, "AAPL", "202.00", "202.20")
            await ws.send(type="market-data-l1-subscribe", symbols=["SPY"])
            # Nothing of AAPL comes any more: the next messages are SPY's.
            await ws.expect("market-data-l1-subscribe-ack", symbols=["SPY"])
            assert (await ws.expect("market-data-l1"))["data"]["symbol"] == "SPY"

    run(body())


def test_a_moving_clock_sends_each_symbol_once_per_sample(tmp_path: Path) -> None:
    server = start_server(tmp_path / "oems.db")  # synthetic quotes on a frozen clock
    try:

        async def body() -> None:
            async with stream(server) as ws:
                await ws.send(type="market-data-l1-subscribe", symbols=["AAPL", "MSFT"])
                await ws.expect("market-data-l1-subscribe-ack", symbols=["AAPL", "MSFT"])
                await ws.expect("market-data-l1")
                await ws.expect("market-data-l1")
                with server.admin() as admin:
                    assert (
                        admin.post("/admin/v1/clock/advance", json={"seconds": 60}).status_code
                        == 200
                    )
                moved = [await ws.expect("market-data-l1"), await ws.expect("market-data-l1")]
                assert sorted(m["data"]["symbol"] for m in moved) == ["AAPL", "MSFT"]
                snapshots = rest(
                    server,
                    "GET",
                    "/v1/market-data/snapshot",
                    params={"instrument_ids": "AAPL,MSFT"},
                )
                assert sorted((m["data"] for m in moved), key=lambda d: d["symbol"]) == snapshots
                with pytest.raises(TimeoutError):  # the clock stands still: no more
                    await ws.next(timeout=0.6)

        run(body())
    finally:
        server.stop()


def test_replay_from_a_sequence_and_from_the_start_of_the_day(tmp_path: Path) -> None:
    server = start_server(tmp_path / "oems.db", "--market-data", "manual")
    account = server.credentials["accounts"]["margin"]
    pin(server, "AAPL", "100.00", "100.10")
    try:

        async def body() -> None:
            async with stream(server) as live:
                start, before = await live.subscribe(account)
                assert sequences(before) == list(range(1, start + 1))  # the day so far
                for quantity in ("1", "2", "3"):
                    rest(
                        server,
                        "POST",
                        f"/v1/accounts/{account}/orders",
                        json=[_market("AAPL", quantity)],
                    )
                    await live.until_activity("balance")
                seen = live.activity
                latest = seen[-1]["sequence"]
                assert sequences(seen) == list(range(1, latest + 1))

                async with stream(server) as late:
                    ack, replayed = await late.subscribe(account, since=start + 2)
                    assert ack == latest
                    assert replayed == [m for m in seen if m["sequence"] > start + 2]
                async with stream(server) as whole:
                    _, replayed = await whole.subscribe(account)
                    assert replayed == seen
                async with stream(server) as ahead:
                    await ahead.send(
                        type="subscribe-activity", account_id=account, since_sequence=latest + 5
                    )
                    refusal = await ahead.expect("error-notice", code=400)
                    assert "beyond the latest sequence" in refusal["message"]

                # The next trading day: a replay without since_sequence starts at its beginning.
                with server.admin() as admin:
                    moved = admin.post(
                        "/admin/v1/clock/advance", json={"to": "2025-10-16T14:00:00Z"}
                    )
                    assert moved.status_code == 200, moved.text
                await live.until_activity("balance")
                async with stream(server) as today:
                    ack, replayed = await today.subscribe(account)
                    assert replayed, "the day's start changed the balance"
                    assert replayed[0]["sequence"] > latest
                    assert all(m["timestamp"] >= "2025-10-16T08:00:00" for m in replayed)
                    assert sequences(replayed) == list(range(replayed[0]["sequence"], ack + 1))

        run(body())
    finally:
        server.stop()


def _market(symbol: str, quantity: str, side: str = "BUY") -> dict[str, str]:
    return {
        "symbol": symbol,
        "side": side,
        "quantity": quantity,
        "order_type": "MARKET",
        "time_in_force": "DAY",
    }


def test_a_foreign_account_is_refused_and_the_connection_stays_open(manual: ServerProcess) -> None:
    accounts = manual.credentials["accounts"]

    async def body() -> None:
        async with stream(manual) as ws:
            for account in (accounts["other_user_account"], 999999):
                await ws.send(type="subscribe-activity", account_id=account)
                refusal = await ws.expect("error-notice", code=403, account_id=account)
                with manual.client() as client:
                    assert (
                        refusal["message"]
                        == client.get(f"/v1/accounts/{account}/balances").json()["error"]["message"]
                    )
            await ws.send(type="subscribe-activity", account_id=accounts["cash"])
            await ws.expect("subscribe-activity-ack", account_id=accounts["cash"])

    run(body())


def test_without_a_valid_key_the_connection_gets_401_and_closes(manual: ServerProcess) -> None:
    async def body() -> None:
        async with stream(manual, key=None) as ws:  # says nothing: the timeout closes it
            await ws.send(
                type="subscribe-activity", account_id=manual.credentials["accounts"]["cash"]
            )
            early = await ws.expect("error-notice", code=401)
            assert "authorize" in early["message"]
            timed_out = await ws.expect("error-notice", code=401)
            assert f"within {AUTH_TIMEOUT_S:g} s" in timed_out["message"]
            with pytest.raises(ConnectionClosed) as closed:
                await ws.next()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        async with stream(manual, key="oems_not_a_key_0123456789abcdef") as ws:
            await ws.expect("error-notice", code=401, message="Missing or invalid bearer token")
            with pytest.raises(ConnectionClosed):
                await ws.next()
        async with stream(manual, key=None) as ws:  # a browser: the key in the first message
            await ws.send(type="authorize", authorization="oems_test_user_key_0123456789abcdef")
            account = manual.credentials["accounts"]["cash"]
            await ws.send(type="subscribe-activity", account_id=account)
            await ws.expect("subscribe-activity-ack", account_id=account)

    run(body())


def test_malformed_messages_get_400_naming_the_problem_and_the_connection_stays(
    manual: ServerProcess,
) -> None:
    cases = {
        "not json": "not JSON",
        "[1, 2]": "Expected `object`",
        '{"type": "subscribe"}': "type is one of",
        '{"type": "subscribe-activity"}': "`account_id`",
        '{"type": "subscribe-activity", "account_id": "x"}': "$.account_id",
        '{"type": "subscribe-activity", "account_id": 1, "since_sequence": -1}': "$.since_sequence",
        '{"type": "market-data-l1-subscribe", "symbols": []}': "$.symbols",
        '{"type": "market-data-l1-subscribe", "symbols": ["AAPL"], "x": 1}': "unknown field `x`",
    }

    async def body() -> None:
        async with stream(manual) as ws:
            for text, named in cases.items():
                await ws.ws.send(text)
                refusal = await ws.expect("error-notice", code=400)
                assert named in refusal["message"], (text, refusal)
            await ws.ws.send(b"\x00binary")
            assert "text frames" in (await ws.expect("error-notice", code=400))["message"]
            await ws.send(type="market-data-l1-subscribe", symbols=["SPY"])
            await ws.expect("market-data-l1-subscribe-ack")

    run(body())


def test_an_admin_key_reads_no_account(manual: ServerProcess) -> None:
    async def body() -> None:
        async with stream(manual, key=ADMIN_KEY) as ws:
            account = manual.credentials["accounts"]["cash"]
            await ws.send(type="subscribe-activity", account_id=account)
            await ws.expect("error-notice", code=403)

    run(body())


def test_a_heartbeat_comes_after_a_silence(tmp_path: Path) -> None:
    server = start_server(tmp_path / "oems.db", "--ws-heartbeat", "0.2")
    try:

        async def body() -> None:
            async with stream(server) as ws:
                beat = await ws.next(heartbeats=True, timeout=5)
                assert beat == {"type": "heartbeat", "timestamp": "2025-10-15T14:30:00.000000000Z"}

        run(body())
    finally:
        server.stop()


def test_a_revoked_key_is_closed_with_401(manual: ServerProcess) -> None:
    with manual.admin() as admin:
        created = admin.post("/admin/v1/api-keys", json={"user": SANDBOX_USER})
        assert created.status_code == 201, created.text
        key = created.json()["data"]

    async def body() -> None:
        async with stream(manual, key=key["api_key"]) as ws:
            await ws.send(type="market-data-l1-subscribe", symbols=["SPY"])
            await ws.expect("market-data-l1-subscribe-ack")
            await ws.expect("market-data-l1")
            with httpx.Client(
                base_url=manual.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
            ) as admin:
                assert admin.delete(f"/admin/v1/api-keys/{key['id']}").status_code == 200
            await ws.expect("error-notice", code=401)

    run(body())
