"""Trading-day arithmetic over a calendar: which trading day's market is in force at an instant,
and the time span each day covers."""

from __future__ import annotations

import bisect
import datetime as dt

from oems.market.calendar import REGULAR, TradingCalendar

NS_PER_MINUTE = 60_000_000_000


class DayWindow:
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
        self.minutes = (self.end_ns - self.start_ns) // NS_PER_MINUTE
        self.open_m = (self.open_ns - self.start_ns) // NS_PER_MINUTE
        self.close_m = (close_ns - self.start_ns) // NS_PER_MINUTE


class TradingDays:
    """Trading-day arithmetic over a calendar: which day's market is in force at an instant."""

    def __init__(self, calendar: TradingCalendar) -> None:
        self.calendar = calendar
        self.days = calendar.trading_days(calendar.first_date, calendar.last_date)
        self.index = {day: i for i, day in enumerate(self.days)}
        self._windows: dict[int, DayWindow] = {}
        self._last: DayWindow | None = None

    def window_at(self, ns: int) -> DayWindow | None:
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

    def window(self, i: int) -> DayWindow:
        """The time span of the i-th trading day of the calendar."""
        window = self._windows.get(i)
        if window is None:
            date = self.days[i]
            if i + 1 < len(self.days):
                until = self.calendar.day_start_ns(self.days[i + 1])
            else:
                until = 2**63 - 1
            window = DayWindow(i, date, self.calendar.day(date).sessions, until)
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
