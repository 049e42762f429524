"""The contract's `Order` and `Execution` bodies, rendered for every endpoint that answers them
(orders, executions, closing positions)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oems.domain.decimals import plain, price
from oems.domain.orders import Order
from oems.domain.positions import Execution
from oems.domain.timefmt import format_ns


def render_order(order: Order) -> dict[str, Any]:
    """The contract's `Order`: every field the document defines, null where it does not apply
    (`details` an empty list), so strictly typed clients find each one."""
    terms = order.terms
    strategy = order.legs is not None
    # Built in one literal, in the document's order: this runs for every answer and message.
    out: dict[str, Any] = {
        "account_id": order.account_id,
        "average_fill_price": _price(order.average_fill_price),
        "created_at": format_ns(order.created_ns),
        "filled_quantity": plain(order.filled_quantity),
        "id": str(order.id),
        "instrument_id": None if strategy else str(order.instrument.instrument_id),
        "instrument_type": None if strategy else order.instrument.instrument_type,
        "leaves_quantity": plain(order.leaves_quantity),
        "limit_price": _price(terms.limit_price),
        "order_type": terms.order_type,
        "quantity": plain(terms.quantity),
        "side": terms.side,
        "status": order.status,
        "stop_price": _price(terms.stop_price),
        "symbol": None if strategy else order.instrument.symbol,
        "time_in_force": terms.time_in_force,
        "updated_at": format_ns(order.updated_ns),
        "venue": order.instrument.venue,
        "client_order_id": order.client_order_id,
    }
    if order.legs is not None:
        out["legs"] = [
            {
                "instrument_id": str(leg.instrument_id),
                "symbol": leg.symbol,
                "instrument_type": leg.instrument_type,
                "side": leg.side,
                "ratio": str(leg.ratio),
                "quantity": plain(terms.quantity * leg.ratio),
                "filled_quantity": plain(leg.filled_quantity),
                "average_fill_price": _price(leg.average_price),
                **({"id": leg.client_leg_id} if leg.client_leg_id else {}),
                **({"position_effect": leg.position_effect} if leg.position_effect else {}),
            }
            for leg in order.legs
        ]
    out["details"] = list(order.details)
    out["expires_at"] = None if terms.expires_ns is None else format_ns(terms.expires_ns)
    out["extended_hours"] = terms.extended_hours
    out["limit_offset"] = _price(terms.limit_offset)
    out["queue_state"] = order.queue_state
    out["releases_at"] = None if order.releases_ns is None else format_ns(order.releases_ns)
    out["trailing_offset"] = _price(terms.trailing_offset)
    out["trailing_offset_type"] = terms.trailing_offset_type
    out["trailing_stop_px"] = _price(order.trailing_stop_px)
    out["trailing_limit_px"] = _price(order.trailing_limit_px)
    out["trailing_watermark_px"] = _price(order.trailing_watermark_px)
    out["trailing_watermark_ts"] = (
        None if order.trailing_watermark_ns is None else format_ns(order.trailing_watermark_ns)
    )
    underlier = order.instrument.underlying_instrument_id
    out["underlying_instrument_id"] = None if underlier is None else str(underlier)
    return out


def _price(value: Decimal | None) -> str | None:
    return price(value) if value is not None else None


def render_execution(execution: Execution) -> dict[str, Any]:
    """The contract's `Execution`."""
    return {
        "id": str(execution.id),
        "instrument_id": str(execution.instrument_id),
        "order_id": str(execution.order_id),
        "price": price(execution.price),
        "quantity": plain(execution.quantity),
        "side": execution.side,
        "symbol": execution.symbol,
        "transaction_time": format_ns(execution.ts_ns),
        "underlying_instrument_id": str(execution.underlying_instrument_id)
        if execution.underlying_instrument_id is not None
        else None,
        "venue": execution.venue,
    }
