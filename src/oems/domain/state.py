"""The trading state the engine owns, and how each journal event changes it."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from oems.domain import events as ev
from oems.domain import instructions as pi
from oems.domain import orders as o
from oems.domain.accounts import (
    Account,
    AccountHolder,
    ApiKey,
    DaySegment,
    MailingAddress,
    StartOfDay,
    User,
)
from oems.domain.exercise import deliver, expire_worthless, release_contracts
from oems.domain.instructions import PositionInstruction
from oems.domain.orders import Order
from oems.domain.positions import Execution, Position
from oems.domain.scenarios import ON_NEW, ScenarioRule
from oems.domain.strategies import Leg

FIRST_ACCOUNT_ID = 100001


@dataclass(slots=True)
class PinnedQuote:
    """A quote set by hand; it overrides the market data source until released."""

    bid: Decimal | None
    ask: Decimal | None
    bid_size: int
    ask_size: int
    last: Decimal | None
    ts_ns: int


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
    orders: dict[uuid.UUID, Order] = field(default_factory=dict)
    orders_by_account: dict[int, list[Order]] = field(default_factory=dict)  # creation order
    open_orders: dict[int, dict[uuid.UUID, Order]] = field(default_factory=dict)
    client_order_ids: dict[tuple[int, str], Order] = field(default_factory=dict)
    executions: dict[int, list[Execution]] = field(default_factory=dict)  # time order
    positions: dict[int, dict[uuid.UUID, Position]] = field(default_factory=dict)
    # (symbol, buying) -> (quote timestamp, quantity taken from that quote's displayed size)
    liquidity_used: dict[tuple[str, bool], tuple[int, Decimal]] = field(default_factory=dict)
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


def _user_created(state: TradingState, e: ev.UserCreated) -> None:
    user = User(id=e.user_id, name=e.name)
    state.users[user.id] = user
    state.users_by_name[user.name] = user


def _account_opened(state: TradingState, e: ev.AccountOpened) -> None:
    address = MailingAddress(*e.address) if e.address else None
    holder = AccountHolder(
        entity_id=e.holder_entity_id,
        date_of_birth=e.date_of_birth,
        phone_number=e.phone_number,
        country_of_tax_residency=e.country_of_tax_residency,
        mailing_address=address,
    )
    account = Account(
        id=e.account_id,
        owner_id=e.owner_id,
        short_name=e.short_name,
        full_name=e.full_name,
        subtype=e.subtype,
        options_level=e.options_level,
        open_date=e.open_date,
        holder=holder,
        trade_cash=e.cash,
        settled_cash=e.cash,
        opening_cash=e.cash,
    )
    account.sod = _start_of_day(account, state.trading_day, None)
    state.accounts[e.account_id] = account


def _start_of_day(account: Account, date: Any, figures: ev.StartOfDayFigures | None) -> StartOfDay:
    """The start-of-day snapshot: the engine's figures, or cash alone (an account with no positions)."""
    if figures is None:
        equity = account.trade_cash
        power = equity * 2 if account.is_margin else account.trade_cash
        return StartOfDay(
            asof=date, equity=equity, buying_power=max(power, Decimal(0)), trade_cash=equity
        )
    return StartOfDay(
        asof=date,
        equity=figures.equity,
        buying_power=figures.buying_power,
        trade_cash=account.trade_cash,
        long_market_value=figures.long_market_value,
        short_market_value=figures.short_market_value,
        maintenance_requirement=figures.maintenance_requirement,
    )


def _cash_adjusted(state: TradingState, e: ev.CashAdjusted) -> None:
    account = state.accounts[e.account_id]
    # Deposits and withdrawals settle at once: both trade-date and settled cash move.
    account.trade_cash += e.amount
    account.settled_cash += e.amount


def _account_status_changed(state: TradingState, e: ev.AccountStatusChanged) -> None:
    account = state.accounts[e.account_id]
    account.status = e.status
    account.close_date = e.close_date


def _risk_settings_changed(state: TradingState, e: ev.RiskSettingsChanged) -> None:
    state.accounts[e.account_id].max_notional = e.max_notional


