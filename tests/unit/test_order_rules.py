"""Static order validation alone: one case per rule `validate_order` enforces."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from oems.domain import orders as o
from oems.domain.errors import InvalidRequest
from oems.domain.order_rules import INVALID_TICK_SIZE, tick_for, validate_order
from oems.domain.orders import OrderRequest
from oems.domain.terms import OrderTerms

D = Decimal
# The price terms each order type needs (README, "Prices and sizes"; the contract's order types).
NEEDS: dict[str, dict[str, Any]] = {
    o.MARKET: {},
    o.LIMIT: {"limit_price": D("150.00")},
    o.STOP: {"stop_price": D("140.00")},
    o.STOP_LIMIT: {"stop_price": D("140.00"), "limit_price": D("139.50")},
    o.TRAILING_STOP: {"trailing_offset": D("1.00"), "trailing_offset_type": o.PRICE},
    o.TRAILING_STOP_LIMIT: {
        "trailing_offset": D("1.00"),
        "trailing_offset_type": o.PRICE,
        "limit_offset": D("0.05"),
    },
}
ANY_TERM = {
    "limit_price": D("150.00"),
    "stop_price": D("140.00"),
    "trailing_offset": D("1.00"),
    "trailing_offset_type": o.PRICE,
    "limit_offset": D("0.05"),
}


def order(order_type: str = o.LIMIT, **changes: Any) -> OrderRequest:
    """A valid regular-hours DAY BUY of 10 shares of a fractionable stock, then `changes`."""
    terms = OrderTerms(
        side=o.BUY, order_type=order_type, time_in_force=o.DAY, quantity=D(10), **NEEDS[order_type]
    )
    own: dict[str, Any] = {
        "instrument_id": uuid.UUID(int=1),
        "symbol": "AAPL",
        "instrument_type": "COMMON_STOCK",
        "is_fractionable": True,
    }
    own.update({k: changes.pop(k) for k in list(changes) if k not in OrderTerms.__struct_fields__})
    return OrderRequest(terms=msgspec.structs.replace(terms, **changes), **own)


def option(order_type: str = o.LIMIT, **changes: Any) -> OrderRequest:
    """A valid option order (one contract)."""
    return order(order_type, instrument_type="OPTION", symbol="AAPL  251017C00250000", **changes)


def refusal(request: OrderRequest, index: int = 0) -> InvalidRequest:
    """The 400 `validate_order` raises for `request`."""
    with pytest.raises(InvalidRequest) as raised:
        validate_order(request, index)
    return raised.value


def refused(request: OrderRequest, field: str, words: str) -> None:
    """`request` is refused naming `[0].field`, with `words` in the message."""
    error = refusal(request)
    assert error.message.startswith(f"[0].{field}: "), error.message
    assert words in error.message
    assert error.details is not None and error.details[0]["subject"] == f"[0].{field}"


@pytest.mark.parametrize("order_type", o.ORDER_TYPES)
def test_each_order_type_with_its_terms_is_valid(order_type: str) -> None:
    validate_order(order(order_type), 0)


@pytest.mark.parametrize("order_type", o.ORDER_TYPES)
@pytest.mark.parametrize("field", [f for f in ANY_TERM if f != "trailing_offset_type"])
def test_a_needed_term_is_required_and_another_is_refused(order_type: str, field: str) -> None:
    if field in NEEDS[order_type]:
        refused(order(order_type, **{field: None}), field, f"is required for {order_type}")
    else:
        refused(
            order(order_type, **{field: ANY_TERM[field]}), field, f"is not allowed for {order_type}"
        )


@pytest.mark.parametrize("order_type", o.TRAILING_TYPES)
def test_a_trailing_order_needs_its_offset_type(order_type: str) -> None:
    refused(order(order_type, trailing_offset_type=None), "trailing_offset_type", "is required")


def test_the_error_names_the_orders_index() -> None:
    error = refusal(order(quantity=D(0)), index=3)
    assert error.message.startswith("[3].quantity: ")
    assert error.code == 400


@pytest.mark.parametrize("quantity", ["0", "-1"])
def test_quantity_must_be_positive(quantity: str) -> None:
    refused(order(quantity=D(quantity)), "quantity", "greater than zero")


def test_options_trade_in_whole_contracts() -> None:
    refused(option(quantity=D("1.5")), "quantity", "whole contracts")
    validate_order(option(quantity=D(2)), 0)


def test_fractions_need_a_fractionable_instrument() -> None:
    refused(order(quantity=D("0.5"), is_fractionable=False), "quantity", "not fractionable")


@pytest.mark.parametrize("order_type", [o.MARKET, o.LIMIT])
def test_fractions_on_regular_hours_day_market_or_limit(order_type: str) -> None:
    validate_order(order(order_type, quantity=D("0.5")), 0)


@pytest.mark.parametrize(
    "changes",
    [
        {"order_type": o.STOP, "limit_price": None, "stop_price": D("140.00")},
        {"time_in_force": o.GTC},
        {"extended_hours": True},
    ],
    ids=["stop", "gtc", "extended-hours"],
)
def test_fractions_refused_elsewhere(changes: dict[str, Any]) -> None:
    refused(order(quantity=D("0.5"), **changes), "quantity", "fractional quantities")


@pytest.mark.parametrize(
    ("price", "valid"),
    [
        ("150.01", True),
        ("150.005", False),  # a cent at or above $1
        ("1.00", True),
        ("1.0001", False),
        ("0.9999", True),  # a hundredth of a cent below $1
        ("0.99995", False),
    ],
)
@pytest.mark.parametrize("field", ["limit_price", "stop_price"])
def test_prices_sit_on_their_tick(field: str, price: str, valid: bool) -> None:
    request = order(o.STOP_LIMIT, **{field: D(price)})
    if valid:
        validate_order(request, 0)
    else:
        error = refusal(request)
        assert error.details is not None and error.details[0]["type"] == INVALID_TICK_SIZE
        assert f"[0].{field}" in error.message


def test_tick_sizes() -> None:
    assert tick_for(D("1.00")) == D("0.01")
    assert tick_for(D("0.9999")) == D("0.0001")


@pytest.mark.parametrize("field", ["limit_price", "stop_price"])
@pytest.mark.parametrize("price", ["0", "-1.00"])
def test_prices_are_positive(field: str, price: str) -> None:
    refused(order(o.STOP_LIMIT, **{field: D(price)}), field, "greater than zero")


def test_trailing_offsets() -> None:
    trailing = o.TRAILING_STOP
    refused(order(trailing, trailing_offset=D("0")), "trailing_offset", "greater than zero")
    # An offset's tick follows its own size: a cent from $1 up.
    refused(order(trailing, trailing_offset=D("1.005")), "trailing_offset", "tick size")
    validate_order(order(trailing, trailing_offset=D(25), trailing_offset_type=o.BPS), 0)
    for bps in ("25.5", "10000"):
        request = order(trailing, trailing_offset=D(bps), trailing_offset_type=o.BPS)
        refused(request, "trailing_offset", "whole number below 10000")
    validate_order(order(o.TRAILING_STOP_LIMIT, limit_offset=D("-0.05")), 0)
    refused(order(o.TRAILING_STOP_LIMIT, limit_offset=D("1.055")), "limit_offset", "tick size")


def test_good_till_date_and_only_it_carries_an_expiry() -> None:
    refused(order(time_in_force=o.GTD), "expires_at", "required for GOOD_TILL_DATE")
    validate_order(order(time_in_force=o.GTD, expires_ns=1), 0)
    refused(order(expires_ns=1), "expires_at", "only for GOOD_TILL_DATE")


MARKET_OR_LIMIT_ONLY = (o.IOC, o.FOK, o.OPG, o.CLS, o.AT_CROSSING, o.GTC_THROUGH)


@pytest.mark.parametrize("tif", MARKET_OR_LIMIT_ONLY)
@pytest.mark.parametrize("order_type", o.ORDER_TYPES)
def test_immediate_and_auction_times_in_force_take_market_or_limit(
    tif: str, order_type: str
) -> None:
    request = order(order_type, time_in_force=tif)
    if order_type in (o.MARKET, o.LIMIT):
        validate_order(request, 0)
    else:
        refused(request, "time_in_force", "accepts only MARKET or LIMIT")


@pytest.mark.parametrize("order_type", o.ORDER_TYPES)
@pytest.mark.parametrize("tif", [o.DAY, o.GTC, o.GTX])
def test_continuous_times_in_force_take_every_order_type(tif: str, order_type: str) -> None:
    validate_order(order(order_type, time_in_force=tif), 0)


@pytest.mark.parametrize("tif", [o.DAY, o.GTC, o.GTD])
def test_extended_hours_for_equity_limit_day_gtc_gtd(tif: str) -> None:
    expires = 1 if tif == o.GTD else None
    validate_order(order(time_in_force=tif, expires_ns=expires, extended_hours=True), 0)


def test_extended_hours_refused_elsewhere() -> None:
    refused(option(extended_hours=True), "extended_hours", "regular hours only")
    refused(order(o.MARKET, extended_hours=True), "extended_hours", "only LIMIT")
    for tif in (o.IOC, o.FOK, o.OPG, o.CLS, o.AT_CROSSING, o.GTX, o.GTC_THROUGH):
        refused(order(time_in_force=tif, extended_hours=True), "extended_hours", tif)


def test_options_are_sold_with_sell() -> None:
    refused(option(side=o.SELL_SHORT), "side", "not SELL_SHORT")
    validate_order(option(side=o.SELL), 0)
    validate_order(order(side=o.SELL_SHORT), 0)
