"""Orders: accepted, acknowledged, released, triggered, cancelled, replaced, expired, rejected,
refused; every status change goes through the transition table, and what an open order holds
(cash or a position's quantity) follows it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

from oems.domain import events as ev
from oems.domain.orders import (
    ACK,
    AWAITING_RELEASE,
    CANCEL,
    CANCEL_REQUEST,
    EXPIRE,
    FILL_ALL,
    REFUSE,
    REFUSE_PARTIAL,
    REJECT,
    RELEASED,
    REPLACE_DONE,
    REPLACE_DONE_PARTIAL,
    REPLACE_REQUEST,
    Order,
    next_status,
)
from oems.domain.state.positions import open_position
from oems.domain.strategies import Leg

if TYPE_CHECKING:
    from oems.domain.state.trading_state import Appliers, TradingState


def change_hold(state: TradingState, order: Order, quantity: Decimal) -> None:
    """Take (positive) or release (negative) what `quantity` of the order holds."""
    if order.closes_position:
        position = state.positions[order.account_id].get(order.instrument.instrument_id)
        if position is not None:
            position.held = max(position.held + quantity, Decimal(0))
    elif order.hold_per_unit:
        account = state.accounts[order.account_id]
        account.open_order_hold = max(
            account.open_order_hold + quantity * order.hold_per_unit, Decimal(0)
        )


def move_order(state: TradingState, order: Order, happening: str, ts_ns: int) -> None:
    """Change the order's status through the transition table; a finished order leaves the open
    orders and waits in `closed_orders` for the history store."""
    was_open = order.is_open
    leaves = order.terms.quantity - order.filled_quantity
    order.status = next_status(order.status, happening)
    order.updated_ns = ts_ns
    if was_open and not order.is_open:
        change_hold(state, order, -leaves)
        order.venue_due_ns = None
        order.pending_replace = None
        state.open_orders[order.account_id].pop(order.id, None)
        state.closed_orders.append(order)


def _order_accepted(state: TradingState, e: ev.OrderAccepted) -> None:
    order = Order(
        id=e.order_id,
        account_id=e.account_id,
        client_order_id=e.client_order_id,
        instrument=e.instrument,
        terms=e.terms,
        created_ns=e.ts_ns,
        updated_ns=e.ts_ns,
        closes_position=e.closes_position,
        hold_per_unit=e.hold_per_unit,
        venue_due_ns=e.venue_due_ns,
        releases_ns=e.releases_ns,
        # Received while its session is closed: it waits for the release from the start.
        queue_state=AWAITING_RELEASE if e.releases_ns is not None else None,
        expiry_ns=e.expiry_ns,
        auction_ns=e.auction_ns,
        legs=[Leg(**msgspec.structs.asdict(t)) for t in e.legs] if e.legs is not None else None,
    )
    state.orders[order.id] = order
    state.open_orders.setdefault(order.account_id, {})[order.id] = order
    if order.client_order_id is not None:
        state.client_order_ids[(order.account_id, order.client_order_id)] = order
    if order.closes_position:
        open_position(
            state,
            order.account_id,
            order.instrument.instrument_id,
            order.instrument.symbol,
            order.instrument.instrument_type,
            order.instrument.multiplier,
            order.instrument.underlying_instrument_id,
        )
    change_hold(state, order, order.terms.quantity)


def _order_acknowledged(state: TradingState, e: ev.OrderAcknowledged) -> None:
    order = state.orders[e.order_id]
    move_order(state, order, ACK, e.ts_ns)
    order.venue_due_ns = None
    if e.queue_state is not None:  # never undoes a release that came before the answer
        order.queue_state = e.queue_state


def _order_released(state: TradingState, e: ev.OrderReleased) -> None:
    order = state.orders[e.order_id]
    order.queue_state = RELEASED
    order.releases_ns = None
    order.updated_ns = e.ts_ns


def _order_triggered(state: TradingState, e: ev.OrderTriggered) -> None:
    order = state.orders[e.order_id]
    order.triggered = True
    order.updated_ns = e.ts_ns
    order.details.append(f"Triggered at {e.price}")


def _trailing_moved(state: TradingState, e: ev.TrailingMoved) -> None:
    order = state.orders[e.order_id]
    order.trailing_watermark_px = e.watermark_px
    order.trailing_watermark_ns = e.ts_ns
    order.trailing_stop_px = e.stop_px
    order.trailing_limit_px = e.limit_px


def _order_cancel_requested(state: TradingState, e: ev.OrderCancelRequested) -> None:
    order = state.orders[e.order_id]
    move_order(state, order, CANCEL_REQUEST, e.ts_ns)
    order.venue_due_ns = e.venue_due_ns
    order.pending_replace = None


def _order_canceled(state: TradingState, e: ev.OrderCanceled) -> None:
    order = state.orders[e.order_id]
    move_order(state, order, CANCEL, e.ts_ns)
    order.details.append(e.reason)


def _order_replace_requested(state: TradingState, e: ev.OrderReplaceRequested) -> None:
    order = state.orders[e.order_id]
    move_order(state, order, REPLACE_REQUEST, e.ts_ns)
    order.venue_due_ns = e.venue_due_ns
    order.pending_replace = dict(e.changes)


_REPLACEABLE_PRICES = ("limit_price", "stop_price", "trailing_offset", "limit_offset")


def _order_replaced(state: TradingState, e: ev.OrderReplaced) -> None:
    order = state.orders[e.order_id]
    changes = order.pending_replace or {}
    change_hold(state, order, -(order.terms.quantity - order.filled_quantity))
    replaced: dict[str, Decimal | str] = {
        name: Decimal(str(changes[name]))
        for name in (*_REPLACEABLE_PRICES, "quantity")
        if changes.get(name) is not None
    }
    if changes.get("trailing_offset_type") is not None:
        replaced["trailing_offset_type"] = str(changes["trailing_offset_type"])
    order.terms = msgspec.structs.replace(order.terms, **replaced)
    if changes.get("hold_per_unit") is not None:
        order.hold_per_unit = Decimal(str(changes["hold_per_unit"]))
    change_hold(state, order, order.terms.quantity - order.filled_quantity)
    order.pending_replace = None
    order.venue_due_ns = None
    partial = bool(order.filled_quantity)
    if order.filled_quantity >= order.terms.quantity:
        move_order(state, order, FILL_ALL, e.ts_ns)
    else:
        move_order(state, order, REPLACE_DONE_PARTIAL if partial else REPLACE_DONE, e.ts_ns)


def _order_expired(state: TradingState, e: ev.OrderExpired) -> None:
    order = state.orders[e.order_id]
    move_order(state, order, EXPIRE, e.ts_ns)
    order.details.append(e.reason)


def _order_rejected(state: TradingState, e: ev.OrderRejected) -> None:
    order = state.orders[e.order_id]
    move_order(state, order, REJECT, e.ts_ns)
    order.details.append(e.reason)


def _order_ack_delayed(state: TradingState, e: ev.OrderAckDelayed) -> None:
    state.orders[e.order_id].venue_due_ns = e.venue_due_ns


def _order_held(state: TradingState, e: ev.OrderHeld) -> None:
    order = state.orders[e.order_id]
    order.releases_ns = e.releases_ns
    order.updated_ns = e.ts_ns


def _refused(state: TradingState, order: Order, ts_ns: int, detail: str) -> None:
    """A cancel or replace the venue refused: the order is back to working as it was."""
    move_order(state, order, REFUSE_PARTIAL if order.filled_quantity else REFUSE, ts_ns)
    order.venue_due_ns = None
    order.pending_replace = None
    order.details.append(detail)


def _order_cancel_refused(state: TradingState, e: ev.OrderCancelRefused) -> None:
    _refused(state, state.orders[e.order_id], e.ts_ns, f"Cancel rejected: {e.reason}")


def _order_replace_refused(state: TradingState, e: ev.OrderReplaceRefused) -> None:
    _refused(state, state.orders[e.order_id], e.ts_ns, f"Replace rejected: {e.reason}")


def _order_queued(state: TradingState, e: ev.OrderQueued) -> None:
    state.orders[e.order_id].queue_ahead = e.ahead


APPLIERS: Appliers = {
    ev.OrderAccepted: _order_accepted,
    ev.OrderAcknowledged: _order_acknowledged,
    ev.OrderReleased: _order_released,
    ev.OrderTriggered: _order_triggered,
    ev.TrailingMoved: _trailing_moved,
    ev.OrderCancelRequested: _order_cancel_requested,
    ev.OrderCanceled: _order_canceled,
    ev.OrderReplaceRequested: _order_replace_requested,
    ev.OrderReplaced: _order_replaced,
    ev.OrderExpired: _order_expired,
    ev.OrderRejected: _order_rejected,
    ev.OrderQueued: _order_queued,
    ev.OrderAckDelayed: _order_ack_delayed,
    ev.OrderHeld: _order_held,
    ev.OrderCancelRefused: _order_cancel_refused,
    ev.OrderReplaceRefused: _order_replace_refused,
}
