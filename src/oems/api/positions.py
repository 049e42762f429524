"""Position endpoints: list (filters, sort keys, paging), close all, close one."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import msgspec

from oems.api.access import granted_account
from oems.api.jsonbody import decode_body
from oems.api.pagination import paginate, query_filters
from oems.api.params import Query
from oems.api.rendering import render_order
from oems.api.wire import USER, Call, Reply, Routes
from oems.domain.balances import value_position
from oems.domain.decimals import fixed, money, plain, price
from oems.domain.errors import NotFound
from oems.domain.positions import Position
from oems.engine import commands as cmd

routes = Routes()

SORT_KEYS = (
    "SYMBOL",
    "INSTRUMENT_TYPE",
    "QUANTITY",
    "MARKET_VALUE",
    "POSITION_TYPE",
    "UNREALIZED_PNL",
    "DAILY_UNREALIZED_PNL",
    "DAILY_REALIZED_PNL",
)
PERCENT = Decimal(100)


class ClosePositionBody(msgspec.Struct):
    """The contract's `ClosePositionRequest`."""

    cancel_orders: bool | None = None


def render_position(position: Position, mark: Decimal | None) -> dict[str, Any]:
    """The contract's `Position`, valued at `mark`."""
    value = value_position(position, mark)
    avg = position.avg_price
    percent = _percent(value.daily_unrealized_pnl, value.daily_baseline)
    return {
        "account_id": position.account_id,
        "available_quantity": plain(position.available_quantity),
        "avg_price": fixed(avg, 4) if avg is not None else None,
        "closing_price": price(position.sod_price) if position.sod_price is not None else None,
        "closing_price_date": position.sod_date.isoformat() if position.sod_date else None,
        "cost_basis": money(position.cost),
        "daily_realized_pnl": money(position.realized_today),
        "daily_unrealized_pnl": money(value.daily_unrealized_pnl),
        "daily_unrealized_pnl_pct": percent,
        "instrument_id": str(position.instrument_id),
        "instrument_price": price(value.price) if value.price is not None else None,
        "instrument_type": position.instrument_type,
        "market_value": money(value.market_value),
        "position_type": "LONG" if position.quantity > 0 else "SHORT",
        "quantity": plain(position.quantity),
        "symbol": position.symbol,
        "underlying_instrument_id": str(position.underlying_instrument_id)
        if position.underlying_instrument_id is not None
        else None,
        "unrealized_pnl": money(value.unrealized_pnl),
        "unrealized_pnl_pct": _percent(value.unrealized_pnl, abs(position.cost)),
    }


def _percent(pnl: Decimal, baseline: Decimal) -> str | None:
    """`pnl` as a percentage of `baseline` to two places, None when there is no baseline."""
    return fixed(pnl / baseline * PERCENT, 2) if baseline else None


_SORTERS = {
    "SYMBOL": lambda row: row["symbol"],
    "INSTRUMENT_TYPE": lambda row: row["instrument_type"],
    "QUANTITY": lambda row: Decimal(row["quantity"]),
    "MARKET_VALUE": lambda row: Decimal(row["market_value"]),
    "POSITION_TYPE": lambda row: row["position_type"],
    "UNREALIZED_PNL": lambda row: Decimal(row["unrealized_pnl"]),
    "DAILY_UNREALIZED_PNL": lambda row: Decimal(row["daily_unrealized_pnl"]),
    "DAILY_REALIZED_PNL": lambda row: Decimal(row["daily_realized_pnl"]),
}


@routes.get(USER, "/v1/accounts/{account_id}/positions")
async def get_positions(call: Call) -> Any:
    """Open positions, valued now; sorted by `sort_by` (symbol by default) and paged."""
    account = granted_account(call)
    query = Query(call.query)
    wanted = query.instrument_ids("instrument_ids", call.runtime.instruments.resolve)
    sort_by = query.choice("sort_by", SORT_KEYS) or "SYMBOL"
    descending = query.choice("sort_direction", ("ASC", "DESC")) == "DESC"
    engine = call.runtime.engine
    now = engine.now_ns()
    rows = [
        render_position(position, engine.mark_price(position.instrument_id, now))
        for position in call.runtime.state.positions.get(account.id, {}).values()
        if position.quantity and (wanted is None or position.instrument_id in wanted)
    ]
    rows.sort(key=lambda row: row["symbol"])  # ties keep symbol order
    rows.sort(key=_SORTERS[sort_by], reverse=descending)
    ranked = list(enumerate(rows))
    page, meta = paginate(
        ranked,
        lambda item: item[0],
        query.integer("page_size", None, 1, 1000),
        query.string("page_token"),
        query_filters("positions", account.id, call.query),
    )
    return Reply([row for _, row in page], meta)


async def _close(call: Call, instrument_id: uuid.UUID | None) -> Any:
    account_id = granted_account(call).id
    raw = await call.body()
    cancel = False
    if raw.strip() and raw.strip() != b"null":
        cancel = bool(decode_body(raw, ClosePositionBody).cancel_orders)
    orders = await call.runtime.engine.execute(
        cmd.ClosePositions(account_id, instrument_id, cancel)
    )
    return [render_order(order) for order in orders]


@routes.delete(USER, "/v1/accounts/{account_id}/positions")
async def close_positions(call: Call) -> Any:
    """Close every position with one MARKET DAY order each (open orders canceled first on request)."""
    return await _close(call, None)


@routes.delete(USER, "/v1/accounts/{account_id}/positions/{instrument_id}")
async def close_position(call: Call) -> Any:
    """Close the position in one instrument (UUID, ticker or OSI symbol)."""
    granted_account(call)
    reference = call.path_param("instrument_id")
    instrument = call.runtime.instruments.resolve(reference)
    if instrument is None:
        raise NotFound(f"Instrument {reference} not found")
    return await _close(call, instrument.id)
