"""Hand-built journal events for unit tests: an account funded, a limit buy accepted and filled."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from oems.domain import events as ev
from oems.domain import orders as o
from oems.domain.terms import OrderTerms, TradedInstrument
from oems.domain.timefmt import parse_iso

T0 = parse_iso("2025-10-15T14:30:00Z")  # a Wednesday, 10:30 US/Eastern
SECOND = 1_000_000_000
ACCOUNT = 100001
AAPL = uuid.UUID(int=0xAA)
ORDER = uuid.UUID(int=0x0D)
TRADE_DATE = dt.date(2025, 10, 15)
SETTLES = dt.date(2025, 10, 16)  # T+1


def opened(cash: str = "10000.00", subtype: str = "CASH") -> list[ev.Event]:
    """A user and an account opened with `cash`."""
    return [
        ev.UserCreated(ts_ns=T0, user_id=1, name="trader"),
        ev.AccountOpened(
            ts_ns=T0,
            account_id=ACCOUNT,
            owner_id=1,
            short_name="T1",
            full_name="Test Trader",
            subtype=subtype,
            options_level=2,
            open_date=TRADE_DATE,
            holder_entity_id=1,
            cash=Decimal(cash),
        ),
    ]


def limit_buy(quantity: str, limit: str, order_id: uuid.UUID = ORDER) -> ev.OrderAccepted:
    """A DAY limit buy of AAPL that holds its notional at the limit price."""
    return ev.OrderAccepted(
        ts_ns=T0 + SECOND,
        order_id=order_id,
        account_id=ACCOUNT,
        client_order_id="c-1",
        instrument=TradedInstrument(
            instrument_id=AAPL,
            symbol="AAPL",
            instrument_type="COMMON_STOCK",
            underlying_instrument_id=None,
            multiplier=Decimal(1),
            venue="SIM",
        ),
        terms=OrderTerms(
            side=o.BUY,
            order_type=o.LIMIT,
            time_in_force=o.DAY,
            quantity=Decimal(quantity),
            limit_price=Decimal(limit),
        ),
        hold_per_unit=Decimal(limit),
    )


def fill(quantity: str, price: str, at: int, order_id: uuid.UUID = ORDER) -> ev.OrderFilled:
    """One execution of the order."""
    return ev.OrderFilled(
        ts_ns=T0 + at * SECOND,
        order_id=order_id,
        execution_id=uuid.UUID(int=at),
        quantity=Decimal(quantity),
        price=Decimal(price),
        venue="SIM",
        settles_on=SETTLES,
    )


def bought() -> list[ev.Event]:
    """Funded with 10,000.00, topped up by 2,500.00; 30 AAPL bought at 150.00 in two fills."""
    return [
        *opened(),
        ev.CashAdjusted(ts_ns=T0, account_id=ACCOUNT, amount=Decimal("2500.00"), memo="deposit"),
        limit_buy("30", "150.00"),
        ev.OrderAcknowledged(ts_ns=T0 + 2 * SECOND, order_id=ORDER),
        fill("10", "149.50", 3),
        fill("20", "150.00", 4),
    ]
