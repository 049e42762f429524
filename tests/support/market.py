"""Hand-made instruments and market-clock instants for the market data tests."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from oems.domain.instruments import Instrument, OptionTerms, osi_symbol
from oems.domain.timefmt import from_datetime
from oems.market.calendar import EASTERN


def et(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> int:
    """Epoch ns of a US/Eastern wall time."""
    return from_datetime(dt.datetime.combine(day, dt.time(hour, minute, second), EASTERN))


WED = dt.date(2026, 3, 4)  # an ordinary trading Wednesday
THU = dt.date(2026, 3, 5)
SAT = dt.date(2026, 3, 7)
MON = dt.date(2026, 3, 9)


def equity(
    symbol: str, price: str = "100.00", vol: str = "0.30", kind: str = "COMMON_STOCK"
) -> Instrument:
    return Instrument(
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"test:{symbol}"),
        symbol=symbol,
        name=f"{symbol} Inc.",
        instrument_type=kind,
        venue="XNYS",
        reference_price=Decimal(price),
        volatility=Decimal(vol),
    )


def option(underlier: Instrument, expiry: dt.date, right: str, strike: str) -> Instrument:
    osi = osi_symbol(underlier.symbol, expiry, right, Decimal(strike))
    return Instrument(
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"test:{osi}"),
        symbol=osi,
        name=osi,
        instrument_type="OPTION",
        venue="BATO",
        reference_price=Decimal("1.00"),
        volatility=underlier.volatility,
        option=OptionTerms(underlier.id, underlier.symbol, expiry, right, Decimal(strike)),
    )


ACME = equity("ACME", "100.00")
PENNY = equity("PNNY", "0.50", "0.60")
ACME_CALL = option(ACME, dt.date(2026, 3, 20), "CALL", "100")
ACME_PUT = option(ACME, dt.date(2026, 3, 20), "PUT", "100")
INSTRUMENTS = {i.symbol: i for i in (ACME, PENNY, ACME_CALL, ACME_PUT)}
INSTRUMENTS.update({str(i.id): i for i in (ACME, PENNY, ACME_CALL, ACME_PUT)})


def resolve(text: str) -> Instrument | None:
    return INSTRUMENTS.get(text)
