"""`oems watch` against a real server: a market order's messages live, and a resume after kill -9."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest
from tests.support.servers import ServerProcess, start_server

pytestmark = pytest.mark.slow
WAIT_S = 30.0


class Lines:
    """The lines a process writes to one of its pipes, as they come."""

    def __init__(self, pipe: IO[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(pipe,), daemon=True).start()

    def _read(self, pipe: IO[str]) -> None:
        for line in pipe:
            self._lines.put(line.rstrip("\n"))

    def until(self, text: str) -> list[str]:
        """The lines up to and including the first that contains `text`."""
        seen = []
        while True:
            line = self._lines.get(timeout=WAIT_S)
            seen.append(line)
            if text in line:
                return seen


@contextmanager
def watching(server: ServerProcess, *args: str) -> Iterator[tuple[Lines, Lines]]:
    command = [sys.executable, "-m", "oems.cli.main", "watch", "--db", str(server.db_path), *args]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        yield Lines(process.stdout), Lines(process.stderr)
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=WAIT_S) == 130


def _buy(server: ServerProcess, account: int, quantity: str) -> str:
    order = {
        "symbol": "AAPL",
        "side": "BUY",
        "quantity": quantity,
        "order_type": "MARKET",
        "time_in_force": "DAY",
    }
    with server.client() as client:
        response = client.post(f"/v1/accounts/{account}/orders", json=[order])
        assert response.status_code == 200, response.text
        return str(response.json()["data"][0]["id"])


def _pin(server: ServerProcess) -> None:
    with server.admin() as admin:
        body = {"bid": "200.00", "ask": "200.04", "bid_size": 500, "ask_size": 500}
        assert admin.put("/admin/v1/quotes/AAPL", json=body).status_code == 200


def test_watch_shows_a_market_orders_messages_live(tmp_path: Path) -> None:
    server = start_server(tmp_path / "oems.db", "--market-data", "manual")
    account = server.credentials["accounts"]["margin"]
    _pin(server)
    try:
        with watching(server, "--account", str(account), "--quotes", "AAPL") as (out, err):
            err.until("is live from sequence")
            assert "quote      AAPL bid 200.00 x 500  ask 200.04 x 500" in out.until("quote")
            order_id = _buy(server, account, "5")
            lines = out.until("balance")
            kinds = [line.split()[3] for line in lines]
            assert kinds == ["order", "order", "execution", "order", "position", "balance"], lines
            assert "PENDING_NEW" in lines[0] and order_id in lines[0]
            assert "execution  BUY 5 AAPL @ 200.04" in lines[2]
            assert "FILLED" in lines[3] and "filled 5 @ 200.04" in lines[3]
            assert "position   AAPL 5 avg 200.0400" in lines[4]
            sequences = [int(line.split()[1].lstrip("#")) for line in lines]
            assert sequences == list(range(sequences[0], sequences[0] + 6))
    finally:
        server.stop()


def test_watch_resumes_by_sequence_after_the_server_is_killed(tmp_path: Path) -> None:
    db = tmp_path / "oems.db"
    server = start_server(db, "--market-data", "manual")
    account = server.credentials["accounts"]["margin"]
    _pin(server)
    restarted = None
    try:
        with watching(server, "--account", str(account), "--json") as (out, _):
            out.until('"replay-complete"')
            _buy(server, account, "1")
            before = out.until('"balance"')
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(WAIT_S)
            restarted = start_server(db, "--market-data", "manual", port=server.port)
            after = out.until('"replay-complete"')
            _buy(restarted, account, "2")
            after += out.until('"balance"')
        messages = [json.loads(line) for line in before + after]
        activity = [m["sequence"] for m in messages if m["type"] == "activity"]
        assert activity == list(range(activity[0], activity[0] + len(activity))), activity
        fills = [m["data"]["quantity"] for m in messages if m.get("event") == "execution"]
        assert fills == ["1", "2"]
    finally:
        server.stop()
        if restarted is not None:
            restarted.stop()