def _api_key_issued(state: TradingState, e: ev.ApiKeyIssued) -> None:
    key = ApiKey(
        id=e.key_id,
        user_id=e.user_id,
        digest=e.digest,
        created_ns=e.ts_ns,
        admin=e.admin,
        account_ids=frozenset(e.account_ids) if e.account_ids is not None else None,
        expires_ns=e.expires_ns,
    )
    state.api_keys[key.id] = key
    state.keys_by_digest[key.digest] = key


def _api_key_revoked(state: TradingState, e: ev.ApiKeyRevoked) -> None:
    state.api_keys[e.key_id].revoked = True


def _clock_set(state: TradingState, e: ev.ClockSet) -> None:
    state.clock_setting = e


def _quote_pinned(state: TradingState, e: ev.QuotePinned) -> None:
    # A quote set by hand shows its whole size again.
    state.liquidity_used.pop((e.symbol, True), None)
    state.liquidity_used.pop((e.symbol, False), None)
    state.pinned_quotes[e.symbol] = PinnedQuote(
        e.bid, e.ask, e.bid_size, e.ask_size, e.last, e.ts_ns
    )


def _quote_released(state: TradingState, e: ev.QuoteReleased) -> None:
    state.pinned_quotes.pop(e.symbol, None)


def _trading_day_started(state: TradingState, e: ev.TradingDayStarted) -> None:
    for account in state.accounts.values():
        book = state.positions.get(account.id, {})
        figures = e.sod.get(account.id)
        if account.sod is not None and account.sod.asof is not None:
            account.history.append(
                DaySegment(
                    date=account.sod.asof,
                    sod_equity=account.sod.equity,
                    eod_equity=figures.equity if figures is not None else account.trade_cash,
                    realized_pnl=sum((p.realized_today for p in book.values()), Decimal(0)),
                    bought_notional=sum((p.bought_today for p in book.values()), Decimal(0)),
                    sold_notional=sum((p.sold_today for p in book.values()), Decimal(0)),
                )
            )
        _settle(account, e.date)
        account.day_trading.start_day()
        for instrument_id in [i for i, p in book.items() if not p.quantity]:
            del book[instrument_id]
        for position in book.values():
            position.start_day(e.close_date, e.closes.get(str(position.instrument_id)))
        account.sod = _start_of_day(account, e.date, figures)
    state.trading_day = e.date


def _market_closed(state: TradingState, e: ev.MarketClosed) -> None:
    state.closed_day = e.date
    state.last_closes = dict(e.closes)


def _settle(account: Account, date: Any) -> None:
    """Move every cash movement that settles on or before `date` into settled cash."""
    if not account.unsettled:
        return
    keep = []
    for settles_on, amount in account.unsettled:
        if settles_on <= date:
            account.settled_cash += amount
        else:
            keep.append((settles_on, amount))
    account.unsettled = keep


# ---- orders --------------------------------------------------------------------------------


def _change_hold(state: TradingState, order: Order, quantity: Decimal) -> None:
    """Take (positive) or release (negative) what `quantity` of the order holds."""
    if order.closes_position:
        position = state.positions[order.account_id].get(order.instrument_id)
        if position is not None:
            position.held = max(position.held + quantity, Decimal(0))
    elif order.hold_per_unit:
        account = state.accounts[order.account_id]
        account.open_order_hold = max(
            account.open_order_hold + quantity * order.hold_per_unit, Decimal(0)
        )


def _move(state: TradingState, order: Order, happening: str, ts_ns: int) -> None:
    """Change the order's status through the transition table; a finished order leaves the book."""
    was_open = order.is_open
    leaves = order.quantity - order.filled_quantity
    order.status = o.next_status(order.status, happening)
    order.updated_ns = ts_ns
    if was_open and not order.is_open:
        _change_hold(state, order, -leaves)
        order.venue_due_ns = None
        order.pending_replace = None
        state.open_orders[order.account_id].pop(order.id, None)


