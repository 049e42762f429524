"""Order entry, replace, cancel and position closing: the use cases behind the order endpoints.

Each handler validates everything first (static rules, time, risk), then emits; a refused batch
changes nothing.
"""

from __future__ import annotations

import dataclasses
import operator
import uuid
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

import msgspec

from oems.domain import events as ev
from oems.domain import orders as o
from oems.domain.decimals import plain
from oems.domain.errors import Conflict, InvalidRequest
from oems.domain.order_rules import check_tick, order_error
from oems.domain.orders import Order, OrderRequest, StrategyRequest
from oems.domain.strategies import max_loss, net_price
from oems.domain.terms import OrderTerms, TradedInstrument, leg_terms
from oems.engine import commands as cmd
from oems.engine import risk
from oems.engine.context import Context
from oems.engine.self_match import SelfMatchIndex
from oems.market.calendar import AFTER_HOURS, PRE_MARKET, REGULAR
from oems.market.quotes import spot_price

INFINITY = Decimal("Infinity")
CENT = Decimal("0.01")
MAX_CLOSING_LOOKAHEAD_DAYS = 10
MAX_GTD_NS = 3 * 366 * 86_400 * 1_000_000_000  # the furthest a GOOD_TILL_DATE order may expire


# Every field of an order, in `Order.__init__`'s order: a copy passes them positionally, which
# costs a fifth of `dataclasses.replace` (that rebuilds the keywords field by field).
_ORDER_FIELDS = operator.attrgetter(*(f.name for f in dataclasses.fields(Order)))


def order_copy(order: Order) -> Order:
    """A copy of the order as it stands now, safe to render after the engine moves on."""
    copy = Order(*_ORDER_FIELDS(order))
    copy.details = list(order.details)
    if order.legs is not None:
        copy.legs = [msgspec.structs.replace(leg) for leg in order.legs]
    return copy


@dataclass(frozen=True, slots=True)
class Schedule:
    """When an order received now is released to its session, expires, and joins an auction."""

    releases_ns: int | None = None
    expiry_ns: int | None = None
    auction_ns: int | None = None


def order_schedule(ctx: Context, request: OrderRequest | StrategyRequest, now: int) -> Schedule:
    """The schedule of an order received at `now`; 400 when no session is in sight."""
    calendar = ctx.calendar
    tif = request.terms.time_in_force
    names = (PRE_MARKET, REGULAR, AFTER_HOURS) if request.terms.extended_hours else (REGULAR,)
    date = calendar.market_date(now)
    for _ in range(MAX_CLOSING_LOOKAHEAD_DAYS):
        day = calendar.day(date)
        if day.is_trading_day:
            windows = [day.sessions[name] for name in names if name in day.sessions]
            start, end = windows[0][0], windows[-1][1]
            opening = tif == o.OPG or (tif == o.AT_CROSSING and now < start)
            if opening and now < start:
                return Schedule(releases_ns=start)
            if tif in (o.CLS, o.AT_CROSSING) and now < end:
                return Schedule(auction_ns=end)
            if tif not in o.AUCTION_ONLY and now < end:
                releases = start if now < start else None
                expiry = end if tif == o.DAY else request.terms.expires_ns
                # The closing crossing ends a crossing order: it joins it, or is canceled there.
                auction = end if tif in (o.GTX, o.GTC_THROUGH) else None
                return Schedule(releases, expiry, auction)
        date = calendar.next_trading_day(date)
    raise InvalidRequest("no trading session in the coming days")


def submit_orders(
    ctx: Context, self_match: SelfMatchIndex, command: cmd.SubmitOrders
) -> list[Order]:
    """Accept the batch (all orders in PENDING_NEW) or refuse it whole."""
    accepted = plan_submit(ctx, self_match, command)
    for event in accepted:
        ctx.emit(event)
    return [order_copy(ctx.state.orders[event.order_id]) for event in accepted]


