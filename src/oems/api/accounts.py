"""Account endpoints: list, details, risk settings, balances, portfolio history."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from oems.api.access import granted_account
from oems.api.jsonbody import decode_body
from oems.api.pagination import fingerprint, paginate
from oems.api.params import Query
from oems.api.values import optional_decimal
from oems.api.wire import USER, Call, Reply, Routes
from oems.domain.accounts import Account, DaySegment
from oems.domain.balances import AccountValue
from oems.domain.daytrading import day_trade_buying_power
from oems.domain.decimals import NOTIONAL, money
from oems.domain.errors import InvalidRequest
from oems.engine import commands as cmd

routes = Routes()


def render_account(account: Account, details: bool = False) -> dict[str, Any]:
    """The vendor `Account` (or `AccountWithPersonalDetails` when `details`)."""
    out: dict[str, Any] = {
        "account_holder_entity_id": account.holder.entity_id,
        # The official SDK requires it; sandbox accounts are held by people.
        "account_holder_entity_kind": "NATURAL_PERSON",
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


@routes.get(USER, "/v1/accounts")
async def get_accounts(call: Call) -> Any:
    """Accounts the caller may reach, filtered by id prefix and name substring, paged by id."""
    query = Query(call.query)
    prefix = query.string("account_id") or ""
    name = (query.string("account_name") or "").lower()
    page_size = query.integer("page_size", None, 1, 1000)
    state = call.runtime.state
    assert call.key is not None
    accounts = [
        state.accounts[account_id]
        for account_id in state.accessible_account_ids(call.key)
        if str(account_id).startswith(prefix)
        and name in state.accounts[account_id].full_name.lower()
    ]
    page, meta = paginate(
        accounts,
        lambda a: a.id,
        page_size,
        query.string("page_token"),
        fingerprint("accounts", prefix, name),
    )
    return Reply([render_account(a) for a in page], meta)


@routes.get(USER, "/v1/accounts/{account_id}")
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


@routes.patch(USER, "/v1/accounts/{account_id}")
async def patch_account(call: Call) -> Any:
    """Update the account's risk settings (`risk.max_notional`; null clears the limit)."""
    account = granted_account(call)
    raw = await call.body()
    body = decode_body(raw, _AccountSettingsBody)
    if body.risk is None:
        raise InvalidRequest("Nothing to update: the request sets no account setting")
    limit = optional_decimal(body.risk.max_notional, NOTIONAL, ("risk", "max_notional"), raw)
    await call.runtime.engine.execute(cmd.UpdateRiskSettings(account.id, limit))
    return render_settings(account)


