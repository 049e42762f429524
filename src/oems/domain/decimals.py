"""Decimal money and quantity values: parsing from the wire and rendering as the contract does."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

ZERO = Decimal(0)
CENT = Decimal("0.01")


def parse_decimal(text: str) -> Decimal:
    """Parse a finite decimal from a wire string; raise ValueError for anything else."""
    try:
        value = Decimal(text.strip()) if isinstance(text, str) else Decimal(text)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"invalid decimal `{text}`") from exc
    if not value.is_finite():
        raise ValueError(f"invalid decimal `{text}`")
    return value


def money(value: Decimal) -> str:
    """Render an amount of money with exactly two decimals (`"100000.00"`), rounding half-even."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_EVEN))


def plain(value: Decimal) -> str:
    """Render a quantity or price without exponent or trailing zeros (`"25"`, `"180.5"`)."""
    if value == ZERO:
        return "0"
    text = format(value.normalize(), "f")
    return text


def fixed(value: Decimal, places: int) -> str:
    """Render with exactly `places` decimals, rounding half-even (`fixed(x, 4)` -> `"2.2780"`)."""
    return str(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))


def price(value: Decimal) -> str:
    """Render a price with at least two decimals, more when its tick needs them (`"180.00"`)."""
    exponent = value.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return fixed(value, places)
