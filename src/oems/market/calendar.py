"""The XNYS trading calendar (from exchange_calendars) and the extended-hours sessions around it.

Sessions each trading day, US/Eastern: pre-market 04:00-09:30, regular 09:30-close (16:00, or the
early close), after-hours close-20:00. As in the vendor's examples, early-close days have no
after-hours session.
"""

from __future__ import annotations

import bisect
import datetime as dt
import warnings
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars

from oems.domain.timefmt import from_datetime, to_datetime

EASTERN = ZoneInfo("America/New_York")
PRE_MARKET = "pre_market"
REGULAR = "regular"
AFTER_HOURS = "after_hours"
SESSION_NAMES = (PRE_MARKET, REGULAR, AFTER_HOURS)
_FIRST_YEAR = 2006
_LAST_YEAR = 2040


@dataclass(frozen=True, slots=True)
class MarketDay:
    """One calendar day of the market: its type and its sessions as (open_ns, close_ns)."""

    date: dt.date
    day_type: str  # TRADING_DAY | EARLY_CLOSE | HOLIDAY | WEEKEND
    sessions: dict[str, tuple[int, int]]

    @property
    def is_trading_day(self) -> bool:
        """True when the exchange holds a regular session this day."""
        return bool(self.sessions)


def _eastern_ns(day: dt.date, hour: int, minute: int = 0) -> int:
    return from_datetime(dt.datetime.combine(day, dt.time(hour, minute), EASTERN))


class TradingCalendar:
    """Trading days and sessions of the New York Stock Exchange."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas deprecations inside exchange_calendars
            calendar = exchange_calendars.get_calendar(
                "XNYS", start=f"{_FIRST_YEAR}-01-01", end=f"{_LAST_YEAR}-12-31"
            )
        schedule = calendar.schedule
        self._regular: dict[dt.date, tuple[int, int]] = {
            label.date(): (
                from_datetime(row.open.to_pydatetime()),
                from_datetime(row.close.to_pydatetime()),
            )
            for label, row in zip(schedule.index, schedule.itertuples(), strict=True)
        }
        self._trading_days = sorted(self._regular)
        self.first_date = self._trading_days[0]
        self.last_date = self._trading_days[-1]

    def market_date(self, ns: int) -> dt.date:
        """The US/Eastern calendar date at instant `ns`."""
        return to_datetime(ns).astimezone(EASTERN).date()

    @lru_cache(maxsize=4096)  # noqa: B019 - the calendar lives as long as the process
    def day(self, date: dt.date) -> MarketDay:
        """The market day for `date`, with its sessions (none on weekends and holidays)."""
        regular = self._regular.get(date)
        if regular is None:
            self._check_range(date)
            return MarketDay(date, "WEEKEND" if date.weekday() >= 5 else "HOLIDAY", {})
        open_ns, close_ns = regular
        early = close_ns < _eastern_ns(date, 16)
        sessions = {PRE_MARKET: (_eastern_ns(date, 4), open_ns), REGULAR: (open_ns, close_ns)}
        if not early:
            sessions[AFTER_HOURS] = (close_ns, _eastern_ns(date, 20))
        return MarketDay(date, "EARLY_CLOSE" if early else "TRADING_DAY", sessions)

    def session_at(self, ns: int) -> str | None:
        """The session running at instant `ns` (pre_market, regular, after_hours), or None."""
        for name, (start, end) in self.day(self.market_date(ns)).sessions.items():
            if start <= ns < end:
                return name
        return None

    def next_trading_day(self, date: dt.date) -> dt.date:
        """The first trading day strictly after `date`."""
        probe = date + dt.timedelta(days=1)
        while probe not in self._regular:
            self._check_range(probe)
            probe += dt.timedelta(days=1)
        return probe

    def trading_day_on_or_before(self, date: dt.date) -> dt.date:
        """The last trading day at or before `date`."""
        self._check_range(date)
        return self._trading_days[bisect.bisect_right(self._trading_days, date) - 1]

    def trading_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """Trading days from `start` to `end`, both included."""
        return [d for d in self._trading_days if start <= d <= end]

    def day_start_ns(self, date: dt.date) -> int:
        """When the trading day `date` begins: the pre-market open, 04:00 US/Eastern."""
        return _eastern_ns(date, 4)

    def covers(self, ns: int) -> bool:
        """True when the calendar holds the instant's date and the month after it (lookahead)."""
        date = self.market_date(ns)
        return self.first_date <= date <= self.last_date - dt.timedelta(days=31)

    def _check_range(self, date: dt.date) -> None:
        if not (self.first_date <= date <= self.last_date):
            raise ValueError(
                f"date {date} is outside the trading calendar ({_FIRST_YEAR}-{_LAST_YEAR})"
            )
