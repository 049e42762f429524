"""Order endpoints: submit, list, get, replace, cancel, cancel all (executions: `api.executions`)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

import msgspec
import orjson

from oems.api.access import granted_account
from oems.api.jsonbody import decode_body, value_error
from oems.api.pagination import InMemory, KeysetSource, newest_first_page, query_filters
from oems.api.params import Query
from oems.api.rendering import render_order
from oems.api.values import optional_decimal, wire_decimal
from oems.api.wire import USER, Call, Reply, Routes
from oems.domain.decimals import PRICE, QUANTITY
from oems.domain.errors import InvalidRequest, NotFound, OemsError
from oems.domain.instruments import SECURITY_TYPES, Instrument
from oems.domain.order_rules import order_error, validate_order, validate_strategy
from oems.domain.orders import (
    BUY,
    ORDER_TYPES,
    SIDES,
    LegRequest,
    Order,
    OrderRequest,
    StrategyRequest,
)
from oems.domain.terms import OrderTerms
from oems.domain.timefmt import parse_iso
from oems.engine import commands as cmd
from oems.store.history import OrderQuery

if TYPE_CHECKING:
    from oems.runtime import Runtime

routes = Routes()

ORDER_STATUSES = (
    "PENDING_NEW",
    "NEW",
    "PARTIALLY_FILLED",
    "FILLED",
    "CANCELED",
    "REJECTED",
    "EXPIRED",
    "PENDING_CANCEL",
    "PENDING_REPLACE",
    "REPLACED",
    "DONE_FOR_DAY",
    "STOPPED",
    "SUSPENDED",
    "CALCULATED",
    "OTHER",
)
MAX_ORDERS_PER_REQUEST = 1000


Side = Literal["BUY", "SELL", "SELL_SHORT", "OTHER"]
OrderTypeName = Literal[
    "MARKET", "LIMIT", "STOP", "STOP_LIMIT", "TRAILING_STOP", "TRAILING_STOP_LIMIT"
]
TimeInForceName = Literal[
    "DAY",
    "GOOD_TILL_CANCEL",
    "IMMEDIATE_OR_CANCEL",
    "FILL_OR_KILL",
    "GOOD_TILL_DATE",
    "AT_THE_OPENING",
    "AT_THE_CLOSE",
    "GOOD_TILL_CROSSING",
    "GOOD_THROUGH_CROSSING",
    "AT_CROSSING",
]


class _PriceTerms(msgspec.Struct, kw_only=True):
    """The price terms an order body and a replace body share, as the wire writes them."""

    limit_price: str | None = None
    stop_price: str | None = None
    trailing_offset: str | None = None
    trailing_offset_type: Literal["PRICE", "BPS"] | None = None
    limit_offset: str | None = None


class _OrderBodyTerms(_PriceTerms, kw_only=True):
    """What both order bodies may carry beside side, quantity, type and time in force."""

    id: str | None = None
    symbol: str | None = None
    instrument_id: str | None = None
    instrument_type: str | None = None
    expires_at: str | None = None
    extended_hours: bool | None = None


class NewOrderBody(_OrderBodyTerms, kw_only=True):
    """The contract's `NewOrderRequest`, as it comes over the wire."""

    side: Side
    quantity: str
    order_type: OrderTypeName
    time_in_force: TimeInForceName


class LegBody(msgspec.Struct):
    """One leg of a multi-leg strategy request (the seed's shape)."""

    security: str
    side: Literal["BUY", "SELL", "SELL_SHORT", "OTHER"]
    ratio: str | int = "1"
    instrument_type: str | None = None
    id: str | None = None
    position_effect: Literal["OPEN", "CLOSE"] | None = None


class AnyOrderBody(_OrderBodyTerms, kw_only=True):
    """Either request shape, every field optional: the slow path for batches with strategies."""

    legs: list[LegBody] | None = None
    side: Side | None = None
    quantity: str | None = None
    order_type: OrderTypeName | None = None
    time_in_force: TimeInForceName | None = None


_REQUIRED_SINGLE = ("side", "quantity", "order_type", "time_in_force")


class ReplaceBody(_PriceTerms, kw_only=True):
    """The contract's `ReplaceOrderRequest`."""

    quantity: str | None = None


_DECIMAL_FIELDS = {
    "quantity": QUANTITY,
    "limit_price": PRICE,
    "stop_price": PRICE,
    "trailing_offset": PRICE,
    "limit_offset": PRICE,
}


