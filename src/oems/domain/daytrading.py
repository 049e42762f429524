"""Pattern-day-trader accounting (FINRA Rule 4210(f)(8)(B), as brokers apply it), per margin account.

Rules (the README repeats them):

- A day trade is opening and closing the same security the same trading day. It is counted per
  closing order: an order that sells (or buys to cover) quantity opened today counts once, however
  many fills it takes. Buy 100, buy 100, sell 200 is one day trade; buy 200, sell 100, sell 100 is
  two. A closing fill first reduces what was held at the day's start (FIFO), so selling yesterday's
  shares is not a day trade; only what it closes beyond them is.
- `trades` counts the orders that executed (an order with several fills is one trade).
- The window is the current trading day and the four before it. An account becomes a pattern day
  trader when it makes four or more day trades in the window and they are more than 6% of its
  trades there; the designation then stays (FINRA's 90-day removal is not simulated).
- Day-trade buying power is 4 x the start-of-day maintenance margin excess (equity less the
  maintenance requirement at the day's start), for a margin account whose start-of-day equity is
  at least the $25,000 minimum; otherwise none. Its usage is the cost of every position opened
  today (quantity x price x multiplier of each opening fill), per account and per underlying.
- A pattern day trader whose start-of-day equity is under $25,000 may not day trade: an order
  that would close quantity opened today is refused (`PATTERN_DAY_TRADER`). Cash accounts never
  day trade on margin: nothing is counted for them and they have no day-trade buying power.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)
PDT_MINIMUM_EQUITY = Decimal(25000)
DAY_TRADE_MULTIPLIER = Decimal(4)
PATTERN_DAY_TRADES = 4
PATTERN_SHARE = Decimal("0.06")
WINDOW_DAYS = 5


@dataclass(slots=True)
class DayTrading:
    """One margin account's day-trade record: today's activity and the trading days before it."""

    past: list[tuple[int, int]] = field(default_factory=list)  # (day trades, trades), oldest first
    day_trades: int = 0  # today
    trades: int = 0  # today
    pattern_day_trader: bool = False
    usage: Decimal = ZERO  # cost of the positions opened today
    usage_by_underlying: dict[uuid.UUID, Decimal] = field(default_factory=dict)
    overnight: dict[uuid.UUID, Decimal] = field(default_factory=dict)  # signed, left of the start
    counted: set[uuid.UUID] = field(default_factory=set)  # orders counted as a day trade today
    traded: set[uuid.UUID] = field(default_factory=set)  # orders that executed today

    @property
    def day_trade_count(self) -> int:
        """Day trades in the window (today and the four trading days before)."""
        return self.day_trades + sum(count for count, _ in self.past)

    @property
    def trade_count(self) -> int:
        """Trades (executed orders) in the window."""
        return self.trades + sum(count for _, count in self.past)

    def start_day(self) -> None:
        """Roll to a new trading day: today's counts join the window, which keeps five days."""
        self.past.append((self.day_trades, self.trades))
        del self.past[: max(len(self.past) - (WINDOW_DAYS - 1), 0)]
        self.day_trades = self.trades = 0
        self.usage = ZERO
        self.usage_by_underlying = {}
        self.overnight = {}
        self.counted = set()
        self.traded = set()

    def opened_today(
        self, instrument_id: uuid.UUID, held: Decimal, held_at_start: Decimal
    ) -> Decimal:
        """The signed part of a position of `held` that was opened today."""
        return held - self.overnight.get(instrument_id, held_at_start)

    def record_fill(
        self,
        order_id: uuid.UUID,
        instrument_id: uuid.UUID,
        underlying_id: uuid.UUID,
        held: Decimal,
        held_at_start: Decimal,
        signed: Decimal,
        price: Decimal,
        multiplier: Decimal,
    ) -> None:
        """Book one fill of `signed` quantity at `price` on a position of `held` before it."""
        self.traded.add(order_id)
        self.trades = len(self.traded)
        overnight = self.overnight.get(instrument_id, held_at_start)
        closing = min(abs(signed), abs(held)) if held and (held > 0) != (signed > 0) else ZERO
        from_overnight = ZERO
        if closing and overnight and (overnight > 0) == (held > 0):
            from_overnight = min(closing, abs(overnight))
        overnight -= from_overnight if overnight > 0 else -from_overnight
        if closing > from_overnight and order_id not in self.counted:
            self.counted.add(order_id)
            self.day_trades += 1
            self._designate()
        opening = abs(signed) - closing
        if held + signed == 0 or (held and (held > 0) != (held + signed > 0)):
            overnight = ZERO  # flat, or crossed to the other side: nothing of the start is left
        self.overnight[instrument_id] = overnight
        if opening:
            cost = opening * price * multiplier
            self.usage += cost
            self.usage_by_underlying[underlying_id] = (
                self.usage_by_underlying.get(underlying_id, ZERO) + cost
            )

    def would_day_trade(
        self, instrument_id: uuid.UUID, held: Decimal, held_at_start: Decimal, signed: Decimal
    ) -> bool:
        """True when an order of `signed` quantity would close some quantity opened today."""
        today = self.opened_today(instrument_id, held, held_at_start)
        if not today or (today > 0) == (signed > 0):
            return False
        overnight = held - today
        return abs(signed) > abs(overnight)

    def _designate(self) -> None:
        count = self.day_trade_count
        if count >= PATTERN_DAY_TRADES and count > PATTERN_SHARE * self.trade_count:
            self.pattern_day_trader = True


def day_trade_buying_power(
    is_margin: bool, sod_equity: Decimal, sod_maintenance: Decimal
) -> Decimal:
    """4 x the start-of-day maintenance excess for a margin account at or above the $25,000
    minimum; zero otherwise (cash accounts, and margin accounts below it)."""
    if not is_margin or sod_equity < PDT_MINIMUM_EQUITY:
        return ZERO
    return DAY_TRADE_MULTIPLIER * max(sod_equity - sod_maintenance, ZERO)


def restricted(account_is_margin: bool, record: DayTrading, sod_equity: Decimal) -> bool:
    """True when the account may not day trade: a pattern day trader under the minimum."""
    return account_is_margin and record.pattern_day_trader and sod_equity < PDT_MINIMUM_EQUITY
