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


def open_account(ctx: Context, c: cmd.OpenAccount) -> Account:
    """Open an account for the owner (created if new); 400 for bad terms."""
    if c.subtype not in ACCOUNT_SUBTYPES:
        raise InvalidRequest(f"subtype must be one of {', '.join(ACCOUNT_SUBTYPES)}")
    if not 0 <= c.options_level <= MAX_OPTIONS_LEVEL:
        raise InvalidRequest(f"options_level must be between 0 and {MAX_OPTIONS_LEVEL}")
    if c.cash < 0:
        raise InvalidRequest("cash must not be negative")
    if not c.full_name.strip():
        raise InvalidRequest("full_name must not be empty")
    if not c.owner.strip():
        raise InvalidRequest("owner must not be empty")
    now = ctx.now_ns()
    owner_id = _user_id(ctx, c.owner)
    account_id = ctx.state.next_account_id()
    ctx.emit(
        ev.AccountOpened(
            ts_ns=now,
            account_id=account_id,
            owner_id=owner_id,
            short_name=c.short_name or f"OEMS-{account_id}",
            full_name=c.full_name,
            subtype=c.subtype,
            options_level=c.options_level,
            open_date=ctx.calendar.market_date(now),
            holder_entity_id=900000000 + owner_id,
            cash=c.cash,
        )
    )
    return ctx.state.accounts[account_id]


def adjust_cash(ctx: Context, c: cmd.AdjustCash) -> Account:
    """Deposit or withdraw cash; a withdrawal never takes cash below zero."""
    account = ctx.account(c.account_id)
    if c.amount == 0:
        raise InvalidRequest("amount must not be zero")
    if account.settled_cash + c.amount < 0 or account.trade_cash + c.amount < 0:
        raise InvalidRequest(
            f"Withdrawal of {-c.amount} exceeds available cash {min(account.settled_cash, account.trade_cash)}"
        )
    ctx.emit(
        ev.CashAdjusted(ts_ns=ctx.now_ns(), account_id=account.id, amount=c.amount, memo=c.memo)
    )
    return account


def set_account_status(ctx: Context, c: cmd.SetAccountStatus) -> Account:
    """Change the account's status; closing needs it flat, and a closed account stays closed."""
    account = ctx.account(c.account_id)
    if c.status not in ACCOUNT_STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(ACCOUNT_STATUSES)}")
    if account.status == "CLOSED" and c.status != "CLOSED":
        raise InvalidRequest("a closed account cannot be reopened")
    if c.status == "CLOSED" and (
        ctx.state.open_orders.get(account.id)
        or any(p.quantity for p in ctx.state.positions.get(account.id, {}).values())
    ):
        raise InvalidRequest("close the account's positions and open orders first")
    if c.status != account.status:
        now = ctx.now_ns()
        closing = ctx.calendar.market_date(now) if c.status == "CLOSED" else None
        ctx.emit(
            ev.AccountStatusChanged(
                ts_ns=now, account_id=account.id, status=c.status, close_date=closing
            )
        )
    return account


def update_risk_settings(ctx: Context, c: cmd.UpdateRiskSettings) -> Account:
    """Set or clear the account's maximum order notional."""
    account = ctx.account(c.account_id)
    if c.max_notional is not None and c.max_notional <= 0:
        raise InvalidRequest("max_notional must be greater than zero")
    ctx.emit(
        ev.RiskSettingsChanged(
            ts_ns=ctx.now_ns(), account_id=account.id, max_notional=c.max_notional
        )
    )
    return account


def issue_api_key(ctx: Context, c: cmd.IssueApiKey) -> ApiKey:
    """Record a key by its digest for a user (created if new), its grants and expiry."""
    if c.digest in ctx.state.keys_by_digest:
        raise Conflict("Resource already exists")
    if not c.user.strip():
        raise InvalidRequest("user must not be empty")
    if c.account_ids is not None:
        missing = [a for a in c.account_ids if a not in ctx.state.accounts]
        if missing:
            raise NotFound(f"Account {missing[0]} not found")
    now = ctx.now_ns()
    if c.expires_ns is not None and c.expires_ns <= now:
        raise InvalidRequest("expires_at must be in the future")
    user_id = _user_id(ctx, c.user)
    key_id = ctx.ids.uuid7(now)
    ctx.emit(
        ev.ApiKeyIssued(
            ts_ns=now,
            key_id=key_id,
            user_id=user_id,
            digest=c.digest,
            admin=c.admin,
            account_ids=sorted(c.account_ids) if c.account_ids is not None else None,
            expires_ns=c.expires_ns,
        )
    )
    return ctx.state.api_keys[key_id]


def revoke_api_key(ctx: Context, c: cmd.RevokeApiKey) -> ApiKey:
    """Revoke a key (again is a no-op); 404 when unknown."""
    key = ctx.state.api_keys.get(c.key_id)
    if key is None:
        raise NotFound(f"API key {c.key_id} not found")
    if not key.revoked:
        ctx.emit(ev.ApiKeyRevoked(ts_ns=ctx.now_ns(), key_id=key.id))
    return key
