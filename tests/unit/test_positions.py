"""Positions alone: the average-cost method, realizing on a reduce, crossing zero, the day's P&L."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from oems.domain.balances import value_position
from oems.domain.positions import Position

D = Decimal


def flat(multiplier: str = "1") -> Position:
    """A flat position in one instrument."""
    return Position(
        account_id=1,
        instrument_id=uuid.UUID(int=1),
        symbol="XYZ",
        instrument_type="COMMON_STOCK",
        multiplier=D(multiplier),
    )


def test_buying_averages_the_cost() -> None:
    held = flat()
    assert held.apply_fill(D(100), D("10.00")) == 0
    assert held.apply_fill(D(50), D("13.00")) == 0
    assert held.quantity == 150
    assert held.cost == D("1650.00")  # 1,000 + 650
    assert held.avg_price == D("11")  # 1,650 / 150
    assert held.bought_today == D("1650.00")


def test_selling_part_realizes_against_the_average_and_keeps_it() -> None:
    held = flat()
    held.apply_fill(D(100), D("10.00"))
    held.apply_fill(D(50), D("13.00"))
    assert held.apply_fill(D(-60), D("12.00")) == D("60.00")  # (12 - 11) x 60
    assert held.quantity == 90
    assert held.cost == D("990.00")  # 90 x 11 left
    assert held.avg_price == D("11")
    assert held.realized_today == D("60.00")
    assert held.sold_today == D("720.00")


def test_covering_a_short_realizes_the_other_way() -> None:
    held = flat()
    assert held.apply_fill(D(-100), D("20.00")) == 0
    assert held.cost == D("-2000.00")  # a short's cost is its proceeds, negative
    assert held.avg_price == D("20")
    assert held.apply_fill(D(40), D("18.00")) == D("80.00")  # (20 - 18) x 40
    assert held.quantity == -60
    assert held.cost == D("-1200.00")
    assert held.avg_price == D("20")


def test_crossing_zero_closes_then_opens_the_rest_at_the_fill_price() -> None:
    held = flat()
    held.apply_fill(D(100), D("11.00"))
    assert held.apply_fill(D(-150), D("12.00")) == D("100.00")  # all 100 closed at +1
    assert held.quantity == -50
    assert held.cost == D("-600.00")  # 50 short at 12
    assert held.avg_price == D("12")
    assert held.apply_fill(D(80), D("10.00")) == D("100.00")  # 50 covered at +2
    assert held.quantity == 30
    assert held.avg_price == D("10")


def test_closing_in_full_leaves_no_cost_and_no_average() -> None:
    held = flat()
    held.apply_fill(D(3), D("10.00"))
    held.apply_fill(D(-1), D("10.00"))  # 10.00 / 3 does not divide evenly
    held.apply_fill(D(-2), D("10.01"))
    assert held.quantity == 0
    assert held.cost == 0
    assert held.avg_price is None


def test_the_multiplier_scales_cost_and_realized_pnl() -> None:
    held = flat("100")
    held.apply_fill(D(2), D("3.45"))
    assert held.cost == D("690.00")
    assert held.avg_price == D("3.45")  # per contract, not per 100
    assert held.apply_fill(D(-1), D("4.00")) == D("55.00")  # (4.00 - 3.45) x 100


def test_a_day_realizes_against_the_previous_close() -> None:
    held = flat()
    held.apply_fill(D(100), D("10.00"))
    held.start_day(dt.date(2025, 10, 14), D("15.00"))
    assert held.realized_today == 0 and held.bought_today == 0
    assert held.day_cost == D("1500.00")
    # Sold at 16 today: 100 over yesterday's close, though 600 over the price paid.
    assert held.apply_fill(D(-100), D("16.00")) == D("100.00")
    assert held.cost == 0
    day = value_position(held, D("16.00"))
    assert day.daily_pnl == D("100.00")  # 0 now - 1,500 at the close + 1,600 sold - 0 bought
    assert day.daily_unrealized_pnl == 0  # flat: nothing unrealized


def test_daily_pnl_of_a_position_held_overnight_and_added_to() -> None:
    held = flat()
    held.apply_fill(D(100), D("10.00"))
    held.start_day(dt.date(2025, 10, 14), D("12.00"))
    held.apply_fill(D(50), D("13.00"))
    day = value_position(held, D("14.00"))
    assert day.market_value == D("2100.00")  # 150 x 14
    assert day.unrealized_pnl == D("450.00")  # 2,100 - (1,000 + 650)
    assert day.daily_pnl == D("250.00")  # 2,100 - 1,200 at the close + 0 sold - 650 bought
    assert day.daily_unrealized_pnl == D("250.00")  # nothing closed today


def test_a_mark_missing_values_the_position_at_its_average() -> None:
    held = flat()
    held.apply_fill(D(10), D("7.50"))
    result = value_position(held, None)
    assert result.price == D("7.5")
    assert result.market_value == D("75.00")
    assert result.unrealized_pnl == 0


def test_held_quantity_is_not_available() -> None:
    held = flat()
    held.apply_fill(D(-30), D("5.00"))
    held.held = D(12)
    assert held.available_quantity == 18  # |-30| - 12
    held.held = D(40)
    assert held.available_quantity == 0


FILLS = st.lists(
    st.tuples(
        st.integers(-500, 500).filter(bool),
        st.integers(1, 100_000).map(lambda cents: D(cents) / 100),
    ),
    min_size=1,
    max_size=20,
)


# Releasing cost at the average divides (1,000 / 3 shares): figures agree to far below a cent.
EPSILON = D("1e-18")


@settings(database=None, max_examples=100)
@given(fills=FILLS)
def test_the_cost_method_accounts_for_every_dollar(fills: list[tuple[int, Decimal]]) -> None:
    """Whatever the fills: what was paid in total is the open cost less what was realized; the
    quantity is the sum of the fills; the average lies within the fill prices; the cost is on
    the quantity's side; flat means no cost."""
    held = flat()
    realized = D(0)
    low, high = min(p for _, p in fills), max(p for _, p in fills)
    for quantity, price in fills:
        realized += held.apply_fill(D(quantity), price)
        if held.avg_price is not None:
            assert low - EPSILON <= held.avg_price <= high + EPSILON
    paid = sum((q * p for q, p in fills), D(0))
    assert abs(held.cost - realized - paid) < EPSILON
    assert held.quantity == sum(q for q, _ in fills)
    assert held.realized_today == realized
    if held.quantity:
        assert (held.cost > 0) == (held.quantity > 0)
    else:
        assert held.cost == 0
