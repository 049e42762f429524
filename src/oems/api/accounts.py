"""Account endpoints: list, details, risk settings, balances, portfolio history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import msgspec
from starlette.routing import Route

from oems.api.access import granted_account
from oems.api.jsonbody import decode_body, value_error
from oems.api.pagination import fingerprint, paginate
from oems.api.params import Query
from oems.api.wire import USER, Call, Reply, endpoint
from oems.domain.accounts import Account
from oems.domain.balances import (
    account_equity,
    buying_power,
    intraday_multiplier,
    overnight_multiplier,
)
from oems.domain.decimals import money, parse_decimal
from oems.domain.errors import InvalidRequest
from oems.engine import commands as cmd


def render_account(account: Account, details: bool = False) -> dict[str, Any]:
    """The vendor `Account` (or `AccountWithPersonalDetails` when `details`)."""
    out: dict[str, Any] = {
        "account_holder_entity_id": account.holder.entity_id,
        "close_date": account.close_date.isoformat() if account.close_date else None,
        "full_name": account.full_name,
        "id": account.id,
        "open_date": account.open_date.isoformat(),
        "options_level": account.options_level,
        "short_name": account.short_name,
        "status": account.status,
        "subtype": account.subtype,
        "type": account.type,
    }
    if details:
        holder = account.holder
        address = holder.mailing_address
        out["country_of_tax_residency"] = holder.country_of_tax_residency
        out["date_of_birth"] = holder.date_of_birth.isoformat() if holder.date_of_birth else None
        out["phone_number"] = holder.phone_number
        out["mailing_address"] = (
            {
                "city": address.city,
                "country": address.country,
                "line1": address.line1,
                "line2": address.line2,
                "postal_code": address.postal_code,
                "state": address.state,
            }
            if address
            else None
        )
    return out


@endpoint(USER, "/v1/accounts")
async def get_accounts(call: Call) -> Any:
    """Accounts the caller may reach, filtered by id prefix and name substring, paged by id."""
    query = Query(call.query)
    prefix = query.string("account_id") or ""
    name = (query.string("account_name") or "").lower()
    page_size = query.integer("page_size", None, 1, 1000)
    state = call.runtime.state
    assert call.key is not None
    accounts = [
        state.accounts[i]
        for i in state.accessible_account_ids(call.key)
        if str(i).startswith(prefix) and name in state.accounts[i].full_name.lower()
    ]
    page, meta = paginate(
        accounts,
        lambda a: a.id,
        page_size,
        query.string("page_token"),
        fingerprint("accounts", prefix, name),
    )
    return Reply([render_account(a) for a in page], meta)


@endpoint(USER, "/v1/accounts/{account_id}")
async def get_account(call: Call) -> Any:
    """One account with the account holder's details."""
    return render_account(granted_account(call), details=True)


class _RiskSettingsBody(msgspec.Struct, forbid_unknown_fields=True):
    max_notional: str | None = None


class _AccountSettingsBody(msgspec.Struct, forbid_unknown_fields=True):
    risk: _RiskSettingsBody | None = None


def render_settings(account: Account) -> dict[str, Any]:
    """The vendor `AccountSettings`."""
    limit = account.max_notional
    return {"risk": {"max_notional": money(limit) if limit is not None else None}}


@endpoint(USER, "/v1/accounts/{account_id}")
async def patch_account(call: Call) -> Any:
    """Update the account's risk settings (`risk.max_notional`; null clears the limit)."""
    account = granted_account(call)
    raw = await call.body()
    body = decode_body(raw, _AccountSettingsBody)
    if body.risk is None:
        raise InvalidRequest("Nothing to update: the request sets no account setting")
    limit: Decimal | None = None
    if body.risk.max_notional is not None:
        try:
            limit = parse_decimal(body.risk.max_notional)
        except ValueError as exc:
            raise value_error(("risk", "max_notional"), str(exc), raw) from None
    await call.runtime.engine.execute(cmd.UpdateRiskSettings(account.id, limit))
    return render_settings(account)