def _order_accepted(state: TradingState, e: ev.OrderAccepted) -> None:
    order = Order(
        id=e.order_id,
        account_id=e.account_id,
        client_order_id=e.client_order_id,
        instrument_id=e.instrument_id,
        symbol=e.symbol,
        instrument_type=e.instrument_type,
        underlying_instrument_id=e.underlying_instrument_id,
        multiplier=e.multiplier,
        venue=e.venue,
        side=e.side,
        order_type=e.order_type,
        time_in_force=e.time_in_force,
        quantity=e.quantity,
        created_ns=e.ts_ns,
        updated_ns=e.ts_ns,
        limit_price=e.limit_price,
        stop_price=e.stop_price,
        trailing_offset=e.trailing_offset,
        trailing_offset_type=e.trailing_offset_type,
        limit_offset=e.limit_offset,
        expires_ns=e.expires_ns,
        extended_hours=e.extended_hours,
        closes_position=e.closes_position,
        hold_per_unit=e.hold_per_unit,
        venue_due_ns=e.venue_due_ns,
        releases_ns=e.releases_ns,
        # Received while its session is closed: it waits for the release from the start.
        queue_state=o.AWAITING_RELEASE if e.releases_ns is not None else None,
        expiry_ns=e.expiry_ns,
        auction_ns=e.auction_ns,
        legs=[
            Leg(
                instrument_id=t.instrument_id,
                symbol=t.symbol,
                instrument_type=t.instrument_type,
                side=t.side,
                ratio=t.ratio,
                multiplier=t.multiplier,
                contract_type=t.contract_type,
                strike=t.strike,
                client_leg_id=t.client_leg_id,
                position_effect=t.position_effect,
            )
            for t in e.legs
        ]
        if e.legs is not None
        else None,
    )
    state.orders[order.id] = order
    state.orders_by_account.setdefault(order.account_id, []).append(order)
    state.open_orders.setdefault(order.account_id, {})[order.id] = order
    if order.client_order_id is not None:
        state.client_order_ids[(order.account_id, order.client_order_id)] = order
    if order.closes_position:
        _position(
            state,
            order.account_id,
            order.instrument_id,
            order.symbol,
            order.instrument_type,
            order.multiplier,
            order.underlying_instrument_id,
        )
    _change_hold(state, order, order.quantity)


def _position(
    state: TradingState,
    account_id: int,
    instrument_id: uuid.UUID,
    symbol: str,
    instrument_type: str,
    multiplier: Decimal,
    underlying_instrument_id: uuid.UUID | None,
) -> Position:
    """The account's position in the instrument, opened flat when it has none."""
    book = state.positions.setdefault(account_id, {})
    position = book.get(instrument_id)
    if position is None:
        position = book[instrument_id] = Position(
            account_id=account_id,
            instrument_id=instrument_id,
            symbol=symbol,
            instrument_type=instrument_type,
            multiplier=multiplier,
            underlying_instrument_id=underlying_instrument_id,
        )
    return position


def _order_acknowledged(state: TradingState, e: ev.OrderAcknowledged) -> None:
    order = state.orders[e.order_id]
    _move(state, order, o.ACK, e.ts_ns)
    order.venue_due_ns = None
    if e.queue_state is not None:  # never undoes a release that came before the answer
        order.queue_state = e.queue_state


def _order_released(state: TradingState, e: ev.OrderReleased) -> None:
    order = state.orders[e.order_id]
    order.queue_state = o.RELEASED
    order.releases_ns = None
    order.updated_ns = e.ts_ns


def _order_triggered(state: TradingState, e: ev.OrderTriggered) -> None:
    order = state.orders[e.order_id]
    order.triggered = True
    order.updated_ns = e.ts_ns
    order.details.append(f"Triggered at {e.price}")


def _trailing_moved(state: TradingState, e: ev.TrailingMoved) -> None:
    order = state.orders[e.order_id]
    order.trailing_watermark_px = e.watermark_px
    order.trailing_watermark_ns = e.ts_ns
    order.trailing_stop_px = e.stop_px
    order.trailing_limit_px = e.limit_px


