"""Static order validation: what an order request must satisfy whatever the market and account.

Decisions where the contract is silent (the README repeats them):

- Fractional quantities: only for fractionable instruments, MARKET or LIMIT, time in force DAY,
  regular hours only. Options trade in whole contracts.
- `extended_hours: true`: equities only, LIMIT orders, DAY / GOOD_TILL_CANCEL / GOOD_TILL_DATE.
- IMMEDIATE_OR_CANCEL, FILL_OR_KILL, AT_THE_OPENING, AT_THE_CLOSE, AT_CROSSING and
  GOOD_THROUGH_CROSSING: MARKET or LIMIT only (an auction needs a price rule).
- Tick size: 0.01 at or above $1, 0.0001 below, for limit and stop prices and price offsets.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from oems.domain import orders as o
from oems.domain.errors import InvalidRequest
from oems.domain.orders import LegRequest, OrderRequest, StrategyRequest
from oems.domain.strategies import lowest_terms
from oems.domain.terms import OrderTerms

CENT = Decimal("0.01")
SUBPENNY = Decimal("0.0001")
MAX_BPS = Decimal(10000)
INVALID_TICK_SIZE = "INVALID_TICK_SIZE"
INVALID_FIELD = "INVALID_FIELD"


def tick_for(price: Decimal) -> Decimal:
    """The minimum price increment: a cent at or above $1, a hundredth of a cent below."""
    return CENT if price >= 1 else SUBPENNY


def order_error(index: int, field: str, message: str, kind: str = INVALID_FIELD) -> InvalidRequest:
    """A 400 naming the order's index and field, with a typed detail."""
    subject = f"[{index}].{field}"
    return InvalidRequest(
        f"{subject}: {message}",
        [{"description": message, "subject": subject, "type": kind}],
    )


def check_tick(index: int, field: str, price: Decimal) -> None:
    """Refuse a price that is not a multiple of its tick size."""
    tick = tick_for(abs(price))
    if price % tick:
        raise order_error(
            index,
            field,
            f"{field} {price} is not a multiple of the tick size {tick} (INVALID_TICK_SIZE)",
            INVALID_TICK_SIZE,
        )


def _require(index: int, field: str, value: object, needed: bool, order_type: str) -> None:
    if needed and value is None:
        raise order_error(index, field, f"{field} is required for {order_type} orders")
    if not needed and value is not None:
        raise order_error(index, field, f"{field} is not allowed for {order_type} orders")


def validate_order(request: OrderRequest, index: int) -> None:
    """Raise a 400 naming `[index].field` for the first rule the request breaks."""
    _check_quantity(request, index)
    _check_prices(request.terms, index)
    _check_time_in_force(request.terms, index)
    _check_extended_hours(request, index)
    if request.terms.side == o.SELL_SHORT and request.instrument_type == "OPTION":
        raise order_error(index, "side", "options are sold with SELL, not SELL_SHORT")


def _check_quantity(request: OrderRequest, index: int) -> None:
    """Positive; whole for options; fractional only where the instrument and order allow it."""
    terms = request.terms
    if terms.quantity <= 0:
        raise order_error(index, "quantity", "quantity must be greater than zero")
    if terms.quantity == terms.quantity.to_integral_value():
        return
    if request.instrument_type == "OPTION":
        raise order_error(index, "quantity", "options trade in whole contracts")
    if not request.is_fractionable:
        raise order_error(index, "quantity", f"{request.symbol} is not fractionable")
    if terms.order_type not in (o.MARKET, o.LIMIT) or terms.time_in_force != o.DAY:
        raise order_error(index, "quantity", _FRACTIONAL_ONLY)
    if terms.extended_hours:
        raise order_error(index, "quantity", _FRACTIONAL_ONLY)


_FRACTIONAL_ONLY = (
    "fractional quantities are accepted only for regular-hours DAY MARKET or LIMIT orders"
)


def _check_prices(terms: OrderTerms, index: int) -> None:
    """The prices and offsets the order type needs (and no others), positive and on the tick."""
    kind = terms.order_type
    _require(index, "limit_price", terms.limit_price, kind in (o.LIMIT, o.STOP_LIMIT), kind)
    _require(index, "stop_price", terms.stop_price, kind in o.STOP_TYPES, kind)
    trailing = kind in o.TRAILING_TYPES
    _require(index, "trailing_offset", terms.trailing_offset, trailing, kind)
    _require(index, "trailing_offset_type", terms.trailing_offset_type, trailing, kind)
    _require(index, "limit_offset", terms.limit_offset, kind == o.TRAILING_STOP_LIMIT, kind)
    for field, price in (("limit_price", terms.limit_price), ("stop_price", terms.stop_price)):
        if price is not None:
            if price <= 0:
                raise order_error(index, field, f"{field} must be greater than zero")
            check_tick(index, field, price)
    offset = terms.trailing_offset
    if offset is not None:
        if offset <= 0:
            raise order_error(index, "trailing_offset", "trailing_offset must be greater than zero")
        if terms.trailing_offset_type != o.BPS:
            check_tick(index, "trailing_offset", offset)
        elif offset >= MAX_BPS or offset != offset.to_integral_value():
            raise order_error(
                index, "trailing_offset", "a BPS offset is a whole number below 10000"
            )
    if terms.limit_offset is not None:
        check_tick(index, "limit_offset", terms.limit_offset)


