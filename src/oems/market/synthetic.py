"""The synthetic market data source: a seeded random walk per symbol, a pure function of
(seed, symbol, time); options are valued from their underlier with Black–Scholes."""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import math
import uuid
from array import array
from collections import OrderedDict
from decimal import Decimal
from typing import Generic, TypeVar

import numpy as np

from oems.domain.instruments import Instrument
from oems.market.calendar import TradingCalendar
from oems.market.pricing import smile_volatility, theo_value, years_to_expiry
from oems.market.quotes import (
    CENT,
    NO_REFERENCE,
    DailyBar,
    Quote,
    Reference,
    Resolver,
    fast_quote,
    option_cents,
    option_quote,
)
from oems.market.trading_days import NS_PER_MINUTE, DayWindow, TradingDays

K = TypeVar("K")
V = TypeVar("V")

_HUNDREDTH_CENT = Decimal("0.0001")
_TRADING_DAYS_PER_YEAR = 252
_EXTENDED_HOURS_VARIANCE = 0.15  # price variance per extended-hours minute, vs 1 in regular hours
_EXTENDED_HOURS_SPREAD = 3.0  # spreads widen outside the regular session
_EXTENDED_HOURS_VOLUME = 0.03  # volume of an extended-hours minute vs an average regular one
_OPTION_BAR_STEP = 5  # option bars sample the theoretical value every 5 minutes
_DAY_PATH_CACHE = 4096
_SYMBOL_CACHE = 1024  # an equity's whole-calendar walk is ~70 kB
DEFAULT_ANCHOR = dt.date(2026, 1, 2)  # where synthetic prices equal the reference prices


def _price_ticks(price: float) -> tuple[float, Decimal]:
    """The tick (as float, Decimal): 0.01 at or above $1, 0.0001 below."""
    return (0.01, CENT) if price >= 1.0 else (0.0001, _HUNDREDTH_CENT)


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

    def quote(self, instrument: Instrument, now_ns: int) -> Quote | None:  # noqa: C901 (hot path, inlined)
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
        m, rem = divmod(t - window.start_ns, NS_PER_MINUTE)
        if m >= window.minutes:
            m, frac = window.minutes - 1, 1.0
        else:
            frac = rem / NS_PER_MINUTE
        mids = day.mids
        lo = mids[m]
        mid = lo + (mids[m + 1] - lo) * frac
        if kind == "INDEX":
            return Quote(None, None, 0, 0, _last_price(mid), 0, 0, t)
        if mid >= 1.0:
            tick, tick_d = 0.01, CENT
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
        return fast_quote(
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

    def _mid_at(self, instrument: Instrument, window: DayWindow, t: int) -> float:
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

    def _option_quote(self, option: Instrument, window: DayWindow, t: int) -> Quote | None:
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

    def _option_bar(self, option: Instrument, window: DayWindow, t: int) -> DailyBar | None:
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
            open=theos[0] * CENT,
            high=max(max(seen), now_cents) * CENT,
            low=min(min(seen), now_cents) * CENT,
            close=now_cents * CENT,
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

    def _previous_close(self, instrument: Instrument, window: DayWindow) -> Decimal | None:
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
        close_ns = prior.start_ns + prior.close_m * NS_PER_MINUTE
        return self._option_cents_at(instrument, underlier, prior, close_ns) * CENT

    def _option_cents_at(
        self, option: Instrument, underlier: Instrument, window: DayWindow, t: int
    ) -> int:
        """The option's synthetic last sale in cents at `t`."""
        terms = option.option
        assert terms is not None
        spot = self._mid_at(underlier, window, t)
        years = years_to_expiry(terms.expiry, t)
        strike = float(terms.strike)
        vol = smile_volatility(float(option.volatility), strike, spot, years)
        value = theo_value(terms.contract_type, spot, strike, years, vol)
        return option_cents(value)[2]

    def _option_theos(
        self, option: Instrument, underlier: Instrument, window: DayWindow, day: _DayPath
    ) -> array[int]:
        """The option's last sale in cents every few minutes of the day (cached with the day)."""
        if day.theos is None:
            day.theos = array(
                "q",
                (
                    self._option_cents_at(
                        option, underlier, window, window.start_ns + m * NS_PER_MINUTE
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

    def _day(self, sym: _Symbol, window: DayWindow) -> _DayPath:
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

    def _shape(self, window: DayWindow) -> tuple[np.ndarray, np.ndarray]:
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

    def _new_day(self, sym: _Symbol, window: DayWindow) -> _DayPath:
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


def _minute(window: DayWindow, t: int) -> tuple[int, float]:
    """The minute of the day's grid `t` falls in, and how far into it (0..1)."""
    m, rem = divmod(t - window.start_ns, NS_PER_MINUTE)
    if m >= window.minutes:
        return window.minutes - 1, 1.0
    if m < 0:
        return 0, 0.0
    return m, rem / NS_PER_MINUTE