def render_balances(
    account: Account, value: AccountValue, top_contributors: int | None
) -> dict[str, Any]:
    """The vendor `AccountBalances` for an account valued at current marks."""
    sod = account.sod
    unsettled = [amount for _, amount in account.unsettled]
    zero = Decimal(0)
    record = account.day_trading
    day_trade_power = day_trade_buying_power(
        account.is_margin,
        sod.equity if sod else value.equity,
        sod.maintenance_requirement if sod else zero,
    )
    out: dict[str, Any] = {
        "account_id": account.id,
        "buying_power": money(value.buying_power),
        "currency": "USD",
        "daily_change": money(value.equity - (sod.equity if sod else value.equity)),
        "daily_pnl": money(value.daily_pnl),
        "daily_realized_pnl": money(value.daily_realized_pnl),
        "daily_total_pnl": money(value.daily_realized_pnl + value.daily_unrealized_pnl),
        "daily_unrealized_pnl": money(value.daily_unrealized_pnl),
        "equity": money(value.equity),
        "long_market_value": money(value.long_market_value),
        "margin_type": "REG_T" if account.is_margin else "NONE",
        "multiplier": str(value.multiplier) if account.is_margin else None,
        "open_order_adjustment": money(-value.open_order_hold),
        "settled_cash": money(account.settled_cash),
        "short_market_value": money(value.short_market_value),
        "trade_cash": money(account.trade_cash),
        "unrealized_pnl": money(value.unrealized_pnl),
        "unsettled_credits": money(sum((a for a in unsettled if a > 0), zero)),
        "unsettled_debits": money(zero - sum((a for a in unsettled if a < 0), zero)),  # a magnitude
        "withdrawable_cash": money(max(min(account.settled_cash, account.trade_cash), zero)),
        "sod": {
            "asof": sod.asof.isoformat() if sod and sod.asof else None,
            "buying_power": money(sod.buying_power if sod else value.buying_power),
            "day_trade_buying_power": money(day_trade_power),
            "equity": money(sod.equity if sod else value.equity),
            "long_market_value": money(sod.long_market_value if sod else zero),
            "short_market_value": money(sod.short_market_value if sod else zero),
            "trade_cash": money(sod.trade_cash if sod else account.trade_cash),
            "maintenance_margin_excess": money(
                sod.equity - sod.maintenance_requirement if sod else value.equity
            )
            if account.is_margin
            else None,
            "maintenance_margin_requirement": money(sod.maintenance_requirement if sod else zero)
            if account.is_margin
            else None,
        },
    }
    if account.is_margin:
        details: dict[str, Any] = {
            "day_trade_buying_power_usage": money(record.usage),
            "day_trade_count": record.day_trade_count,
            "initial_margin_excess": money(value.equity - value.initial_requirement),
            "initial_margin_requirement": money(value.initial_requirement),
            "maintenance_margin_excess": money(value.equity - value.maintenance_requirement),
            "maintenance_margin_requirement": money(value.maintenance_requirement),
            # Reg T: what positions need overnight is the initial requirement (the official
            # SDK reads these names beside the document's).
            "overnight_margin_excess": money(value.equity - value.initial_requirement),
            "overnight_margin_requirement": money(value.initial_requirement),
            "intraday_details": {
                "buying_power": money(value.intraday_buying_power),
                "multiplier": str(value.intraday_multiplier),
            },
            "overnight_details": {
                "buying_power": money(value.overnight_buying_power),
                "multiplier": str(value.overnight_multiplier),
            },
            "pattern_day_trader": record.pattern_day_trader,
            "usage": None,  # the document's usage totals: no such margin model is simulated
        }
        if top_contributors is not None:
            details["top_contributors"] = [
                {
                    "day_trade_buying_power_usage": money(
                        record.usage_by_underlying.get(contribution.underlying_instrument_id, zero)
                    ),
                    "underlying_instrument_id": str(contribution.underlying_instrument_id),
                    "initial_margin_requirement": money(contribution.initial_requirement),
                    "maintenance_margin_requirement": money(contribution.maintenance_requirement),
                    "market_value": money(contribution.market_value),
                    "overnight_margin_requirement": money(contribution.initial_requirement),
                }
                for contribution in value.contributions[:top_contributors]
            ]
        out["margin_details"] = details
    else:
        out["margin_details"] = None
    return out


@routes.get(USER, "/v1/accounts/{account_id}/balances")
async def get_balances(call: Call) -> Any:
    """Cash, equity, buying power and margin figures for the account."""
    account = granted_account(call)
    limit = Query(call.query).integer("top_margin_contributors_limit", None, 1, 2**31 - 1)
    engine = call.runtime.engine
    return render_balances(account, engine.account_value(account.id, engine.now_ns()), limit)


@routes.get(USER, "/v1/accounts/{account_id}/portfolio-history")
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
    segments = [_segment(day) for day in account.history if start <= day.date <= end]
    sod = account.sod
    if sod is not None and sod.asof is not None and start <= sod.asof <= end:
        value = runtime.engine.account_value(account.id, runtime.engine.now_ns())
        positions = runtime.state.positions.get(account.id, {}).values()
        today = DaySegment(
            date=sod.asof,
            sod_equity=sod.equity,
            eod_equity=value.equity,
            realized_pnl=value.daily_realized_pnl,
            bought_notional=sum((position.bought_today for position in positions), Decimal(0)),
            sold_notional=sum((position.sold_today for position in positions), Decimal(0)),
        )
        segments.append(_segment(today))
    return {"segments": segments}


def _segment(segment: DaySegment) -> dict[str, Any]:
    """One day of history: equity at its start and end, and its P&L split."""
    day_pnl = segment.eod_equity - segment.sod_equity
    return {
        "date": segment.date.isoformat(),
        "sod_equity": money(segment.sod_equity),
        "eod_equity": money(segment.eod_equity),
        "realized_pnl": money(segment.realized_pnl),
        "unrealized_pnl": money(day_pnl - segment.realized_pnl),
        "day_pnl": money(day_pnl),
        "net_pnl": money(day_pnl),
        "position_pnl": money(day_pnl),
        "bought_notional": money(segment.bought_notional),
        "sold_notional": money(segment.sold_notional),
    }