def render_balances(account: Account, top_contributors: int | None) -> dict[str, Any]:
    """The vendor `AccountBalances` for an account (cash only until positions exist)."""
    equity = account_equity(account)
    power = buying_power(account)
    sod = account.sod
    out: dict[str, Any] = {
        "account_id": account.id,
        "buying_power": money(power),
        "currency": "USD",
        "daily_change": money(equity - (sod.equity if sod else equity)),
        "daily_pnl": money(Decimal(0)),
        "daily_realized_pnl": money(Decimal(0)),
        "daily_unrealized_pnl": money(Decimal(0)),
        "equity": money(equity),
        "long_market_value": money(Decimal(0)),
        "margin_type": "REG_T" if account.is_margin else "NONE",
        "multiplier": str(overnight_multiplier(account)) if account.is_margin else None,
        "open_order_adjustment": money(Decimal(0)),
        "settled_cash": money(account.settled_cash),
        "short_market_value": money(Decimal(0)),
        "trade_cash": money(account.trade_cash),
        "unrealized_pnl": money(Decimal(0)),
        "unsettled_credits": money(Decimal(0)),
        "unsettled_debits": money(Decimal(0)),
        "withdrawable_cash": money(max(min(account.settled_cash, account.trade_cash), Decimal(0))),
        "sod": {
            "asof": sod.asof.isoformat() if sod and sod.asof else None,
            "buying_power": money(sod.buying_power if sod else power),
            "equity": money(sod.equity if sod else equity),
            "long_market_value": money(sod.long_market_value if sod else Decimal(0)),
            "short_market_value": money(sod.short_market_value if sod else Decimal(0)),
            "trade_cash": money(sod.trade_cash if sod else account.trade_cash),
            "maintenance_margin_excess": money(sod.equity if sod else equity)
            if account.is_margin
            else None,
            "maintenance_margin_requirement": money(Decimal(0)) if account.is_margin else None,
        },
    }
    if account.is_margin:
        details: dict[str, Any] = {
            "initial_margin_excess": money(equity),
            "initial_margin_requirement": money(Decimal(0)),
            "maintenance_margin_excess": money(equity),
            "maintenance_margin_requirement": money(Decimal(0)),
            "intraday_details": {
                "buying_power": money(buying_power(account, intraday=True)),
                "multiplier": str(intraday_multiplier(account)),
            },
            "overnight_details": {
                "buying_power": money(power),
                "multiplier": str(overnight_multiplier(account)),
            },
        }
        if top_contributors is not None:
            details["top_contributors"] = []
        out["margin_details"] = details
    else:
        out["margin_details"] = None
    return out


@endpoint(USER, "/v1/accounts/{account_id}/balances")
async def get_balances(call: Call) -> Any:
    """Cash, equity, buying power and margin figures for the account."""
    account = granted_account(call)
    limit = Query(call.query).integer("top_margin_contributors_limit", None, 1, 2**31 - 1)
    return render_balances(account, limit)


@endpoint(USER, "/v1/accounts/{account_id}/portfolio-history")
async def get_portfolio_history(call: Call) -> Any:
    """One segment per trading day between `start_date` and `end_date` (default today, US/Eastern)."""
    account = granted_account(call)
    query = Query(call.query)
    start = query.date("start_date", required=True)
    assert start is not None
    runtime = call.runtime
    end = query.date("end_date") or runtime.calendar.market_date(runtime.engine.now_ns())
    if end < start:
        raise InvalidRequest("end_date must not be before start_date")
    segments = [
        _segment(s.date, s.sod_equity, s.eod_equity)
        for s in account.history
        if start <= s.date <= end
    ]
    sod = account.sod
    if sod is not None and sod.asof is not None and start <= sod.asof <= end:
        segments.append(_segment(sod.asof, sod.equity, account_equity(account)))
    return {"segments": segments}


def _segment(date: dt.date, sod_equity: Decimal, eod_equity: Decimal) -> dict[str, Any]:
    zero = money(Decimal(0))
    return {
        "date": date.isoformat(),
        "sod_equity": money(sod_equity),
        "eod_equity": money(eod_equity),
        "realized_pnl": zero,
        "unrealized_pnl": zero,
        "day_pnl": zero,
        "net_pnl": zero,
        "position_pnl": zero,
        "bought_notional": zero,
        "sold_notional": zero,
    }


routes = [
    Route("/v1/accounts", get_accounts, methods=["GET"]),
    Route("/v1/accounts/{account_id}", get_account, methods=["GET"]),
    Route("/v1/accounts/{account_id}", patch_account, methods=["PATCH"]),
    Route("/v1/accounts/{account_id}/balances", get_balances, methods=["GET"]),
    Route("/v1/accounts/{account_id}/portfolio-history", get_portfolio_history, methods=["GET"]),
]
