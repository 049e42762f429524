"""Market data: quotes and daily bars from a pluggable source, with replayed rows and pinned
quotes on top.

Sources (`make_source` parses the `--market-data` setting):

- `synthetic`: `SyntheticSource`, a seeded random walk per symbol that is a pure function of
  (seed, symbol, time); options are valued from the underlier with Black–Scholes.
- `manual`: `ManualSource`, no data at all except the quotes pinned by hand.
- `replay:FILE`: `ReplaySource`, a CSV of timestamped quotes and trades played against the clock.

`MarketData` is the façade the engine and the API use: a pinned quote wins over everything, and
an option whose underlier is pinned is valued from the pinned underlier; next come the rows
replayed into the running server (`ReplayOverlay`, kept in `<db>.replay.csv`), then the source.

Every price is a `Decimal` quantized to its tick; floats live only inside the random walk and
the option pricing, and are converted at the boundary.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import datetime as dt
import hashlib
import io
import logging
import math
import os
import uuid
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import numpy as np

from oems.domain.decimals import PRICE, parse_decimal
from oems.domain.instruments import Instrument, normalize_osi
from oems.domain.state import PinnedQuote
from oems.domain.timefmt import format_ns, parse_iso, to_datetime
from oems.market.calendar import EASTERN, REGULAR, TradingCalendar
from oems.market.pricing import (
    Greeks,
    option_greeks,
    smile_volatility,
    theo_value,
    years_to_expiry,
)

log = logging.getLogger("oems")
K = TypeVar("K")
V = TypeVar("V")
Resolver = Callable[[str], Instrument | None]
"""Finds an instrument by UUID string, equity ticker or OSI symbol (InstrumentMaster.resolve)."""

_NS_PER_MINUTE = 60_000_000_000
_CENT = Decimal("0.01")
_HUNDREDTH_CENT = Decimal("0.0001")
_TRADING_DAYS_PER_YEAR = 252
_EXTENDED_HOURS_VARIANCE = 0.15  # price variance per extended-hours minute, vs 1 in regular hours
_EXTENDED_HOURS_SPREAD = 3.0  # spreads widen outside the regular session
_EXTENDED_HOURS_VOLUME = 0.03  # volume of an extended-hours minute vs an average regular one
_OPTION_BAR_STEP = 5  # option bars sample the theoretical value every 5 minutes
_DAY_PATH_CACHE = 4096
_SYMBOL_CACHE = 1024  # an equity's whole-calendar walk is ~70 kB
_DEFAULT_OPTION_SIZE = 10
DEFAULT_ANCHOR = dt.date(2026, 1, 2)  # where synthetic prices equal the reference prices


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


def _fast_quote(
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
    bid_c, ask_c, last_c = _option_cents(theo)
    return _fast_quote(
        bid_c * _CENT,
        ask_c * _CENT,
        sizes[0],
        sizes[1],
        last_c * _CENT,
        sizes[2],
        volume,
        now_ns,
    )


def _option_cents(theo: float) -> tuple[int, int, int]:
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


def _price_ticks(price: float) -> tuple[float, Decimal]:
    """The tick (as float, Decimal): 0.01 at or above $1, 0.0001 below."""
    return (0.01, _CENT) if price >= 1.0 else (0.0001, _HUNDREDTH_CENT)


def _last_price(price: float) -> Decimal:
    """A float price rounded to its tick, as a Decimal."""
    tick, tick_d = _price_ticks(price)
    return Decimal(max(round(price / tick), 1)) * tick_d


class _LRU(Generic[K, V]):
    """A small least-recently-used map."""

    def __init__(self, maxsize: int) -> None:
        self._data: OrderedDict[K, V] = OrderedDict()
        self._maxsize = maxsize

    def get(self, key: K) -> V | None:
        """The value for `key` (now the most recently used), or None."""
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Store `value`, evicting the least recently used entry beyond the size bound."""
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self._maxsize:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


# ---- trading days ----------------------------------------------------------------------


class _Window:
    """A trading day's time span: from its first session's open until the next day begins.

    Between the last session's close and `until_ns` nothing trades and prices stand still.
    """

    __slots__ = (
        "close_m",
        "date",
        "end_ns",
        "index",
        "minutes",
        "open_m",
        "open_ns",
        "start_ns",
        "until_ns",
    )

    def __init__(
        self, index: int, date: dt.date, sessions: dict[str, tuple[int, int]], until_ns: int
    ) -> None:
        self.index = index
        self.date = date
        self.start_ns = min(start for start, _ in sessions.values())
        self.end_ns = max(end for _, end in sessions.values())
        self.until_ns = max(until_ns, self.end_ns)
        self.open_ns, close_ns = sessions[REGULAR]
        self.minutes = (self.end_ns - self.start_ns) // _NS_PER_MINUTE
        self.open_m = (self.open_ns - self.start_ns) // _NS_PER_MINUTE
        self.close_m = (close_ns - self.start_ns) // _NS_PER_MINUTE


class TradingDays:
    """Trading-day arithmetic over a calendar: which day's market is in force at an instant."""

    def __init__(self, calendar: TradingCalendar) -> None:
        self.calendar = calendar
        self.days = calendar.trading_days(calendar.first_date, calendar.last_date)
        self.index = {day: i for i, day in enumerate(self.days)}
        self._windows: dict[int, _Window] = {}
        self._last: _Window | None = None

    def window_at(self, ns: int) -> _Window | None:
        """The trading day in force at `ns` (the latest one begun by then), or None before any."""
        last = self._last
        if last is not None and last.start_ns <= ns < last.until_ns:
            return last
        try:
            date = self.calendar.market_date(ns)
        except (OverflowError, OSError, ValueError):
            return None
        i = bisect.bisect_right(self.days, date) - 1
        if i >= 0 and self.days[i] == date and ns < self.calendar.day_start_ns(date):
            i -= 1
        if i < 0:
            return None
        window = self.window(i)
        if window.start_ns <= ns < window.until_ns:
            self._last = window
        return window

    def window(self, i: int) -> _Window:
        """The time span of the i-th trading day of the calendar."""
        window = self._windows.get(i)
        if window is None:
            date = self.days[i]
            if i + 1 < len(self.days):
                until = self.calendar.day_start_ns(self.days[i + 1])
            else:
                until = 2**63 - 1
            window = _Window(i, date, self.calendar.day(date).sessions, until)
            self._windows[i] = window
        return window

    def session_date(self, ns: int) -> dt.date | None:
        """The trading day whose market is in force at `ns` (today once 04:00 ET has passed)."""
        window = self.window_at(ns)
        return window.date if window is not None else None

    def previous(self, date: dt.date) -> dt.date | None:
        """The last trading day strictly before `date`, or None."""
        i = bisect.bisect_left(self.days, date) - 1
        return self.days[i] if i >= 0 else None