def _order_filled(state: TradingState, e: ev.OrderFilled) -> None:
    order = state.orders[e.order_id]
    order.filled_quantity += e.quantity
    order.filled_notional += e.quantity * e.price
    _change_hold(state, order, -e.quantity)
    done = order.filled_quantity >= order.quantity
    _move(state, order, o.FILL_ALL if done else o.FILL_PART, e.ts_ns)
    _book_execution(
        state,
        order,
        Execution(
            id=e.execution_id,
            order_id=order.id,
            account_id=order.account_id,
            instrument_id=order.instrument_id,
            symbol=order.symbol,
            underlying_instrument_id=order.underlying_instrument_id,
            side=order.side,
            quantity=e.quantity,
            price=e.price,
            venue=e.venue,
            ts_ns=e.ts_ns,
        ),
        order.multiplier,
        e.settles_on,
        e.quote_ts_ns,
    )


def _strategy_filled(state: TradingState, e: ev.StrategyFilled) -> None:
    order = state.orders[e.order_id]
    assert order.legs is not None
    order.filled_quantity += e.quantity
    _change_hold(state, order, -e.quantity)
    done = order.filled_quantity >= order.quantity
    _move(state, order, o.FILL_ALL if done else o.FILL_PART, e.ts_ns)
    for leg, execution_id, price, quote_ts in zip(
        order.legs, e.execution_ids, e.prices, e.quote_ts_ns, strict=True
    ):
        quantity = e.quantity * leg.ratio
        leg.filled_quantity += quantity
        leg.filled_notional += quantity * price
        _book_execution(
            state,
            order,
            Execution(
                id=execution_id,
                order_id=order.id,
                account_id=order.account_id,
                instrument_id=leg.instrument_id,
                symbol=leg.symbol,
                underlying_instrument_id=order.underlying_instrument_id
                if leg.strike is not None
                else None,
                side=leg.side,
                quantity=quantity,
                price=price,
                venue=e.venue,
                ts_ns=e.ts_ns,
            ),
            leg.multiplier,
            e.settles_on,
            quote_ts,
        )


def _book_execution(
    state: TradingState,
    order: Order,
    execution: Execution,
    multiplier: Decimal,
    settles_on: Any,
    quote_ts_ns: int | None,
) -> None:
    """An execution's effects: displayed size taken, position, cash (settling later), the record."""
    account = state.accounts[order.account_id]
    buying = execution.side == o.BUY
    if quote_ts_ns is not None:
        _take_liquidity(state, execution.symbol, buying, quote_ts_ns, execution.quantity)
    signed = execution.quantity if buying else -execution.quantity
    position = _position(
        state,
        order.account_id,
        execution.instrument_id,
        execution.symbol,
        order.instrument_type if order.legs is None else _leg_type(order, execution.instrument_id),
        multiplier,
        execution.underlying_instrument_id,
    )
    if account.is_margin:
        account.day_trading.record_fill(
            order.id,
            execution.instrument_id,
            execution.underlying_instrument_id or execution.instrument_id,
            position.quantity,
            position.sod_quantity,
            signed,
            execution.price,
            multiplier,
        )
    position.apply_fill(signed, execution.price)
    amount = -signed * execution.price * multiplier
    account.trade_cash += amount
    account.unsettled.append((settles_on, amount))
    state.executions.setdefault(order.account_id, []).append(execution)


def _take_liquidity(
    state: TradingState, symbol: str, buying: bool, quote_ts_ns: int, quantity: Decimal
) -> None:
    """Count `quantity` against the displayed size offered at `quote_ts_ns` on one side."""
    key = (symbol, buying)
    used = state.liquidity_used.get(key)
    before = used[1] if used is not None and used[0] == quote_ts_ns else Decimal(0)
    state.liquidity_used[key] = (quote_ts_ns, before + quantity)


def _order_queued(state: TradingState, e: ev.OrderQueued) -> None:
    state.orders[e.order_id].queue_ahead = e.ahead


def _queue_advanced(state: TradingState, e: ev.QueueAdvanced) -> None:
    order = state.orders[e.order_id]
    order.queue_ahead = e.ahead
    _take_liquidity(state, order.symbol, order.side == o.BUY, e.quote_ts_ns, e.taken)


