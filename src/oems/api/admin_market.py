"""The admin surface's market data (admin key only): quotes pinned by hand, and market data rows
replayed into the running server (kept in `<db>.replay.csv`)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import msgspec

from oems.api.jsonbody import decode_body, value_error
from oems.api.values import optional_decimal
from oems.api.wire import ADMIN, Call, Routes
from oems.domain.decimals import PRICE, plain
from oems.domain.errors import InvalidRequest, NotFound
from oems.engine import commands as cmd
from oems.market.replay import REPLAY_COLUMNS, ReplayRow, ReplayRowError, parse_replay_row
from oems.store import replay_log

routes = Routes()
MAX_REPLAY_ROWS = 10_000  # per request; `oems replay` sends 1000


class _QuoteBody(msgspec.Struct, forbid_unknown_fields=True):
    bid: str | None = None
    ask: str | None = None
    bid_size: int = 100
    ask_size: int = 100
    last: str | None = None


@routes.put(ADMIN, "/admin/v1/quotes/{symbol}")
async def pin_quote(call: Call) -> Any:
    """Pin a quote on an instrument (ticker, OSI or id) until it is released."""
    instrument = call.runtime.instruments.resolve(call.path_param("symbol"))
    if instrument is None:
        raise NotFound(f"Instrument not found: {call.path_param('symbol')}")
    raw = await call.body()
    body = decode_body(raw, _QuoteBody)
    bid, ask, last = (
        optional_decimal(getattr(body, name), PRICE, (name,), raw)
        for name in ("bid", "ask", "last")
    )
    if bid is None and ask is None and last is None:
        raise InvalidRequest("Give at least one of `bid`, `ask` or `last`")
    await call.runtime.engine.execute(
        cmd.PinQuote(instrument.symbol, bid, ask, body.bid_size, body.ask_size, last)
    )
    return {
        "symbol": instrument.symbol,
        "instrument_id": str(instrument.id),
        "bid": plain(bid) if bid is not None else None,
        "ask": plain(ask) if ask is not None else None,
        "bid_size": body.bid_size,
        "ask_size": body.ask_size,
        "last": plain(last) if last is not None else None,
        "pinned": True,
    }


@routes.delete(ADMIN, "/admin/v1/quotes/{symbol}")
async def release_quote(call: Call) -> Any:
    """Release a pinned quote: the symbol follows the market data source again."""
    instrument = call.runtime.instruments.resolve(call.path_param("symbol"))
    if instrument is None:
        raise NotFound(f"Instrument not found: {call.path_param('symbol')}")
    await call.runtime.engine.execute(cmd.ReleaseQuote(instrument.symbol))
    return {"symbol": instrument.symbol, "instrument_id": str(instrument.id), "pinned": False}


class _ReplayRowBody(msgspec.Struct, forbid_unknown_fields=True):
    ts: str
    symbol: str
    bid: str | None = None
    ask: str | None = None
    bid_size: int | None = None
    ask_size: int | None = None
    last: str | None = None
    last_size: int | None = None


class _ReplayBody(msgspec.Struct, forbid_unknown_fields=True):
    rows: list[_ReplayRowBody]


def _replay_rows(raw: bytes, body: _ReplayBody, call: Call) -> list[ReplayRow]:
    """The body's rows parsed as a replay file's are, on instruments of the master.

    A field the replay format refuses is a 422 at its path (`rows[3].bid`); unknown symbols
    are one 400 naming them all.
    """
    rows: list[ReplayRow] = []
    for i, given in enumerate(body.rows):
        fields = [
            "" if value is None else str(value)
            for value in (
                given.ts,
                given.symbol,
                given.bid,
                given.ask,
                given.bid_size,
                given.ask_size,
                given.last,
                given.last_size,
            )
        ]
        try:
            rows.append(parse_replay_row(fields))
        except ReplayRowError as exc:
            raise value_error(("rows", i, exc.field), exc.message, raw) from None
    resolve = call.runtime.instruments.resolve
    found: dict[str, str | None] = {}
    unknown: dict[str, int] = {}  # symbol -> the first row naming it
    for i, row in enumerate(rows):
        if row.symbol not in found:
            instrument = resolve(row.symbol)
            found[row.symbol] = instrument.symbol if instrument is not None else None
        symbol = found[row.symbol]
        if symbol is None:
            unknown.setdefault(row.symbol, i)
        elif symbol != row.symbol:
            rows[i] = dataclasses.replace(row, symbol=symbol)
    if unknown:
        named = ", ".join(f"{body.rows[i].symbol} (rows[{i}].symbol)" for i in unknown.values())
        raise InvalidRequest(f"Instrument not found: {named}; nothing was loaded")
    return rows


@routes.post(ADMIN, "/admin/v1/market-data/replay")
async def replay_market_data(call: Call) -> Any:
    """Check replay rows, keep them in `<db>.replay.csv` (fsynced), merge them into the quotes
    the server plays, then run the venue against them; a bad row loads nothing."""
    raw = await call.body()
    body = decode_body(raw, _ReplayBody)
    if not body.rows:
        raise InvalidRequest("`rows` must hold at least one row")
    if len(body.rows) > MAX_REPLAY_ROWS:
        raise InvalidRequest(
            f"`rows` holds {len(body.rows)} rows; send at most {MAX_REPLAY_ROWS} per request"
        )
    rows = _replay_rows(raw, body, call)
    runtime = call.runtime
    async with runtime.replay_lock:
        try:
            batch = runtime.market_data.replayed.prepare(rows)
        except ReplayRowError as exc:
            raise InvalidRequest(
                f"rows[{exc.index}].{exc.field}: {exc.message}; nothing was loaded"
            ) from None
        await asyncio.to_thread(
            replay_log.append_rows,
            runtime.replay_path,
            REPLAY_COLUMNS,
            [row.fields() for row in rows],
        )
        batch.commit()
    # Working orders meet the new quotes now, not at the next tick.
    await runtime.engine.execute(cmd.RunDue())
    return {"rows": len(rows), "symbols": batch.symbols()}


@routes.delete(ADMIN, "/admin/v1/market-data/replay")
async def forget_replayed(call: Call) -> Any:
    """Forget replayed rows durably: all, or those of `?symbols=A,B` (`<db>.replay.csv` is
    rewritten first); those symbols follow the configured source again."""
    runtime = call.runtime
    symbols: list[str] | None = None
    if "symbols" in call.query:
        names = [n.strip() for n in ",".join(call.query.getlist("symbols")).split(",")]
        if not all(names):
            raise InvalidRequest("`symbols` must list instruments, e.g. symbols=AAPL,SPY")
        symbols = []
        for name in names:
            instrument = runtime.instruments.resolve(name)
            if instrument is None:
                raise NotFound(f"Instrument not found: {name}")
            symbols.append(instrument.symbol)
    async with runtime.replay_lock:
        replayed = runtime.market_data.replayed
        before = replayed.row_count
        await asyncio.to_thread(
            replay_log.rewrite_rows,
            runtime.replay_path,
            REPLAY_COLUMNS,
            [row.fields() for row in replayed.rows_without(symbols)],
        )
        gone = replayed.forget(symbols)
    await runtime.engine.execute(cmd.RunDue())
    return {"rows": before - replayed.row_count, "symbols": gone}