# ---- synthetic -------------------------------------------------------------------------


def _symbol_key(symbol: str) -> tuple[int, int]:
    digest = hashlib.blake2b(symbol.encode(), digest_size=16).digest()
    return int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little")


class _Symbol:
    """What the generator knows of one symbol: its seeds, whole-calendar walk and traits."""

    __slots__ = (
        "adv",
        "day",
        "day_index",
        "half_spread",
        "instrument",
        "key",
        "levels",
        "open_interest",
        "params",
        "vol",
    )

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.params = _params(instrument)
        self.key = _symbol_key(instrument.symbol)
        self.vol = float(instrument.volatility)
        self.levels: np.ndarray | None = None  # log price at the start of each trading day
        self.half_spread = 0.0  # half the spread as a fraction of the price
        self.adv = 0.0  # average daily volume
        self.open_interest = 0.0
        self.day_index = -1  # the trading day `day` is for
        self.day: _DayPath | None = None


def _params(instrument: Instrument) -> tuple[object, ...]:
    return (instrument.reference_price, instrument.volatility, instrument.option)


class _DayPath:
    """One symbol's minute grid for one trading day: mids at minute boundaries, sizes, volume.

    Compact `array`s: about 35 kB a day for an equity.
    """

    __slots__ = (
        "ask_sizes",
        "bid_sizes",
        "cum_volume",
        "last_sizes",
        "mids",
        "minute_volume",
        "open_interest",
        "owner",
        "theos",
    )

    def __init__(self, owner: _Symbol) -> None:
        self.owner = owner
        self.mids = array("d")  # minutes + 1 boundaries (equities and indexes)
        self.bid_sizes = array("i")
        self.ask_sizes = array("i")
        self.last_sizes = array("i")
        self.minute_volume = array("q")
        self.cum_volume = array("q")  # minutes + 1 boundaries
        self.open_interest: int | None = None
        self.theos: array[int] | None = None  # options: last-sale cents every few minutes