def _leg_type(order: Order, instrument_id: uuid.UUID) -> str:
    assert order.legs is not None
    return next(leg.instrument_type for leg in order.legs if leg.instrument_id == instrument_id)


def _order_cancel_requested(state: TradingState, e: ev.OrderCancelRequested) -> None:
    order = state.orders[e.order_id]
    _move(state, order, o.CANCEL_REQUEST, e.ts_ns)
    order.venue_due_ns = e.venue_due_ns
    order.pending_replace = None


def _order_canceled(state: TradingState, e: ev.OrderCanceled) -> None:
    order = state.orders[e.order_id]
    _move(state, order, o.CANCEL, e.ts_ns)
    order.details.append(e.reason)


def _order_replace_requested(state: TradingState, e: ev.OrderReplaceRequested) -> None:
    order = state.orders[e.order_id]
    _move(state, order, o.REPLACE_REQUEST, e.ts_ns)
    order.venue_due_ns = e.venue_due_ns
    order.pending_replace = dict(e.changes)


_REPLACEABLE_PRICES = ("limit_price", "stop_price", "trailing_offset", "limit_offset")


def _order_replaced(state: TradingState, e: ev.OrderReplaced) -> None:
    order = state.orders[e.order_id]
    changes = order.pending_replace or {}
    _change_hold(state, order, -(order.quantity - order.filled_quantity))
    for name in _REPLACEABLE_PRICES:
        if changes.get(name) is not None:
            setattr(order, name, Decimal(str(changes[name])))
    if changes.get("trailing_offset_type") is not None:
        order.trailing_offset_type = str(changes["trailing_offset_type"])
    if changes.get("quantity") is not None:
        order.quantity = Decimal(str(changes["quantity"]))
    if changes.get("hold_per_unit") is not None:
        order.hold_per_unit = Decimal(str(changes["hold_per_unit"]))
    _change_hold(state, order, order.quantity - order.filled_quantity)
    order.pending_replace = None
    order.venue_due_ns = None
    partial = bool(order.filled_quantity)
    if order.filled_quantity >= order.quantity:
        _move(state, order, o.FILL_ALL, e.ts_ns)
    else:
        _move(state, order, o.REPLACE_DONE_PARTIAL if partial else o.REPLACE_DONE, e.ts_ns)


def _order_expired(state: TradingState, e: ev.OrderExpired) -> None:
    order = state.orders[e.order_id]
    _move(state, order, o.EXPIRE, e.ts_ns)
    order.details.append(e.reason)


def _order_rejected(state: TradingState, e: ev.OrderRejected) -> None:
    order = state.orders[e.order_id]
    _move(state, order, o.REJECT, e.ts_ns)
    order.details.append(e.reason)


def _faults_set(state: TradingState, e: ev.FaultsSet) -> None:
    state.faults = e


def _order_ack_delayed(state: TradingState, e: ev.OrderAckDelayed) -> None:
    state.orders[e.order_id].venue_due_ns = e.venue_due_ns


def _order_held(state: TradingState, e: ev.OrderHeld) -> None:
    order = state.orders[e.order_id]
    order.releases_ns = e.releases_ns
    order.updated_ns = e.ts_ns


def _refused(state: TradingState, order: Order, ts_ns: int, detail: str) -> None:
    """A cancel or replace the venue refused: the order is back to working as it was."""
    _move(state, order, o.REFUSE_PARTIAL if order.filled_quantity else o.REFUSE, ts_ns)
    order.venue_due_ns = None
    order.pending_replace = None
    order.details.append(detail)


def _order_cancel_refused(state: TradingState, e: ev.OrderCancelRefused) -> None:
    _refused(state, state.orders[e.order_id], e.ts_ns, f"Cancel rejected: {e.reason}")


def _order_replace_refused(state: TradingState, e: ev.OrderReplaceRefused) -> None:
    _refused(state, state.orders[e.order_id], e.ts_ns, f"Replace rejected: {e.reason}")


def _scenario_added(state: TradingState, e: ev.ScenarioAdded) -> None:
    state.scenarios[e.rule_id] = ScenarioRule(
        e.rule_id, e.terms, created_ns=e.ts_ns, remaining=e.terms.times
    )
    state.last_scenario_id = max(state.last_scenario_id, e.rule_id)