def plan_submit(
    ctx: Context, self_match: SelfMatchIndex, command: cmd.SubmitOrders
) -> list[ev.OrderAccepted]:
    """The events that accept the batch: every check, risk and schedule is done here, so this
    refuses the batch whole or returns events that cannot fail; it emits nothing."""
    state = ctx.state
    account = ctx.account(command.account_id)
    now = ctx.now_ns()
    seen: set[str] = set()
    closed = ctx.history.client_ids_taken(
        account.id, [r.client_order_id for r in command.orders if r.client_order_id is not None]
    )
    for index, request in enumerate(command.orders):
        client_id = request.client_order_id
        if client_id is not None:
            taken = (account.id, client_id) in state.client_order_ids or client_id in closed
            if taken or client_id in seen:
                raise Conflict(f"An order with id `{client_id}` already exists in this account")
            seen.add(client_id)
        if request.terms.expires_ns is not None and request.terms.expires_ns <= now:
            raise order_error(index, "expires_at", "expires_at must be in the future")
        if request.terms.expires_ns is not None and request.terms.expires_ns > now + MAX_GTD_NS:
            raise order_error(index, "expires_at", "expires_at may be at most 3 years ahead")
        ids = (
            [leg.instrument_id for leg in request.legs]
            if isinstance(request, StrategyRequest)
            else [request.instrument_id]
        )
        for instrument_id in ids:
            _refuse_expired(ctx, index, instrument_id, now)
    requests = [
        _priced_at_mid(ctx, r, now)
        if isinstance(r, StrategyRequest)
        and r.terms.order_type == o.LIMIT
        and r.terms.limit_price is None
        else r
        for r in command.orders
    ]
    checker = risk.RiskChecker(ctx, self_match, account.id, now)
    planned = [
        checker.check_strategy(request)
        if isinstance(request, StrategyRequest)
        else checker.check(request)
        for request in requests
    ]
    if checker.failures:
        raise risk.risk_error(checker.failures)
    accepted = []
    for request, checked in zip(requests, planned, strict=True):
        # Server-made when absent: the order id itself, unique by construction.
        client_id = request.client_order_id
        if client_id is None:
            client_id = str(checked.order_id)
        if isinstance(request, StrategyRequest):
            accepted.append(_strategy_accepted(ctx, account.id, request, checked, now, client_id))
        else:
            assert checked.instrument is not None
            accepted.append(_order_accepted(ctx, account.id, request, checked, now, client_id))
    return accepted


def _priced_at_mid(ctx: Context, request: StrategyRequest, now: int) -> StrategyRequest:
    """A LIMIT strategy sent without a price (as the vendor's CLI example) takes the legs' net
    midpoint, rounded to the cent in the market's favour, as its limit."""
    mids = []
    for leg in request.legs:
        instrument = ctx.instruments.get(leg.instrument_id)
        quote = ctx.quote(instrument, now) if instrument is not None else None
        mid = spot_price(quote)
        if mid is None:
            raise InvalidRequest(
                f"No quote for {leg.symbol}: give the strategy a limit_price, or send it as MARKET"
            )
        mids.append(mid)
    legs = [leg.as_leg() for leg in request.legs]
    limit = net_price(legs, mids).quantize(CENT, rounding=ROUND_FLOOR)
    return dataclasses.replace(
        request, terms=msgspec.structs.replace(request.terms, limit_price=limit)
    )


def _strategy_accepted(
    ctx: Context,
    account_id: int,
    request: StrategyRequest,
    checked: risk.Checked,
    now: int,
    client_order_id: str,
) -> ev.OrderAccepted:
    """The event accepting a checked strategy."""
    schedule = order_schedule(ctx, request, now)
    first = request.legs[0]
    option = next(leg for leg in request.legs if leg.strike is not None)
    venue = ctx.instruments.get(option.instrument_id)
    credit = request.terms.limit_price is not None and request.terms.limit_price < 0
    return ev.OrderAccepted(
        ts_ns=now,
        order_id=checked.order_id,
        account_id=account_id,
        client_order_id=client_order_id,
        instrument=TradedInstrument(
            instrument_id=first.instrument_id,
            symbol=first.symbol,
            instrument_type="OPTION",
            underlying_instrument_id=option.underlying_instrument_id,
            multiplier=Decimal(100),
            venue=venue.venue if venue is not None else "BATO",
        ),
        terms=msgspec.structs.replace(request.terms, side=o.SELL if credit else o.BUY),
        hold_per_unit=checked.hold_per_unit,
        venue_due_ns=now + ctx.ack_latency_ns(),
        releases_ns=schedule.releases_ns,
        expiry_ns=schedule.expiry_ns,
        auction_ns=schedule.auction_ns,
        legs=[leg_terms(leg) for leg in request.legs],
    )


def _refuse_expired(ctx: Context, index: int, instrument_id: uuid.UUID, now: int) -> None:
    """An option can be traded until the regular close of its expiration day, not after."""
    instrument = ctx.instruments.get(instrument_id)
    terms = instrument.option if instrument is not None else None
    if terms is None:
        return
    today = ctx.calendar.market_date(now)
    closed = terms.expiry < today or (
        terms.expiry == today
        and ctx.calendar.day(today).is_trading_day
        and now >= ctx.calendar.day(today).sessions[REGULAR][1]
    )
    if closed:
        assert instrument is not None
        raise order_error(
            index, "symbol", f"{instrument.symbol} expired on {terms.expiry.isoformat()}"
        )


