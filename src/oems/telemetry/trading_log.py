"""The trading log: one line per order event and per fill (logger `oems.trading`, info).

Trading events are logged once their batch is durable, so the log never shows a change a crash
could still lose. Each line reads on its own as text; the same facts are record attributes, which
`--log-format json` prints as fields.
"""

from __future__ import annotations

import logging
from typing import Any

from oems.domain import events as ev
from oems.domain.state import TradingState

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
        "symbol": order.instrument.symbol,
        "side": order.terms.side,
        "order_type": order.terms.order_type,
        "quantity": str(order.terms.quantity),
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