def _scenario_matched(state: TradingState, e: ev.ScenarioMatched) -> None:
    rule = state.scenarios[e.rule_id]
    rule.matched += 1
    if rule.remaining is not None:
        rule.remaining -= 1
        if rule.remaining <= 0:
            del state.scenarios[rule.id]
    if rule.terms.action in ON_NEW:
        state.orders[e.order_id].scenario_rule = rule.id


def _scenarios_cleared(state: TradingState, e: ev.ScenariosCleared) -> None:
    for rule_id in e.rule_ids:
        state.scenarios.pop(rule_id, None)


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
    kept = [_as_opened(a) for a in state.accounts.values()] if e.keep_accounts else []
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
    for account in kept:
        account.sod = _start_of_day(account, state.trading_day, None)
        state.accounts[account.id] = account


def _as_opened(account: Account) -> Account:
    """The account as it stood when it was opened: its opening cash, active, nothing traded."""
    return Account(
        id=account.id,
        owner_id=account.owner_id,
        short_name=account.short_name,
        full_name=account.full_name,
        subtype=account.subtype,
        options_level=account.options_level,
        open_date=account.open_date,
        holder=account.holder,
        type=account.type,
        trade_cash=account.opening_cash,
        settled_cash=account.opening_cash,
        opening_cash=account.opening_cash,
    )


# ---- position instructions, exercise, assignment and expiration ----------------------------


def _instruction_sent(state: TradingState, e: ev.InstructionSent) -> None:
    instruction = PositionInstruction(
        id=e.instruction_id,
        account_id=e.account_id,
        instruction_id=e.client_instruction_id,
        instruction_type=e.instruction_type,
        instrument_id=e.instrument_id,
        symbol=e.symbol,
        quantity=e.quantity,
        underlying_instrument_id=e.underlying_instrument_id,
        expiry=e.expiry,
        created_ns=e.ts_ns,
        updated_ns=e.ts_ns,
        due_ns=e.due_ns,
    )
    state.instructions[instruction.id] = instruction
    state.instructions_by_account.setdefault(e.account_id, []).append(instruction)
    state.instruction_keys[(e.account_id, e.client_instruction_id)] = instruction
    state.live_instructions[instruction.id] = instruction


def _move_instruction(
    state: TradingState, instruction_id: Any, happening: str, ts_ns: int
) -> PositionInstruction:
    """Change an instruction's status through its transition table."""
    instruction = state.instructions[instruction_id]
    instruction.status = pi.next_status(instruction.status, happening)
    instruction.updated_ns = ts_ns
    if instruction.status not in pi.AWAITING_CLEARING:
        instruction.due_ns = None
        instruction.cancel_due_ns = None
    if instruction.is_terminal and not instruction.in_force:
        state.live_instructions.pop(instruction.id, None)
    return instruction


def _instruction_accepted(state: TradingState, e: ev.InstructionAccepted) -> None:
    instruction = state.instructions[e.instruction_id]
    instruction.accepted_quantity = e.accepted_quantity
    _move_instruction(state, e.instruction_id, pi.ACCEPT, e.ts_ns)


def _instruction_rejected(state: TradingState, e: ev.InstructionRejected) -> None:
    _move_instruction(state, e.instruction_id, pi.REJECT, e.ts_ns).rejection_reason = e.reason


def _instruction_cancel_requested(state: TradingState, e: ev.InstructionCancelRequested) -> None:
    _move_instruction(state, e.instruction_id, pi.CANCEL_REQUEST, e.ts_ns)
    state.instructions[e.instruction_id].cancel_due_ns = e.cancel_due_ns


def _instruction_cancelled(state: TradingState, e: ev.InstructionCancelled) -> None:
    _move_instruction(state, e.instruction_id, pi.CANCEL, e.ts_ns)


def _instruction_cancel_failed(state: TradingState, e: ev.InstructionCancelFailed) -> None:
    instruction = state.instructions[e.instruction_id]
    instruction.accepted_quantity = e.accepted_quantity
    instruction.rejection_reason = e.reason
    _move_instruction(state, e.instruction_id, pi.CANCEL_FAIL, e.ts_ns)