def _order_accepted(
    ctx: Context,
    account_id: int,
    request: OrderRequest,
    checked: risk.Checked,
    now: int,
    client_order_id: str,
) -> ev.OrderAccepted:
    """The event accepting a checked single-leg order."""
    instrument = checked.instrument
    assert instrument is not None
    schedule = order_schedule(ctx, request, now)
    return ev.OrderAccepted(
        ts_ns=now,
        order_id=checked.order_id,
        account_id=account_id,
        client_order_id=client_order_id,
        instrument=instrument.traded(),
        terms=request.terms,
        closes_position=checked.closes,
        hold_per_unit=checked.hold_per_unit,
        venue_due_ns=now + ctx.ack_latency_ns(),
        releases_ns=schedule.releases_ns,
        expiry_ns=schedule.expiry_ns,
        auction_ns=schedule.auction_ns,
    )


def replace_order(ctx: Context, self_match: SelfMatchIndex, command: cmd.ReplaceOrder) -> Order:
    """Request a replace: the order goes PENDING_REPLACE; the venue applies it after its latency."""
    request = plan_replace(ctx, self_match, command)
    ctx.emit(request)
    return order_copy(ctx.state.orders[request.order_id])


def plan_replace(
    ctx: Context, self_match: SelfMatchIndex, command: cmd.ReplaceOrder
) -> ev.OrderReplaceRequested:
    """The replace request of an open, acknowledged order: its changes checked (terms, tick,
    buying power for what it holds more); emits nothing."""
    order = ctx.open_order(command.account_id, command.order_id, "replaced")
    if order.status not in (o.NEW, o.PARTIALLY_FILLED):
        raise InvalidRequest(
            f"Order {order.id} is {order.status} and cannot be replaced until the venue answers"
        )
    given = _replace_changes(order, command)
    now = ctx.now_ns()
    hold_per_unit = _replaced_hold(ctx, order, command.limit_price, now)
    new_quantity = command.quantity if command.quantity is not None else order.terms.quantity
    extra = (new_quantity - order.filled_quantity) * hold_per_unit - (
        order.terms.quantity - order.filled_quantity
    ) * order.hold_per_unit
    if extra > 0:
        checker = risk.RiskChecker(ctx, self_match, order.account_id, now)
        checker.check_replace(order, extra)
        if checker.failures:
            raise risk.risk_error(checker.failures)
    wire: dict[str, str | None] = {k: str(v) for k, v in given.items()}
    if hold_per_unit != order.hold_per_unit:
        wire["hold_per_unit"] = str(hold_per_unit)
    return ev.OrderReplaceRequested(
        ts_ns=now, order_id=order.id, venue_due_ns=now + ctx.latency_ns(), changes=wire
    )


def _replace_changes(order: Order, command: cmd.ReplaceOrder) -> dict[str, Decimal | str]:
    """The fields the replace sets: at least one, each one the order's type has, each valid."""
    changes: dict[str, Decimal | str | None] = {
        "quantity": command.quantity,
        "limit_price": command.limit_price,
        "stop_price": command.stop_price,
        "trailing_offset": command.trailing_offset,
        "trailing_offset_type": command.trailing_offset_type,
        "limit_offset": command.limit_offset,
    }
    given = {k: v for k, v in changes.items() if v is not None}
    if not given:
        raise InvalidRequest("At least one field must be provided")
    kind = order.terms.order_type
    allowed = {
        "quantity": True,
        "limit_price": kind in (o.LIMIT, o.STOP_LIMIT),
        "stop_price": kind in o.STOP_TYPES,
        "trailing_offset": kind in o.TRAILING_TYPES,
        "trailing_offset_type": kind in o.TRAILING_TYPES,
        "limit_offset": kind == o.TRAILING_STOP_LIMIT,
    }
    for name in given:
        if not allowed[name]:
            raise InvalidRequest(f"{name} cannot be set on a {kind} order")
    if command.quantity is not None:
        _check_replaced_quantity(order, command.quantity)
    for name in ("limit_price", "stop_price"):
        price = given.get(name)
        if isinstance(price, Decimal):
            if price <= 0 and not order.is_strategy:  # a strategy's net limit may be a credit
                raise InvalidRequest(f"{name} must be greater than zero")
            check_tick(0, name, price)
    if command.trailing_offset is not None and command.trailing_offset <= 0:
        raise InvalidRequest("trailing_offset must be greater than zero")
    return given


def _check_replaced_quantity(order: Order, quantity: Decimal) -> None:
    """A new quantity is positive, not below what has filled, and whole for options."""
    if quantity <= 0:
        raise InvalidRequest("quantity must be greater than zero")
    if quantity < order.filled_quantity:
        raise InvalidRequest(
            f"quantity {plain(quantity)} is below the filled quantity {plain(order.filled_quantity)}"
        )
    if order.instrument.instrument_type == "OPTION" and quantity != quantity.to_integral_value():
        raise InvalidRequest("options trade in whole contracts")


