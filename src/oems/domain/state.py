"""The trading state the engine owns, and how each journal event changes it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from oems.domain import events as ev
from oems.domain.accounts import (
    Account,
    AccountHolder,
    ApiKey,
    DaySegment,
    MailingAddress,
    StartOfDay,
    User,
)
from oems.domain.balances import account_equity, buying_power

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
    trading_day: Any = None  # dt.date of the last TradingDayStarted
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
    )
    account.sod = _start_of_day(account, state.trading_day)
    state.accounts[e.account_id] = account


def _start_of_day(account: Account, date: Any) -> StartOfDay:
    return StartOfDay(
        asof=date,
        equity=account_equity(account),
        buying_power=buying_power(account),
        trade_cash=account.trade_cash,
    )


def _cash_adjusted(state: TradingState, e: ev.CashAdjusted) -> None:
    account = state.accounts[e.account_id]
    # Deposits and withdrawals settle at once: both trade-date and settled cash move.
    account.trade_cash += e.amount
    account.settled_cash += e.amount


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
    state.pinned_quotes[e.symbol] = PinnedQuote(
        e.bid, e.ask, e.bid_size, e.ask_size, e.last, e.ts_ns
    )


def _quote_released(state: TradingState, e: ev.QuoteReleased) -> None:
    state.pinned_quotes.pop(e.symbol, None)


def _trading_day_started(state: TradingState, e: ev.TradingDayStarted) -> None:
    for account in state.accounts.values():
        equity = account_equity(account)
        if account.sod is not None and account.sod.asof is not None:
            account.history.append(
                DaySegment(date=account.sod.asof, sod_equity=account.sod.equity, eod_equity=equity)
            )
        account.sod = _start_of_day(account, e.date)
    state.trading_day = e.date


_APPLY: dict[type, Callable[[TradingState, Any], None]] = {
    ev.UserCreated: _user_created,
    ev.AccountOpened: _account_opened,
    ev.CashAdjusted: _cash_adjusted,
    ev.RiskSettingsChanged: _risk_settings_changed,
    ev.ApiKeyIssued: _api_key_issued,
    ev.ApiKeyRevoked: _api_key_revoked,
    ev.ClockSet: _clock_set,
    ev.QuotePinned: _quote_pinned,
    ev.QuoteReleased: _quote_released,
    ev.TradingDayStarted: _trading_day_started,
}
