"""Account administration: accounts, their cash, status and risk settings, and API keys."""

from __future__ import annotations

from oems.domain import events as ev
from oems.domain.accounts import (
    ACCOUNT_STATUSES,
    ACCOUNT_SUBTYPES,
    MAX_OPTIONS_LEVEL,
    Account,
    ApiKey,
)
from oems.domain.errors import Conflict, InvalidRequest, NotFound
from oems.engine import commands as cmd
from oems.engine.context import Context


def _user_id(ctx: Context, name: str) -> int:
    """The user called `name`, created when new."""
    user = ctx.state.users_by_name.get(name)
    if user is not None:
        return user.id
    user_id = ctx.state.next_user_id()
    ctx.emit(ev.UserCreated(ts_ns=ctx.now_ns(), user_id=user_id, name=name))
    return user_id


def open_account(ctx: Context, command: cmd.OpenAccount) -> Account:
    """Open an account for the owner (created if new); 400 for bad terms."""
    if command.subtype not in ACCOUNT_SUBTYPES:
        raise InvalidRequest(f"subtype must be one of {', '.join(ACCOUNT_SUBTYPES)}")
    if not 0 <= command.options_level <= MAX_OPTIONS_LEVEL:
        raise InvalidRequest(f"options_level must be between 0 and {MAX_OPTIONS_LEVEL}")
    if command.cash < 0:
        raise InvalidRequest("cash must not be negative")
    if not command.full_name.strip():
        raise InvalidRequest("full_name must not be empty")
    if not command.owner.strip():
        raise InvalidRequest("owner must not be empty")
    now = ctx.now_ns()
    owner_id = _user_id(ctx, command.owner)
    account_id = ctx.state.next_account_id()
    ctx.emit(
        ev.AccountOpened(
            ts_ns=now,
            account_id=account_id,
            owner_id=owner_id,
            short_name=command.short_name or f"OEMS-{account_id}",
            full_name=command.full_name,
            subtype=command.subtype,
            options_level=command.options_level,
            open_date=ctx.calendar.market_date(now),
            holder_entity_id=900000000 + owner_id,
            cash=command.cash,
        )
    )
    return ctx.state.accounts[account_id]


def adjust_cash(ctx: Context, command: cmd.AdjustCash) -> Account:
    """Deposit or withdraw cash; a withdrawal never takes cash below zero."""
    account = ctx.account(command.account_id)
    if command.amount == 0:
        raise InvalidRequest("amount must not be zero")
    if account.settled_cash + command.amount < 0 or account.trade_cash + command.amount < 0:
        raise InvalidRequest(
            f"Withdrawal of {-command.amount} exceeds available cash {min(account.settled_cash, account.trade_cash)}"
        )
    ctx.emit(
        ev.CashAdjusted(
            ts_ns=ctx.now_ns(), account_id=account.id, amount=command.amount, memo=command.memo
        )
    )
    return account


def set_account_status(ctx: Context, command: cmd.SetAccountStatus) -> Account:
    """Change the account's status; closing needs it flat, and a closed account stays closed."""
    account = ctx.account(command.account_id)
    if command.status not in ACCOUNT_STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(ACCOUNT_STATUSES)}")
    if account.status == "CLOSED" and command.status != "CLOSED":
        raise InvalidRequest("a closed account cannot be reopened")
    if command.status == "CLOSED" and (
        ctx.state.open_orders.get(account.id)
        or any(p.quantity for p in ctx.state.positions.get(account.id, {}).values())
    ):
        raise InvalidRequest("close the account's positions and open orders first")
    if command.status != account.status:
        now = ctx.now_ns()
        closing = ctx.calendar.market_date(now) if command.status == "CLOSED" else None
        ctx.emit(
            ev.AccountStatusChanged(
                ts_ns=now, account_id=account.id, status=command.status, close_date=closing
            )
        )
    return account


def update_risk_settings(ctx: Context, command: cmd.UpdateRiskSettings) -> Account:
    """Set or clear the account's maximum order notional."""
    account = ctx.account(command.account_id)
    if command.max_notional is not None and command.max_notional <= 0:
        raise InvalidRequest("max_notional must be greater than zero")
    ctx.emit(
        ev.RiskSettingsChanged(
            ts_ns=ctx.now_ns(), account_id=account.id, max_notional=command.max_notional
        )
    )
    return account


def issue_api_key(ctx: Context, command: cmd.IssueApiKey) -> ApiKey:
    """Record a key by its digest for a user (created if new), its grants and expiry."""
    if command.digest in ctx.state.keys_by_digest:
        raise Conflict("Resource already exists")
    if not command.user.strip():
        raise InvalidRequest("user must not be empty")
    if command.account_ids is not None:
        missing = [a for a in command.account_ids if a not in ctx.state.accounts]
        if missing:
            raise NotFound(f"Account {missing[0]} not found")
    now = ctx.now_ns()
    if command.expires_ns is not None and command.expires_ns <= now:
        raise InvalidRequest("expires_at must be in the future")
    user_id = _user_id(ctx, command.user)
    key_id = ctx.ids.uuid7(now)
    ctx.emit(
        ev.ApiKeyIssued(
            ts_ns=now,
            key_id=key_id,
            user_id=user_id,
            digest=command.digest,
            admin=command.admin,
            account_ids=sorted(command.account_ids) if command.account_ids is not None else None,
            expires_ns=command.expires_ns,
        )
    )
    return ctx.state.api_keys[key_id]


def revoke_api_key(ctx: Context, command: cmd.RevokeApiKey) -> ApiKey:
    """Revoke a key (again is a no-op); 404 when unknown."""
    key = ctx.state.api_keys.get(command.key_id)
    if key is None:
        raise NotFound(f"API key {command.key_id} not found")
    if not key.revoked:
        ctx.emit(ev.ApiKeyRevoked(ts_ns=ctx.now_ns(), key_id=key.id))
    return key
