"""Users, API keys, accounts and their grants: who may touch which account."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from oems.domain.daytrading import DayTrading

ACCOUNT_SUBTYPES = ("CASH", "MARGIN")
ACCOUNT_STATUSES = ("ACTIVE", "INACTIVE", "CLOSED")
MAX_OPTIONS_LEVEL = 5


@dataclass(slots=True)
class User:
    """A person or system that owns accounts and holds API keys."""

    id: int
    name: str


@dataclass(slots=True)
class ApiKey:
    """A bearer credential, kept only as a SHA-256 digest of the secret."""

    id: uuid.UUID
    user_id: int
    digest: bytes
    created_ns: int
    admin: bool = False
    account_ids: frozenset[int] | None = None  # None: every account the user owns
    expires_ns: int | None = None
    revoked: bool = False

    def is_live(self, now_ns: int) -> bool:
        """True while the key is neither revoked nor expired."""
        return not self.revoked and (self.expires_ns is None or now_ns < self.expires_ns)


def digest_secret(secret: str) -> bytes:
    """The stored form of an API key secret (SHA-256; secrets are high-entropy random tokens)."""
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(secret: str, digest: bytes) -> bool:
    """Constant-time comparison of a presented secret against a stored digest."""
    return hmac.compare_digest(digest_secret(secret), digest)


@dataclass(slots=True)
class MailingAddress:
    """The account holder's postal address."""

    line1: str
    line2: str | None
    city: str
    state: str
    postal_code: str
    country: str


@dataclass(slots=True)
class AccountHolder:
    """Personal details of the account-holder entity."""

    entity_id: int
    date_of_birth: dt.date | None = None
    phone_number: str | None = None
    country_of_tax_residency: str | None = None
    mailing_address: MailingAddress | None = None


@dataclass(slots=True)
class DaySegment:
    """One trading day of an account's history, closed when the next day starts."""

    date: dt.date
    sod_equity: Decimal
    eod_equity: Decimal
    realized_pnl: Decimal = Decimal(0)
    unrealized_pnl: Decimal = Decimal(0)
    bought_notional: Decimal = Decimal(0)
    sold_notional: Decimal = Decimal(0)


@dataclass(slots=True)
class StartOfDay:
    """Balances as they stood when the trading day began."""

    asof: dt.date | None
    equity: Decimal
    buying_power: Decimal
    trade_cash: Decimal
    long_market_value: Decimal = Decimal(0)
    short_market_value: Decimal = Decimal(0)
    maintenance_requirement: Decimal = Decimal(0)


@dataclass(slots=True)
class Account:
    """A trading account: identity, permissions, cash and risk settings."""

    id: int
    owner_id: int
    short_name: str
    full_name: str
    subtype: str  # CASH | MARGIN
    options_level: int
    open_date: dt.date
    holder: AccountHolder
    type: str = "CUSTOMER"
    status: str = "ACTIVE"
    close_date: dt.date | None = None
    trade_cash: Decimal = Decimal(0)
    settled_cash: Decimal = Decimal(0)
    max_notional: Decimal | None = None
    open_order_hold: Decimal = Decimal(0)  # buying power held by open orders (money)
    unsettled: list[tuple[dt.date, Decimal]] = field(default_factory=list)  # (settles on, amount)
    sod: StartOfDay | None = None
    history: list[DaySegment] = field(default_factory=list)
    opening_cash: Decimal = Decimal(0)  # what a sandbox reset that keeps accounts goes back to
    day_trading: DayTrading = field(default_factory=DayTrading)  # margin accounts only

    @property
    def is_margin(self) -> bool:
        """True for Reg T margin accounts."""
        return self.subtype == "MARGIN"

    def add_unsettled(self, settles_on: dt.date, amount: Decimal) -> None:
        """Book a cash movement that settles on `settles_on`.

        Balances show only the sums of credits and of debits, so each date keeps one credit and
        one debit total: the list stays as short as the dates pending, however many fills a day
        has (a balance message per fill would otherwise sum a list that grows with the day).
        """
        credit = amount > 0
        for index, (date, total) in enumerate(self.unsettled):
            if date == settles_on and (total > 0) == credit:
                self.unsettled[index] = (date, total + amount)
                return
        self.unsettled.append((settles_on, amount))
