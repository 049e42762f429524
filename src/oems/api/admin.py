"""The sandbox administration surface under `/admin/v1` (admin key only); see the README."""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal
from typing import Any

import msgspec

from oems.api.accounts import render_account
from oems.api.jsonbody import decode_body
from oems.api.params import path_int
from oems.api.values import optional_decimal, wire_decimal, wire_text
from oems.api.wire import ADMIN, Call, Reply, Routes
from oems.domain.accounts import ApiKey, digest_secret
from oems.domain.decimals import CASH, PRICE, QUANTITY, money, plain
from oems.domain.errors import InvalidRequest, NotFound
from oems.domain.scenarios import ScenarioRule, ScenarioTerms
from oems.domain.timefmt import NS_PER_SECOND, format_ns, parse_iso
from oems.engine import commands as cmd
from oems.engine.sandbox import SANDBOX_ACCOUNTS

routes = Routes()

KEY_PREFIX = "oems_"


def new_secret() -> str:
    """A fresh, unguessable API key secret."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


MAX_ADVANCE_SECONDS = 366 * 86_400
ADVANCE_CHUNK_NS = 86_400 * NS_PER_SECOND


def _instant(text: str, name: str) -> int:
    try:
        return parse_iso(text)
    except ValueError as exc:
        raise InvalidRequest(f"`{name}` must be an ISO-8601 instant: {exc}") from None


def render_clock(call: Call) -> dict[str, Any]:
    """The clock as the admin surface shows it."""
    runtime = call.runtime
    now = runtime.engine.now_ns()
    return {
        "mode": runtime.clock.mode,
        "now": format_ns(now),
        "speed": runtime.clock.speed,
        "session": runtime.calendar.session_at(now),
        "market_date": runtime.calendar.market_date(now).isoformat(),
        **_next_session(runtime.calendar, now),
    }


def _next_session(calendar: Any, now: int) -> dict[str, Any]:
    """The first session that starts after `now` (within the calendar), for a closed market."""
    date = calendar.market_date(now)
    for _ in range(10):  # the longest market closure is a few days
        for name, (start, end) in sorted(calendar.day(date).sessions.items(), key=lambda s: s[1]):
            if start > now:
                return {
                    "next_session": name,
                    "next_session_starts_at": format_ns(start),
                    "next_session_ends_at": format_ns(end),
                }
        try:
            date = calendar.next_trading_day(date)
        except ValueError:
            break
    return {"next_session": None, "next_session_starts_at": None, "next_session_ends_at": None}


@routes.get(ADMIN, "/admin/v1/clock")
async def get_clock(call: Call) -> Any:
    """The clock's mode, instant, speed and current session."""
    return render_clock(call)


class _ClockBody(msgspec.Struct, forbid_unknown_fields=True):
    mode: str
    now: str | None = None
    speed: float = 1.0


@routes.post(ADMIN, "/admin/v1/clock")
async def set_clock(call: Call) -> Any:
    """Switch the clock (`wall` or `simulated` at `now`, running at `speed`; 0 freezes it)."""
    body = decode_body(await call.body(), _ClockBody)
    now = _instant(body.now, "now") if body.now is not None else None
    await call.runtime.engine.execute(cmd.SetClock(body.mode, now, body.speed))
    return render_clock(call)


class _AdvanceBody(msgspec.Struct, forbid_unknown_fields=True):
    seconds: float | None = None
    to: str | None = None


@routes.post(ADMIN, "/admin/v1/clock/advance")
async def advance_clock(call: Call) -> Any:
    """Move the simulated clock forward by `seconds` or `to` an instant, running what falls due."""
    body = decode_body(await call.body(), _AdvanceBody)
    if (body.seconds is None) == (body.to is None):
        raise InvalidRequest("Give exactly one of `seconds` or `to`")
    engine = call.runtime.engine
    if body.to is not None:
        target = _instant(body.to, "to")
    else:
        assert body.seconds is not None
        if not 0 <= body.seconds <= MAX_ADVANCE_SECONDS:
            raise InvalidRequest(f"`seconds` must be between 0 and {MAX_ADVANCE_SECONDS}")
        target = engine.now_ns() + int(Decimal(str(body.seconds)) * NS_PER_SECOND)
    engine.check_clock_target(target)
    # A day per command: what falls due runs in order, and other requests are served in between.
    while True:
        step = min(target, engine.now_ns() + ADVANCE_CHUNK_NS)
        await engine.execute(cmd.AdvanceClock(step))
        if step >= target:
            return render_clock(call)


