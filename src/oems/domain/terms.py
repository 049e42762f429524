"""What an order trades and asks for, declared once: the request, the accepting event and the
order share these shapes."""

from __future__ import annotations

import uuid
from decimal import Decimal

import msgspec


class TradedInstrument(msgspec.Struct, frozen=True, kw_only=True):
    """What an order trades, as the instrument master described it when the order was accepted.

    A strategy's is its first leg's, with the option's underlier and venue (the wire shows null
    for a strategy's instrument fields).
    """

    instrument_id: uuid.UUID
    symbol: str
    instrument_type: str
    underlying_instrument_id: uuid.UUID | None
    multiplier: Decimal
    venue: str


class OrderTerms(msgspec.Struct, frozen=True, kw_only=True):
    """Side, type, time in force, quantity, prices and expiry of an order as it stands.

    A replace makes new terms for the order; a strategy's side is BUY until it is accepted (a
    package sent at a credit is accepted as a SELL).
    """

    side: str
    order_type: str
    time_in_force: str
    quantity: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trailing_offset: Decimal | None = None
    trailing_offset_type: str | None = None
    limit_offset: Decimal | None = None
    expires_ns: int | None = None  # GOOD_TILL_DATE as requested
    extended_hours: bool | None = None


class LegTerms(msgspec.Struct, frozen=True, kw_only=True):
    """One leg of a strategy: its instrument, side and ratio. The request's leg, the accepting
    event's and the order's (which adds what has filled) are this shape."""

    instrument_id: uuid.UUID
    symbol: str
    instrument_type: str
    side: str
    ratio: int
    multiplier: Decimal
    contract_type: str | None = None  # CALL | PUT for options
    strike: Decimal | None = None
    client_leg_id: str | None = None
    position_effect: str | None = None


def leg_terms(leg: LegTerms) -> LegTerms:
    """The plain terms of a leg (of a request's leg or an order's), as an event records them."""
    return LegTerms(**{name: getattr(leg, name) for name in LegTerms.__struct_fields__})
