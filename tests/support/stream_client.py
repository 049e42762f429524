"""A `/v1/ws` client for the tests: a real WebSocket (the `websockets` library) over a real socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.support.servers import API_KEY, ServerProcess
from websockets.asyncio.client import ClientConnection, connect

WAIT_S = 20.0  # how long a test waits for a message the server owes it (it normally takes ms)


def ws_url(server: ServerProcess) -> str:
    """The stream's URL on `server`."""
    return server.base_url.replace("http://", "ws://") + "/v1/ws"


class StreamClient:
    """One connection; `next` returns the next message, heartbeats skipped unless asked for."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.activity: list[dict[str, Any]] = []  # every activity message received, in order

    async def send(self, **message: Any) -> None:
        """Send one JSON message."""
        await self.ws.send(json.dumps(message))

    async def next(self, heartbeats: bool = False, timeout: float = WAIT_S) -> dict[str, Any]:
        """The next message the server sends (TimeoutError when none comes in `timeout`)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            raw = await asyncio.wait_for(self.ws.recv(), max(left, 0))
            message: dict[str, Any] = json.loads(raw)
            if message["type"] == "heartbeat" and not heartbeats:
                continue
            if message["type"] == "activity":
                self.activity.append(message)
            return message

    async def expect(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The next message, asserted to be of `kind` with these fields."""
        message = await self.next()
        assert message["type"] == kind, message
        for name, value in fields.items():
            assert message[name] == value, message
        return message

    async def subscribe(
        self, account_id: int, since: int | None = None
    ) -> tuple[int, list[dict[str, Any]]]:
        """Subscribe to an account; returns the ack's sequence and the replayed messages."""
        body: dict[str, Any] = {"account_id": account_id}
        if since is not None:
            body["since_sequence"] = since
        await self.send(type="subscribe-activity", **body)
        ack = await self.expect("subscribe-activity-ack", account_id=account_id)
        replayed = []
        while True:
            message = await self.next()
            if message["type"] == "replay-complete":
                assert message["account_id"] == account_id
                return ack["sequence"], replayed
            assert message["type"] == "activity", message
            replayed.append(message)

    async def activities(self, count: int) -> list[dict[str, Any]]:
        """The next `count` activity messages (anything else in between is a failure)."""
        out = []
        while len(out) < count:
            message = await self.next()
            assert message["type"] == "activity", message
            out.append(message)
        return out

    async def until_activity(self, event: str, **data: Any) -> list[dict[str, Any]]:
        """Activity messages up to and including the first `event` whose data has these values."""
        out = []
        while True:
            message = await self.next()
            assert message["type"] == "activity", message
            out.append(message)
            if message["event"] == event and all(message["data"][k] == v for k, v in data.items()):
                return out


def stream(server: ServerProcess, key: str | None = API_KEY, **options: Any) -> Any:
    """An async context manager connecting to `server`'s stream (`key` None: no header)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return _Connect(ws_url(server), headers, options)


class _Connect:
    def __init__(self, url: str, headers: dict[str, str], options: dict[str, Any]) -> None:
        self._connect = connect(url, additional_headers=headers, open_timeout=WAIT_S, **options)

    async def __aenter__(self) -> StreamClient:
        return StreamClient(await self._connect.__aenter__())

    async def __aexit__(self, *exc: Any) -> None:
        await self._connect.__aexit__(*exc)


def sequences(messages: list[dict[str, Any]]) -> list[int]:
    """The sequences of activity messages."""
    return [m["sequence"] for m in messages]
