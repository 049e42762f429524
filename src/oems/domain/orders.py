"""Orders: their fields, and the one transition table every status change goes through."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

import msgspec

from oems.domain.strategies import Leg, net_price
from oems.domain.terms import LegTerms, OrderTerms, TradedInstrument, leg_terms

ZERO = Decimal(0)

# Order types, sides, times in force, statuses (the contract's enums).
MARKET = "MARKET"
LIMIT = "LIMIT"
STOP = "STOP"
STOP_LIMIT = "STOP_LIMIT"
TRAILING_STOP = "TRAILING_STOP"
TRAILING_STOP_LIMIT = "TRAILING_STOP_LIMIT"
ORDER_TYPES = (MARKET, LIMIT, STOP, STOP_LIMIT, TRAILING_STOP, TRAILING_STOP_LIMIT)
LIMIT_TYPES = (LIMIT, STOP_LIMIT, TRAILING_STOP_LIMIT)
STOP_TYPES = (STOP, STOP_LIMIT)
TRAILING_TYPES = (TRAILING_STOP, TRAILING_STOP_LIMIT)

BUY = "BUY"
SELL = "SELL"
SELL_SHORT = "SELL_SHORT"
SIDES = (BUY, SELL, SELL_SHORT)

DAY = "DAY"
GTC = "GOOD_TILL_CANCEL"
IOC = "IMMEDIATE_OR_CANCEL"
FOK = "FILL_OR_KILL"
GTD = "GOOD_TILL_DATE"
OPG = "AT_THE_OPENING"
CLS = "AT_THE_CLOSE"
# Crossings are the opening and closing auctions (the seeds' newer enum; the README defines them).
GTX = "GOOD_TILL_CROSSING"  # continuous session only; canceled as the closing crossing starts
GTC_THROUGH = "GOOD_THROUGH_CROSSING"  # continuous session, then the closing crossing
AT_CROSSING = "AT_CROSSING"  # only the next crossing, opening or closing
TIMES_IN_FORCE = (DAY, GTC, IOC, FOK, GTD, OPG, CLS, GTX, GTC_THROUGH, AT_CROSSING)
AUCTION_ONLY = (OPG, CLS, AT_CROSSING)  # never work in the continuous session

PENDING_NEW = "PENDING_NEW"
NEW = "NEW"
PARTIALLY_FILLED = "PARTIALLY_FILLED"
FILLED = "FILLED"
CANCELED = "CANCELED"
REJECTED = "REJECTED"
EXPIRED = "EXPIRED"
PENDING_CANCEL = "PENDING_CANCEL"
PENDING_REPLACE = "PENDING_REPLACE"
TERMINAL = frozenset({FILLED, CANCELED, REJECTED, EXPIRED})

AWAITING_RELEASE = "AWAITING_RELEASE"
RELEASED = "RELEASED"

PRICE = "PRICE"
BPS = "BPS"

# What happens to an order; with its status, it decides the next status.
ACK = "ack"
FILL_PART = "fill_part"
FILL_ALL = "fill_all"
CANCEL_REQUEST = "cancel_request"
CANCEL = "cancel"
REPLACE_REQUEST = "replace_request"
REPLACE_DONE = "replace_done"
REPLACE_DONE_PARTIAL = "replace_done_partial"
EXPIRE = "expire"
REJECT = "reject"
REFUSE = "refuse"  # the venue refused a cancel or replace: the order works on
REFUSE_PARTIAL = "refuse_partial"

_OPEN_WORKING = (NEW, PARTIALLY_FILLED)
TRANSITIONS: dict[tuple[str, str], str] = {
    (PENDING_NEW, ACK): NEW,
    (PENDING_NEW, REJECT): REJECTED,
    (PENDING_NEW, CANCEL_REQUEST): PENDING_CANCEL,
    (PENDING_NEW, CANCEL): CANCELED,
    (PENDING_NEW, EXPIRE): EXPIRED,
    **{(s, FILL_PART): PARTIALLY_FILLED for s in _OPEN_WORKING},
    **{(s, FILL_ALL): FILLED for s in (*_OPEN_WORKING, PENDING_CANCEL, PENDING_REPLACE)},
    (PENDING_CANCEL, FILL_PART): PENDING_CANCEL,
    (PENDING_REPLACE, FILL_PART): PENDING_REPLACE,
    **{(s, CANCEL_REQUEST): PENDING_CANCEL for s in (*_OPEN_WORKING, PENDING_REPLACE)},
    **{(s, CANCEL): CANCELED for s in (*_OPEN_WORKING, PENDING_CANCEL, PENDING_REPLACE)},
    **{(s, REPLACE_REQUEST): PENDING_REPLACE for s in _OPEN_WORKING},
    (PENDING_REPLACE, REPLACE_DONE): NEW,
    (PENDING_REPLACE, REPLACE_DONE_PARTIAL): PARTIALLY_FILLED,
    **{(s, EXPIRE): EXPIRED for s in (*_OPEN_WORKING, PENDING_CANCEL, PENDING_REPLACE)},
    **{(s, REFUSE): NEW for s in (PENDING_CANCEL, PENDING_REPLACE)},
    **{(s, REFUSE_PARTIAL): PARTIALLY_FILLED for s in (PENDING_CANCEL, PENDING_REPLACE)},
}
"""(status, what happened) -> next status. A pair that is not here is a bug, never a state."""


class IllegalTransition(RuntimeError):
    """An order change the transition table does not allow (an engine bug, never user input)."""


def next_status(status: str, happening: str) -> str:
    """The status after `happening`, per the transition table; IllegalTransition if not allowed."""
    target = TRANSITIONS.get((status, happening))
    if target is None:
        raise IllegalTransition(f"{happening} is not allowed in status {status}")
    return target


AVERAGE_PRICE_PLACES = Decimal("0.000001")


@dataclass(slots=True)
class Order:
    """One order and its live state; changed only by the state's event appliers."""

    id: uuid.UUID
    account_id: int
    client_order_id: str | None
    instrument: TradedInstrument
    terms: OrderTerms
    created_ns: int
    updated_ns: int
    closes_position: bool = False  # sells a long or buys back a short: it holds position quantity
    hold_per_unit: Decimal = ZERO  # buying power each unit of leaves quantity holds (money)
    status: str = PENDING_NEW
    filled_quantity: Decimal = ZERO
    filled_notional: Decimal = ZERO  # sum of quantity x price over fills, for an exact average
    queue_state: str | None = None
    releases_ns: int | None = None
    expiry_ns: int | None = None  # when the venue expires it (DAY close, GTD instant)
    auction_ns: int | None = None  # the closing auction it joins (or, GTX, is canceled at)
    venue_due_ns: int | None = None  # when the venue answers a pending new, cancel or replace
    triggered: bool = False  # a stop or trailing stop whose trigger was reached
    trailing_stop_px: Decimal | None = None
    trailing_limit_px: Decimal | None = None
    trailing_watermark_px: Decimal | None = None
    trailing_watermark_ns: int | None = None
    pending_replace: dict[str, Decimal | str | None] | None = None
    details: list[str] = field(default_factory=list)
    legs: list[Leg] | None = None  # a multi-leg strategy order
    scenario_rule: int | None = None  # the scenario rule that decided the venue's first answer
    queue_ahead: Decimal = ZERO  # queue position on: displayed size still ahead at its limit

    @property
    def instrument_ids(self) -> set[uuid.UUID]:
        """The instruments the order trades: its own, or its legs'."""
        if self.legs is not None:
            return {leg.instrument_id for leg in self.legs}
        return {self.instrument.instrument_id}

    @property
    def symbols(self) -> set[str]:
        """The symbols the order trades: its own, or its legs'."""
        if self.legs is not None:
            return {leg.symbol for leg in self.legs}
        return {self.instrument.symbol}

    @property
    def is_strategy(self) -> bool:
        """True for a multi-leg strategy order."""
        return self.legs is not None

    @property
    def is_open(self) -> bool:
        """True until the order is filled, canceled, rejected or expired."""
        return self.status not in TERMINAL

    @property
    def leaves_quantity(self) -> Decimal:
        """What is still working: zero once the order is done."""
        return self.terms.quantity - self.filled_quantity if self.is_open else ZERO

    @property
    def average_fill_price(self) -> Decimal | None:
        """Notional over quantity of all fills (rounded half-even to 6 places), None before any.

        A strategy's is the signed net price from its legs' averages (a debit positive).
        """
        if not self.filled_quantity:
            return None
        if self.legs is not None:
            averages = [leg.average_price or ZERO for leg in self.legs]
            average = net_price(self.legs, averages)
        else:
            average = self.filled_notional / self.filled_quantity
        return average.quantize(AVERAGE_PRICE_PLACES, rounding=ROUND_HALF_EVEN)

    @property
    def is_buy(self) -> bool:
        """True for buys (including buys to cover)."""
        return self.terms.side == BUY

    @property
    def working_limit(self) -> Decimal | None:
        """The limit the venue works the order at now: stop-limit and trailing limits included."""
        if self.terms.order_type == TRAILING_STOP_LIMIT:
            return self.trailing_limit_px
        return self.terms.limit_price

    @property
    def waits_for_trigger(self) -> bool:
        """True for a stop or trailing order whose trigger has not been reached."""
        return self.terms.order_type in (*STOP_TYPES, *TRAILING_TYPES) and not self.triggered


def side_sign(side: str) -> int:
    """+1 for buys, -1 for sells and short sells."""
    return 1 if side == BUY else -1


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One single-leg order as a caller asked for it, its instrument resolved."""

    instrument_id: uuid.UUID
    symbol: str
    instrument_type: str
    is_fractionable: bool
    terms: OrderTerms
    client_order_id: str | None = None


class LegRequest(LegTerms, frozen=True, kw_only=True):
    """One leg of a strategy as a caller asked for it, its instrument resolved."""

    underlying_instrument_id: uuid.UUID | None = None  # None for a stock leg

    def as_leg(self) -> Leg:
        """The leg as a strategy order holds it (nothing filled yet)."""
        return Leg(**msgspec.structs.asdict(leg_terms(self)))


@dataclass(frozen=True, slots=True)
class StrategyRequest:
    """A multi-leg strategy order: 2 to 4 legs on one underlier, priced as a net package."""

    legs: tuple[LegRequest, ...]
    terms: OrderTerms
    client_order_id: str | None = None