class SyntheticSource:
    """A seeded random walk per symbol; a quote is a pure function of (seed, symbol, time).

    Each symbol has one log-normal walk of end-of-day levels over the whole calendar, drawn from a
    generator seeded by (seed, symbol) and anchored so the level at the start of `anchor` (the
    first trading day on or after it) equals the instrument's `reference_price`. Within a trading
    day the path is a Brownian bridge between the two end-of-day levels on a one-minute grid,
    drawn from a generator seeded by (seed, symbol, date) and interpolated within the minute; the
    price moves only during sessions (less in extended hours) and stands still in between. Spreads
    are a few basis points (at least one tick, wider in extended hours), sizes are round lots of
    100-3000 shares, and volume accumulates through the day in a U-shaped profile.

    Options are valued with Black–Scholes from the underlier's mid and the option's volatility,
    and stop quoting after their expiry date. Indexes have a level (the last sale, size 0) and no
    bid, ask or volume. Cash instruments have no quote.
    """

    def __init__(
        self,
        seed: int,
        calendar: TradingCalendar,
        resolve: Resolver | None = None,
        anchor: dt.date = DEFAULT_ANCHOR,
    ) -> None:
        self.seed = seed % 2**64
        self.calendar = calendar
        self.trading_days = TradingDays(calendar)
        self.resolve = resolve
        i = bisect.bisect_left(self.trading_days.days, anchor)
        self._anchor_index = min(i, len(self.trading_days.days) - 1)
        self._symbols: _LRU[str, _Symbol] = _LRU(_SYMBOL_CACHE)
        self._paths: _LRU[tuple[str, int], _DayPath] = _LRU(_DAY_PATH_CACHE)
        self._underliers: dict[uuid.UUID, Instrument | None] = {}
        self._shapes: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}

    # -- the QuoteSource protocol --

    def quote(self, instrument: Instrument, now_ns: int) -> Quote | None:  # noqa: C901
        """The synthetic quote at `now_ns`."""
        window = self.trading_days.window_at(now_ns)
        if window is None:
            return None
        t = now_ns if now_ns < window.end_ns else window.end_ns
        if instrument.option is not None:
            return self._option_quote(instrument, window, t)
        kind = instrument.instrument_type
        if kind == "CASH":
            return None
        sym = self._symbol(instrument)
        day = sym.day if sym.day_index == window.index else self._day(sym, window)
        assert day is not None
        m, rem = divmod(t - window.start_ns, _NS_PER_MINUTE)
        if m >= window.minutes:
            m, frac = window.minutes - 1, 1.0
        else:
            frac = rem / _NS_PER_MINUTE
        mids = day.mids
        lo = mids[m]
        mid = lo + (mids[m + 1] - lo) * frac
        if kind == "INDEX":
            return Quote(None, None, 0, 0, _last_price(mid), 0, 0, t)
        if mid >= 1.0:
            tick, tick_d = 0.01, _CENT
        else:
            tick, tick_d = 0.0001, _HUNDREDTH_CENT
        mt = mid / tick
        half = mt * sym.half_spread
        if not window.open_m <= m < window.close_m:
            half *= _EXTENDED_HOURS_SPREAD
        if half < 0.5:
            half = 0.5
        bid_t = math.floor(mt - half)
        ask_t = math.ceil(mt + half)
        if bid_t < 1:
            bid_t = 1
        if ask_t <= bid_t:
            ask_t = bid_t + 1
        last_t = round(mt)
        if last_t < bid_t:
            last_t = bid_t
        elif last_t > ask_t:
            last_t = ask_t
        return _fast_quote(
            bid_t * tick_d,
            ask_t * tick_d,
            day.bid_sizes[m],
            day.ask_sizes[m],
            last_t * tick_d,
            day.last_sizes[m],
            day.cum_volume[m] + int(day.minute_volume[m] * frac),
            t,
        )

    def daily_bar(self, instrument: Instrument, date: dt.date, as_of_ns: int) -> DailyBar | None:
        """The synthetic bar of `date` as of `as_of_ns`; None before the day begins."""
        index = self.trading_days.index.get(date)
        if index is None or instrument.instrument_type == "CASH":
            return None
        window = self.trading_days.window(index)
        if as_of_ns < window.start_ns:
            return None
        t = min(as_of_ns, window.end_ns)
        if instrument.option is not None:
            return self._option_bar(instrument, window, t)
        sym = self._symbol(instrument)
        day = self._day(sym, window)
        m, frac = _minute(window, t)
        mids = day.mids
        now_mid = mids[m] + (mids[m + 1] - mids[m]) * frac
        seen = mids[: m + 1]
        previous_close = self._previous_close(instrument, window)
        index_level = instrument.instrument_type == "INDEX"
        return DailyBar(
            trade_date=date,
            open=_last_price(mids[0]),
            high=_last_price(max(max(seen), now_mid)),
            low=_last_price(min(min(seen), now_mid)),
            close=_last_price(now_mid),
            volume=0 if index_level else day.cum_volume[m] + int(day.minute_volume[m] * frac),
            previous_close=previous_close,
        )

    # -- helpers --

    def underlier_mid(self, underlier: Instrument, now_ns: int) -> float | None:
        """The underlier's unrounded synthetic mid at `now_ns` (what options are valued from)."""
        window = self.trading_days.window_at(now_ns)
        if window is None:
            return None
        return self._mid_at(underlier, window, min(now_ns, window.end_ns))

    def _mid_at(self, instrument: Instrument, window: _Window, t: int) -> float:
        day = self._day(self._symbol(instrument), window)
        m, frac = _minute(window, t)
        lo = day.mids[m]
        return lo + (day.mids[m + 1] - lo) * frac

    def _underlier(self, option: Instrument) -> Instrument | None:
        terms = option.option
        assert terms is not None
        try:
            return self._underliers[terms.underlying_id]
        except KeyError:
            pass
        found = self.resolve(str(terms.underlying_id)) if self.resolve else None
        if found is not None and found.option is not None:
            found = None  # options on options do not exist
        self._underliers[terms.underlying_id] = found
        return found

    def _option_quote(self, option: Instrument, window: _Window, t: int) -> Quote | None:
        terms = option.option
        assert terms is not None
        if window.date > terms.expiry:
            return None
        underlier = self._underlier(option)
        if underlier is None:
            return None
        spot = self._mid_at(underlier, window, t)
        day = self._day(self._symbol(option), window)
        m, frac = _minute(window, t)
        volume = day.cum_volume[m] + int(day.minute_volume[m] * frac)
        sizes = (day.bid_sizes[m], day.ask_sizes[m], day.last_sizes[m])
        return option_quote(option, spot, t, sizes, volume)

    def _option_bar(self, option: Instrument, window: _Window, t: int) -> DailyBar | None:
        terms = option.option
        assert terms is not None
        if window.date > terms.expiry:
            return None
        underlier = self._underlier(option)
        if underlier is None:
            return None
        sym = self._symbol(option)
        day = self._day(sym, window)
        theos = self._option_theos(option, underlier, window, day)
        m, frac = _minute(window, t)
        now_cents = self._option_cents_at(option, underlier, window, t)
        seen = theos[: m // _OPTION_BAR_STEP + 1]
        return DailyBar(
            trade_date=window.date,
            open=theos[0] * _CENT,
            high=max(max(seen), now_cents) * _CENT,
            low=min(min(seen), now_cents) * _CENT,
            close=now_cents * _CENT,
            volume=day.cum_volume[m] + int(day.minute_volume[m] * frac),
            previous_close=self._previous_close(option, window),
            open_interest=day.open_interest,
        )

    def reference(self, instrument: Instrument, date: dt.date) -> Reference:
        """The definition figures of trading day `date`: the prior day's synthetic close, the
        symbol's model daily volume (what its days' volumes are drawn around) and, for an
        option, the day's open interest (as its daily bar shows)."""
        index = self.trading_days.index.get(date)
        if index is None or instrument.instrument_type == "CASH":
            return NO_REFERENCE
        window = self.trading_days.window(index)
        sym = self._symbol(instrument)
        terms = instrument.option
        open_interest = None
        if terms is not None and date <= terms.expiry:
            open_interest = self._day(sym, window).open_interest
        return Reference(
            previous_close=self._previous_close(instrument, window),
            adv=None if instrument.instrument_type == "INDEX" else round(sym.adv),
            open_interest=open_interest,
        )

    def _previous_close(self, instrument: Instrument, window: _Window) -> Decimal | None:
        """The synthetic close of the trading day before `window` (None for the first day, and
        for an option the day after its expiry)."""
        if window.index == 0:
            return None
        prior = self.trading_days.window(window.index - 1)
        terms = instrument.option
        if terms is None:
            return _last_price(self._day(self._symbol(instrument), prior).mids[prior.close_m])
        underlier = self._underlier(instrument)
        if underlier is None or prior.date > terms.expiry:
            return None
        close_ns = prior.start_ns + prior.close_m * _NS_PER_MINUTE
        return self._option_cents_at(instrument, underlier, prior, close_ns) * _CENT

    def _option_cents_at(
        self, option: Instrument, underlier: Instrument, window: _Window, t: int
    ) -> int:
        """The option's synthetic last sale in cents at `t`."""
        terms = option.option
        assert terms is not None
        spot = self._mid_at(underlier, window, t)
        years = years_to_expiry(terms.expiry, t)
        strike = float(terms.strike)
        vol = smile_volatility(float(option.volatility), strike, spot, years)
        value = theo_value(terms.contract_type, spot, strike, years, vol)
        return _option_cents(value)[2]

    def _option_theos(
        self, option: Instrument, underlier: Instrument, window: _Window, day: _DayPath
    ) -> array[int]:
        """The option's last sale in cents every few minutes of the day (cached with the day)."""
        if day.theos is None:
            day.theos = array(
                "q",
                (
                    self._option_cents_at(
                        option, underlier, window, window.start_ns + m * _NS_PER_MINUTE
                    )
                    for m in range(0, window.minutes + 1, _OPTION_BAR_STEP)
                ),
            )
        return day.theos

    def _symbol(self, instrument: Instrument) -> _Symbol:
        symbol = instrument.symbol
        sym = self._symbols.get(symbol)
        if sym is None:
            sym = self._new_symbol(instrument)
            self._symbols.put(symbol, sym)
        elif sym.instrument is not instrument:
            if sym.params != _params(instrument):
                sym = self._new_symbol(instrument)
                self._symbols.put(symbol, sym)
            else:
                sym.instrument = instrument
        return sym

    def _new_symbol(self, instrument: Instrument) -> _Symbol:
        sym = _Symbol(instrument)
        gen = np.random.Generator(np.random.PCG64([self.seed, *sym.key, 0]))
        if instrument.option is not None:
            sym.adv = float(np.exp(gen.uniform(math.log(50), math.log(5000))))
            sym.open_interest = float(np.exp(gen.uniform(math.log(100), math.log(50_000))))
            return sym
        sym.half_spread = float(gen.uniform(1.0, 5.0)) / 20_000  # 2-10 bps wide
        sym.adv = float(np.exp(gen.uniform(math.log(300_000), math.log(30_000_000))))
        days = len(self.trading_days.days)
        daily_vol = sym.vol / math.sqrt(_TRADING_DAYS_PER_YEAR)
        steps = gen.standard_normal(days) * daily_vol
        levels = np.concatenate(([0.0], np.cumsum(steps)))
        reference = max(float(instrument.reference_price), 0.0001)
        sym.levels = levels - levels[self._anchor_index] + math.log(reference)
        return sym

    def _day(self, sym: _Symbol, window: _Window) -> _DayPath:
        if sym.day_index == window.index and sym.day is not None:
            return sym.day
        key = (sym.instrument.symbol, window.index)
        day = self._paths.get(key)
        if day is None or day.owner is not sym:
            day = self._new_day(sym, window)
            self._paths.put(key, day)
        sym.day_index = window.index
        sym.day = day
        return day

    def _shape(self, window: _Window) -> tuple[np.ndarray, np.ndarray]:
        """Per-minute price variance weights and volume profile of a day's minute grid."""
        key = (window.minutes, window.open_m, window.close_m)
        shape = self._shapes.get(key)
        if shape is None:
            minutes = np.arange(window.minutes)
            regular = (minutes >= window.open_m) & (minutes < window.close_m)
            variance = np.where(regular, 1.0, _EXTENDED_HOURS_VARIANCE)
            span = max(window.close_m - window.open_m, 1)
            x = (minutes - window.open_m + 0.5) / span
            u_shape = 0.5 + 3.0 * (2.0 * x - 1.0) ** 2
            average = float(u_shape[regular].mean()) if regular.any() else 1.0
            profile = np.where(regular, u_shape, _EXTENDED_HOURS_VOLUME * average)
            shape = (variance, profile / profile.sum())
            self._shapes[key] = shape
        return shape

    def _new_day(self, sym: _Symbol, window: _Window) -> _DayPath:
        n = window.minutes
        gen = np.random.Generator(
            np.random.PCG64([self.seed, *sym.key, 1, window.date.toordinal()])
        )
        variance, profile = self._shape(window)
        day = _DayPath(sym)
        if sym.levels is not None:
            # A Brownian bridge from the previous end-of-day level to this one, its variance
            # spread over the minutes by `variance` and totalling one day's.
            steps = gen.standard_normal(n) * np.sqrt(variance)
            walk = np.concatenate(([0.0], np.cumsum(steps)))
            clock = np.concatenate(([0.0], np.cumsum(variance)))
            total_variance = clock[-1]
            clock /= total_variance
            bridge = walk - clock * walk[-1]
            daily_vol = sym.vol / math.sqrt(_TRADING_DAYS_PER_YEAR)
            start, end = sym.levels[window.index], sym.levels[window.index + 1]
            log_mid = (
                start + (end - start) * clock + bridge * (daily_vol / math.sqrt(total_variance))
            )
            day.mids = array("d", np.exp(log_mid).tobytes())
        if sym.instrument.option is not None:
            bid_sizes = gen.integers(1, 201, n, dtype=np.int32)
            ask_sizes = gen.integers(1, 201, n, dtype=np.int32)
            last_sizes = gen.integers(1, 21, n, dtype=np.int32)
            day.open_interest = int(sym.open_interest * math.exp(0.05 * gen.standard_normal()))
        else:
            bid_sizes = gen.integers(1, 31, n, dtype=np.int32) * 100
            ask_sizes = gen.integers(1, 31, n, dtype=np.int32) * 100
            last_sizes = gen.integers(1, 11, n, dtype=np.int32) * 100
        day.bid_sizes = array("i", bid_sizes.astype(np.int32).tobytes())
        day.ask_sizes = array("i", ask_sizes.astype(np.int32).tobytes())
        day.last_sizes = array("i", last_sizes.astype(np.int32).tobytes())
        total = sym.adv * math.exp(0.25 * gen.standard_normal())
        noise = np.exp(0.5 * gen.standard_normal(n) - 0.125)
        # Floor the running total, not each minute, so thin names still trade a few lots a day.
        running = np.floor(np.cumsum(profile * noise * total)).astype(np.int64)
        cum = np.concatenate((np.zeros(1, dtype=np.int64), running))
        day.cum_volume = array("q", cum.tobytes())
        day.minute_volume = array("q", np.diff(cum).tobytes())
        return day


def _minute(window: _Window, t: int) -> tuple[int, float]:
    """The minute of the day's grid `t` falls in, and how far into it (0..1)."""
    m, rem = divmod(t - window.start_ns, _NS_PER_MINUTE)
    if m >= window.minutes:
        return window.minutes - 1, 1.0
    if m < 0:
        return 0, 0.0
    return m, rem / _NS_PER_MINUTE


# ---- manual ----------------------------------------------------------------------------


class ManualSource:
    """No market data at all: only quotes pinned by hand (through `MarketData`) exist."""

    def quote(self, instrument: Instrument, now_ns: int) -> Quote | None:
        """Always None."""
        return None

    def daily_bar(self, instrument: Instrument, date: dt.date, as_of_ns: int) -> DailyBar | None:
        """Always None."""
        return None


# ---- replay ----------------------------------------------------------------------------

REPLAY_COLUMNS = ("ts", "symbol", "bid", "ask", "bid_size", "ask_size", "last", "last_size")


class ReplayRowError(ValueError):
    """A replay row that cannot be played: the `field` at fault and why (`message`).

    `index` is the row's position in the batch being loaded, when a batch is being loaded.
    """

    def __init__(self, field: str, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.index = index


@dataclass(frozen=True, slots=True)
class ReplayRow:
    """One parsed replay row. A None field was empty: the symbol keeps its previous value."""

    ts_ns: int
    symbol: str  # as the instrument master spells it: upper case, padded OSI for options
    bid: Decimal | None
    ask: Decimal | None
    bid_size: int | None
    ask_size: int | None
    last: Decimal | None
    last_size: int | None

    def fields(self) -> list[str]:
        """The row as replay CSV fields, in `REPLAY_COLUMNS` order (`parse_replay_row` reads
        them back to an equal row; prices keep the digits they were given)."""
        return [
            format_ns(self.ts_ns),
            self.symbol,
            *("" if value is None else str(value) for value in (self.bid, self.ask)),
            *("" if value is None else str(value) for value in (self.bid_size, self.ask_size)),
            "" if self.last is None else str(self.last),
            "" if self.last_size is None else str(self.last_size),
        ]


def parse_replay_row(fields: Sequence[str]) -> ReplayRow:
    """Parse the eight text fields of a replay row (`REPLAY_COLUMNS` order, empty = keep).

    Raises `ReplayRowError` naming the first field that is not acceptable.
    """
    ts_text, symbol_text, bid, ask, bid_size, ask_size, last, last_size = (
        text.strip() for text in fields
    )
    try:
        ts = parse_iso(ts_text)
    except ValueError:
        raise ReplayRowError("ts", f"invalid timestamp `{ts_text}`") from None
    symbol = _canonical(symbol_text)
    if not symbol:
        raise ReplayRowError("symbol", "missing symbol")
    row_bid = _replay_price(bid, "bid")
    row_ask = _replay_price(ask, "ask")
    row_bid_size = _replay_size(bid_size, "bid_size")
    row_ask_size = _replay_size(ask_size, "ask_size")
    row_last = _replay_price(last, "last")
    if row_last is None and last_size:
        raise ReplayRowError("last_size", "last_size given without last")
    return ReplayRow(
        ts,
        symbol,
        row_bid,
        row_ask,
        row_bid_size,
        row_ask_size,
        row_last,
        _replay_size(last_size, "last_size"),
    )


def _replay_price(text: str, name: str) -> Decimal | None:
    if not text:
        return None
    try:
        value = parse_decimal(text, PRICE)
    except ValueError:
        raise ReplayRowError(name, f"invalid {name} `{text}`") from None
    if value <= 0:
        raise ReplayRowError(name, f"{name} must be positive, got `{text}`")
    return value


def _replay_size(text: str, name: str) -> int | None:
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ReplayRowError(name, f"invalid {name} `{text}`") from None
    if value < 0:
        raise ReplayRowError(name, f"{name} must not be negative, got `{text}`")
    return value


def read_replay_csv(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, the eight fields in `REPLAY_COLUMNS` order) of each non-blank row of a
    replay CSV; its header names the columns (any order, extra columns ignored).

    Raises ValueError (`FILE:LINE: ...`) on an empty file or a header lacking a column.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty replay file (expected a header line)")
        names = [name.strip().lower() for name in header]
        missing = [column for column in REPLAY_COLUMNS if column not in names]
        if missing:
            raise ValueError(f"{path}:1: header lacks column(s) {', '.join(missing)}")
        where = [names.index(column) for column in REPLAY_COLUMNS]
        for record in reader:
            if not record or all(not field.strip() for field in record):
                continue
            if len(record) != len(names):
                # A short row would play its missing fields as empty (keep the previous value):
                # an `ask_size` of 0 that nobody wrote. Refuse it, naming the line.
                raise ValueError(
                    f"{path}:{reader.line_num}: {len(record)} fields, but the header has "
                    f"{len(names)} ({','.join(names)})"
                )
            yield reader.line_num, [record[i] for i in where]


def _carried_quote(
    bid: Decimal | None, ask: Decimal | None, row: ReplayRow
) -> tuple[Decimal | None, Decimal | None]:
    """The bid and ask after `row` (its empty sides keep the previous ones); refuses a crossed
    quote, blaming the side the row gave."""
    bid = row.bid if row.bid is not None else bid
    ask = row.ask if row.ask is not None else ask
    if bid is not None and ask is not None and bid > ask:
        field = "bid" if row.bid is not None else "ask"
        raise ReplayRowError(field, f"crossed quote: bid {bid} > ask {ask}")
    return bid, ask


class _Series:
    """One symbol's replayed rows in time order: the quote in force after each, and running
    per-day trade aggregates (US/Eastern dates) for the daily bars.

    `add` plays one more row, carrying the fields it leaves empty over from the rows before.
    """

    __slots__ = (
        "ask",
        "ask_size",
        "bid",
        "bid_size",
        "day",
        "day_hilo",
        "day_open",
        "last",
        "last_size",
        "quotes",
        "trade_day",
        "trade_hilo",
        "trade_open",
        "trade_ts",
        "trade_vol",
        "ts",
        "volume",
    )

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.quotes: list[Quote] = []
        self.trade_ts: list[int] = []
        self.trade_day: list[dt.date] = []
        self.trade_open: list[Decimal] = []
        self.trade_hilo: list[tuple[Decimal, Decimal, Decimal]] = []  # high, low, close
        self.trade_vol: list[int] = []
        # What the next row carries over:
        self.bid: Decimal | None = None
        self.ask: Decimal | None = None
        self.bid_size = self.ask_size = self.last_size = 0
        self.last: Decimal | None = None
        self.day: dt.date | None = None  # the date of the latest row, and its volume so far
        self.volume = 0
        self.day_open = Decimal(0)  # the latest trade day's first trade, high and low
        self.day_hilo = (Decimal(0), Decimal(0))

    def add(self, row: ReplayRow) -> None:
        """Play `row`, which is not earlier than any row played before; `ReplayRowError` on a
        crossed quote (the series is then unchanged)."""
        ts = row.ts_ns
        if self.ts and ts < self.ts[-1]:
            raise ValueError("replay rows must be added in time order")
        self.bid, self.ask = _carried_quote(self.bid, self.ask, row)
        if row.bid_size is not None:
            self.bid_size = row.bid_size
        if row.ask_size is not None:
            self.ask_size = row.ask_size
        date = _market_date(ts)
        if date != self.day:
            self.day, self.volume = date, 0
        trade = row.last
        if trade is not None:
            self.last = trade
            self.last_size = row.last_size or 0
            self.volume += self.last_size
            if not self.trade_day or self.trade_day[-1] != date:
                self.day_open = trade
                high = low = trade
            else:
                high, low = self.day_hilo
            high, low = max(high, trade), min(low, trade)
            self.day_hilo = (high, low)
            self.trade_ts.append(ts)
            self.trade_day.append(date)
            self.trade_open.append(self.day_open)
            self.trade_hilo.append((high, low, trade))
            self.trade_vol.append(self.volume)
        self.ts.append(ts)
        self.quotes.append(
            Quote(
                self.bid,
                self.ask,
                self.bid_size,
                self.ask_size,
                self.last,
                self.last_size,
                self.volume,
                ts,
            )
        )

    def quote(self, now_ns: int) -> Quote | None:
        """The quote after the latest row at or before `now_ns`, or None before the first."""
        i = bisect.bisect_right(self.ts, now_ns) - 1
        return self.quotes[i] if i >= 0 else None

    def daily_bar(self, date: dt.date, as_of_ns: int) -> DailyBar | None:
        """The trades of `date` up to `as_of_ns`; None when there were none."""
        # The last trade at or before as_of that is not after `date` (trade_day is sorted too).
        j = min(
            bisect.bisect_right(self.trade_ts, as_of_ns),
            bisect.bisect_right(self.trade_day, date),
        )
        j -= 1
        if j < 0 or self.trade_day[j] != date:
            return None
        first = bisect.bisect_left(self.trade_day, date)
        high, low, close = self.trade_hilo[j]
        previous_close = self.trade_hilo[first - 1][2] if first > 0 else None
        return DailyBar(
            trade_date=date,
            open=self.trade_open[j],
            high=high,
            low=low,
            close=close,
            volume=self.trade_vol[j],
            previous_close=previous_close,
        )


def _market_date(ns: int) -> dt.date:
    return to_datetime(ns).astimezone(EASTERN).date()


def _series_of(series: dict[str, _Series], instrument: Instrument) -> _Series | None:
    return series.get(instrument.symbol) or series.get(_canonical(instrument.symbol))


class ReplaySource:
    """Quotes and trades from a CSV file, played against the clock.

    Format (UTF-8, with this header; columns in any order, extra columns ignored)::

        ts,symbol,bid,ask,bid_size,ask_size,last,last_size
        2026-03-02T14:30:00.000000000Z,AAPL,210.10,210.14,300,200,210.12,100
        2026-03-02T14:30:01Z,AAPL,,,,,210.13,50
        2026-03-02T14:30:02Z,AAPL  260320C00200000,11.20,11.40,12,8,,

    `ts` is an ISO-8601 instant (UTC unless it carries an offset, nanoseconds kept); `symbol` is
    an equity ticker or an OSI option symbol (padded or not). Prices are decimals, sizes
    non-negative integers. An empty field keeps that symbol's previous value, so a trade-only row
    (only `last`/`last_size`) keeps the last bid and ask. A row with `last` is a trade of
    `last_size`: trades make the cumulative day volume (US/Eastern dates) and the daily bars.
    Rows need not be sorted. The quote at time t is the latest row with ts <= t for the symbol.

    With `master_lookup`, an option absent from the file is valued with Black–Scholes from its
    underlier's replayed price.
    """

    def __init__(self, path: str | Path, master_lookup: Resolver | None = None) -> None:
        self.path = Path(path)
        self.resolve = master_lookup
        self._series: dict[str, _Series] = {}
        self._load()

    def quote(self, instrument: Instrument, now_ns: int) -> Quote | None:
        """The latest replayed row at or before `now_ns`, or a Black–Scholes value for options."""
        series = _series_of(self._series, instrument)
        if series is None:
            return self._valued_option(instrument, now_ns)
        return series.quote(now_ns)

    def daily_bar(self, instrument: Instrument, date: dt.date, as_of_ns: int) -> DailyBar | None:
        """The trades of `date` up to `as_of_ns`; None when there were none."""
        series = _series_of(self._series, instrument)
        return series.daily_bar(date, as_of_ns) if series is not None else None

    def _valued_option(self, option: Instrument, now_ns: int) -> Quote | None:
        terms = option.option
        if terms is None or self.resolve is None or _market_date(now_ns) > terms.expiry:
            return None
        underlier = self.resolve(str(terms.underlying_id))
        if underlier is None:
            return None
        spot = spot_price(self.quote(underlier, now_ns))
        if spot is None or spot <= 0:
            return None
        return option_quote(option, float(spot), now_ns)

    def _load(self) -> None:
        rows: dict[str, list[tuple[ReplayRow, int]]] = {}
        for line, fields in read_replay_csv(self.path):
            try:
                row = parse_replay_row(fields)
            except ReplayRowError as exc:
                raise ValueError(f"{self.path}:{line}: {exc.message}") from None
            rows.setdefault(row.symbol, []).append((row, line))
        for symbol, entries in rows.items():
            entries.sort(key=lambda entry: entry[0].ts_ns)  # stable: file order breaks ties
            series = _Series()
            for row, line in entries:
                try:
                    series.add(row)
                except ReplayRowError as exc:
                    raise ValueError(f"{self.path}:{line}: {exc.message}") from None
            self._series[symbol] = series


class ReplayOverlay:
    """Replayed rows loaded into a running server, which `MarketData` consults after pinned
    quotes and before its source.

    A symbol follows its replayed rows from its first one on (quotes and daily bars); before
    that instant, and for symbols never replayed, the source answers. Batches may arrive in any
    time order: a batch that reaches back before a symbol's latest row rebuilds that symbol's
    series from all its rows (ties keep arrival order), otherwise it is appended.
    """

    def __init__(self) -> None:
        self.series: dict[str, _Series] = {}  # by symbol; read only outside the overlay
        self._rows: dict[str, list[ReplayRow]] = {}  # kept to rebuild a series out of order
        self.row_count = 0
        self._version = 0  # bumped by every commit: a batch prepared before one is stale

    def __bool__(self) -> bool:
        return bool(self.series)

    def symbols(self) -> list[str]:
        """The replayed symbols, sorted."""
        return sorted(self.series)

    def quote(self, instrument: Instrument, now_ns: int) -> Quote | None:
        """The latest replayed row at or before `now_ns`; None where the source answers."""
        series = _series_of(self.series, instrument)
        return series.quote(now_ns) if series is not None else None

    def covers(self, instrument: Instrument, now_ns: int) -> bool:
        """True when `instrument` has a replayed row at or before `now_ns`."""
        series = _series_of(self.series, instrument)
        return series is not None and series.ts[0] <= now_ns

    def daily_bar(self, instrument: Instrument, date: dt.date, as_of_ns: int) -> DailyBar | None:
        """The replayed trades of `date` up to `as_of_ns`; None when there were none."""
        series = _series_of(self.series, instrument)
        return series.daily_bar(date, as_of_ns) if series is not None else None

    def prepare(self, rows: Sequence[ReplayRow]) -> ReplayBatch:
        """Check `rows` against what is loaded and build what merging them takes; changes
        nothing. `ReplayRowError` (with the row's `index` in `rows`) on a crossed quote."""
        by_symbol: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            by_symbol.setdefault(row.symbol, []).append(i)
        appends: dict[str, list[ReplayRow]] = {}
        rebuilds: dict[str, tuple[_Series, list[ReplayRow]]] = {}
        for symbol, indexes in by_symbol.items():
            indexes.sort(key=lambda i: rows[i].ts_ns)  # stable: arrival order breaks ties
            current = self.series.get(symbol)
            if current is None or rows[indexes[0]].ts_ns >= current.ts[-1]:
                bid = ask = None
                if current is not None:
                    bid, ask = current.bid, current.ask
                for i in indexes:
                    try:
                        bid, ask = _carried_quote(bid, ask, rows[i])
                    except ReplayRowError as exc:
                        raise ReplayRowError(exc.field, exc.message, i) from None
                appends[symbol] = [rows[i] for i in indexes]
            else:
                rebuilds[symbol] = self._rebuild(symbol, rows, indexes)
        return ReplayBatch(self, self._version, len(rows), appends, rebuilds)

    def _rebuild(
        self, symbol: str, rows: Sequence[ReplayRow], indexes: list[int]
    ) -> tuple[_Series, list[ReplayRow]]:
        entries: list[tuple[ReplayRow, int | None]] = [(row, None) for row in self._rows[symbol]]
        entries += [(rows[i], i) for i in indexes]
        entries.sort(key=lambda entry: entry[0].ts_ns)  # stable: loaded rows first on ties
        series = _Series()
        blame = indexes[0]  # the latest new row played: what changed an old row's carry-over
        for row, index in entries:
            if index is not None:
                blame = index
            try:
                series.add(row)
            except ReplayRowError as exc:
                raise ReplayRowError(exc.field, exc.message, blame) from None
        return series, [row for row, _ in entries]

    def _commit(self, batch: ReplayBatch) -> None:
        if batch.version != self._version:
            raise RuntimeError("the replay overlay changed since this batch was prepared")
        self._version += 1
        for symbol, added in batch.appends.items():
            series = self.series.get(symbol)
            if series is None:
                series = self.series[symbol] = _Series()
                self._rows[symbol] = []
            for row in added:
                series.add(row)
            self._rows[symbol].extend(added)
        for symbol, (series, all_rows) in batch.rebuilds.items():
            self.series[symbol] = series
            self._rows[symbol] = all_rows
        self.row_count += batch.row_count

    def rows_without(self, symbols: Sequence[str] | None) -> list[ReplayRow]:
        """Every loaded row except those of `symbols` (None: of every symbol), in time order per
        symbol: what `<db>.replay.csv` keeps once those symbols are forgotten."""
        dropped = set(self.series) if symbols is None else set(symbols)
        return [row for symbol, rows in self._rows.items() if symbol not in dropped for row in rows]

    def forget(self, symbols: Sequence[str] | None) -> list[str]:
        """Drop the replayed rows of `symbols` (None: all); they follow their source again.
        Returns the symbols that had rows, sorted."""
        gone = sorted(self.series if symbols is None else set(symbols) & set(self.series))
        for symbol in gone:
            del self.series[symbol]
            self.row_count -= len(self._rows.pop(symbol))
        self._version += 1
        return gone

    def merge(self, rows: Sequence[ReplayRow]) -> None:
        """Check and merge `rows` in one step (`prepare`, then `ReplayBatch.commit`)."""
        self.prepare(rows).commit()

    def load_csv(self, path: Path) -> int:
        """Merge a replay CSV's rows; returns their count. ValueError names `FILE:LINE`."""
        rows: list[ReplayRow] = []
        lines: list[int] = []
        for line, fields in read_replay_csv(path):
            try:
                rows.append(parse_replay_row(fields))
            except ReplayRowError as exc:
                raise ValueError(f"{path}:{line}: {exc.message}") from None
            lines.append(line)
        try:
            self.merge(rows)
        except ReplayRowError as exc:
            assert exc.index is not None
            raise ValueError(f"{path}:{lines[exc.index]}: {exc.message}") from None
        return len(rows)


@dataclass(frozen=True, slots=True)
class ReplayBatch:
    """Rows checked by `ReplayOverlay.prepare`, ready to merge with `commit`."""

    overlay: ReplayOverlay
    version: int
    row_count: int
    appends: dict[str, list[ReplayRow]]  # symbol -> rows to add after its latest, in time order
    rebuilds: dict[str, tuple[_Series, list[ReplayRow]]]  # symbol -> new series and all rows

    def symbols(self) -> list[str]:
        """The symbols the batch touches, sorted."""
        return sorted({*self.appends, *self.rebuilds})

    def commit(self) -> None:
        """Merge the rows; the overlay must not have changed since `prepare`."""
        self.overlay._commit(self)


def replay_log_path(db_path: Path) -> Path:
    """Where a server keeps the replayed rows it accepted: `<db>.replay.csv` beside its database."""
    return db_path.with_name(db_path.name + ".replay.csv")


def append_replay_csv(path: Path, rows: Sequence[ReplayRow]) -> None:
    """Append `rows` to a replay CSV (its header first when the file is empty), then flush and
    fsync it, and its folder when the file is new, so the rows survive a crash. On a failure
    the file is cut back to where it was."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    created = not path.exists()
    # Owner-only, like the database beside it.
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as handle:
        start = handle.tell()
        if start == 0:
            writer.writerow(REPLAY_COLUMNS)
        writer.writerows(row.fields() for row in rows)
        try:
            handle.write(buffer.getvalue().encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(handle.fileno(), start)
            raise
    if created:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def rewrite_replay_csv(path: Path, rows: Sequence[ReplayRow]) -> None:
    """Replace the replay CSV at `path` with `rows` durably (a new file renamed over the old one,
    then the folder fsynced); with no rows the file is removed."""
    if rows:
        temporary = path.with_name(path.name + ".tmp")
        temporary.unlink(missing_ok=True)
        append_replay_csv(temporary, rows)
        os.replace(temporary, path)
    else:
        path.unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def load_replay_log(path: Path, overlay: ReplayOverlay) -> int:
    """Merge the rows `append_replay_csv` kept in `path` into `overlay`; returns their count.

    A missing or empty file holds none. A last line without its newline was torn by a crash
    while it was written, so never acknowledged: it is cut off (with a warning) before loading.
    ValueError (`FILE:LINE: ...`) when the file is otherwise unreadable.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if size == 0:
        return 0
    with path.open("rb+") as handle:
        end = size
        while end > 0:
            start = max(0, end - 4096)
            handle.seek(start)
            block = handle.read(end - start)
            cut = block.rfind(b"\n")
            if cut >= 0:
                end = start + cut + 1
                break
            end = start
        if end != size:
            log.warning("%s: cutting off a torn last line (%d bytes)", path, size - end)
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
    if end == 0:
        return 0
    return overlay.load_csv(path)


def _canonical(symbol: str) -> str:
    """The symbol as the instrument master spells it: padded OSI for options, upper-case."""
    text = symbol.strip().upper()
    return normalize_osi(text) or text


# ---- the façade ------------------------------------------------------------------------


class MarketData:
    """Quotes for the engine and the API: pinned quotes first, then replayed rows, then the source.

    `pins` is the engine's live mapping of symbol -> PinnedQuote; it is read, never copied, so a
    pin or release shows at once. An option whose underlier is pinned is valued from the pinned
    underlier's mid with Black–Scholes (sizes and volume still come from the source).

    `replayed` holds the rows loaded into the running server (`ReplayOverlay`): a symbol with a
    replayed row at or before the instant asked takes its quote and daily bars from them, and
    an option without rows of its own whose underlier is replayed is valued from it as above.
    """

    def __init__(
        self,
        source: QuoteSource,
        calendar: TradingCalendar,
        pins: dict[str, PinnedQuote] | None = None,
        resolve: Resolver | None = None,
        replayed: ReplayOverlay | None = None,
    ) -> None:
        self.source = source
        self.calendar = calendar
        self.pins: dict[str, PinnedQuote] = pins if pins is not None else {}
        self.replayed = replayed if replayed is not None else ReplayOverlay()
        self.trading_days = (
            source.trading_days if isinstance(source, SyntheticSource) else TradingDays(calendar)
        )
        # Without a resolver of its own, use the source's (the instrument master's `resolve`).
        self._resolve: Resolver | None = resolve or getattr(source, "resolve", None)
        self._underliers: dict[uuid.UUID, Instrument | None] = {}

    def quote(self, instrument: Instrument, now_ns: int) -> Quote | None:
        """The quote in force at `now_ns`: pinned, valued from a pinned underlier, or sourced."""
        pins = self.pins
        if pins:
            pin = pins.get(instrument.symbol)
            if pin is not None:
                return self._pinned(instrument, pin, now_ns)
            if instrument.option is not None:
                underlier = self.underlier(instrument)
                if underlier is not None and underlier.symbol in pins:
                    spot = self._pinned(underlier, pins[underlier.symbol], now_ns)
                    return self._from_underlier(instrument, spot, now_ns)
        if self.replayed.series:
            return self._unpinned(instrument, now_ns)
        return self.source.quote(instrument, now_ns)

    def _unpinned(self, instrument: Instrument, now_ns: int) -> Quote | None:
        """The quote in force at `now_ns` when no pin applies: replayed, else sourced."""
        replayed = self.replayed
        if replayed.series:
            quote = replayed.quote(instrument, now_ns)
            if quote is not None:
                return quote
            if instrument.option is not None:
                underlier = self.underlier(instrument)
                spot = replayed.quote(underlier, now_ns) if underlier is not None else None
                if spot is not None:
                    return self._from_underlier(instrument, spot, now_ns)
        return self.source.quote(instrument, now_ns)

    def greeks(self, option: Instrument, underlier: Instrument, now_ns: int) -> Greeks | None:
        """Theoretical value and Greeks of `option` from the underlier's current price."""
        terms = option.option
        if terms is None:
            return None
        date = self.trading_days.session_date(now_ns)
        if date is not None and date > terms.expiry:
            return None
        spot = spot_price(self.quote(underlier, now_ns))
        if spot is None or spot <= 0:
            return None
        return option_greeks(
            terms.contract_type, terms.strike, terms.expiry, spot, option.volatility, now_ns
        )

    def daily_bar(
        self, instrument: Instrument, now_ns: int, date: dt.date | None = None
    ) -> DailyBar | None:
        """The bar of `date` (default: the trading day in force at `now_ns`) as of `now_ns`."""
        if date is None:
            date = self.trading_days.session_date(now_ns)
            if date is None:
                return None
        return self._bar(instrument, date, now_ns)

    def _bar(self, instrument: Instrument, date: dt.date, as_of_ns: int) -> DailyBar | None:
        """The bar of `date` as of `as_of_ns`: replayed once the symbol is, else sourced."""
        replayed = self.replayed
        if replayed.series and replayed.covers(instrument, as_of_ns):
            return replayed.daily_bar(instrument, date, as_of_ns)
        return self.source.daily_bar(instrument, date, as_of_ns)

    def reference(self, instrument: Instrument, now_ns: int) -> Reference:
        """The definition figures of the trading day in force at `now_ns`.

        From the synthetic model while the symbol is not replayed; otherwise measured from the
        daily bars (replayed or sourced): the close of the last earlier day with trades, the
        mean volume of the last `ADV_DAYS` days with trades, today's open interest. A pinned
        quote changes the quote, not the history.
        """
        window = self.trading_days.window_at(now_ns)
        if window is None:
            return NO_REFERENCE
        source = self.source
        replayed = bool(self.replayed.series) and self.replayed.covers(instrument, now_ns)
        if isinstance(source, SyntheticSource) and not replayed:
            return source.reference(instrument, window.date)
        if isinstance(source, ManualSource) and not replayed:
            return NO_REFERENCE
        today = self._bar(instrument, window.date, now_ns)
        closes: list[Decimal] = []
        volumes: list[int] = []
        probe = self.trading_days.previous(window.date)
        for _ in range(ADV_DAYS):
            if probe is None:
                break
            end = self.calendar.day(probe).sessions[REGULAR][1]
            bar = self._bar(instrument, probe, end)
            if bar is not None and bar.close is not None:
                closes.append(bar.close)
                volumes.append(bar.volume)
            probe = self.trading_days.previous(probe)
        return Reference(
            previous_close=closes[0] if closes else None,
            adv=round(sum(volumes) / len(volumes)) if volumes else None,
            open_interest=today.open_interest if today is not None else None,
        )

    def underlier(self, option: Instrument) -> Instrument | None:
        """The underlier of an option, through the resolver (cached)."""
        terms = option.option
        if terms is None:
            return None
        try:
            return self._underliers[terms.underlying_id]
        except KeyError:
            pass
        found = self._resolve(str(terms.underlying_id)) if self._resolve else None
        self._underliers[terms.underlying_id] = found
        return found

    def _pinned(self, instrument: Instrument, pin: PinnedQuote, now_ns: int) -> Quote:
        base = self._unpinned(instrument, now_ns)
        return Quote(
            pin.bid,
            pin.ask,
            pin.bid_size,
            pin.ask_size,
            pin.last,
            0,
            base.volume if base is not None else 0,
            pin.ts_ns,
        )

    def _from_underlier(self, option: Instrument, underlier: Quote, now_ns: int) -> Quote | None:
        """The option valued from its underlier's (pinned or replayed) quote."""
        terms = option.option
        assert terms is not None
        date = self.trading_days.session_date(now_ns)
        if date is not None and date > terms.expiry:
            return None
        spot = spot_price(underlier)
        if spot is None or spot <= 0:
            return None
        base = self.source.quote(option, now_ns)
        if base is None:
            return option_quote(option, float(spot), now_ns)
        sizes = (base.bid_size, base.ask_size, base.last_size)
        return option_quote(option, float(spot), now_ns, sizes, base.volume)


def make_source(
    spec: str,
    seed: int,
    calendar: TradingCalendar,
    resolve: Resolver | None = None,
    anchor: dt.date | None = None,
) -> QuoteSource:
    """Build a source from its setting: `synthetic`, `manual` or `replay:FILE`.

    `resolve` finds an option's underlier (pass `InstrumentMaster.resolve`); `anchor` is the
    date on which synthetic prices equal the instruments' reference prices (pass the date the
    instrument master was built for, so option strikes sit around the synthetic prices).
    """
    text = spec.strip()
    if text == "synthetic":
        return SyntheticSource(seed, calendar, resolve, anchor or DEFAULT_ANCHOR)
    if text == "manual":
        return ManualSource()
    path = text.removeprefix("replay:").strip()
    if text.startswith("replay:") and path:
        return ReplaySource(path, resolve)
    raise ValueError(
        f"unknown market data source `{spec}` (expected synthetic, manual or replay:FILE)"
    )
