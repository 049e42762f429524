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
    average = order.average_fill_price
    out: dict[str, Any] = {
        "account_id": order.account_id,
        "average_fill_price": _price(average),
        "created_at": format_ns(order.created_ns),
        "filled_quantity": plain(order.filled_quantity),
        "id": str(order.id),
        "instrument_id": str(order.instrument_id),
        "instrument_type": order.instrument_type,
        "leaves_quantity": plain(order.leaves_quantity),
        "limit_price": _price(order.terms.limit_price),
        "order_type": order.terms.order_type,
        "quantity": plain(order.terms.quantity),
        "side": order.terms.side,
        "status": order.status,
        "stop_price": _price(order.terms.stop_price),
        "symbol": order.symbol,
        "time_in_force": order.terms.time_in_force,
        "updated_at": format_ns(order.updated_ns),
        "venue": order.venue,
    }
    out["client_order_id"] = order.client_order_id
    if order.legs is not None:
        out["instrument_id"] = None
        out["instrument_type"] = None
        out["symbol"] = None
        out["legs"] = [
            {
                "instrument_id": str(leg.instrument_id),
                "symbol": leg.symbol,
                "instrument_type": leg.instrument_type,
                "side": leg.side,
                "ratio": str(leg.ratio),
                "quantity": plain(order.terms.quantity * leg.ratio),
                "filled_quantity": plain(leg.filled_quantity),
                "average_fill_price": _price(leg.average_price),
                **({"id": leg.client_leg_id} if leg.client_leg_id else {}),
                **({"position_effect": leg.position_effect} if leg.position_effect else {}),
            }
            for leg in order.legs
        ]
    rest = {
        "details": list(order.details),
        "expires_at": format_ns(order.terms.expires_ns)
        if order.terms.expires_ns is not None
        else None,
        "extended_hours": order.terms.extended_hours,
        "limit_offset": _price(order.terms.limit_offset),
        "queue_state": order.queue_state,
        "releases_at": format_ns(order.releases_ns) if order.releases_ns is not None else None,
        "trailing_offset": _price(order.terms.trailing_offset),
        "trailing_offset_type": order.terms.trailing_offset_type,
        "trailing_stop_px": _price(order.trailing_stop_px),
        "trailing_limit_px": _price(order.trailing_limit_px),
        "trailing_watermark_px": _price(order.trailing_watermark_px),
        "trailing_watermark_ts": format_ns(order.trailing_watermark_ns)
        if order.trailing_watermark_ns is not None
        else None,
        "underlying_instrument_id": str(order.underlying_instrument_id)
        if order.underlying_instrument_id is not None
        else None,
    }
    out.update(rest)
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
