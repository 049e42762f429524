"""Commands: what callers ask the engine to do. Each is validated against live state, then journaled."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class OpenAccount:
    owner: str
    full_name: str
    subtype: str
    options_level: int
    cash: Decimal
    short_name: str | None = None


@dataclass(frozen=True, slots=True)
class AdjustCash:
    account_id: int
    amount: Decimal
    memo: str = ""


@dataclass(frozen=True, slots=True)
class UpdateRiskSettings:
    account_id: int
    max_notional: Decimal | None


@dataclass(frozen=True, slots=True)
class IssueApiKey:
    user: str
    digest: bytes
    account_ids: tuple[int, ...] | None = None
    admin: bool = False
    expires_ns: int | None = None


@dataclass(frozen=True, slots=True)
class RevokeApiKey:
    key_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class SetClock:
    mode: str
    now_ns: int | None
    speed: float


@dataclass(frozen=True, slots=True)
class AdvanceClock:
    to_ns: int


@dataclass(frozen=True, slots=True)
class PinQuote:
    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    bid_size: int
    ask_size: int
    last: Decimal | None


@dataclass(frozen=True, slots=True)
class ReleaseQuote:
    symbol: str


@dataclass(frozen=True, slots=True)
class RunDue:
    """Run every timer due up to the clock's current instant (sent by the ticker)."""


Command = (
    OpenAccount
    | AdjustCash
    | UpdateRiskSettings
    | IssueApiKey
    | RevokeApiKey
    | SetClock
    | AdvanceClock
    | PinQuote
    | ReleaseQuote
    | RunDue
)
