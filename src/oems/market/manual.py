"""The manual market data source: no data at all, only the quotes pinned by hand."""

from __future__ import annotations

import datetime as dt

from oems.domain.instruments import Instrument
from oems.market.quotes import DailyBar, Quote


class ManualSource:
    """No market data at all: only quotes pinned by hand (through `MarketData`) exist."""

    def quote(self, instrument: Instrument, now_ns: int) -> Quote | None:
        """Always None."""
        return None

    def daily_bar(self, instrument: Instrument, date: dt.date, as_of_ns: int) -> DailyBar | None:
        """Always None."""
        return None