class _AccountBody(msgspec.Struct, forbid_unknown_fields=True):
    full_name: str
    subtype: str
    owner: str
    options_level: int = 0
    cash: str = "0"
    short_name: str | None = None


@routes.post(ADMIN, "/admin/v1/accounts")
async def create_account(call: Call) -> Any:
    """Open an account for `owner` (a user name, created if new) with starting cash."""
    raw = await call.body()
    body = decode_body(raw, _AccountBody)
    cash = wire_decimal(body.cash, CASH, ("cash",), raw)
    owner, full_name = wire_text(body.owner, "owner"), wire_text(body.full_name, "full_name")
    short_name = wire_text(body.short_name, "short_name") if body.short_name else None
    account = await call.runtime.engine.execute(
        cmd.OpenAccount(owner, full_name, body.subtype, body.options_level, cash, short_name)
    )
    return Reply(
        {**render_account(account, details=True), "cash": money(account.trade_cash)}, status=201
    )


@routes.get(ADMIN, "/admin/v1/accounts")
async def list_accounts(call: Call) -> Any:
    """Every account with its owner's user name, status, options level and cash, in id order."""
    return _render_accounts(call)


def _render_accounts(call: Call) -> list[dict[str, Any]]:
    state = call.runtime.state
    return [
        {
            "id": account.id,
            "owner": state.users[account.owner_id].name,
            "full_name": account.full_name,
            "subtype": account.subtype,
            "status": account.status,
            "options_level": account.options_level,
            "trade_cash": money(account.trade_cash),
            "settled_cash": money(account.settled_cash),
        }
        for account in sorted(state.accounts.values(), key=lambda account: account.id)
    ]


class _CashBody(msgspec.Struct, forbid_unknown_fields=True):
    amount: str
    memo: str = ""


@routes.post(ADMIN, "/admin/v1/accounts/{account_id}/cash")
async def move_cash(call: Call) -> Any:
    """Deposit (positive) or withdraw (negative) cash; a withdrawal never takes cash below zero."""
    account_id = path_int(call.path_param("account_id"), "account_id")
    raw = await call.body()
    body = decode_body(raw, _CashBody)
    amount = wire_decimal(body.amount, CASH, ("amount",), raw)
    memo = wire_text(body.memo, "memo")
    account = await call.runtime.engine.execute(cmd.AdjustCash(account_id, amount, memo))
    return {
        "account_id": account.id,
        "amount": money(amount),
        "trade_cash": money(account.trade_cash),
        "settled_cash": money(account.settled_cash),
    }


class _StatusBody(msgspec.Struct, forbid_unknown_fields=True):
    status: str


@routes.post(ADMIN, "/admin/v1/accounts/{account_id}/status")
async def set_account_status(call: Call) -> Any:
    """Set an account ACTIVE, INACTIVE (no new orders) or CLOSED (flat accounts only, for good)."""
    account_id = path_int(call.path_param("account_id"), "account_id")
    body = decode_body(await call.body(), _StatusBody)
    account = await call.runtime.engine.execute(cmd.SetAccountStatus(account_id, body.status))
    return {
        "account_id": account.id,
        "status": account.status,
        "close_date": account.close_date.isoformat() if account.close_date else None,
    }


class _KeyBody(msgspec.Struct, forbid_unknown_fields=True):
    user: str
    account_ids: list[int] | None = None
    expires_at: str | None = None


def render_key(key: ApiKey, user: str) -> dict[str, Any]:
    """An API key's public description (never its secret)."""
    return {
        "id": str(key.id),
        "user": user,
        "admin": key.admin,
        "account_ids": sorted(key.account_ids) if key.account_ids is not None else None,
        "created_at": format_ns(key.created_ns),
        "expires_at": format_ns(key.expires_ns) if key.expires_ns is not None else None,
        "revoked": key.revoked,
    }


