"""Quotes and daily bars: the values every market data source answers with, and what they are
worth (`spot_price`, and an option's quote valued from its underlier with `option_quote`).

The sources: `oems.market.synthetic`, `oems.market.manual`, `oems.market.replay`; the façade the
engine and the API use: `oems.market.market_data`. Every price is a `Decimal` quantized to its
tick; floats live only inside the random walk and the option pricing, and are converted at the
boundary.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from oems.domain.instruments import Instrument
from oems.market.pricing import smile_volatility, theo_value, years_to_expiry

Resolver = Callable[[str], Instrument | None]
"""Finds an instrument by UUID string, equity ticker or OSI symbol (InstrumentMaster.resolve)."""

CENT = Decimal("0.01")
_DEFAULT_OPTION_SIZE = 10


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book and last sale of one instrument at an instant; sizes in shares or contracts."""

    bid: Decimal | None
    ask: Decimal | None
    bid_size: int
    ask_size: int
    last: Decimal | None
    last_size: int
    volume: int  # cumulative for the trading day
    ts_ns: int

    @property
    def mid(self) -> Decimal | None:
        """The midpoint of bid and ask, or None when either side is missing."""
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2


_new_object = object.__new__
_QUOTE_SETTERS = tuple(
    Quote.__dict__[name].__set__
    for name in ("bid", "ask", "bid_size", "ask_size", "last", "last_size", "volume", "ts_ns")
)


def fast_quote(
    bid: Decimal | None,
    ask: Decimal | None,
    bid_size: int,
    ask_size: int,
    last: Decimal | None,
    last_size: int,
    volume: int,
    ts_ns: int,
) -> Quote:
    """`Quote(...)` in a third of the time, for the synthetic source's hot path."""
    # Fill the slots through their descriptors, skipping the frozen dataclass's per-field
    # `object.__setattr__` calls; the result is an ordinary, equal, immutable Quote.
    quote = _new_object(Quote)
    s_bid, s_ask, s_bid_size, s_ask_size, s_last, s_last_size, s_volume, s_ts = _QUOTE_SETTERS
    s_bid(quote, bid)
    s_ask(quote, ask)
    s_bid_size(quote, bid_size)
    s_ask_size(quote, ask_size)
    s_last(quote, last)
    s_last_size(quote, last_size)
    s_volume(quote, volume)
    s_ts(quote, ts_ns)
    return quote


@dataclass(frozen=True, slots=True)
class DailyBar:
    """One trading day's aggregate as of some instant (partial while the day is running).

    `open`/`high`/`low`/`close` cover the day's trades so far, extended hours included (`close`
    is the latest trade); `previous_close` is the official close of the prior trading day.
    """

    trade_date: dt.date
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    close: Decimal | None
    volume: int
    previous_close: Decimal | None
    open_interest: int | None = None  # options only


@dataclass(frozen=True, slots=True)
class Reference:
    """What an instrument's definition shows from market data on a trading day: the previous
    trading day's close, the average daily volume (shares or contracts) and, for options, the
    open interest; None where the source does not know it."""

    previous_close: Decimal | None = None
    adv: int | None = None
    open_interest: int | None = None


NO_REFERENCE = Reference()
ADV_DAYS = 20  # the trading days an average daily volume is taken over, where it is measured


class QuoteSource(Protocol):
    """Where quotes come from. Both methods are pure functions of their arguments."""

    def quote(self, instrument: Instrument, now_ns: int) -> Quote | None:
        """The quote in force at `now_ns`, or None when the source has none."""
        ...

    def daily_bar(self, instrument: Instrument, date: dt.date, as_of_ns: int) -> DailyBar | None:
        """The bar of trading day `date` as seen at `as_of_ns` (never peeks past it)."""
        ...


def spot_price(quote: Quote | None) -> Decimal | None:
    """The price an underlier is worth for valuation: the midpoint, else the last sale."""
    if quote is None:
        return None
    if quote.bid is not None and quote.ask is not None:
        return (quote.bid + quote.ask) / 2
    if quote.last is not None:
        return quote.last
    return quote.bid if quote.bid is not None else quote.ask


def option_quote(
    option: Instrument,
    spot: float,
    now_ns: int,
    sizes: tuple[int, int, int] = (_DEFAULT_OPTION_SIZE, _DEFAULT_OPTION_SIZE, 0),
    volume: int = 0,
) -> Quote:
    """An option's quote valued with Black–Scholes from the underlier price `spot`.

    The spread is max(0.05, 3% of the value); prices step by 0.01 below $3 and 0.05 from $3,
    and never go below 0.01. `sizes` is (bid_size, ask_size, last_size) in contracts.
    """
    terms = option.option
    if terms is None:
        raise ValueError(f"{option.symbol} is not an option")
    years = years_to_expiry(terms.expiry, now_ns)
    strike = float(terms.strike)
    vol = smile_volatility(float(option.volatility), strike, spot, years)
    theo = theo_value(terms.contract_type, spot, strike, years, vol)
    bid_c, ask_c, last_c = option_cents(theo)
    return fast_quote(
        bid_c * CENT,
        ask_c * CENT,
        sizes[0],
        sizes[1],
        last_c * CENT,
        sizes[2],
        volume,
        now_ns,
    )


def option_cents(theo: float) -> tuple[int, int, int]:
    """(bid, ask, last) in cents for a theoretical value."""
    theo_c = theo * 100.0
    half_c = max(2.5, 0.015 * theo_c)
    step = 1 if theo < 3.0 else 5
    bid_c = math.floor((theo_c - half_c) / step) * step
    ask_c = math.ceil((theo_c + half_c) / step) * step
    if bid_c < 1:
        bid_c = 1
    if ask_c <= bid_c:
        ask_c = bid_c + step
    last_c = min(max(round(theo_c), bid_c, 1), ask_c)
    return bid_c, ask_c, last_c
