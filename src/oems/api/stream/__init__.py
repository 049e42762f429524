"""`GET /v1/ws`: account activity and level 1 quotes over a WebSocket, sequenced and resumable."""

from __future__ import annotations

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from oems.api.stream.connection import serve_connection
from oems.api.stream.service import StreamService

__all__ = ["StreamService", "routes"]


async def _websocket(websocket: WebSocket) -> None:
    await serve_connection(websocket.app.state.stream, websocket)


routes = [WebSocketRoute("/v1/ws", _websocket)]
