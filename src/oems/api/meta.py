"""Meta endpoints: version, clock and the market-hours calendar."""

from __future__ import annotations

import datetime as dt
from typing import Any

from oems import API_VERSION
from oems.api.params import Query
from oems.api.wire import USER, Call, Routes
from oems.domain.errors import InvalidRequest
from oems.domain.timefmt import format_ns, to_datetime
from oems.market.calendar import EASTERN, REGULAR, SESSION_NAMES, MarketDay, TradingCalendar

routes = Routes()

MARKETS = {"us_equities": "US Equities", "us_options": "US Options"}
# Listed equity options trade the regular session only.
MARKET_SESSIONS = {"us_equities": SESSION_NAMES, "us_options": (REGULAR,)}


@routes.get(USER, "/v1/version")
async def get_version(call: Call) -> Any:
    """The API version this server implements."""
    return {"version": API_VERSION}


@routes.get(USER, "/v1/clock")
async def get_clock(call: Call) -> Any:
    """The market clock's current instant in UTC."""
    return {"clock": format_ns(call.runtime.engine.now_ns())}


def _eastern(ns: int) -> str:
    return to_datetime(ns).astimezone(EASTERN).isoformat()


def iso_duration(ns: int) -> str:
    """An ISO-8601 duration such as `PT1H29M15S` for a non-negative span of nanoseconds."""
    seconds = max(0, ns // 1_000_000_000)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "")
    clock = (
        (f"{hours}H" if hours else "")
        + (f"{minutes}M" if minutes else "")
        + (f"{secs}S" if secs else "")
    )
    if clock or not days:
        out += "T" + (clock or "0S")
    return out


def _sessions(day: MarketDay, names: tuple[str, ...], now_ns: int | None) -> dict[str, Any]:
    """Every session of the document's `TradingSessions`: null where the market or the day has
    none; the time until its open (close) while it is ahead (open) at `now_ns`, else null."""
    out: dict[str, Any] = {}
    for name in SESSION_NAMES:
        if name not in names or name not in day.sessions:
            out[name] = None
            continue
        start, end = day.sessions[name]
        out[name] = {
            "close": _eastern(end),
            "open": _eastern(start),
            "time_until_close": iso_duration(end - now_ns)
            if now_ns is not None and start <= now_ns < end
            else None,
            "time_until_open": iso_duration(start - now_ns)
            if now_ns is not None and now_ns < start
            else None,
        }
    return out


def market_hours(
    calendar: TradingCalendar, market: str, date: dt.date, now_ns: int
) -> dict[str, Any]:
    """One `MarketHoursDetail`: the day's type, its sessions, the live status, the next day's sessions."""
    names = MARKET_SESSIONS[market]
    day = calendar.day(date)
    today = calendar.market_date(now_ns)
    current = None
    if date == today:
        for name in names:
            start, end = day.sessions.get(name, (0, 0))
            if start <= now_ns < end:
                current = name
    status = {"current_session": current, "day_type": day.day_type, "is_open": current == REGULAR}
    next_day = calendar.day(calendar.next_trading_day(date))
    return {
        "current_time": _eastern(now_ns),
        "date": date.isoformat(),
        "market": market,
        "market_name": MARKETS[market],
        "next_sessions": _sessions(next_day, names, None),
        "status": status,
        "timezone": "America/New_York",
        "today_sessions": _sessions(day, names, now_ns if date == today else None),
    }


@routes.get(USER, "/v1/calendars/market-hours")
async def get_market_hours(call: Call) -> Any:
    """Sessions and status for the requested date (default: today, US/Eastern), per market."""
    query = Query(call.query)
    calendar = call.runtime.calendar
    now = call.runtime.engine.now_ns()
    date = query.date("date") or calendar.market_date(now)
    market = query.choice("market", tuple(MARKETS))
    try:
        return [
            market_hours(calendar, m, date, now) for m in ([market] if market else list(MARKETS))
        ]
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