# ---- submit ---------------------------------------------------------------------------------


def _expires_ns(raw: bytes, index: int, text: str | None) -> int | None:
    """An order's `expires_at` as epoch nanoseconds (422 when it is not a date-time)."""
    if text is None:
        return None
    try:
        return parse_iso(text)
    except ValueError as exc:
        raise value_error((index, "expires_at"), str(exc), raw) from None


def _check_client_id(index: int, client_id: str | None) -> None:
    """A client order id is 1 to 64 characters."""
    if client_id is not None and not 0 < len(client_id) <= 64:
        raise order_error(index, "id", "id must be 1 to 64 characters")


def _resolve_instrument(call: Call, index: int, body: NewOrderBody) -> Instrument:
    resolve = call.runtime.instruments.resolve
    by_symbol = resolve(body.symbol) if body.symbol else None
    by_id = resolve(body.instrument_id) if body.instrument_id else None
    if body.symbol and by_symbol is None:
        raise order_error(index, "symbol", f"unknown symbol `{body.symbol}`")
    if body.instrument_id and by_id is None:
        raise order_error(index, "instrument_id", f"unknown instrument `{body.instrument_id}`")
    if by_symbol is not None and by_id is not None and by_symbol.id != by_id.id:
        raise order_error(
            index, "instrument_id", "symbol and instrument_id name different instruments"
        )
    instrument = by_symbol or by_id
    if instrument is None:
        raise order_error(index, "symbol", "either symbol or instrument_id must be provided")
    return instrument


def _order_request(call: Call, raw: bytes, index: int, body: NewOrderBody) -> OrderRequest:
    """Translate one wire order into an `OrderRequest` (422 for malformed numbers and dates)."""
    numbers: dict[str, Any] = {
        name: optional_decimal(getattr(body, name), bound, (index, name), raw)
        for name, bound in _DECIMAL_FIELDS.items()
    }
    expires_ns = _expires_ns(raw, index, body.expires_at)
    if body.side == "OTHER":
        raise order_error(index, "side", "side must be BUY, SELL or SELL_SHORT")
    _check_client_id(index, body.id)
    instrument = _resolve_instrument(call, index, body)
    if body.instrument_type is not None and body.instrument_type != instrument.instrument_type:
        raise order_error(
            index,
            "instrument_type",
            f"{instrument.symbol} is {instrument.instrument_type}, not {body.instrument_type}",
        )
    return OrderRequest(
        instrument_id=instrument.id,
        symbol=instrument.symbol,
        instrument_type=instrument.instrument_type,
        is_fractionable=instrument.is_fractionable,
        terms=OrderTerms(
            side=body.side,
            order_type=body.order_type,
            time_in_force=body.time_in_force,
            trailing_offset_type=body.trailing_offset_type,
            expires_ns=expires_ns,
            extended_hours=body.extended_hours,
            **numbers,
        ),
        client_order_id=body.id,
    )


def _has_strategies(raw: bytes) -> bool:
    """True when some item of a JSON array body carries `legs`."""
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return isinstance(items, list) and any(
        isinstance(item, dict) and "legs" in item for item in items
    )


