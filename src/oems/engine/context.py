"""What a use case works with: the state and its ports, never the engine that runs it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from oems.domain.accounts import Account
from oems.domain.errors import InvalidRequest, NotFound
from oems.domain.events import Event
from oems.domain.ids import IdGenerator
from oems.domain.instruments import Instrument
from oems.domain.orders import Order
from oems.domain.state import TradingState
from oems.engine.settings import VenueSettings
from oems.engine.valuation import Valuation
from oems.market.calendar import TradingCalendar
from oems.market.clock import Clock
from oems.market.instrument_master import InstrumentMaster
from oems.market.market_data import MarketData
from oems.market.quotes import Quote
from oems.store.history import History


@dataclass(slots=True)
class Context:
    """The state, `emit`, the clock, ids, calendar, instruments, quotes, valuation, venue
    settings and the history of closed orders: everything the use cases read or change, and
    nothing of how commands are run."""

    state: TradingState
    emit: Callable[[Event], None]  # record an event of the command being handled: applied now
    clock: Clock
    ids: IdGenerator
    calendar: TradingCalendar
    instruments: InstrumentMaster
    market: MarketData
    valuation: Valuation
    venue_settings: VenueSettings
    history: History  # the closed orders, which have left `state`

    def now_ns(self) -> int:
        """The market clock's instant, never earlier than the last journaled event."""
        return max(self.clock.now_ns(), self.state.last_event_ns)

    def quote(self, instrument: Instrument, now_ns: int) -> Quote | None:
        """The quote in force for `instrument` at `now_ns`."""
        return self.market.quote(instrument, now_ns)

    def account(self, account_id: int) -> Account:
        """The account, or NotFound."""
        account = self.state.accounts.get(account_id)
        if account is None:
            raise NotFound("Some requested entity was not found")
        return account

    def open_order(self, account_id: int, order_id: uuid.UUID, verb: str) -> Order:
        """The account's order, open; 404 when unknown, 400 when it is already done."""
        order = self.state.orders.get(order_id) or self.history.order(account_id, order_id)
        if order is None or order.account_id != account_id:
            raise NotFound(f"Order {order_id} not found")
        if not order.is_open:
            raise InvalidRequest(f"Order {order_id} is {order.status} and can no longer be {verb}")
        return order

    def latency_ns(self) -> int:
        """How long the venue takes to answer a cancel or replace."""
        return self.venue_settings.latency_ns

    def ack_latency_ns(self) -> int:
        """How long the venue takes to acknowledge a new order (latency plus injected delay)."""
        return self.venue_settings.latency_ns + self.state.faults.ack_delay_ms * 1_000_000

    def settlement_date(self, now_ns: int) -> dt.date:
        """T+1: the trading day after the trade date."""
        return self.calendar.next_trading_day(self.calendar.market_date(now_ns))