def _check_time_in_force(terms: OrderTerms, index: int) -> None:
    """`expires_at` with GOOD_TILL_DATE only; the immediate and auction ones take a price rule."""
    tif = terms.time_in_force
    if tif == o.GTD and terms.expires_ns is None:
        raise order_error(index, "expires_at", "expires_at is required for GOOD_TILL_DATE orders")
    if tif != o.GTD and terms.expires_ns is not None:
        raise order_error(
            index, "expires_at", "expires_at is allowed only for GOOD_TILL_DATE orders"
        )
    needs_price_rule = tif in (o.IOC, o.FOK, *o.AUCTION_ONLY, o.GTC_THROUGH)
    if needs_price_rule and terms.order_type not in (o.MARKET, o.LIMIT):
        raise order_error(index, "time_in_force", f"{tif} accepts only MARKET or LIMIT orders")


def _check_extended_hours(request: OrderRequest, index: int) -> None:
    """Extended hours: equities, LIMIT orders, DAY / GOOD_TILL_CANCEL / GOOD_TILL_DATE."""
    terms = request.terms
    if not terms.extended_hours:
        return
    if request.instrument_type == "OPTION":
        raise order_error(index, "extended_hours", "options trade in regular hours only")
    if terms.order_type != o.LIMIT:
        raise order_error(index, "extended_hours", "extended hours accept only LIMIT orders")
    if terms.time_in_force not in (o.DAY, o.GTC, o.GTD):
        raise order_error(
            index, "extended_hours", f"extended hours do not apply to {terms.time_in_force} orders"
        )


MIN_LEGS = 2
MAX_LEGS = 4
STRATEGY_TIMES_IN_FORCE = (o.DAY, o.GTC, o.IOC, o.FOK, o.GTD)


def validate_strategy(request: StrategyRequest, index: int) -> None:
    """Raise a 400 naming `[index].field` for the first rule a strategy order breaks."""
    if not MIN_LEGS <= len(request.legs) <= MAX_LEGS:
        raise order_error(index, "legs", f"a strategy has {MIN_LEGS} to {MAX_LEGS} legs")
    _check_strategy_terms(request.terms, index)
    _check_legs(request.legs, index)


def _check_strategy_terms(terms: OrderTerms, index: int) -> None:
    """MARKET or LIMIT (a net price on the tick), a whole quantity, the strategy's times in force."""
    if terms.order_type not in (o.MARKET, o.LIMIT):
        raise order_error(index, "order_type", "strategy orders are MARKET or LIMIT")
    if terms.time_in_force not in STRATEGY_TIMES_IN_FORCE:
        raise order_error(
            index, "time_in_force", f"{terms.time_in_force} does not apply to strategy orders"
        )
    if terms.order_type == o.MARKET and terms.limit_price is not None:
        raise order_error(index, "limit_price", "limit_price is not allowed for MARKET orders")
    if terms.limit_price is not None:
        check_tick(index, "limit_price", terms.limit_price)
    if terms.quantity <= 0 or terms.quantity != terms.quantity.to_integral_value():
        raise order_error(index, "quantity", "a strategy quantity is a positive whole number")
    if (terms.time_in_force == o.GTD) != (terms.expires_ns is not None):
        raise order_error(
            index, "expires_at", "expires_at is required for and only for GOOD_TILL_DATE"
        )


def _check_legs(legs: tuple[LegRequest, ...], index: int) -> None:
    """Options on one underlier, at most one stock leg (that underlier), distinct legs whose
    ratios are positive and in lowest terms."""
    options = [leg for leg in legs if leg.strike is not None]
    stocks = [leg for leg in legs if leg.strike is None]
    if not options:
        raise order_error(index, "legs", "a strategy needs at least one option leg")
    if len(stocks) > 1:
        raise order_error(index, "legs", "a strategy may have at most one stock leg")
    underliers = {leg.underlying_instrument_id for leg in options}
    if len(underliers) > 1:
        raise order_error(index, "legs", "all legs must be on the same underlier")
    if stocks and stocks[0].instrument_id not in underliers:
        raise order_error(index, "legs", "the stock leg must be the options' underlier")
    seen: set[uuid.UUID] = set()
    for number, leg in enumerate(legs):
        where = f"legs[{number}]"
        if leg.instrument_id in seen:
            raise order_error(index, where, f"{leg.symbol} appears in more than one leg")
        seen.add(leg.instrument_id)
        if leg.ratio <= 0:
            raise order_error(index, f"{where}.ratio", "ratio must be a positive whole number")
        if leg.strike is not None and leg.side not in (o.BUY, o.SELL):
            raise order_error(index, f"{where}.side", "option legs are BUY or SELL")
        if leg.side not in o.SIDES:
            raise order_error(index, f"{where}.side", "side must be BUY, SELL or SELL_SHORT")
    if not lowest_terms(leg.ratio for leg in legs):
        raise order_error(index, "legs", "leg ratios must be in lowest terms")
