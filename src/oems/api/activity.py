"""The access log: one line per HTTP request (order events and fills: `oems.telemetry.trading_log`).

Requests (logger `oems.access`, info): time, request id, key id (never the key), account, method,
route template, status and latency; a refused authentication is a warning. Each line reads on its
own as text; the same facts are record attributes, which `--log-format json` prints as fields.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oems.api.wire import KEY_ID_SCOPE

if TYPE_CHECKING:
    from oems.runtime import Runtime

access_log = logging.getLogger("oems.access")


class AccessLog:
    """ASGI middleware: one `oems.access` line per HTTP request once it is answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, then log what was answered and how long it took."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer: dict[str, Any] = {"status": 500, "request_id": None}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                for name, value in message.get("headers", ()):
                    if name == b"x-request-id":
                        answer["request_id"] = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            _log_request(scope, answer, time.perf_counter() - started)


def _log_request(scope: Scope, answer: dict[str, Any], seconds: float) -> None:
    status = int(answer["status"])
    if status != 401 and not access_log.isEnabledFor(logging.INFO):
        return  # nothing to write: spare every request the line it would not log
    route = scope.get("route")
    template = getattr(route, "path", None) or scope.get("path", "")
    account = scope.get("path_params", {}).get("account_id")
    key_id = _key_id(scope)
    fields = {
        "request_id": answer["request_id"],
        "key_id": key_id,
        "account_id": account,
        "method": scope["method"],
        "route": template,
        "status": status,
        "latency_ms": round(seconds * 1000, 3),
    }
    text = (
        f"{scope['method']} {template} {status} {fields['latency_ms']:.1f}ms "
        f"request_id={answer['request_id']} key={key_id or '-'} account={account or '-'}"
    )
    if status == 401:
        client = scope.get("client")
        fields["client"] = f"{client[0]}:{client[1]}" if client else None
        access_log.warning(
            "authentication failed: %s client=%s", text, fields["client"], extra=fields
        )
    else:
        access_log.info("%s", text, extra=fields)


def _key_id(scope: Scope) -> str | None:
    """The id of the live key the request presented (the secret itself is never kept)."""
    if KEY_ID_SCOPE in scope:  # the endpoint authenticated it: no second lookup
        return str(scope[KEY_ID_SCOPE])
    runtime: Runtime | None = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
    if runtime is None:
        return None
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and secret.strip():
                key = runtime.find_key(secret.strip())
                return str(key.id) if key is not None else None
    return None
