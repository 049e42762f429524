"""Pattern-day-trader accounting (FINRA 4210) on the simulated clock: day trades counted per
closing order over five trading days, the designation, day-trade buying power and its usage, the
PATTERN_DAY_TRADER refusal under $25,000, cash accounts apart. Figures to the cent."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.support.schema_check import assert_matches_schema
from tests.support.trading_engine import MASTER, Desk, make_engine, request, run

from oems.api.accounts import render_balances
from oems.domain import orders as o
from oems.domain.daytrading import DayTrading
from oems.domain.errors import InvalidRequest
from oems.engine.engine import Engine

D = Decimal
AAPL = MASTER.resolve("AAPL")
assert AAPL is not None
# Trading days from Wednesday 2025-10-15 (the engine starts at 10:30 ET that day).
THU_MORNING = "2025-10-16T14:00:00Z"
WED_NEXT_MORNING = "2025-10-22T14:00:00Z"  # five trading days after the first
THU_NEXT_MORNING = "2025-10-23T14:00:00Z"


class Trader:
    """Trades AAPL at 100.00 / 100.02 (buys at the ask, sells at the bid) in one account."""

    def __init__(self, engine: Engine, account: int) -> None:
        self.engine = engine
        self.desk = Desk(engine)
        self.account = account

    async def trade(self, side: str, quantity: str, size: int = 1000) -> o.Order:
        await self.desk.quote("AAPL", "100.00", "100.02", size=size)
        (order,) = await self.desk.submit(self.account, request("AAPL", side, quantity))
        return order

    def balances(self) -> dict[str, Any]:
        engine = self.engine
        value = engine.account_value(self.account, engine.now_ns())
        return render_balances(engine.state.accounts[self.account], value, 5)


def test_day_trades_are_counted_per_closing_order_over_five_trading_days(
    tmp_path: Path, vendor_spec: dict[str, Any]
) -> None:
    async def body(engine: Engine) -> None:
        trader = Trader(engine, await Desk(engine).account())
        buy, sell = o.BUY, o.SELL
        # Buy 100, sell 100: one day trade.
        await trader.trade(buy, "100")
        await trader.trade(sell, "100")
        assert trader.balances()["margin_details"]["day_trade_count"] == 1
        # Buy 200, sell 100, sell 100: two day trades.
        await trader.trade(buy, "200")
        await trader.trade(sell, "100")
        await trader.trade(sell, "100")
        # Buy 100, buy 100, sell 200 in one order filled in two parts: one day trade.
        await trader.trade(buy, "100")
        await trader.trade(buy, "100")
        closing = await trader.trade(sell, "200", size=150)
        assert closing.status == o.PARTIALLY_FILLED
        await trader.desk.quote("AAPL", "100.00", "100.02", size=1000)
        assert closing.status == o.FILLED
        await trader.trade(buy, "50")  # held overnight
        day1 = trader.balances()
        margin = day1["margin_details"]
        # 4 day trades among 9 trades (executed orders) in five days: more than 6%.
        assert (margin["day_trade_count"], margin["pattern_day_trader"]) == (4, True)
        # Usage: the cost of every opening fill today, 550 shares at 100.02.
        assert margin["day_trade_buying_power_usage"] == "55011.00"
        # Start of day 1: 4 x (1,000,000 equity - 0 maintenance).
        assert day1["sod"]["day_trade_buying_power"] == "4000000.00"
        assert_matches_schema(
            vendor_spec,
            "get",
            "/v1/accounts/{account_id}/balances",
            {"data": day1, "error": None, "metadata": {"request_id": "x"}},
        )

        # Day 2: selling the overnight shares first is not a day trade (FIFO); 10 in, 10 out is.
        await trader.desk.advance_to(THU_MORNING)
        await trader.trade(sell, "50")
        assert trader.balances()["margin_details"]["day_trade_count"] == 4
        await trader.trade(buy, "10")
        await trader.trade(sell, "10")
        await trader.trade(buy, "10")
        day2 = trader.balances()
        margin = day2["margin_details"]
        assert margin["day_trade_count"] == 5
        assert margin["day_trade_buying_power_usage"] == "2000.40"  # 20 x 100.02
        (aapl,) = margin["top_contributors"]
        assert aapl["underlying_instrument_id"] == str(AAPL.id)
        assert aapl["day_trade_buying_power_usage"] == "2000.40"
        # Cash after day 1: 1,000,000 - 550 x 100.02 + 500 x 100.00 = 994,989.00; the day
        # started with 50 shares at the 100.01 close: equity 999,989.50, maintenance 25% of
        # 5,000.50 = 1,250.125; 4 x the excess = 3,994,957.50.
        assert day2["sod"]["equity"] == "999989.50"
        assert day2["sod"]["day_trade_buying_power"] == "3994957.50"
        # Realized: 50 x (100.00 - 100.01) + 10 x (100.00 - 100.02) = -0.70; unrealized:
        # 10 x (100.01 - 100.02) = -0.10.
        assert (day2["daily_realized_pnl"], day2["daily_unrealized_pnl"]) == ("-0.70", "-0.10")
        assert day2["daily_total_pnl"] == "-0.80" == day2["daily_pnl"]

        # The window is five trading days: day 1's four day trades leave it on day 6.
        await trader.desk.advance_to(WED_NEXT_MORNING)
        margin = trader.balances()["margin_details"]
        assert (margin["day_trade_count"], margin["pattern_day_trader"]) == (1, True)
        assert margin["day_trade_buying_power_usage"] == "0.00"
        await trader.desk.advance_to(THU_NEXT_MORNING)
        assert trader.balances()["margin_details"]["day_trade_count"] == 0

    run(make_engine(tmp_path / "j.db"), body)


def test_a_pattern_day_trader_under_25000_may_not_day_trade(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        trader = Trader(engine, await Desk(engine).account(cash="20000"))
        for _ in range(4):  # the fourth day trade is allowed, and makes it a pattern day trader
            await trader.trade(o.BUY, "10")
            await trader.trade(o.SELL, "10")
        balances = trader.balances()
        margin = balances["margin_details"]
        assert (margin["day_trade_count"], margin["pattern_day_trader"]) == (4, True)
        assert balances["sod"]["day_trade_buying_power"] == "0.00"  # under the $25,000 minimum
        await trader.trade(o.BUY, "10")  # opening is allowed: it may be held overnight
        with pytest.raises(InvalidRequest) as refused:
            await trader.trade(o.SELL, "10")
        assert refused.value.message == "Risk check failed"
        first, second = refused.value.details or []
        assert (first["type"], first["description"]) == (
            "PATTERN_DAY_TRADER",
            "Pattern Day Trader: equity < $25,000 minimum for day trading",
        )
        order_id = first["subject"].removeprefix("order:")
        uuid.UUID(order_id)
        assert second == {
            "domain": "com.clearstreet.oems.risk",
            "metadata": {
                "account_id": str(trader.account),
                "day_trade_count": "4",
                "equity": "20000.00",
                "minimum_equity": "25000",
                "order_id": order_id,
                "side": "Sell",
                "symbol": "AAPL",
            },
            "reason": "PATTERN_DAY_TRADER",
        }
        # Cash to the cent: 5 buys of 10 at 100.02, 4 sells of 10 at 100.00.
        assert engine.state.accounts[trader.account].trade_cash == D("20000") - D("5001.00") + D(
            "4000.00"
        )
        # The next day the shares held overnight may be sold: that is no day trade.
        await trader.desk.advance_to(THU_MORNING)
        sold = await trader.trade(o.SELL, "10")
        assert sold.status == o.FILLED

    run(make_engine(tmp_path / "j.db"), body)


def test_cash_accounts_never_day_trade_on_margin(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        trader = Trader(engine, await Desk(engine).account(subtype="CASH", cash="100000"))
        for _ in range(5):
            await trader.trade(o.BUY, "10")
            await trader.trade(o.SELL, "10")
        balances = trader.balances()
        assert balances["margin_details"] is None
        assert balances["sod"]["day_trade_buying_power"] == "0.00"
        record = engine.state.accounts[trader.account].day_trading
        assert (record.day_trade_count, record.pattern_day_trader) == (0, False)
        assert balances["daily_total_pnl"] == "-1.00"  # 50 shares bought at 100.02, sold at 100.00

    run(make_engine(tmp_path / "j.db"), body)


def test_four_day_trades_are_not_a_pattern_within_six_percent_of_trades() -> None:
    record = DayTrading()
    instrument = uuid.uuid4()
    held = D(0)
    for _ in range(63):  # 63 opening orders, never closed
        record.record_fill(uuid.uuid4(), instrument, instrument, held, D(0), D(1), D(10), D(1))
        held += 1
    for _ in range(4):  # 4 day trades: 4 of 67 trades is 5.97%
        record.record_fill(uuid.uuid4(), instrument, instrument, held, D(0), D(-1), D(10), D(1))
        held -= 1
    assert (record.day_trade_count, record.trade_count) == (4, 67)
    assert record.pattern_day_trader is False
    record.record_fill(uuid.uuid4(), instrument, instrument, held, D(0), D(-1), D(10), D(1))
    assert (record.day_trade_count, record.trade_count) == (5, 68)  # 7.4%
    assert record.pattern_day_trader is True
