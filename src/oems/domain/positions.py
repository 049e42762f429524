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
    quantity: Decimal = ZERO
    cost: Decimal = ZERO
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
        """Book a fill (positive buys, negative sells); returns the P&L it realizes."""
        notional = abs(signed_quantity) * price * self.multiplier
        if signed_quantity > 0:
            self.bought_today += notional
        else:
            self.sold_today += notional
        realized = ZERO
        remaining = signed_quantity
        if self.quantity and (self.quantity > 0) != (signed_quantity > 0):
            closing = min(abs(signed_quantity), abs(self.quantity))
            closing_signed = closing if self.quantity > 0 else -closing
            released = self.cost * closing_signed / self.quantity
            proceeds = closing_signed * price * self.multiplier
            realized = proceeds - released
            self.cost -= released
            self.quantity -= closing_signed
            remaining = signed_quantity + closing_signed
            if not self.quantity:
                self.cost = ZERO
        if remaining:
            self.quantity += remaining
            self.cost += remaining * price * self.multiplier
        self.realized_today += realized
        return realized

    def start_day(self, date: dt.date, close: Decimal | None) -> None:
        """Roll to a new trading day: today's figures reset, the close becomes the baseline."""
        self.sod_quantity = self.quantity
        self.sod_price = close
        self.sod_date = date if close is not None else None
        self.realized_today = ZERO
        self.bought_today = ZERO
        self.sold_today = ZERO
