"""Positions and executions: what fills leave behind, valued by the average-cost method.

Cost method: a position's cost is the signed total paid for its open quantity (negative for a
short: the proceeds). A fill that grows the position adds its notional to the cost; a fill that
shrinks it releases cost at the average price and realizes (fill price - average) x quantity x
multiplier (sign reversed for shorts). A fill that crosses zero closes the whole position first,
then opens the rest on the other side at the fill price.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(slots=True)
class Execution:
    """One fill of one order."""

    id: uuid.UUID
    order_id: uuid.UUID
    account_id: int
    instrument_id: uuid.UUID
    symbol: str
    underlying_instrument_id: uuid.UUID | None
    side: str
    quantity: Decimal
    price: Decimal
    venue: str
    ts_ns: int


@dataclass(slots=True)
class Position:
    """An account's holding of one instrument (signed quantity) and today's activity in it."""

    account_id: int
    instrument_id: uuid.UUID
    symbol: str
    instrument_type: str
    multiplier: Decimal
    underlying_instrument_id: uuid.UUID | None = None
    quantity: Decimal = ZERO
    cost: Decimal = ZERO
    day_cost: Decimal = ZERO  # cost measured from the day's baseline (the previous close)
    held: Decimal = ZERO  # quantity open closing orders hold
    realized_today: Decimal = ZERO
    bought_today: Decimal = ZERO  # notional bought today (money)
    sold_today: Decimal = ZERO  # notional sold today (money)
    sod_quantity: Decimal = ZERO
    sod_price: Decimal | None = None  # the close the day started from
    sod_date: dt.date | None = None  # the date of that close

    @property
    def available_quantity(self) -> Decimal:
        """The absolute quantity not held by open closing orders."""
        return max(abs(self.quantity) - self.held, ZERO)

    @property
    def avg_price(self) -> Decimal | None:
        """Average cost per share or contract of the open quantity, None when flat."""
        if not self.quantity:
            return None
        return self.cost / (self.quantity * self.multiplier)

    def apply_fill(self, signed_quantity: Decimal, price: Decimal) -> Decimal:
        """Book a fill (positive buys, negative sells); returns the P&L it realizes today.

        Two costs move together: `cost` from the actual fills (average cost, for `cost_basis` and
        the unrealized P&L) and `day_cost` from the day's baseline, so that a day's realized P&L
        is measured against the previous close and a flat position has no daily unrealized P&L.
        """
        notional = abs(signed_quantity) * price * self.multiplier
        if signed_quantity > 0:
            self.bought_today += notional
        else:
            self.sold_today += notional
        self.cost, _ = _book(self.quantity, self.cost, signed_quantity, price, self.multiplier)
        self.day_cost, realized = _book(
            self.quantity, self.day_cost, signed_quantity, price, self.multiplier
        )
        self.quantity += signed_quantity
        self.realized_today += realized
        return realized

    def start_day(self, close_date: dt.date | None, close: Decimal | None) -> None:
        """Roll to a new trading day: today's figures reset, the close becomes the baseline."""
        self.sod_quantity = self.quantity
        self.sod_price = close
        self.sod_date = close_date if close is not None else None
        self.day_cost = self.quantity * self.multiplier * close if close is not None else self.cost
        self.realized_today = ZERO
        self.bought_today = ZERO
        self.sold_today = ZERO


def _book(
    quantity: Decimal, cost: Decimal, signed: Decimal, price: Decimal, multiplier: Decimal
) -> tuple[Decimal, Decimal]:
    """(new cost, realized P&L) of a fill of `signed` at `price` on a position of `quantity`."""
    realized = ZERO
    remaining = signed
    if quantity and (quantity > 0) != (signed > 0):
        closing = min(abs(signed), abs(quantity))
        closing_signed = closing if quantity > 0 else -closing
        released = cost * closing_signed / quantity
        realized = closing_signed * price * multiplier - released
        cost -= released
        if closing == abs(quantity):
            cost = ZERO
        remaining = signed + closing_signed
    if remaining:
        cost += remaining * price * multiplier
    return cost, realized
