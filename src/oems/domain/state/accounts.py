"""Users, accounts and API keys: opening, funding, status, risk settings, keys issued and
revoked, and the start-of-day figures and settlement the trading days roll.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from oems.domain import events as ev
from oems.domain.accounts import (
    Account,
    AccountHolder,
    ApiKey,
    MailingAddress,
    StartOfDay,
    User,
)

if TYPE_CHECKING:
    from oems.domain.state.trading_state import Appliers, TradingState


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
    account.sod = start_of_day(account, state.trading_day, None)
    state.accounts[e.account_id] = account


def start_of_day(account: Account, date: Any, figures: ev.StartOfDayFigures | None) -> StartOfDay:
    """An account's start-of-day figures: the engine's, or cash alone (an account with no positions)."""
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


def settle(account: Account, date: Any) -> None:
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


def as_opened(account: Account) -> Account:
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


APPLIERS: Appliers = {
    ev.UserCreated: _user_created,
    ev.AccountOpened: _account_opened,
    ev.CashAdjusted: _cash_adjusted,
    ev.RiskSettingsChanged: _risk_settings_changed,
    ev.AccountStatusChanged: _account_status_changed,
    ev.ApiKeyIssued: _api_key_issued,
    ev.ApiKeyRevoked: _api_key_revoked,
}
