"""What one request may weigh: its body, URL and header fields, each refused in the envelope.

- Body: at most BODY_LIMIT bytes (REPLAY_BODY_LIMIT for the admin market data replay). A declared
  `Content-Length` over the limit is answered 413 before anything is read; a body sent without
  one is counted as it arrives and refused as soon as it passes the limit (`BodyLimit`).
- URL and header fields: at most URL_LIMIT and HEADERS_LIMIT bytes, answered 414 and 431, and a
  request the HTTP parser refuses is a 400, all in the envelope (`LimitedHttpToolsProtocol`,
  uvicorn's httptools protocol with those checks: on its own it takes headers of any size and
  answers a plain-text 400 to a URL over 64 KiB).
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from oems.api.errors import HeadersTooLarge, PayloadTooLarge, UriTooLong
from oems.api.wire import error_response, new_request_id
from oems.domain.errors import InvalidRequest, OemsError

log = logging.getLogger("oems.api")

# 1,000 orders (the most one request may submit) take 0.2 to 0.5 MB as single-leg orders and
# up to 1.3 MB as pretty-printed four-leg strategies; 2 MiB is also axum's default body limit.
BODY_LIMIT = 2 * 1024 * 1024
# 10,000 replay rows (the most one request may load) take about 2 MB.
REPLAY_BODY_LIMIT = 8 * 1024 * 1024
REPLAY_PATH = "/admin/v1/market-data/replay"
URL_LIMIT = 16 * 1024
HEADERS_LIMIT = 32 * 1024
# After a refusal, how long the rest of the request is read and dropped before the connection
# closes: closing on unread bytes resets it, and the client could lose the answer.
LINGER_SECONDS = 2.0


def _headers_too_large() -> HeadersTooLarge:
    return HeadersTooLarge(f"The request's header fields are larger than {HEADERS_LIMIT} bytes")


def body_limit(path: str) -> int:
    """The most bytes a request body to `path` may hold."""
    return REPLAY_BODY_LIMIT if path == REPLAY_PATH else BODY_LIMIT


def _too_large(limit: int) -> PayloadTooLarge:
    # axum's words, which the vendor's other body errors come from, and the limit.
    return PayloadTooLarge(
        f"Failed to buffer the request body: length limit exceeded (at most {limit} bytes)"
    )


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """ASGI middleware refusing a request body over `body_limit` with a 413 in the envelope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await error_response(_too_large(limit), new_request_id())(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                # Raised into the handler reading the body: the endpoint answers it as a 413.
                raise _too_large(limit)
            return message

        await self.app(scope, counted, send)


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing over-long URLs and header fields in the envelope.

    The request head is counted as it arrives, so a client cannot make the server hold more than
    URL_LIMIT + HEADERS_LIMIT bytes (and one read) of it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._header_bytes = 0
        self._refusal: OemsError | None = None
        self._discarding = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > URL_LIMIT:
            self._refusal = UriTooLong(f"The request URL is longer than {URL_LIMIT} bytes")
            raise self._refusal

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # One header still arriving is held by the parser, unseen by `on_header`: count bytes.
        if self._in_head and self._head_bytes > URL_LIMIT + HEADERS_LIMIT and not self._refusal:
            self._refuse(_headers_too_large())

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._header_bytes += len(name) + len(value) + 4  # `name: value\r\n`
        if self._header_bytes > HEADERS_LIMIT:
            self._refusal = _headers_too_large()
            raise self._refusal

    def send_400_response(self, msg: str) -> None:
        """Called by uvicorn when the parser refuses the request: answer in the envelope."""
        self._refuse(self._refusal or InvalidRequest(msg.rstrip(".")))

    def _refuse(self, error: OemsError) -> None:
        if self.transport.is_closing():
            return
        log.warning("refused a request before routing: %s", error.message)
        response = error_response(error, new_request_id())
        content = [STATUS_LINE[error.code]]
        for name, value in [*self.server_state.default_headers, *response.raw_headers]:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend([b"connection: close\r\n\r\n", bytes(response.body)])
        self.transport.write(b"".join(content))
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._discarding = True
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
