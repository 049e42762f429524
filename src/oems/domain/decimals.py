"""Decimal money and quantity values: parsing from the wire and rendering as the contract does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Bound:
    """The largest magnitude and the most decimal places a value from the wire may have."""

    maximum: Decimal
    places: int


# Documented in the README ("Limits"): beyond these, a value is refused with a 400 naming it.
PRICE = Bound(Decimal(10_000_000), 8)  # prices, price offsets and net strategy prices
QUANTITY = Bound(Decimal(1_000_000_000), 9)  # shares or contracts
CASH = Bound(Decimal(10**12), 2)  # cash amounts
NOTIONAL = Bound(Decimal(10**15), 2)  # notional limits
_PLAIN = re.compile(r"-?[0-9]{1,40}(\.[0-9]{1,40})?")


class OutOfBounds(ValueError):
    """A well-written decimal beyond its bound (too large, or too many decimal places)."""


def parse_decimal(text: str, bound: Bound) -> Decimal:
    """A decimal in plain notation (`-12.50`) within `bound`.

    Raises ValueError saying why otherwise (OutOfBounds for a well-written value beyond `bound`).
    Exponents, underscores, spaces and a leading `+` are refused: `1e400` or `1_0` are not
    amounts anyone means to send, and they would reach the arithmetic unbounded.
    """
    if not isinstance(text, str) or not _PLAIN.fullmatch(text):
        raise ValueError(
            f"`{text}` is not a decimal in plain notation (digits with an optional point)"
        )
    value = Decimal(text)
    if abs(value) > bound.maximum:
        raise OutOfBounds(f"`{text}` is beyond the limit of {bound.maximum}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > bound.places:
        raise OutOfBounds(f"`{text}` has more than {bound.places} decimal places")
    return value


def money(value: Decimal) -> str:
    """Render an amount of money with exactly two decimals (`"100000.00"`), rounding half-even."""
    rounded = value.quantize(CENT, rounding=ROUND_HALF_EVEN)
    return format(rounded if rounded else abs(rounded), "f")


def plain(value: Decimal) -> str:
    """Render a quantity or price without exponent or trailing zeros (`"25"`, `"180.5"`)."""
    if value == ZERO:
        return "0"
    text = format(value.normalize(), "f")
    return text


def fixed(value: Decimal, places: int) -> str:
    """Render with exactly `places` decimals, rounding half-even (`fixed(x, 4)` -> `"2.2780"`).

    Never an exponent (`str` would write `1E-8`), and zero unsigned (`-0.001` -> `"0.00"`).
    """
    quantum = _QUANTA[places] if 0 <= places < len(_QUANTA) else Decimal(1).scaleb(-places)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_EVEN)
    return format(rounded if rounded else abs(rounded), "f")


_QUANTA = tuple(Decimal(1).scaleb(-places) for places in range(19))  # 1, 0.1, ... 1E-18


def price(value: Decimal) -> str:
    """Render a price with at least two decimals, more when its tick needs them (`"180.00"`)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -2:
        return money(value)  # two places or fewer as written: trailing zeros cannot add any
    exponent = value.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return fixed(value, places)