@routes.post(ADMIN, "/admin/v1/api-keys")
async def create_api_key(call: Call) -> Any:
    """Issue a key for `user` granting `account_ids` (default: all the user's accounts); secret shown once."""
    body = decode_body(await call.body(), _KeyBody)
    expires = _instant(body.expires_at, "expires_at") if body.expires_at else None
    secret = new_secret()
    ids = tuple(body.account_ids) if body.account_ids is not None else None
    user = wire_text(body.user, "user")
    key = await call.runtime.engine.execute(
        cmd.IssueApiKey(user, digest_secret(secret), ids, False, expires)
    )
    return Reply({**render_key(key, body.user), "api_key": secret}, status=201)


@routes.get(ADMIN, "/admin/v1/api-keys")
async def list_api_keys(call: Call) -> Any:
    """Every API key in creation order: id, user, accounts, created, expires, revoked (no secret)."""
    state = call.runtime.state
    return [
        render_key(key, state.users[key.user_id].name)
        for key in sorted(state.api_keys.values(), key=lambda key: (key.created_ns, str(key.id)))
    ]


@routes.delete(ADMIN, "/admin/v1/api-keys/{key_id}")
async def revoke_api_key(call: Call) -> Any:
    """Revoke a key at once; later requests with it get 401."""
    raw = call.path_param("key_id")
    try:
        key_id = uuid.UUID(raw)
    except ValueError:
        raise InvalidRequest(
            f"Cannot parse `key_id` with value `{raw}`: UUID parsing failed"
        ) from None
    key = await call.runtime.engine.execute(cmd.RevokeApiKey(key_id))
    return render_key(key, call.runtime.state.users[key.user_id].name)


class _FaultsBody(msgspec.Struct, forbid_unknown_fields=True):
    reject_next: int | None = None
    reject_reason: str | None = None
    ack_delay_ms: int | None = None
    clearing_unavailable: bool | None = None


def _render_faults(faults: Any, call: Call) -> dict[str, Any]:
    return {
        "reject_next": faults.reject_next,
        "reject_reason": faults.reject_reason,
        "ack_delay_ms": faults.ack_delay_ms,
        "clearing_unavailable": not call.runtime.state.clearing_available,
    }


@routes.get(ADMIN, "/admin/v1/faults")
async def get_faults(call: Call) -> Any:
    """The venue's fault injection in force, and whether the clearing service is down."""
    return _render_faults(call.runtime.state.faults, call)


@routes.post(ADMIN, "/admin/v1/faults")
async def set_faults(call: Call) -> Any:
    """Reject next orders, delay acknowledgements, take clearing down; fields not given are kept."""
    body = decode_body(await call.body(), _FaultsBody)
    current = call.runtime.state.faults
    faults = await call.runtime.engine.execute(
        cmd.SetFaults(
            reject_next=body.reject_next if body.reject_next is not None else current.reject_next,
            reject_reason=body.reject_reason
            if body.reject_reason is not None
            else current.reject_reason,
            ack_delay_ms=body.ack_delay_ms
            if body.ack_delay_ms is not None
            else current.ack_delay_ms,
        )
    )
    if body.clearing_unavailable is not None:
        await call.runtime.engine.execute(
            cmd.SetClearingAvailability(available=not body.clearing_unavailable)
        )
    return _render_faults(faults, call)


@routes.delete(ADMIN, "/admin/v1/faults")
async def clear_faults(call: Call) -> Any:
    """Switch every injected fault off."""
    faults = await call.runtime.engine.execute(cmd.SetFaults(0, None, 0))
    await call.runtime.engine.execute(cmd.SetClearingAvailability(available=True))
    return _render_faults(faults, call)


class _ResetBody(msgspec.Struct, forbid_unknown_fields=True):
    keep_accounts: bool = False
    clock: _ClockBody | None = None