def _strategy_request(call: Call, raw: bytes, index: int, body: AnyOrderBody) -> StrategyRequest:
    """Translate a wire strategy into a `StrategyRequest` (legs by UUID, ticker or OSI symbol)."""
    assert body.legs is not None
    if body.order_type is None:
        raise value_error((index,), "missing field `order_type`", raw)
    if body.time_in_force is None:
        raise value_error((index,), "missing field `time_in_force`", raw)
    for name in ("symbol", "instrument_id", "stop_price", "trailing_offset", "limit_offset"):
        if getattr(body, name) is not None:
            raise order_error(index, name, f"{name} does not apply to a strategy order")
    legs = []
    for number, leg in enumerate(body.legs):
        where = f"legs[{number}]"
        instrument = call.runtime.instruments.resolve(leg.security)
        if instrument is None:
            raise order_error(index, f"{where}.security", f"unknown instrument `{leg.security}`")
        try:
            ratio = int(str(leg.ratio).strip())
        except ValueError:
            raise order_error(
                index, f"{where}.ratio", f"ratio must be a positive whole number, not `{leg.ratio}`"
            ) from None
        if leg.side == "OTHER":
            raise order_error(index, f"{where}.side", "side must be BUY, SELL or SELL_SHORT")
        terms = instrument.option
        legs.append(
            LegRequest(
                instrument_id=instrument.id,
                symbol=instrument.symbol,
                instrument_type=instrument.instrument_type,
                multiplier=instrument.multiplier,
                underlying_instrument_id=terms.underlying_id if terms else None,
                contract_type=terms.contract_type if terms else None,
                strike=terms.strike if terms else None,
                side=leg.side,
                ratio=ratio,
                client_leg_id=leg.id,
                position_effect=leg.position_effect,
            )
        )
    numbers: dict[str, Any] = {
        "quantity": wire_decimal(body.quantity or "1", QUANTITY, (index, "quantity"), raw),
        "limit_price": optional_decimal(body.limit_price, PRICE, (index, "limit_price"), raw),
    }
    expires_ns = _expires_ns(raw, index, body.expires_at)
    _check_client_id(index, body.id)
    quantity = numbers["quantity"]
    assert quantity is not None
    return StrategyRequest(
        legs=tuple(legs),
        terms=OrderTerms(
            side=BUY,  # until accepted: a package at a credit is accepted as a SELL
            order_type=body.order_type,
            time_in_force=body.time_in_force,
            quantity=quantity,
            limit_price=numbers["limit_price"],
            expires_ns=expires_ns,
        ),
        client_order_id=body.id,
    )


def _mixed_requests(call: Call, raw: bytes) -> list[OrderRequest | StrategyRequest]:
    """Decode a batch holding strategies: each item is a strategy or a single-leg order."""
    requests: list[OrderRequest | StrategyRequest] = []
    for index, item in enumerate(decode_body(raw, list[AnyOrderBody])):
        if item.legs is not None:
            strategy = _strategy_request(call, raw, index, item)
            validate_strategy(strategy, index)
            requests.append(strategy)
            continue
        for name in _REQUIRED_SINGLE:
            if getattr(item, name) is None:
                raise value_error((index,), f"missing field `{name}`", raw)
        single = msgspec.convert(
            {f: getattr(item, f) for f in NewOrderBody.__struct_fields__}, NewOrderBody
        )
        request = _order_request(call, raw, index, single)
        validate_order(request, index)
        requests.append(request)
    return requests


@routes.post(USER, "/v1/accounts/{account_id}/orders")
async def submit_orders(call: Call) -> Any:
    """Accept every order of the batch in PENDING_NEW, or none of them."""
    account = granted_account(call)
    raw = await call.body()
    requests: list[OrderRequest | StrategyRequest] = []
    try:
        bodies = decode_body(raw, list[NewOrderBody])
    except OemsError:
        if not _has_strategies(raw):
            raise
        requests = _mixed_requests(call, raw)
    else:
        for index, body in enumerate(bodies):
            request = _order_request(call, raw, index, body)
            validate_order(request, index)
            requests.append(request)
    if not requests:
        raise InvalidRequest("At least one order is required")
    if len(requests) > MAX_ORDERS_PER_REQUEST:
        raise InvalidRequest(f"At most {MAX_ORDERS_PER_REQUEST} orders per request")
    orders = await call.runtime.engine.execute(cmd.SubmitOrders(account.id, tuple(requests)))
    return [render_order(order) for order in orders]


# ---- read -----------------------------------------------------------------------------------


def find_order(call: Call, account_id: int, reference: str, open_only: bool = False) -> Order:
    """An order of the account by id (open, or closed from the history), or by client order id
    while it is open; else 404."""
    return find_order_in(call.runtime, account_id, reference, open_only)


def find_order_in(
    runtime: Runtime, account_id: int, reference: str, open_only: bool = False
) -> Order:
    """`find_order` on a runtime."""
    state = runtime.state
    order = None
    with contextlib.suppress(ValueError):
        order_id = uuid.UUID(reference)
        order = state.orders.get(order_id) or runtime.journal.history.order(account_id, order_id)
    if order is None or order.account_id != account_id:
        order = state.client_order_ids.get((account_id, reference))
        if order is not None and not order.is_open:
            order = None
    if order is None or (open_only and not order.is_open):
        raise NotFound(f"Order {reference} not found for account {account_id}")
    return order


