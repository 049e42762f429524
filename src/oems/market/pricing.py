"""Black–Scholes theoretical value and Greeks of listed options, computed with `vollib`.

Units are those of the vendor's `SnapshotGreeks` schema; every value is **per share** (no
contract multiplier):

- `theo_price`: option value in USD per share.
- `iv`: annualised volatility the value was computed with (`0.20` == 20%). Synthetic prices are
  made from this very volatility, so the implied volatility of the theoretical price is it.
- `delta`: ∂V/∂S, in [-1, 1].
- `gamma`: ∂²V/∂S², per USD of underlier.
- `vega`: ∂V/∂σ per 1.0 vol point, i.e. the change in value for σ moving by 1.0 (100%).
  vollib returns it per 0.01 (one percent), so we multiply by 100.
- `theta`: ∂V/∂t per trading day, i.e. the annual theta / 252. vollib returns annual / 365 (per
  calendar day), so we multiply by 365 / 252.
- `rho`: ∂V/∂r per 1.0 rate point. vollib returns it per 0.01, so we multiply by 100.

Time to expiry is measured ACT/365 in years from now to 16:00 US/Eastern of the expiry date,
floored at `MIN_YEARS` so that an option at or past its expiry is worth its intrinsic value.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from vollib.black_scholes import black_scholes
from vollib.black_scholes.greeks import analytical

from oems.domain.timefmt import from_datetime
from oems.market.calendar import EASTERN

RISK_FREE_RATE = 0.04  # annual, continuously compounded; one constant for every expiry
MIN_YEARS = 1e-6  # about 32 seconds: keeps d1/d2 finite at and after expiry
MIN_VOLATILITY = 1e-4
TRADING_DAYS_PER_YEAR = 252
_NS_PER_YEAR = 365 * 86_400 * 1_000_000_000
_EXPIRY_TIME = dt.time(16, 0)
_PRICE_PLACES = Decimal("0.0001")
_GREEK_PLACES = Decimal("0.000001")
_VOLLIB_PER_POINT = 100.0  # vollib's vega and rho are per 0.01; the contract wants per 1.0
_VOLLIB_THETA_TO_TRADING_DAY = 365.0 / TRADING_DAYS_PER_YEAR  # vollib's theta is annual / 365


@dataclass(frozen=True, slots=True)
class Greeks:
    """Theoretical value and Greeks of one option, per share, in the `SnapshotGreeks` units."""

    theo_price: Decimal
    iv: Decimal
    delta: Decimal
    gamma: Decimal
    vega: Decimal
    theta: Decimal
    rho: Decimal


@lru_cache(maxsize=4096)
def expiry_ns(expiry: dt.date) -> int:
    """The instant an option expires for pricing: 16:00 US/Eastern on its expiry date."""
    return from_datetime(dt.datetime.combine(expiry, _EXPIRY_TIME, EASTERN))


def years_to_expiry(expiry: dt.date, now_ns: int) -> float:
    """Time from `now_ns` to the expiry in years (ACT/365), floored at `MIN_YEARS`."""
    years = (expiry_ns(expiry) - now_ns) / _NS_PER_YEAR
    return years if years > MIN_YEARS else MIN_YEARS


def _flag(contract_type: str) -> str:
    if contract_type == "CALL":
        return "c"
    if contract_type == "PUT":
        return "p"
    raise ValueError(f"unknown contract type `{contract_type}`")


def theo_value(
    contract_type: str,
    spot: float,
    strike: float,
    years: float,
    vol: float,
    rate: float = RISK_FREE_RATE,
) -> float:
    """The Black–Scholes value per share as a float (for the quote generator's hot path)."""
    years = max(years, MIN_YEARS)
    vol = max(vol, MIN_VOLATILITY)
    return float(black_scholes(_flag(contract_type), spot, strike, years, rate, vol))


def greeks(
    contract_type: str,
    spot: float,
    strike: float,
    years: float,
    vol: float,
    rate: float = RISK_FREE_RATE,
) -> Greeks:
    """Theoretical value and Greeks for a European option on a non-dividend-paying underlier."""
    flag = _flag(contract_type)
    years = max(years, MIN_YEARS)
    vol = max(vol, MIN_VOLATILITY)
    args = (flag, spot, strike, years, rate, vol)
    return Greeks(
        theo_price=_dec(float(black_scholes(*args)), _PRICE_PLACES),
        iv=_dec(vol, _GREEK_PLACES),
        delta=_dec(float(analytical.delta(*args)), _GREEK_PLACES),
        gamma=_dec(float(analytical.gamma(*args)), _GREEK_PLACES),
        vega=_dec(float(analytical.vega(*args)) * _VOLLIB_PER_POINT, _GREEK_PLACES),
        theta=_dec(float(analytical.theta(*args)) * _VOLLIB_THETA_TO_TRADING_DAY, _GREEK_PLACES),
        rho=_dec(float(analytical.rho(*args)) * _VOLLIB_PER_POINT, _GREEK_PLACES),
    )


SMILE_SKEW = -0.10  # lower strikes trade at higher volatility (the equity put skew)
SMILE_CURVE = 0.50  # both wings above the money
SMILE_FLOOR, SMILE_CAP = 0.5, 3.0  # the smile stays within these multiples of the base
_MIN_SMILE_YEARS = 1 / 365


def smile_volatility(base: float, strike: float, spot: float, years: float) -> float:
    """The volatility a listed option is priced at: its underlier's, bent into a smile.

    With x = ln(strike / spot) / sqrt(years) (moneyness in standard deviations per unit of
    volatility, so short expiries smile more steeply in strike), the volatility is
    base x (1 + SMILE_SKEW x + SMILE_CURVE x^2), kept within [0.5, 3] times the base. At the
    money it is the base volatility.
    """
    if spot <= 0 or strike <= 0:
        return base
    x = math.log(strike / spot) / math.sqrt(max(years, _MIN_SMILE_YEARS))
    factor = 1.0 + SMILE_SKEW * x + SMILE_CURVE * x * x
    return base * min(max(factor, SMILE_FLOOR), SMILE_CAP)


def option_greeks(
    contract_type: str,
    strike: Decimal,
    expiry: dt.date,
    spot: Decimal | float,
    vol: Decimal | float,
    now_ns: int,
    rate: float = RISK_FREE_RATE,
) -> Greeks:
    """Greeks of a listed option's terms at `now_ns`, from the underlier price `spot`, priced at
    the smile's volatility for its strike (`iv` reports it)."""
    years = years_to_expiry(expiry, now_ns)
    smiled = smile_volatility(float(vol), float(strike), float(spot), years)
    return greeks(contract_type, float(spot), float(strike), years, smiled, rate)


def _dec(value: float, places: Decimal) -> Decimal:
    if value != value or value in (float("inf"), float("-inf")):  # NaN/inf never reach the wire
        return Decimal(0).quantize(places)
    result = Decimal(repr(value)).quantize(places)
    return result if result else abs(result)  # no "-0.000000"
