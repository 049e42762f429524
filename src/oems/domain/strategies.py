"""Multi-leg option strategies: legs, net prices, payoff at expiry, maximum loss, options level.

Conventions (the README repeats them):

- A strategy's net price is per strategy unit in the options convention: the sum over legs of
  side x ratio x leg price x (leg multiplier / 100), a buy counting +1 and a sell -1. A stock leg
  of ratio 100 therefore counts its share price once. Positive is a net debit (paid), negative a
  net credit (received). A LIMIT strategy fills when its net price is at or below the limit.
- Maximum loss is read off the payoff at expiry (at 0, at every strike, and beyond the highest
  strike) net of the premium; a payoff that keeps falling as the underlier rises is unbounded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import Decimal

from oems.domain.terms import LegTerms

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class Leg(LegTerms, frozen=False, kw_only=True):  # type: ignore[misc]  # msgspec allows it
    """One leg of a strategy order and what of it has filled."""

    filled_quantity: Decimal = ZERO
    filled_notional: Decimal = ZERO

    @property
    def sign(self) -> int:
        """+1 for a bought leg, -1 for a sold one."""
        return 1 if self.side == "BUY" else -1

    @property
    def average_price(self) -> Decimal | None:
        """The leg's average fill price, None before any fill."""
        if not self.filled_quantity:
            return None
        return self.filled_notional / self.filled_quantity

    def weight(self) -> Decimal:
        """How much one unit of this leg's price moves the strategy's net price."""
        return self.sign * self.ratio * self.multiplier / HUNDRED


def net_price(legs: Sequence[Leg], prices: Sequence[Decimal]) -> Decimal:
    """The net price per strategy unit of `legs` at `prices` (positive: a debit)."""
    return sum((leg.weight() * price for leg, price in zip(legs, prices, strict=True)), ZERO)


def lowest_terms(ratios: Iterable[int]) -> bool:
    """True when the ratios share no common factor above 1."""
    return math.gcd(*ratios) == 1


def _payoff(legs: Sequence[Leg], underlying: Decimal) -> Decimal:
    """Value at expiry of one strategy unit (money), before the premium."""
    total = ZERO
    for leg in legs:
        if leg.strike is None:
            value = underlying
        elif leg.contract_type == "CALL":
            value = max(underlying - leg.strike, ZERO)
        else:
            value = max(leg.strike - underlying, ZERO)
        total += leg.sign * leg.ratio * leg.multiplier * value
    return total


def max_loss(legs: Sequence[Leg], net_debit: Decimal) -> Decimal | None:
    """The most one strategy unit can lose at expiry (money), None when it is unbounded."""
    strikes = sorted({leg.strike for leg in legs if leg.strike is not None})
    top = strikes[-1] if strikes else ZERO
    slope = _payoff(legs, top + 2) - _payoff(legs, top + 1)
    if slope < 0:
        return None
    points = [ZERO, *strikes]
    premium = net_debit * HUNDRED
    worst = min(_payoff(legs, s) for s in points) - premium
    return max(-worst, ZERO)


def required_level(legs: Sequence[Leg], bounded: bool) -> int:
    """The options level a strategy needs: 2 long premium only, 3 defined risk, 4 unbounded."""
    option_legs = [leg for leg in legs if leg.strike is not None]
    if not bounded:
        return 4
    if all(leg.sign > 0 for leg in option_legs):
        return 2
    stock = [leg for leg in legs if leg.strike is None]
    covered_call = (
        len(option_legs) == 1
        and option_legs[0].contract_type == "CALL"
        and stock
        and stock[0].sign > 0
        and stock[0].ratio >= option_legs[0].ratio * option_legs[0].multiplier
    )
    return 1 if covered_call else 3


NAKED_RATE = Decimal("0.20")


def naked_call_requirement(legs: Sequence[Leg], underlying: Decimal) -> Decimal:
    """Margin for the uncovered calls of an unbounded strategy: 20% of the underlier per share."""
    stock = sum((leg.sign * leg.ratio for leg in legs if leg.strike is None), 0)
    short_calls = sum(
        (
            leg.ratio * leg.multiplier
            for leg in legs
            if leg.contract_type == "CALL" and leg.sign < 0
        ),
        Decimal(0),
    )
    long_calls = sum(
        (
            leg.ratio * leg.multiplier
            for leg in legs
            if leg.contract_type == "CALL" and leg.sign > 0
        ),
        Decimal(0),
    )
    uncovered = max(short_calls - long_calls - max(stock, 0), Decimal(0))
    return uncovered * underlying * NAKED_RATE
