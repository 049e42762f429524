"""Strategy arithmetic alone: ratios in lowest terms, net prices, maximum loss, options level."""

from __future__ import annotations

import math
import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oems.domain.strategies import Leg, lowest_terms, max_loss, net_price, required_level

D = Decimal


@pytest.mark.parametrize(
    ("ratios", "lowest"),
    [
        ([1, 1], True),
        ([1, 2, 1], True),
        ([2, 3], True),
        ([2, 2], False),
        ([2, 4, 2], False),
        ([3, 6, 9, 3], False),
        ([100, 1], True),
    ],
)
def test_lowest_terms(ratios: list[int], lowest: bool) -> None:
    assert lowest_terms(ratios) is lowest
    assert lowest_terms(iter(ratios)) is lowest  # any iterable


RATIOS = st.lists(st.integers(1, 50), min_size=2, max_size=4)


@settings(database=None, max_examples=100)
@given(ratios=RATIOS, factor=st.integers(2, 9))
def test_ratios_divided_by_their_gcd_are_lowest_and_a_multiple_is_not(
    ratios: list[int], factor: int
) -> None:
    common = math.gcd(*ratios)
    assert lowest_terms([r // common for r in ratios])
    assert not lowest_terms([r * factor for r in ratios])
    assert lowest_terms(ratios) == all(
        any(r % d for r in ratios) for d in range(2, max(ratios) + 1)
    )


def leg(side: str, contract_type: str | None, strike: str | None, ratio: int = 1) -> Leg:
    """An option leg (multiplier 100), or with `contract_type` None a stock leg (multiplier 1)."""
    return Leg(
        instrument_id=uuid.uuid4(),
        symbol="X",
        instrument_type="OPTION" if contract_type else "COMMON_STOCK",
        side=side,
        ratio=ratio,
        multiplier=D(100) if contract_type else D(1),
        contract_type=contract_type,
        strike=D(strike) if strike else None,
    )


def test_net_price_is_positive_for_a_debit_and_negative_for_a_credit() -> None:
    long_call, short_call = leg("BUY", "CALL", "100"), leg("SELL", "CALL", "110")
    assert net_price([long_call, short_call], [D("3.00"), D("1.20")]) == D("1.80")
    assert net_price([short_call, long_call], [D("3.00"), D("1.20")]) == D("-1.80")
    fly = [leg("BUY", "CALL", "100"), leg("SELL", "CALL", "105", 2), leg("BUY", "CALL", "110")]
    assert net_price(fly, [D("6.00"), D("3.50"), D("1.75")]) == D("0.75")  # 6 - 7 + 1.75


def test_a_stock_leg_of_ratio_100_counts_its_share_price_once() -> None:
    covered = [leg("BUY", None, None, 100), leg("SELL", "CALL", "110")]
    assert net_price(covered, [D("102.00"), D("2.50")]) == D("99.50")


def test_maximum_loss_at_expiry() -> None:
    debit = [leg("BUY", "CALL", "100"), leg("SELL", "CALL", "110")]
    assert max_loss(debit, D("3.00")) == D("300.00")  # the debit paid
    credit = [leg("SELL", "PUT", "100"), leg("BUY", "PUT", "95")]
    assert max_loss(credit, D("-1.50")) == D("350.00")  # width 500 less 150 received
    assert max_loss([leg("SELL", "CALL", "110")], D("-2.00")) is None  # unbounded
    assert max_loss([leg("SELL", "PUT", "95")], D("-1.50")) == D("9350.00")  # 9,500 - 150


def level(legs: list[Leg]) -> int:
    """The options level of `legs`, bounded or not as their payoff says."""
    return required_level(legs, bounded=max_loss(legs, D(0)) is not None)


def test_the_options_level_a_strategy_needs() -> None:
    assert level([leg("BUY", "CALL", "100"), leg("BUY", "PUT", "95")]) == 2  # premium only
    assert level([leg("BUY", "CALL", "100"), leg("SELL", "CALL", "110")]) == 3  # defined risk
    assert level([leg("BUY", None, None, 100), leg("SELL", "CALL", "110")]) == 1  # covered call
    assert level([leg("BUY", None, None, 50), leg("SELL", "CALL", "110")]) == 4  # half covered
    assert level([leg("SELL", "CALL", "110")]) == 4  # naked
