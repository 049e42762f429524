"""Decimal values from and to the wire: plain notation within documented bounds, rendering."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oems.domain.decimals import (
    CASH,
    NOTIONAL,
    PRICE,
    QUANTITY,
    Bound,
    OutOfBounds,
    fixed,
    money,
    parse_decimal,
    plain,
    price,
)

D = Decimal


@pytest.mark.parametrize("text", ["0", "-12.50", "180.5", "007", "0.00000001"])
def test_plain_notation_parses_exactly(text: str) -> None:
    value = parse_decimal(text, PRICE)
    assert value == D(text)
    written = len(text.split(".")[1]) if "." in text else 0
    assert value.as_tuple().exponent == -written  # the places as written are kept


@pytest.mark.parametrize(
    "text",
    [
        "1e3",
        "1E-2",
        "1_000",
        "+1",
        " 1",
        "1 ",
        "1.",
        ".5",
        "",
        "-",
        "1.2.3",
        "NaN",
        "Infinity",
        "١٢",
    ],
)
def test_anything_but_plain_notation_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="plain notation") as raised:
        parse_decimal(text, PRICE)
    assert not isinstance(raised.value, OutOfBounds)


def test_a_non_string_is_refused() -> None:
    with pytest.raises(ValueError, match="plain notation"):
        parse_decimal(12, PRICE)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bound", "largest", "too_large", "finest", "too_fine"),
    [
        (PRICE, "10000000", "10000000.00000001", "0.00000001", "0.000000001"),
        (QUANTITY, "1000000000", "1000000000.000000001", "0.000000001", "0.0000000001"),
        (CASH, "1000000000000", "1000000000000.01", "0.01", "0.001"),
        (NOTIONAL, "1000000000000000", "1000000000000000.01", "0.01", "0.001"),
    ],
    ids=["price", "quantity", "cash", "notional"],
)
def test_the_readmes_bounds(
    bound: Bound, largest: str, too_large: str, finest: str, too_fine: str
) -> None:
    for text in (largest, f"-{largest}", finest):
        assert parse_decimal(text, bound) == D(text)
    with pytest.raises(OutOfBounds, match="beyond the limit"):
        parse_decimal(too_large, bound)
    with pytest.raises(OutOfBounds, match="beyond the limit"):
        parse_decimal(f"-{too_large}", bound)
    with pytest.raises(OutOfBounds, match="decimal places"):
        parse_decimal(too_fine, bound)


def test_an_absurdly_long_value_is_refused_before_arithmetic() -> None:
    with pytest.raises(ValueError):
        parse_decimal("9" * 41, NOTIONAL)


@pytest.mark.parametrize(
    ("render", "value", "text"),
    [
        # money: exactly two decimals, rounded half-even.
        (money, "100000", "100000.00"),
        (money, "-2.5", "-2.50"),
        (money, "0.125", "0.12"),  # down to the even cent
        (money, "0.135", "0.14"),  # up to the even cent
        (money, "1E+3", "1000.00"),
        # plain: no exponent, no trailing zeros.
        (plain, "25.000", "25"),
        (plain, "180.50", "180.5"),
        (plain, "1E+3", "1000"),
        (plain, "0.00", "0"),
        (plain, "-0.0001000", "-0.0001"),
        # price: at least two decimals, more when the value needs them.
        (price, "180", "180.00"),
        (price, "180.5", "180.50"),
        (price, "0.1234", "0.1234"),
        (price, "1E+2", "100.00"),
        (price, "2.50000", "2.50"),
    ],
)
def test_rendering(render: Callable[[Decimal], str], value: str, text: str) -> None:
    assert render(D(value)) == text


def test_fixed_places() -> None:
    assert fixed(D("2.278"), 4) == "2.2780"
    assert fixed(D("2.27805"), 4) == "2.2780"  # half-even
    assert fixed(D("2.27815"), 4) == "2.2782"
    assert fixed(D("1234.5"), 0) == "1234"


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [("0.00000001", 8, "0.00000001"), ("-0.00000012", 8, "-0.00000012"), ("1E-7", 7, "0.0000001")],
)
def test_small_values_render_without_an_exponent(value: str, places: int, text: str) -> None:
    assert fixed(D(value), places) == text
    assert price(D(value)) == text


@pytest.mark.parametrize("value", ["-0", "-0.001", "-0.00499", "-1E-27"])
def test_a_negative_that_rounds_to_zero_renders_as_zero(value: str) -> None:
    assert money(D(value)) == "0.00"
    assert fixed(D(value) / 100, 4) == "0.0000"
    assert price(D("-0.00")) == "0.00"


PRICES = st.decimals(
    min_value=-PRICE.maximum, max_value=PRICE.maximum, places=PRICE.places, allow_nan=False
)


@settings(database=None, max_examples=100)
@given(value=PRICES)
def test_what_plain_renders_parses_back_to_the_same_value(value: Decimal) -> None:
    text = plain(value)
    assert "E" not in text and "e" not in text
    assert parse_decimal(text, PRICE) == value


@settings(database=None, max_examples=100)
@given(value=PRICES)
def test_price_rendering_keeps_the_value(value: Decimal) -> None:
    text = price(value)
    assert D(text) == value
    assert len(text.split(".")[1]) >= 2
