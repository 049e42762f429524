"""Balance arithmetic: market values, P&L, Reg T margin requirements and buying power.

Rules (the README repeats them):

- Equity = trade cash + long market value + short market value (short values are negative).
- Cash account: buying power = trade cash less what open buy orders hold and the cash that
  secures its short options (their whole loss at expiry: a short put its strike, a credit spread
  its width; nothing for a covered call); options are paid in full; no short sales.
- Reg T margin account: initial requirement 50% of each marginable stock position long or short
  (100% when the security is not marginable), 100% of long option premium; maintenance
  requirement at the instrument's long/short margin rates (25% / 30% by default). Overnight
  buying power = 2 x (equity - initial requirement); intraday buying power = 4 x (equity -
  maintenance requirement) when equity is at least the $25,000 pattern-day-trader minimum,
  else the overnight figure. During the regular session the reported (and risk-checked) buying
  power is the intraday one, outside it the overnight one. Open orders that open or add to a
  position hold their notional (limit price, or the touch for market and stop orders) out of it;
  an option's premium or margin requirement holds that amount times the multiplier in force
  (options are paid in full from equity, not marginable).
- Daily P&L of a position = market value now - market value at the previous close + what it was
  sold for today - what was bought today. Its realized part is what today's closing fills made
  against the day's baseline (the previous close for quantity held overnight, the fill price for
  quantity opened today, averaged); the rest is the daily unrealized P&L, zero once flat.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from oems.domain.accounts import Account
from oems.domain.daytrading import PDT_MINIMUM_EQUITY
from oems.domain.positions import Position
from oems.domain.strategies import Leg, max_loss

ZERO = Decimal(0)
OVERNIGHT_MULTIPLIER = Decimal(2)
INTRADAY_MULTIPLIER = Decimal(4)
REG_T_INITIAL = Decimal("0.5")
ONE = Decimal(1)
NAKED_RATE = Decimal("0.20")
NAKED_FLOOR = Decimal("0.10")


@dataclass(frozen=True, slots=True)
class MarginRates:
    """What a position's instrument requires: initial and maintenance rates, long and short."""

    marginable: bool
    long_maintenance: Decimal
    short_maintenance: Decimal
    is_option: bool
    contract_type: str | None = None  # options: CALL | PUT
    strike: Decimal | None = None
    underlying_price: Decimal | None = None  # options: the underlier's mark


Mark = Callable[[Position], Decimal | None]
RatesOf = Callable[[Position], MarginRates]


@dataclass(frozen=True, slots=True)
class PositionValue:
    """A position valued at a mark price."""

    price: Decimal | None
    market_value: Decimal
    unrealized_pnl: Decimal
    daily_pnl: Decimal
    daily_unrealized_pnl: Decimal
    daily_baseline: Decimal  # |market value at the previous close|, else |cost| (for the percent)


def value_position(position: Position, mark: Decimal | None) -> PositionValue:
    """Market value and P&L of a position at `mark` (falls back to its average cost)."""
    price = mark if mark is not None else position.avg_price
    qty_value = position.quantity * position.multiplier
    market_value = qty_value * price if price is not None else position.cost
    daily_unrealized = market_value - position.day_cost
    daily = daily_unrealized + position.realized_today
    if position.sod_price is not None:
        baseline = abs(position.sod_quantity * position.multiplier * position.sod_price)
    else:
        baseline = ZERO
    baseline = baseline or abs(position.bought_today) or abs(position.cost)
    return PositionValue(
        price=price,
        market_value=market_value,
        unrealized_pnl=market_value - position.cost,
        daily_pnl=daily,
        daily_unrealized_pnl=daily_unrealized,
        daily_baseline=baseline,
    )


@dataclass(slots=True)
class Contribution:
    """What the positions on one underlying (an equity, or an option's underlier) require."""

    underlying_instrument_id: uuid.UUID
    initial_requirement: Decimal = ZERO
    maintenance_requirement: Decimal = ZERO
    market_value: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class AccountValue:
    """Everything the balances endpoint reports, computed at one instant."""

    long_market_value: Decimal
    short_market_value: Decimal
    equity: Decimal
    unrealized_pnl: Decimal
    daily_pnl: Decimal
    daily_realized_pnl: Decimal
    daily_unrealized_pnl: Decimal
    initial_requirement: Decimal
    maintenance_requirement: Decimal
    overnight_buying_power: Decimal
    intraday_buying_power: Decimal
    intraday_multiplier: Decimal
    overnight_multiplier: Decimal
    open_order_hold: Decimal
    regular_session: bool
    contributions: tuple[Contribution, ...]  # per underlying, largest initial requirement first

    @property
    def buying_power(self) -> Decimal:
        """What new orders may use now: the session's buying power less open-order holds."""
        raw = self.intraday_buying_power if self.regular_session else self.overnight_buying_power
        return max(raw - self.open_order_hold, ZERO)

    @property
    def multiplier(self) -> Decimal:
        """The multiplier behind `buying_power` now."""
        return self.intraday_multiplier if self.regular_session else self.overnight_multiplier


def naked_per_share(contract_type: str | None, strike: Decimal, spot: Decimal) -> Decimal:
    """Margin per share of an uncovered short option beyond its premium: 20% of the underlier
    less the out-of-the-money amount, at least 10% of the underlier (calls) or strike (puts)."""
    if contract_type == "CALL":
        out_of_money, floor = max(strike - spot, ZERO), spot * NAKED_FLOOR
    else:
        out_of_money, floor = max(spot - strike, ZERO), strike * NAKED_FLOOR
    return max(spot * NAKED_RATE - out_of_money, floor)


