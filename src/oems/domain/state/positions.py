"""Positions: opened flat on first use, and what exercise, assignment and expiration do to them."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING

from oems.domain import events as ev
from oems.domain.exercise import deliver, expire_worthless, release_contracts
from oems.domain.positions import Position

if TYPE_CHECKING:
    from oems.domain.state.trading_state import Appliers, TradingState


def open_position(
    state: TradingState,
    account_id: int,
    instrument_id: uuid.UUID,
    symbol: str,
    instrument_type: str,
    multiplier: Decimal,
    underlying_instrument_id: uuid.UUID | None,
) -> Position:
    """The account's position in the instrument, opened flat when it has none."""
    positions = state.positions.setdefault(account_id, {})
    position = positions.get(instrument_id)
    if position is None:
        position = positions[instrument_id] = Position(
            account_id=account_id,
            instrument_id=instrument_id,
            symbol=symbol,
            instrument_type=instrument_type,
            multiplier=multiplier,
            underlying_instrument_id=underlying_instrument_id,
        )
    return position


def _option_delivery(state: TradingState, e: ev.OptionDelivery) -> None:
    """Contracts become shares at the strike: the option's cost moves into the shares."""
    account = state.accounts[e.account_id]
    option = state.positions[e.account_id][e.instrument_id]
    cost, day_cost = release_contracts(option, e.contracts)
    stock = open_position(
        state,
        e.account_id,
        e.underlying_instrument_id,
        e.underlying_symbol,
        e.underlying_type,
        Decimal(1),
        None,
    )
    deliver(stock, e.shares, e.strike, cost, day_cost)
    amount = -e.shares * e.strike
    account.trade_cash += amount
    account.add_unsettled(e.settles_on, amount)


def _option_expired(state: TradingState, e: ev.OptionExpired) -> None:
    expire_worthless(state.positions[e.account_id][e.instrument_id], e.quantity)


APPLIERS: Appliers = {
    ev.OptionExercised: _option_delivery,
    ev.OptionAssigned: _option_delivery,
    ev.OptionExpired: _option_expired,
}