def _order_query(runtime: Runtime, query: Query) -> OrderQuery:
    """The filters of the list and cancel-all queries."""
    resolve = runtime.instruments.resolve
    statuses = query.choices("status", ORDER_STATUSES)
    symbol = query.string("symbol")
    instrument_ids = query.instrument_ids("instrument_ids", resolve)
    underliers = query.instrument_ids("underlying_instrument_ids", resolve)
    instrument_type = query.choice("instrument_type", SECURITY_TYPES)
    refs = query.csv("order_ids")
    return OrderQuery(
        statuses=frozenset(statuses) or None,
        symbol=symbol,
        instrument_ids=None if instrument_ids is None else frozenset(instrument_ids),
        underliers=None if underliers is None else frozenset(underliers),
        instrument_type=instrument_type,
        refs=frozenset(refs) or None,
        start_ns=query.instant("from"),
        end_ns=query.instant("to"),
        side=query.choice("side", (*SIDES, "OTHER")),
        order_type=query.choice("type", (*ORDER_TYPES, "OTHER")),
    )


def orders_page(runtime: Runtime, account_id: int, params: Any) -> Reply:
    """A page of the account's orders, newest first, as `GET .../orders` with the query
    parameters `params` answers it: the open ones from memory, the closed ones from the history."""
    query = Query(params)
    wanted = _order_query(runtime, query)
    open_orders = runtime.state.open_orders.get(account_id, {}).values()
    sources: list[KeysetSource] = [
        InMemory([order for order in open_orders if wanted.matches(order)]),
        runtime.journal.history.orders(account_id, wanted),
    ]
    filters = query_filters("orders", account_id, params)
    page, meta = newest_first_page(sources, query, filters)
    return Reply([render_order(order) for order in page], meta)


@routes.get(USER, "/v1/accounts/{account_id}/orders")
async def get_orders(call: Call) -> Any:
    """The account's orders, newest first, filtered and paged."""
    return orders_page(call.runtime, granted_account(call).id, call.query)


@routes.get(USER, "/v1/accounts/{account_id}/orders/{order_id}")
async def get_order(call: Call) -> Any:
    """One order by id, or by client order id while it is open."""
    account = granted_account(call)
    return render_order(find_order(call, account.id, call.path_param("order_id")))


# ---- change ---------------------------------------------------------------------------------


@routes.patch(USER, "/v1/accounts/{account_id}/orders/{order_id}")
async def replace_order(call: Call) -> Any:
    """Replace price or quantity: the order answers PENDING_REPLACE, then carries the new terms."""
    account = granted_account(call)
    raw = await call.body()
    body = decode_body(raw or b"{}", ReplaceBody)
    order = find_order(call, account.id, call.path_param("order_id"))
    values = {
        name: wire_decimal(getattr(body, name), bound, (name,), raw)
        for name, bound in _DECIMAL_FIELDS.items()
        if getattr(body, name) is not None
    }
    replaced = await call.runtime.engine.execute(
        cmd.ReplaceOrder(
            account.id,
            order.id,
            trailing_offset_type=body.trailing_offset_type,
            **values,
        )
    )
    return render_order(replaced)


@routes.delete(USER, "/v1/accounts/{account_id}/orders/{order_id}")
async def cancel_order(call: Call) -> Any:
    """Cancel one open order: it answers PENDING_CANCEL, then becomes CANCELED."""
    account = granted_account(call)
    order = find_order(call, account.id, call.path_param("order_id"))
    if not order.is_open:
        raise InvalidRequest(f"Order {order.id} is {order.status} and can no longer be canceled")
    canceled = await call.runtime.engine.execute(cmd.CancelOrders(account.id, (order.id,)))
    if not canceled:
        raise InvalidRequest(f"Order {order.id} is {order.status} and can no longer be canceled")
    return render_order(canceled[0])


@routes.delete(USER, "/v1/accounts/{account_id}/orders")
async def cancel_all_orders(call: Call) -> Any:
    """Cancel every open order the filters match; 404 when none does."""
    account = granted_account(call)
    wanted = _order_query(call.runtime, Query(call.query))
    open_orders = call.runtime.state.open_orders.get(account.id, {}).values()
    ids = _ids(order for order in open_orders if wanted.matches(order))
    if not ids:
        raise NotFound("No orders match the specified filters")
    canceled = await call.runtime.engine.execute(cmd.CancelOrders(account.id, ids))
    if not canceled:
        raise NotFound("No orders match the specified filters")
    return [render_order(order) for order in canceled]


def _ids(orders: Iterable[Order]) -> tuple[uuid.UUID, ...]:
    return tuple(sorted((order.id for order in orders), key=str))
