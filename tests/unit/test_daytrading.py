"""Pattern-day-trader accounting alone: day trades per closing order, FIFO against the day's
start, the five-day window, the designation and day-trade buying power (the module's rules)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from oems.domain.daytrading import DayTrading, day_trade_buying_power, restricted

D = Decimal
XYZ = uuid.UUID(int=1)


class Book:
    """One instrument's position and its day-trade record, fed fill by fill as the state does."""

    def __init__(self, held_at_start: int = 0) -> None:
        self.record = DayTrading()
        self.start = D(held_at_start)
        self.held = D(held_at_start)

    def fill(self, order: int, signed: int, price: str = "10.00") -> None:
        self.record.record_fill(
            uuid.UUID(int=order), XYZ, XYZ, self.held, self.start, D(signed), D(price), D(1)
        )
        self.held += signed

    def would_day_trade(self, signed: int) -> bool:
        return self.record.would_day_trade(XYZ, self.held, self.start, D(signed))


@pytest.mark.parametrize(
    ("fills", "day_trades", "trades"),
    [
        ([(1, 100), (2, 100), (3, -200)], 1, 3),  # buy 100, buy 100, sell 200: one
        ([(1, 200), (2, -100), (3, -100)], 2, 3),  # buy 200, sell 100, sell 100: two
        ([(1, 100), (2, -40), (2, -60)], 1, 2),  # one order's fills count once, trades by order
    ],
)
def test_day_trades_count_closing_orders(
    fills: list[tuple[int, int]], day_trades: int, trades: int
) -> None:
    book = Book()
    for order, signed in fills:
        book.fill(order, signed)
    assert book.record.day_trades == day_trades
    assert book.record.trades == trades


def test_selling_what_was_held_overnight_is_not_a_day_trade() -> None:
    book = Book(held_at_start=100)
    book.fill(1, 50)  # 50 opened today
    assert not book.would_day_trade(-100)  # FIFO: yesterday's 100 go first
    assert book.would_day_trade(-120)  # 20 of today's as well
    book.fill(2, -100)
    assert book.record.day_trades == 0
    book.fill(3, -50)
    assert book.record.day_trades == 1


def test_covering_a_short_opened_today_is_a_day_trade() -> None:
    book = Book()
    book.fill(1, -100)
    assert book.would_day_trade(30)
    assert not book.would_day_trade(-10)  # adding to the short opens, it does not close
    book.fill(2, 30)
    assert book.record.day_trades == 1


def test_crossing_zero_leaves_nothing_of_the_start() -> None:
    book = Book(held_at_start=-100)
    book.fill(1, 150)  # covers yesterday's 100 (no day trade), opens 50 long today
    assert book.record.day_trades == 0
    assert book.would_day_trade(-50)
    book.fill(2, -50)
    assert book.record.day_trades == 1


def test_usage_is_the_cost_of_what_was_opened_today() -> None:
    book = Book(held_at_start=100)
    book.fill(1, 50, "20.00")  # opens 50 x 20
    book.fill(2, -120, "21.00")  # closes only
    book.fill(3, -30, "22.00")  # closes the last 30: flat
    book.fill(4, -10, "23.00")  # opens a short of 10 x 23
    assert book.record.usage == D("1230.00")  # 1,000 + 230
    assert book.record.usage_by_underlying == {XYZ: D("1230.00")}


def test_the_window_keeps_today_and_four_days_before() -> None:
    record = DayTrading()
    for day_trades in (1, 1, 1, 1, 1, 1):
        record.day_trades, record.trades = day_trades, 10
        record.start_day()
    assert record.past == [(1, 10)] * 4
    assert record.day_trade_count == 4
    assert record.trade_count == 40
    assert (record.day_trades, record.trades, record.usage) == (0, 0, 0)


def test_four_day_trades_over_six_percent_of_trades_designate_for_good() -> None:
    book = Book()
    for order in range(1, 4):
        book.fill(2 * order, 10)
        book.fill(2 * order + 1, -10)
    assert book.record.day_trades == 3 and not book.record.pattern_day_trader
    book.fill(10, 10)
    book.fill(11, -10)  # the fourth: 4 of 8 trades
    assert book.record.pattern_day_trader
    book.record.start_day()
    assert book.record.pattern_day_trader  # the designation stays


def test_four_day_trades_among_many_trades_do_not_designate() -> None:
    record = DayTrading(past=[(0, 30), (0, 30), (0, 30)])
    book = Book()
    book.record = record
    for order in range(1, 5):
        book.fill(2 * order, 10)
        book.fill(2 * order + 1, -10)
    assert record.day_trade_count == 4
    assert record.trade_count == 98  # 4 of 98 is not more than 6%
    assert not record.pattern_day_trader


@pytest.mark.parametrize(
    ("margin", "equity", "maintenance", "power"),
    [
        (True, "25000.00", "5000.00", "80000.00"),  # 4 x (25,000 - 5,000)
        (True, "24999.99", "0", "0"),  # under the minimum
        (True, "30000.00", "31000.00", "0"),  # no excess
        (False, "100000.00", "0", "0"),  # a cash account
    ],
)
def test_day_trade_buying_power(margin: bool, equity: str, maintenance: str, power: str) -> None:
    assert day_trade_buying_power(margin, D(equity), D(maintenance)) == D(power)


def test_only_a_pattern_day_trader_under_the_minimum_is_restricted() -> None:
    designated = DayTrading(pattern_day_trader=True)
    assert restricted(True, designated, D("24999.99"))
    assert not restricted(True, designated, D("25000.00"))
    assert not restricted(True, DayTrading(), D("1000.00"))
    assert not restricted(False, designated, D("1000.00"))