def naked_requirement(position: Position, value: PositionValue, rates: MarginRates) -> Decimal:
    """Margin of an uncovered short option position: its premium plus `naked_per_share`."""
    per_share = naked_per_share(
        rates.contract_type, rates.strike or ZERO, rates.underlying_price or ZERO
    )
    return abs(value.market_value) + abs(position.quantity) * position.multiplier * per_share


def requirements(
    position: Position, value: PositionValue, rates: MarginRates, margin: bool
) -> tuple[Decimal, Decimal]:
    """(initial, maintenance) requirement of one position on its own (short options: naked)."""
    exposure = abs(value.market_value)
    if rates.is_option and position.quantity < 0:
        naked = naked_requirement(position, value, rates)
        return naked, naked
    if rates.is_option or not margin or not rates.marginable:
        return exposure, exposure
    maintenance_rate = rates.long_maintenance if position.quantity > 0 else rates.short_maintenance
    return exposure * REG_T_INITIAL, exposure * maintenance_rate


def value_account(
    account: Account,
    positions: Iterable[Position],
    mark: Mark,
    rates_of: RatesOf,
    regular_session: bool,
) -> AccountValue:
    """Value an account: positions at their marks, requirements, buying power."""
    long_mv = short_mv = unrealized = daily = realized = initial = maintenance = ZERO
    contributions: dict[uuid.UUID, Contribution] = {}
    positions_list = list(positions)
    for position in positions_list:
        value = value_position(position, mark(position))
        if value.market_value >= 0:
            long_mv += value.market_value
        else:
            short_mv += value.market_value
        unrealized += value.unrealized_pnl
        daily += value.daily_pnl
        realized += position.realized_today
        if position.quantity:
            init, maint = requirements(position, value, rates_of(position), account.is_margin)
            initial += init
            maintenance += maint
            underlying = position.underlying_instrument_id or position.instrument_id
            share = contributions.get(underlying)
            if share is None:
                share = contributions[underlying] = Contribution(underlying)
            share.initial_requirement += init
            share.maintenance_requirement += maint
            share.market_value += value.market_value
    offset, secured = _strategy_offset(positions_list, mark, rates_of, account.is_margin)
    initial -= offset
    maintenance -= offset
    equity = account.trade_cash + long_mv + short_mv
    if account.is_margin:
        overnight_m = OVERNIGHT_MULTIPLIER
        intraday_m = INTRADAY_MULTIPLIER if equity >= PDT_MINIMUM_EQUITY else OVERNIGHT_MULTIPLIER
        overnight_bp = max(equity - initial, ZERO) * overnight_m
        intraday_bp = (
            max(equity - maintenance, ZERO) * intraday_m
            if intraday_m == INTRADAY_MULTIPLIER
            else overnight_bp
        )
    else:
        overnight_m = intraday_m = ONE
        overnight_bp = intraday_bp = max(account.trade_cash - secured, ZERO)
    ranked = sorted(
        contributions.values(),
        key=lambda c: (-c.initial_requirement, str(c.underlying_instrument_id)),
    )
    return AccountValue(
        long_market_value=long_mv,
        short_market_value=short_mv,
        equity=equity,
        unrealized_pnl=unrealized,
        daily_pnl=daily,
        daily_realized_pnl=realized,
        daily_unrealized_pnl=daily - realized,
        initial_requirement=initial,
        maintenance_requirement=maintenance,
        overnight_buying_power=overnight_bp,
        intraday_buying_power=intraday_bp,
        intraday_multiplier=intraday_m,
        overnight_multiplier=overnight_m,
        open_order_hold=account.open_order_hold,
        regular_session=regular_session,
        contributions=tuple(ranked),
    )


def _strategy_offset(
    positions: list[Position], mark: Mark, rates_of: RatesOf, margin: bool
) -> tuple[Decimal, Decimal]:
    """(offset, secured): how much the options of each underlier held together need less than
    position by position, and the cash a cash account holds against their loss at expiry.

    A group (the options of one underlier, with the underlier's long shares as cover) needs its
    maximum loss at expiry from where it is valued now: that is nothing more for a covered call,
    the width less the credit for a credit spread, the net value for a debit spread. A margin
    account never needs more than position by position (long premium plus naked shorts); a cash
    account must secure the whole loss (a short put: its strike). Negative: the group needs more.
    Uncovered calls have no bounded loss: their naked requirement is what is secured.
    """
    groups: dict[uuid.UUID, list[tuple[Position, MarginRates]]] = {}
    for position in positions:
        if not position.quantity:
            continue
        rates = rates_of(position)
        key = position.underlying_instrument_id if rates.is_option else position.instrument_id
        if key is not None:
            groups.setdefault(key, []).append((position, rates))
    offset = secured = ZERO
    for members in groups.values():
        options = [(p, r) for p, r in members if r.is_option]
        if not any(p.quantity < 0 for p, _ in options):
            continue
        separately = ZERO
        net_value = ZERO
        for p, r in options:
            value = value_position(p, mark(p))
            separately += requirements(p, value, r, margin)[0]
            net_value += value.market_value
        legs = [
            Leg(
                instrument_id=p.instrument_id,
                symbol=p.symbol,
                instrument_type=p.instrument_type,
                side="BUY" if p.quantity > 0 else "SELL",
                ratio=int(abs(p.quantity)),
                multiplier=p.multiplier,
                contract_type=r.contract_type,
                strike=r.strike if r.is_option else None,
            )
            for p, r in members
            if r.is_option or p.quantity > 0
        ]
        loss = max_loss(legs, ZERO)  # the worst value at expiry of what is held
        if loss is None:
            secured += separately
            continue  # uncovered calls: naked margin stands
        secured += loss
        together = max(loss + net_value, ZERO)
        if margin:
            together = min(together, separately)
        offset += separately - together
    return offset, secured
