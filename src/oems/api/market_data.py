"""Market data endpoints: snapshots (quote, last trade, session change, Greeks) and daily summaries.

Identifiers are `InstrumentIdOrSymbol`s (UUID, equity ticker or OSI symbol), comma-separated.
Everything is read at the market clock's current instant from `runtime.market_data`, so pinned
quotes show at once. Prices render with at least two decimals (`"210.10"`), sub-penny prices
with the digits they carry; `change_percent` is a percentage with four decimals (`"2.2780"`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oems.api.params import Query
from oems.api.wire import USER, Call, Routes
from oems.domain.decimals import fixed
from oems.domain.errors import InvalidRequest, NotFound
from oems.domain.instruments import Instrument
from oems.domain.timefmt import format_ns
from oems.market.instrument_master import InstrumentMaster
from oems.market.market_data import MarketData
from oems.market.pricing import Greeks
from oems.market.quotes import DailyBar, Quote

routes = Routes()

MAX_SUMMARY_IDS = 100
INSTRUMENT_IDS = "instrument_ids"
NO_DAILY_SUMMARY = ("INDEX",)  # instrument types with no OHLV by definition


def price(value: Decimal) -> str:
    """A price with at least two decimals and no trailing zeros beyond (`"210.10"`, `"0.5123"`)."""
    normal = value.normalize()
    places = max(2, -int(normal.as_tuple().exponent))
    return f"{value:.{places}f}"


REQUIRED_IDS = "At least one instrument_id is required"


def _ids(query: Query) -> list[str]:
    """The requested identifiers, duplicates dropped, in first-seen order."""
    return list(dict.fromkeys(query.csv(INSTRUMENT_IDS, REQUIRED_IDS)))


def _last_quote(quote: Quote) -> dict[str, Any] | None:
    if quote.bid is None and quote.ask is None:
        return None
    mid = quote.mid
    return {
        "ask": price(quote.ask) if quote.ask is not None else None,
        "ask_size": quote.ask_size if quote.ask is not None else None,
        "bid": price(quote.bid) if quote.bid is not None else None,
        "bid_size": quote.bid_size if quote.bid is not None else None,
        "midpoint": price(mid) if mid is not None else None,
    }


def _session(
    last: Decimal | None, bar: DailyBar | None, ohlv_applicable: bool
) -> dict[str, Any] | None:
    """The snapshot's `session`: change against the previous close, and (what the official SDK
    reads beside the document's fields) the day's open, high, low and volume where they apply."""
    if last is None or bar is None or bar.previous_close is None or bar.previous_close <= 0:
        return None
    change = last - bar.previous_close
    out: dict[str, Any] = {
        "change": price(change),
        "change_percent": fixed(change / bar.previous_close * 100, 4),
        "ohlv_applicable": ohlv_applicable,
        "previous_close": price(bar.previous_close),
        "previous_close_unadjusted": None,  # no corporate actions are simulated
    }
    if ohlv_applicable:
        out.update(
            cumulative_volume=bar.volume,
            high=price(bar.high) if bar.high is not None else None,
            low=price(bar.low) if bar.low is not None else None,
            ohlv_date=bar.trade_date.isoformat(),
            open=price(bar.open) if bar.open is not None else None,
        )
    return out


def _greeks(greeks: Greeks, now_ns: int) -> dict[str, Any]:
    return {
        "delta": str(greeks.delta),
        "gamma": str(greeks.gamma),
        "iv": str(greeks.iv),
        "rho": str(greeks.rho),
        "theo_price": str(greeks.theo_price),
        "theta": str(greeks.theta),
        "timestamp": format_ns(now_ns),
        "vega": str(greeks.vega),
    }


def render_snapshot(
    inst: Instrument, market: MarketData, master: InstrumentMaster, now_ns: int
) -> dict[str, Any]:
    """One `MarketDataSnapshot` of `inst` at `now_ns`."""
    quote = market.quote(inst, now_ns)
    out: dict[str, Any] = {
        "cumulative_volume": None,
        "greeks": None,
        "instrument_id": str(inst.id),
        "last_quote": None,
        "last_trade": None,
        "name": inst.name,
        "session": None,
        "symbol": inst.symbol,
    }
    if quote is not None:
        out["last_quote"] = _last_quote(quote)
        if quote.last is not None:
            out["last_trade"] = {"price": price(quote.last), "size": quote.last_size}
            if inst.instrument_type not in NO_DAILY_SUMMARY:
                out["cumulative_volume"] = quote.volume
            out["session"] = _session(
                quote.last,
                market.daily_bar(inst, now_ns),
                inst.instrument_type not in NO_DAILY_SUMMARY,
            )
    if inst.option is not None:
        underlier = master.get(inst.option.underlying_id)
        greeks = market.greeks(inst, underlier, now_ns) if underlier is not None else None
        if greeks is not None:
            out["greeks"] = _greeks(greeks, now_ns)
    return out


@routes.get(USER, "/v1/market-data/snapshot")
async def get_snapshots(call: Call) -> Any:
    """Snapshots of the requested instruments, in request order (each instrument once)."""
    ids = _ids(Query(call.query))
    if not ids:
        raise InvalidRequest(REQUIRED_IDS)
    runtime = call.runtime
    master: InstrumentMaster = runtime.instruments
    instruments: dict[Any, Instrument] = {}
    for text in ids:
        inst = master.resolve(text)
        if inst is None:
            raise NotFound(f"Instrument not found for id `{text}`")
        instruments.setdefault(inst.id, inst)
    now = runtime.engine.now_ns()
    market: MarketData = runtime.market_data
    return [render_snapshot(inst, market, master, now) for inst in instruments.values()]


def _empty_summary(instrument_id: str, symbol: str | None, not_applicable: bool) -> dict[str, Any]:
    return {
        "high": None,
        "instrument_id": instrument_id,
        "low": None,
        "not_applicable": not_applicable,
        "open": None,
        "open_interest": None,
        "symbol": symbol,
        "trade_date": None,
        "volume": None,
    }


def daily_summary(inst: Instrument, market: MarketData, now_ns: int) -> dict[str, Any]:
    """One `DailySummary` of `inst`: the session in force at `now_ns`, as of `now_ns`."""
    if inst.instrument_type in NO_DAILY_SUMMARY:
        return _empty_summary(str(inst.id), inst.symbol, True)
    bar = market.daily_bar(inst, now_ns)
    out = _empty_summary(str(inst.id), inst.symbol, False)
    if bar is None:
        return out
    out.update(
        high=price(bar.high) if bar.high is not None else None,
        low=price(bar.low) if bar.low is not None else None,
        open=price(bar.open) if bar.open is not None else None,
        open_interest=bar.open_interest if inst.option is not None else None,
        trade_date=bar.trade_date.isoformat(),
        volume=bar.volume,
    )
    return out


@routes.get(USER, "/v1/market-data/daily-summary")
async def get_daily_summaries(call: Call) -> Any:
    """Daily OHLV per unique requested id, in first-seen order; unknown ids come back empty."""
    query = Query(call.query)
    query.string(INSTRUMENT_IDS, required=True)
    ids = _ids(query)
    if not ids:
        raise InvalidRequest(REQUIRED_IDS)
    if len(ids) > MAX_SUMMARY_IDS:
        raise InvalidRequest(
            f"Failed to deserialize query string: {INSTRUMENT_IDS}: at most {MAX_SUMMARY_IDS} "
            f"values are allowed, got {len(ids)}"
        )
    runtime = call.runtime
    master: InstrumentMaster = runtime.instruments
    market: MarketData = runtime.market_data
    now = runtime.engine.now_ns()
    rows = []
    for text in ids:
        inst = master.resolve(text)
        if inst is None:
            rows.append(_empty_summary(text, None, False))
        else:
            rows.append(daily_summary(inst, market, now))
    return rows