def _replaced_hold(ctx: Context, order: Order, limit_price: Decimal | None, now: int) -> Decimal:
    """What each unit of the order holds once its limit is `limit_price`: a strategy's maximum
    loss at the new net price, a single order's hold scaled by the new limit."""
    hold = order.hold_per_unit
    if not hold or limit_price is None:
        return hold
    if order.legs is not None:
        loss = max_loss(order.legs, limit_price)
        if loss is None:
            return hold
        return loss * ctx.valuation.account_value(order.account_id, now).multiplier
    if order.terms.limit_price:
        return hold * limit_price / order.terms.limit_price
    return hold


def cancel_orders(ctx: Context, command: cmd.CancelOrders) -> list[Order]:
    """Request cancellation of each still-open order; returns them (PENDING_CANCEL)."""
    orders, requests = plan_cancel(ctx, command)
    for event in requests:
        ctx.emit(event)
    return [order_copy(order) for order in orders]


def plan_cancel(
    ctx: Context, command: cmd.CancelOrders
) -> tuple[list[Order], list[ev.OrderCancelRequested]]:
    """The account's still-open orders among `command.order_ids`, and the cancel requests of those not
    already pending cancel."""
    now = ctx.now_ns()
    due = now + ctx.latency_ns()
    orders, requests = [], []
    for order_id in command.order_ids:
        order = ctx.state.orders.get(order_id)
        if order is None or order.account_id != command.account_id or not order.is_open:
            continue
        if order.status != o.PENDING_CANCEL:
            requests.append(ev.OrderCancelRequested(ts_ns=now, order_id=order.id, venue_due_ns=due))
        orders.append(order)
    return orders, requests


def close_positions(ctx: Context, command: cmd.ClosePositions) -> list[Order]:
    """One MARKET DAY order per position closing what is available (all, with `cancel_orders`)."""
    cancels, closing = plan_close(ctx, command)
    for event in [*cancels, *closing]:
        ctx.emit(event)
    return [order_copy(ctx.state.orders[event.order_id]) for event in closing]


def plan_close(
    ctx: Context, command: cmd.ClosePositions
) -> tuple[list[ev.OrderCancelRequested], list[ev.OrderAccepted]]:
    """The cancel requests (with `cancel_orders`) and the closing orders of a close."""
    state = ctx.state
    ctx.account(command.account_id)
    book = state.positions.get(command.account_id, {})
    positions = [
        p
        for p in book.values()
        if p.quantity
        and (command.instrument_id is None or p.instrument_id == command.instrument_id)
    ]
    now = ctx.now_ns()
    canceling: set[uuid.UUID] = set()
    cancels: list[ev.OrderCancelRequested] = []
    if command.cancel_orders:
        wanted = {p.instrument_id for p in positions}
        if command.instrument_id is not None:
            wanted.add(command.instrument_id)
        ids = tuple(
            order.id
            for order in state.open_orders.get(command.account_id, {}).values()
            if order.instrument_ids & wanted
        )
        cancels = plan_cancel(ctx, cmd.CancelOrders(command.account_id, ids))[1]
        canceling = set(ids)
    closing = []
    for position in positions:
        quantity = position.available_quantity
        if canceling:
            still_held = sum(
                (
                    order.terms.quantity - order.filled_quantity
                    for order in state.open_orders.get(command.account_id, {}).values()
                    if order.instrument.instrument_id == position.instrument_id
                    and order.closes_position
                    and order.id not in canceling
                ),
                Decimal(0),
            )
            quantity = max(abs(position.quantity) - still_held, Decimal(0))
        if not quantity:
            continue
        instrument = ctx.instruments.get(position.instrument_id)
        assert instrument is not None
        order_id = ctx.ids.uuid7(now)
        request = OrderRequest(
            instrument_id=instrument.id,
            symbol=instrument.symbol,
            instrument_type=instrument.instrument_type,
            is_fractionable=instrument.is_fractionable,
            terms=OrderTerms(
                side=o.SELL if position.quantity > 0 else o.BUY,
                order_type=o.MARKET,
                time_in_force=o.DAY,
                quantity=quantity,
            ),
        )
        checked = risk.Checked(order_id, True, Decimal(0), instrument)
        # The client id is server-made, as for any order sent without `id`.
        closing.append(
            _order_accepted(ctx, command.account_id, request, checked, now, str(order_id))
        )
    return cancels, closing


def set_faults(ctx: Context, command: cmd.SetFaults) -> ev.FaultsSet:
    """Set the venue's fault injection."""
    if command.reject_next < 0 or command.ack_delay_ms < 0:
        raise InvalidRequest("reject_next and ack_delay_ms must not be negative")
    ctx.emit(
        ev.FaultsSet(
            ts_ns=ctx.now_ns(),
            reject_next=command.reject_next,
            reject_reason=command.reject_reason,
            ack_delay_ms=command.ack_delay_ms,
        )
    )
    return ctx.state.faults