def _clearing_availability_set(state: TradingState, e: ev.ClearingAvailabilitySet) -> None:
    state.clearing_available = e.available


def _option_delivery(state: TradingState, e: ev.OptionDelivery) -> None:
    """Contracts become shares at the strike: the option's cost moves into the shares."""
    account = state.accounts[e.account_id]
    book = state.positions.setdefault(e.account_id, {})
    option = book[e.instrument_id]
    cost, day_cost = release_contracts(option, e.contracts)
    stock = book.get(e.underlying_instrument_id)
    if stock is None:
        stock = book[e.underlying_instrument_id] = Position(
            account_id=e.account_id,
            instrument_id=e.underlying_instrument_id,
            symbol=e.underlying_symbol,
            instrument_type=e.underlying_type,
            multiplier=Decimal(1),
        )
    deliver(stock, e.shares, e.strike, cost, day_cost)
    amount = -e.shares * e.strike
    account.trade_cash += amount
    account.unsettled.append((e.settles_on, amount))


def _option_expired(state: TradingState, e: ev.OptionExpired) -> None:
    expire_worthless(state.positions[e.account_id][e.instrument_id], e.quantity)


def _exercise_cycle_completed(state: TradingState, e: ev.ExerciseCycleCompleted) -> None:
    for instruction_id in e.consumed:
        state.live_instructions.pop(instruction_id, None)


_APPLY: dict[type, Callable[[TradingState, Any], None]] = {
    ev.UserCreated: _user_created,
    ev.AccountOpened: _account_opened,
    ev.CashAdjusted: _cash_adjusted,
    ev.RiskSettingsChanged: _risk_settings_changed,
    ev.AccountStatusChanged: _account_status_changed,
    ev.ApiKeyIssued: _api_key_issued,
    ev.ApiKeyRevoked: _api_key_revoked,
    ev.ClockSet: _clock_set,
    ev.QuotePinned: _quote_pinned,
    ev.QuoteReleased: _quote_released,
    ev.TradingDayStarted: _trading_day_started,
    ev.MarketClosed: _market_closed,
    ev.OrderAccepted: _order_accepted,
    ev.OrderAcknowledged: _order_acknowledged,
    ev.OrderReleased: _order_released,
    ev.OrderTriggered: _order_triggered,
    ev.TrailingMoved: _trailing_moved,
    ev.OrderFilled: _order_filled,
    ev.StrategyFilled: _strategy_filled,
    ev.OrderCancelRequested: _order_cancel_requested,
    ev.OrderCanceled: _order_canceled,
    ev.OrderReplaceRequested: _order_replace_requested,
    ev.OrderReplaced: _order_replaced,
    ev.OrderExpired: _order_expired,
    ev.OrderRejected: _order_rejected,
    ev.FaultsSet: _faults_set,
    ev.SandboxReset: _sandbox_reset,
    ev.OrderQueued: _order_queued,
    ev.QueueAdvanced: _queue_advanced,
    ev.OrderAckDelayed: _order_ack_delayed,
    ev.OrderHeld: _order_held,
    ev.OrderCancelRefused: _order_cancel_refused,
    ev.OrderReplaceRefused: _order_replace_refused,
    ev.ScenarioAdded: _scenario_added,
    ev.ScenarioMatched: _scenario_matched,
    ev.ScenariosCleared: _scenarios_cleared,
    ev.InstructionSent: _instruction_sent,
    ev.InstructionAccepted: _instruction_accepted,
    ev.InstructionRejected: _instruction_rejected,
    ev.InstructionCancelRequested: _instruction_cancel_requested,
    ev.InstructionCancelled: _instruction_cancelled,
    ev.InstructionCancelFailed: _instruction_cancel_failed,
    ev.ClearingAvailabilitySet: _clearing_availability_set,
    ev.OptionExercised: _option_delivery,
    ev.OptionAssigned: _option_delivery,
    ev.OptionExpired: _option_expired,
    ev.ExerciseCycleCompleted: _exercise_cycle_completed,
}
