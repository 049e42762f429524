"""An in-process trading engine on a frozen simulated clock with hand-set quotes, for engine tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from oems.domain import orders as o
from oems.domain.orders import Order, OrderRequest
from oems.domain.positions import Execution
from oems.domain.state import TradingState
from oems.domain.terms import OrderTerms
from oems.domain.timefmt import parse_iso
from oems.engine import commands as cmd
from oems.engine.engine import Engine
from oems.engine.settings import VenueSettings
from oems.market.calendar import TradingCalendar
from oems.market.clock import SIMULATED, Clock
from oems.market.instrument_master import InstrumentMaster, build_instrument_master
from oems.market.manual import ManualSource
from oems.market.market_data import MarketData
from oems.store.journal import Journal

CALENDAR = TradingCalendar()
MASTER = build_instrument_master(dt.date(2025, 10, 15), CALENDAR)
_PRICE_FIELDS = ("limit_price", "stop_price", "trailing_offset", "limit_offset")
START = parse_iso("2025-10-15T14:30:00Z")  # Wednesday 10:30 ET


def make_engine(
    path: Path,
    venue: VenueSettings | None = None,
    start_ns: int = START,
    journal: Journal | None = None,
) -> Engine:
    """An engine with the instrument master and manual quotes, recovered from `path` (or from
    `journal`, a journal object of the test's own)."""
    return Engine.open(
        journal or Journal(path),
        Clock(SIMULATED, start_ns, 0),
        CALENDAR,
        manual_market,
        seed=7,
        venue=venue,
    )


def manual_market(state: TradingState, now_ns: int) -> tuple[InstrumentMaster, MarketData]:
    """The test instrument master, and market data with no source but pinned quotes."""
    return MASTER, MarketData(ManualSource(), CALENDAR, lambda: state.pinned_quotes, MASTER.resolve)


def run(engine: Engine, body: Callable[[Engine], Awaitable[Any]]) -> Any:
    """Run `body` against a started engine, then stop it."""

    async def main() -> Any:
        task = asyncio.create_task(engine.run())
        await asyncio.sleep(0)
        try:
            return await body(engine)
        finally:
            task.cancel()
            engine.close()

    return asyncio.run(main())


def request(
    symbol: str, side: str, quantity: str, order_type: str = o.MARKET, **kw: Any
) -> OrderRequest:
    """An order request for `symbol`."""
    instrument = MASTER.resolve(symbol)
    assert instrument is not None
    client_order_id = kw.pop("client_order_id", None)
    return OrderRequest(
        instrument_id=instrument.id,
        symbol=instrument.symbol,
        instrument_type=instrument.instrument_type,
        is_fractionable=instrument.is_fractionable,
        terms=OrderTerms(
            side=side,
            order_type=order_type,
            time_in_force=kw.pop("time_in_force", o.DAY),
            quantity=Decimal(quantity),
            **{
                k: Decimal(v) if isinstance(v, str) and k != "trailing_offset_type" else v
                for k, v in kw.items()
            },
        ),
        client_order_id=client_order_id,
    )


class Desk:
    """Shortcuts for a test: open an account, pin quotes, submit, move the clock."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def account(self, subtype: str = "MARGIN", cash: str = "1000000", level: int = 4) -> int:
        account = await self.engine.execute(
            cmd.OpenAccount("trader", "Test Trader", subtype, level, Decimal(cash))
        )
        return int(account.id)

    async def quote(
        self,
        symbol: str,
        bid: str | None,
        ask: str | None,
        size: int = 100,
        last: str | None = None,
    ) -> None:
        await self.engine.execute(
            cmd.PinQuote(
                symbol,
                Decimal(bid) if bid else None,
                Decimal(ask) if ask else None,
                size,
                size,
                Decimal(last) if last else None,
            )
        )
        await self.settle()

    async def submit(self, account_id: int, *requests: OrderRequest) -> list[Order]:
        orders = await self.engine.execute(cmd.SubmitOrders(account_id, tuple(requests)))
        await self.settle()
        return [order_of(self.engine, account_id, order.id) for order in orders]

    async def settle(self) -> None:
        """Let the venue answer everything due now (zero latency)."""
        await self.engine.execute(cmd.RunDue())

    async def advance_to(self, iso: str) -> None:
        await self.engine.execute(cmd.AdvanceClock(parse_iso(iso)))

    async def advance(self, seconds: int) -> None:
        await self.engine.execute(cmd.AdvanceClock(self.engine.now_ns() + seconds * 1_000_000_000))


def order_of(engine: Engine, account_id: int, order_id: uuid.UUID) -> Order:
    """The order, open (the live object in memory) or closed (from the history store)."""
    order = engine.state.orders.get(order_id) or engine.journal.history.order(account_id, order_id)
    assert order is not None, order_id
    return order


def every_order(engine: Engine) -> dict[uuid.UUID, Order]:
    """Every order: the open ones in memory and the closed ones in the history store, by id."""
    found = {order.id: order for order in engine.journal.history.every_order()}
    found.update(engine.state.orders)
    return dict(sorted(found.items()))


def every_execution(engine: Engine) -> dict[int, list[Execution]]:
    """Every execution by account, oldest first (the history store's, then any not yet there)."""
    found: dict[int, list[Execution]] = {}
    for execution in engine.journal.history.every_execution():
        found.setdefault(execution.account_id, []).append(execution)
    for account_id, booked in engine.state.executions.items():
        found.setdefault(account_id, []).extend(booked)
    return found


def picture(engine: Engine) -> dict[str, object]:
    """The comparable trading content of an engine's state."""
    state = engine.state
    return {
        "orders": {
            str(k): (
                v.status,
                v.filled_quantity,
                v.filled_notional,
                v.terms.quantity,
                v.hold_per_unit,
            )
            for k, v in every_order(engine).items()
        },
        "positions": {
            a: {str(i): (p.quantity, p.cost, p.held) for i, p in book.items()}
            for a, book in state.positions.items()
        },
        "cash": {
            a.id: (a.trade_cash, a.settled_cash, a.open_order_hold) for a in state.accounts.values()
        },
        "executions": {a: len(e) for a, e in every_execution(engine).items()},
    }
