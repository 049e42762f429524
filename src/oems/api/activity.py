"""What the server logs about its activity: one line per request, per order event and per fill.

Requests (logger `oems.access`, info): time, request id, key id (never the key), account, method,
route template, status and latency; a refused authentication is a warning. Trading events
(logger `oems.trading`, info) are logged once their batch is durable, so the log never shows a
change a crash could still lose. Each line reads on its own as text; the same facts are record
attributes, which `--log-format json` prints as fields.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oems.domain import events as ev

if TYPE_CHECKING:
    from oems.domain.state import TradingState
    from oems.runtime import Runtime

access_log = logging.getLogger("oems.access")
trading_log = logging.getLogger("oems.trading")

# Order events by the word the log uses for them; fills are logged apart, with price and size.
_ORDER_EVENTS: dict[type, str] = {
    ev.OrderAccepted: "accepted",
    ev.OrderAcknowledged: "acknowledged",
    ev.OrderReleased: "released",
    ev.OrderTriggered: "triggered",
    ev.OrderCancelRequested: "cancel requested",
    ev.OrderCanceled: "canceled",
    ev.OrderReplaceRequested: "replace requested",
    ev.OrderReplaced: "replaced",
    ev.OrderExpired: "expired",
    ev.OrderRejected: "rejected",
}


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
    route = scope.get("route")
    template = getattr(route, "path", None) or scope.get("path", "")
    account = scope.get("path_params", {}).get("account_id")
    status = int(answer["status"])
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
    elif access_log.isEnabledFor(logging.INFO):
        access_log.info("%s", text, extra=fields)


def _key_id(scope: Scope) -> str | None:
    """The id of the live key the request presented (the secret itself is never kept)."""
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


def log_trading_events(state: TradingState, events: list[ev.Event]) -> None:
    """Log each order event and fill of a durable batch at info (`oems.trading`)."""
    if not trading_log.isEnabledFor(logging.INFO):
        return
    for event in events:
        if isinstance(event, ev.OrderFilled | ev.StrategyFilled):
            _log_fill(state, event)
        else:
            word = _ORDER_EVENTS.get(type(event))
            if word is not None:
                _log_order_event(state, event, word)


def _order_facts(state: TradingState, order_id: Any) -> dict[str, Any]:
    order = state.orders.get(order_id)
    if order is None:
        return {"order_id": str(order_id)}
    return {
        "order_id": str(order_id),
        "account_id": order.account_id,
        "symbol": order.symbol,
        "side": order.side,
        "order_type": order.order_type,
        "quantity": str(order.quantity),
    }


def _log_order_event(state: TradingState, event: Any, word: str) -> None:
    facts = _order_facts(state, event.order_id)
    reason = getattr(event, "reason", None)
    text = (
        f"order {word}: {facts.get('side', '')} {facts.get('symbol') or 'strategy'} "
        f"{facts.get('order_type', '')} quantity={facts.get('quantity', '-')} "
        f"account={facts.get('account_id', '-')} order={facts['order_id']}"
    )
    if reason:
        text += f" reason={reason!r}"
        facts["reason"] = reason
    trading_log.info("%s", text, extra={"event": f"order {word}", **facts})


def _log_fill(state: TradingState, event: ev.OrderFilled | ev.StrategyFilled) -> None:
    facts = _order_facts(state, event.order_id)
    if isinstance(event, ev.OrderFilled):
        price, execution = str(event.price), str(event.execution_id)
    else:
        price = ",".join(str(p) for p in event.prices)
        execution = ",".join(str(e) for e in event.execution_ids)
    facts.update(fill_quantity=str(event.quantity), price=price, execution_id=execution)
    trading_log.info(
        "fill: %s %s quantity=%s price=%s account=%s order=%s execution=%s",
        facts.get("side", ""),
        facts.get("symbol") or "strategy",
        event.quantity,
        price,
        facts.get("account_id", "-"),
        facts["order_id"],
        execution,
        extra={"event": "fill", **facts},
    )
