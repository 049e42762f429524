"""The trading state the engine owns, and how each journal event changes it.

Each aggregate's appliers live in a module of this package (`accounts`, `sessions`, `simulator`,
`orders`, `executions`, `positions`, `instructions`); `TradingState.apply` dispatches an event to
its applier. A sandbox reset, which touches every aggregate, is here.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from oems.domain import events as ev
from oems.domain.accounts import Account, ApiKey, User
from oems.domain.instructions import PositionInstruction
from oems.domain.orders import Order
from oems.domain.positions import Execution, Position
from oems.domain.scenarios import ScenarioRule
from oems.domain.state import (
    accounts,
    executions,
    instructions,
    orders,
    positions,
    sessions,
    simulator,
)
from oems.domain.state.accounts import as_opened, start_of_day
from oems.domain.state.executions import LiquidityTaken
from oems.domain.state.simulator import PinnedQuote

Appliers = dict[type, Callable[["TradingState", Any], None]]
"""Event type -> how an event of that type changes the state."""


FIRST_ACCOUNT_ID = 100001


@dataclass
class TradingState:
    """Everything the journal rebuilds: users, keys, accounts, cash, clock setting, pinned quotes."""

    users: dict[int, User] = field(default_factory=dict)
    users_by_name: dict[str, User] = field(default_factory=dict)
    accounts: dict[int, Account] = field(default_factory=dict)
    api_keys: dict[uuid.UUID, ApiKey] = field(default_factory=dict)
    keys_by_digest: dict[bytes, ApiKey] = field(default_factory=dict)
    clock_setting: ev.ClockSet | None = None
    pinned_quotes: dict[str, PinnedQuote] = field(default_factory=dict)
    # Open orders, and those closed since the last `retire` (the history store holds the rest).
    orders: dict[uuid.UUID, Order] = field(default_factory=dict)
    open_orders: dict[int, dict[uuid.UUID, Order]] = field(default_factory=dict)  # creation order
    client_order_ids: dict[tuple[int, str], Order] = field(default_factory=dict)  # of `orders`
    closed_orders: list[Order] = field(default_factory=list)  # closed since the last `retire`
    executions: dict[int, list[Execution]] = field(default_factory=dict)  # since the last `retire`
    history_reset: bool = False  # a sandbox reset since the last `retire`: the history is cleared
    positions: dict[int, dict[uuid.UUID, Position]] = field(default_factory=dict)
    # (symbol, buying) -> what fills took of the displayed size of the quote they met
    liquidity_used: dict[tuple[str, bool], LiquidityTaken] = field(default_factory=dict)
    faults: ev.FaultsSet = field(default_factory=lambda: ev.FaultsSet(ts_ns=0))
    trading_day: Any = None  # dt.date of the last TradingDayStarted
    closed_day: Any = None  # dt.date of the last MarketClosed
    last_closes: dict[str, Decimal] = field(default_factory=dict)
    instructions: dict[uuid.UUID, PositionInstruction] = field(default_factory=dict)
    instructions_by_account: dict[int, list[PositionInstruction]] = field(default_factory=dict)
    instruction_keys: dict[tuple[int, str], PositionInstruction] = field(default_factory=dict)
    # Awaiting the clearing service, or in force and not yet used up by an exercise cycle.
    live_instructions: dict[uuid.UUID, PositionInstruction] = field(default_factory=dict)
    clearing_available: bool = True
    scenarios: dict[int, ScenarioRule] = field(default_factory=dict)  # in id order
    last_scenario_id: int = 0
    last_event_ns: int = 0
    events_applied: int = 0

    def next_user_id(self) -> int:
        """The id the next new user gets."""
        return max(self.users, default=0) + 1

    def next_account_id(self) -> int:
        """The id the next opened account gets."""
        return max(self.accounts, default=FIRST_ACCOUNT_ID - 1) + 1

    def apply(self, event: ev.Event) -> None:
        """Change the state by one journaled fact; never fails for an event the engine produced."""
        _APPLY[type(event)](self, event)
        self.last_event_ns = max(self.last_event_ns, event.ts_ns)
        self.events_applied += 1

    def accessible_account_ids(self, key: ApiKey) -> list[int]:
        """The accounts a key may reach, in id order."""
        if key.admin:
            return []
        if key.account_ids is not None:
            return sorted(a for a in key.account_ids if a in self.accounts)
        return sorted(a.id for a in self.accounts.values() if a.owner_id == key.user_id)

    def may_access(self, key: ApiKey, account_id: int) -> bool:
        """True when the key holds a grant for the account."""
        if key.admin:
            return False
        account = self.accounts.get(account_id)
        if account is None:
            return False
        if key.account_ids is not None:
            return account_id in key.account_ids
        return account.owner_id == key.user_id

    def new_executions(self) -> list[Execution]:
        """The executions booked since the last `retire`."""
        return [execution for booked in self.executions.values() for execution in booked]

    def retire(self) -> None:
        """Forget the orders closed and executions booked since the last call: the history store
        holds them now (call only once their rows are durable)."""
        for order in self.closed_orders:
            self.orders.pop(order.id, None)
            if order.client_order_id is not None:
                key = (order.account_id, order.client_order_id)
                if self.client_order_ids.get(key) is order:
                    del self.client_order_ids[key]
        self.closed_orders = []
        self.executions.clear()
        self.history_reset = False


# What a sandbox reset keeps: who may call (users, keys) and the clock; the rest starts over.
_KEPT_BY_RESET = frozenset(
    {
        "users",
        "users_by_name",
        "api_keys",
        "keys_by_digest",
        "clock_setting",
        "trading_day",
        "closed_day",
        "last_closes",
        "last_event_ns",
        "events_applied",
    }
)


def _sandbox_reset(state: TradingState, e: ev.SandboxReset) -> None:
    kept = [as_opened(a) for a in state.accounts.values()] if e.keep_accounts else []
    fresh = TradingState()
    for spec in dataclasses.fields(TradingState):
        if spec.name in _KEPT_BY_RESET:
            continue
        current, blank = getattr(state, spec.name), getattr(fresh, spec.name)
        if isinstance(current, dict):
            current.clear()  # in place: the market data reads `pinned_quotes` live
            current.update(blank)
        else:
            setattr(state, spec.name, blank)
    if e.restart_day:
        state.trading_day = state.closed_day = None
        state.last_closes = {}
    state.last_event_ns = e.ts_ns
    state.history_reset = True
    for account in kept:
        account.sod = start_of_day(account, state.trading_day, None)
        state.accounts[account.id] = account


_APPLY: Appliers = {
    **accounts.APPLIERS,
    **sessions.APPLIERS,
    **simulator.APPLIERS,
    **orders.APPLIERS,
    **executions.APPLIERS,
    **positions.APPLIERS,
    **instructions.APPLIERS,
    ev.SandboxReset: _sandbox_reset,
}
