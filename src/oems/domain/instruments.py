"""Instruments: equities, ETFs and listed options, and OSI option symbols."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

from oems.domain.terms import TradedInstrument

# The contract's SecurityType, with the seeds' newer PREFERRED_STOCK and OTHER.
SECURITY_TYPES = ("COMMON_STOCK", "PREFERRED_STOCK", "INDEX", "OPTION", "CASH", "OTHER")

_OSI = re.compile(r"^([A-Z0-9.]{1,6}) *(\d{6})([CP])(\d{8})$")


@dataclass(frozen=True, slots=True)
class OptionTerms:
    """What makes a listed option: its underlier, expiry, right, strike and multiplier."""

    underlying_id: uuid.UUID
    root: str
    expiry: dt.date
    contract_type: str  # "CALL" | "PUT"
    strike: Decimal
    multiplier: Decimal = Decimal(100)
    exercise_style: str = "AMERICAN"
    is_settle_on_open: bool = False


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable instrument and its reference flags, as the instrument master holds it."""

    id: uuid.UUID
    symbol: str
    name: str
    instrument_type: str  # one of SECURITY_TYPES
    venue: str
    reference_price: Decimal  # the seed price synthetic market data starts from
    is_etf: bool = False
    country_of_issue: str = "US"
    currency: str = "USD"
    is_marginable: bool = True
    easy_to_borrow: bool = True
    is_short_prohibited: bool = False
    is_threshold_security: bool = False
    is_liquidation_only: bool = False
    is_tradable: bool = True
    is_fractionable: bool = False
    is_ptp: bool = False
    long_margin_rate: Decimal | None = Decimal("0.25")
    short_margin_rate: Decimal | None = Decimal("0.30")
    volatility: Decimal = Decimal("0.30")  # annualised, drives synthetic prices and option values
    option: OptionTerms | None = None

    @property
    def is_option(self) -> bool:
        """True for listed option contracts."""
        return self.option is not None

    @property
    def multiplier(self) -> Decimal:
        """Contract multiplier: 100 for standard options, 1 for shares."""
        return self.option.multiplier if self.option else Decimal(1)

    def traded(self) -> TradedInstrument:
        """What an order on this instrument records of it."""
        return TradedInstrument(
            instrument_id=self.id,
            symbol=self.symbol,
            instrument_type=self.instrument_type,
            underlying_instrument_id=self.option.underlying_id if self.option else None,
            multiplier=self.multiplier,
            venue=self.venue,
        )


def osi_symbol(root: str, expiry: dt.date, contract_type: str, strike: Decimal) -> str:
    """The 21-character OSI symbol, e.g. `AAPL  251219C00150000`."""
    right = "C" if contract_type == "CALL" else "P"
    strike_int = int((strike * 1000).to_integral_value())
    return f"{root:<6}{expiry:%y%m%d}{right}{strike_int:08d}"


def parse_osi(symbol: str) -> tuple[str, dt.date, str, Decimal] | None:
    """Split an OSI symbol (padded or not) into (root, expiry, CALL|PUT, strike); None if not OSI."""
    match = _OSI.match(symbol.strip().upper())
    if match is None:
        return None
    root, ymd, right, strike = match.groups()
    try:
        expiry = dt.datetime.strptime(ymd, "%y%m%d").date()
    except ValueError:
        return None
    return root, expiry, "CALL" if right == "C" else "PUT", Decimal(strike) / 1000


def normalize_osi(symbol: str) -> str | None:
    """The canonical padded OSI form of an option symbol, or None when it is not one."""
    parts = parse_osi(symbol)
    if parts is None:
        return None
    return osi_symbol(parts[0], parts[1], parts[2], parts[3])
