"""Fills: an order's or a strategy's executions, the positions and cash they move, the
displayed size they take, and the queue position a resting order keeps.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from oems.domain import events as ev
from oems.domain.orders import BUY, FILL_ALL, FILL_PART, Order
from oems.domain.positions import Execution
from oems.domain.state.orders import change_hold, move_order
from oems.domain.state.positions import open_position

if TYPE_CHECKING:
    from oems.domain.state.trading_state import Appliers, TradingState


def _order_filled(state: TradingState, e: ev.OrderFilled) -> None:
    order = state.orders[e.order_id]
    order.filled_quantity += e.quantity
    order.filled_notional += e.quantity * e.price
    change_hold(state, order, -e.quantity)
    done = order.filled_quantity >= order.terms.quantity
    move_order(state, order, FILL_ALL if done else FILL_PART, e.ts_ns)
    _book_execution(
        state,
        order,
        Execution(
            id=e.execution_id,
            order_id=order.id,
            account_id=order.account_id,
            instrument_id=order.instrument.instrument_id,
            symbol=order.instrument.symbol,
            underlying_instrument_id=order.instrument.underlying_instrument_id,
            side=order.terms.side,
            quantity=e.quantity,
            price=e.price,
            venue=e.venue,
            ts_ns=e.ts_ns,
        ),
        order.instrument.multiplier,
        e.settles_on,
        e.quote_ts_ns,
    )


def _strategy_filled(state: TradingState, e: ev.StrategyFilled) -> None:
    order = state.orders[e.order_id]
    assert order.legs is not None
    order.filled_quantity += e.quantity
    change_hold(state, order, -e.quantity)
    done = order.filled_quantity >= order.terms.quantity
    move_order(state, order, FILL_ALL if done else FILL_PART, e.ts_ns)
    for leg, execution_id, price, quote_ts in zip(
        order.legs, e.execution_ids, e.prices, e.quote_ts_ns, strict=True
    ):
        quantity = e.quantity * leg.ratio
        leg.filled_quantity += quantity
        leg.filled_notional += quantity * price
        _book_execution(
            state,
            order,
            Execution(
                id=execution_id,
                order_id=order.id,
                account_id=order.account_id,
                instrument_id=leg.instrument_id,
                symbol=leg.symbol,
                underlying_instrument_id=order.instrument.underlying_instrument_id
                if leg.strike is not None
                else None,
                side=leg.side,
                quantity=quantity,
                price=price,
                venue=e.venue,
                ts_ns=e.ts_ns,
            ),
            leg.multiplier,
            e.settles_on,
            quote_ts,
        )


def _book_execution(
    state: TradingState,
    order: Order,
    execution: Execution,
    multiplier: Decimal,
    settles_on: Any,
    quote_ts_ns: int | None,
) -> None:
    """An execution's effects: displayed size taken, position, cash (settling later), the record."""
    account = state.accounts[order.account_id]
    buying = execution.side == BUY
    if quote_ts_ns is not None:
        take_liquidity(state, execution.symbol, buying, quote_ts_ns, execution.quantity)
    signed = execution.quantity if buying else -execution.quantity
    position = open_position(
        state,
        order.account_id,
        execution.instrument_id,
        execution.symbol,
        order.instrument.instrument_type
        if order.legs is None
        else _leg_type(order, execution.instrument_id),
        multiplier,
        execution.underlying_instrument_id,
    )
    if account.is_margin:
        account.day_trading.record_fill(
            order.id,
            execution.instrument_id,
            execution.underlying_instrument_id or execution.instrument_id,
            position.quantity,
            position.sod_quantity,
            signed,
            execution.price,
            multiplier,
        )
    position.apply_fill(signed, execution.price)
    amount = -signed * execution.price * multiplier
    account.trade_cash += amount
    account.add_unsettled(settles_on, amount)
    state.executions.setdefault(order.account_id, []).append(execution)


class LiquidityTaken(NamedTuple):
    """How much of the displayed size offered at `quote_ts_ns` fills have taken."""

    quote_ts_ns: int
    quantity: Decimal


def take_liquidity(
    state: TradingState, symbol: str, buying: bool, quote_ts_ns: int, quantity: Decimal
) -> None:
    """Count `quantity` against the displayed size offered at `quote_ts_ns` on one side."""
    side = (symbol, buying)
    used = state.liquidity_used.get(side)
    before = used.quantity if used is not None and used.quote_ts_ns == quote_ts_ns else Decimal(0)
    state.liquidity_used[side] = LiquidityTaken(quote_ts_ns, before + quantity)


def _queue_advanced(state: TradingState, e: ev.QueueAdvanced) -> None:
    order = state.orders[e.order_id]
    order.queue_ahead = e.ahead
    take_liquidity(state, order.instrument.symbol, order.terms.side == BUY, e.quote_ts_ns, e.taken)


def _leg_type(order: Order, instrument_id: uuid.UUID) -> str:
    assert order.legs is not None
    return next(leg.instrument_type for leg in order.legs if leg.instrument_id == instrument_id)


APPLIERS: Appliers = {
    ev.OrderFilled: _order_filled,
    ev.StrategyFilled: _strategy_filled,
    ev.QueueAdvanced: _queue_advanced,
}
