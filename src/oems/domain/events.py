"""Journal events: the facts the engine records. State is whatever replaying them produces."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import msgspec


class Event(msgspec.Struct, tag=True, frozen=True, kw_only=True):
    """Base of every journaled fact; `ts_ns` is the market-clock instant it happened."""

    ts_ns: int


class UserCreated(Event, frozen=True):
    user_id: int
    name: str


class AccountOpened(Event, frozen=True):
    account_id: int
    owner_id: int
    short_name: str
    full_name: str
    subtype: str
    options_level: int
    open_date: dt.date
    holder_entity_id: int
    cash: Decimal = Decimal(0)  # opening balance: it is also the first start-of-day balance
    date_of_birth: dt.date | None = None
    phone_number: str | None = None
    country_of_tax_residency: str | None = None
    address: list[str] | None = None  # line1, line2, city, state, postal_code, country


class CashAdjusted(Event, frozen=True):
    account_id: int
    amount: Decimal
    memo: str = ""


class RiskSettingsChanged(Event, frozen=True):
    account_id: int
    max_notional: Decimal | None


class ApiKeyIssued(Event, frozen=True):
    key_id: uuid.UUID
    user_id: int
    digest: bytes
    admin: bool = False
    account_ids: list[int] | None = None
    expires_ns: int | None = None


class ApiKeyRevoked(Event, frozen=True):
    key_id: uuid.UUID


class ClockSet(Event, frozen=True):
    mode: str  # wall | simulated
    now_ns: int
    speed: float


class QuotePinned(Event, frozen=True):
    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    bid_size: int
    ask_size: int
    last: Decimal | None


class QuoteReleased(Event, frozen=True):
    symbol: str


class TradingDayStarted(Event, frozen=True):
    date: dt.date


AnyEvent = (
    UserCreated
    | AccountOpened
    | CashAdjusted
    | RiskSettingsChanged
    | ApiKeyIssued
    | ApiKeyRevoked
    | ClockSet
    | QuotePinned
    | QuoteReleased
    | TradingDayStarted
)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(AnyEvent)


def encode_event(event: Event) -> bytes:
    """The journal's byte form of an event."""
    return _encoder.encode(event)


def decode_event(data: bytes) -> Event:
    """The event a journal record holds."""
    event: Event = _decoder.decode(data)
    return event
