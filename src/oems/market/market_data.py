"""The market data façade the engine and the API use: pinned quotes first, then the rows replayed
into the running server, then the configured source (`make_source` builds it from its setting).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal

from oems.domain.instruments import Instrument
from oems.domain.state import PinnedQuote
from oems.market.calendar import REGULAR, TradingCalendar
from oems.market.manual import ManualSource
from oems.market.pricing import Greeks, option_greeks
from oems.market.quotes import (
    ADV_DAYS,
    NO_REFERENCE,
    DailyBar,
    Quote,
    QuoteSource,
    Reference,
    Resolver,
    option_quote,
    spot_price,
)
from oems.market.replay import ReplayOverlay, ReplaySource
from oems.market.synthetic import DEFAULT_ANCHOR, SyntheticSource
from oems.market.trading_days import TradingDays

PinnedQuotes = Callable[[], Mapping[str, PinnedQuote]]
"""Answers the pinned quotes in force (e.g. `lambda: state.pinned_quotes`)."""


def _no_pins() -> Mapping[str, PinnedQuote]:
    return {}


class MarketData:
    """Quotes for the engine and the API: pinned quotes first, then replayed rows, then the source.

    `pinned` answers the trading state's pinned quotes (symbol -> PinnedQuote), asked at every
    quote, so a pin or release shows at once whatever object the state holds them in. An option whose underlier is pinned is valued from the pinned
    underlier's mid with Black–Scholes (sizes and volume still come from the source).

    `replayed` holds the rows loaded into the running server (`ReplayOverlay`): a symbol with a
    replayed row at or before the instant asked takes its quote and daily bars from them, and
    an option without rows of its own whose underlier is replayed is valued from it as above.
    """

    def __init__(
        self,
        source: QuoteSource,
        calendar: TradingCalendar,
        pinned: PinnedQuotes | None = None,
        resolve: Resolver | None = None,
        replayed: ReplayOverlay | None = None,
    ) -> None:
        self.source = source
        self.calendar = calendar
        self._pinned_quotes: PinnedQuotes = pinned if pinned is not None else _no_pins
        self.replayed = replayed if replayed is not None else ReplayOverlay()
        self.trading_days = (
            source.trading_days if isinstance(source, SyntheticSource) else TradingDays(calendar)
        )
        # Without a resolver of its own, use the source's (the instrument master's `resolve`).
        self._resolve: Resolver | None = resolve or getattr(source, "resolve", None)
        self._underliers: dict[uuid.UUID, Instrument | None] = {}

    @property
    def pins(self) -> Mapping[str, PinnedQuote]:
        """The pinned quotes in force now (symbol -> PinnedQuote)."""
        return self._pinned_quotes()

    def quote(self, instrument: Instrument, now_ns: int) -> Quote | None:
        """The quote in force at `now_ns`: pinned, valued from a pinned underlier, or sourced."""
        pins = self._pinned_quotes()
        if pins:
            pin = pins.get(instrument.symbol)
            if pin is not None:
                return self._pinned_quote(instrument, pin, now_ns)
            if instrument.option is not None:
                underlier = self.underlier(instrument)
                if underlier is not None and underlier.symbol in pins:
                    spot = self._pinned_quote(underlier, pins[underlier.symbol], now_ns)
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

    def _pinned_quote(self, instrument: Instrument, pin: PinnedQuote, now_ns: int) -> Quote:
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