@routes.post(ADMIN, "/admin/v1/reset")
async def reset_sandbox(call: Call) -> Any:
    """Back to a fresh sandbox in one journal batch: nothing traded, the bootstrap's accounts (or,
    with `keep_accounts`, every account at its opening cash); API keys stay; `clock` sets the clock."""
    raw = await call.body()
    body = decode_body(raw or b"{}", _ResetBody)
    clock = None
    if body.clock is not None:
        now = _instant(body.clock.now, "clock.now") if body.clock.now is not None else None
        clock = cmd.SetClock(body.clock.mode, now, body.clock.speed)
    await call.runtime.engine.execute(
        cmd.ResetSandbox(SANDBOX_ACCOUNTS, keep_accounts=body.keep_accounts, clock=clock)
    )
    return {
        "keep_accounts": body.keep_accounts,
        "accounts": _render_accounts(call),
        "clock": render_clock(call),
    }


class _ScenarioBody(msgspec.Struct, forbid_unknown_fields=True):
    action: str
    account_id: int | None = None
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    min_quantity: str | None = None
    max_quantity: str | None = None
    client_id_prefix: str | None = None
    reason: str | None = None
    fraction: str | None = None
    price: str | None = None
    delay_ms: int | None = None
    times: int | None = None


def render_scenario(rule: ScenarioRule) -> dict[str, Any]:
    """A scenario rule as the admin surface shows it (criteria not set are null)."""
    terms = msgspec.structs.asdict(rule.terms)
    delay_ns = terms.pop("delay_ns")
    del terms["times"]
    return {
        "id": rule.id,
        **{k: plain(v) if isinstance(v, Decimal) else v for k, v in terms.items()},
        "delay_ms": delay_ns // 1_000_000 if delay_ns is not None else None,
        "remaining": rule.remaining,
        "matched": rule.matched,
        "created_at": format_ns(rule.created_ns),
    }


@routes.post(ADMIN, "/admin/v1/scenarios")
async def add_scenario(call: Call) -> Any:
    """Add a rule: orders matching every criterion given get the venue answer `action` says."""
    raw = await call.body()
    body = decode_body(raw, _ScenarioBody)
    symbol = None
    if body.symbol is not None:
        instrument = call.runtime.instruments.resolve(body.symbol)
        if instrument is None:
            raise NotFound(f"Instrument not found: {body.symbol}")
        symbol = instrument.symbol
    bounds = {"min_quantity": QUANTITY, "max_quantity": QUANTITY, "fraction": PRICE, "price": PRICE}
    decimals = {
        name: optional_decimal(getattr(body, name), bound, (name,), raw)
        for name, bound in bounds.items()
    }
    for name in ("reason", "client_id_prefix"):
        if getattr(body, name) is not None:
            wire_text(getattr(body, name), name)
    terms = ScenarioTerms(
        action=body.action,
        account_id=body.account_id,
        symbol=symbol,
        side=body.side,
        order_type=body.order_type,
        client_id_prefix=body.client_id_prefix,
        reason=body.reason,
        delay_ns=body.delay_ms * 1_000_000 if body.delay_ms is not None else None,
        times=body.times,
        **decimals,
    )
    rule = await call.runtime.engine.execute(cmd.AddScenario(terms))
    return Reply(render_scenario(rule), status=201)


@routes.get(ADMIN, "/admin/v1/scenarios")
async def list_scenarios(call: Call) -> Any:
    """The rules in force, oldest first (the oldest matching rule answers)."""
    return [render_scenario(rule) for rule in call.runtime.state.scenarios.values()]


@routes.delete(ADMIN, "/admin/v1/scenarios")
async def clear_scenarios(call: Call) -> Any:
    """Remove every rule; answers the rules removed."""
    removed = await call.runtime.engine.execute(cmd.ClearScenarios())
    return [render_scenario(rule) for rule in removed]


@routes.delete(ADMIN, "/admin/v1/scenarios/{rule_id}")
async def remove_scenario(call: Call) -> Any:
    """Remove one rule."""
    rule_id = path_int(call.path_param("rule_id"), "rule_id")
    (removed,) = await call.runtime.engine.execute(cmd.ClearScenarios(rule_id))
    return render_scenario(removed)
