"""The market's days as the state sees them: the clock setting, a trading day's start (settlement,
the day's history, start-of-day figures, flat positions dropped) and the market's close.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from oems.domain import events as ev
from oems.domain.accounts import DaySegment
from oems.domain.state.accounts import settle, start_of_day

if TYPE_CHECKING:
    from oems.domain.state.trading_state import Appliers, TradingState


def _clock_set(state: TradingState, e: ev.ClockSet) -> None:
    state.clock_setting = e


def _trading_day_started(state: TradingState, e: ev.TradingDayStarted) -> None:
    for account in state.accounts.values():
        positions = state.positions.get(account.id, {})
        figures = e.sod.get(account.id)
        if account.sod is not None and account.sod.asof is not None:
            account.history.append(
                DaySegment(
                    date=account.sod.asof,
                    sod_equity=account.sod.equity,
                    eod_equity=figures.equity if figures is not None else account.trade_cash,
                    realized_pnl=sum((p.realized_today for p in positions.values()), Decimal(0)),
                    bought_notional=sum((p.bought_today for p in positions.values()), Decimal(0)),
                    sold_notional=sum((p.sold_today for p in positions.values()), Decimal(0)),
                )
            )
        settle(account, e.date)
        account.day_trading.start_day()
        for instrument_id in [i for i, p in positions.items() if not p.quantity]:
            del positions[instrument_id]
        for position in positions.values():
            position.start_day(e.close_date, e.closes.get(str(position.instrument_id)))
        account.sod = start_of_day(account, e.date, figures)
    state.trading_day = e.date


def _market_closed(state: TradingState, e: ev.MarketClosed) -> None:
    state.closed_day = e.date
    state.last_closes = dict(e.closes)


APPLIERS: Appliers = {
    ev.ClockSet: _clock_set,
    ev.TradingDayStarted: _trading_day_started,
    ev.MarketClosed: _market_closed,
}
