"""Every field the clients read: for each object the API renders, the fields the vendor document
or the seeds define for it (and those the vendor's newer TypeScript SDK, 0.91, requires), which
of them may be null, and a check that a rendered object carries them all.

The lists are the project's own, so the check runs without ../shared; `test_conformance`
compares them with the document and the seeds when those are present.
"""

from __future__ import annotations

from typing import Any

import pydantic

ACCOUNT = (
    "account_holder_entity_id", "account_holder_entity_kind", "close_date", "full_name", "id", "open_date", "options_level",
    "short_name", "status", "subtype", "type",
)  # fmt: skip
INSTRUMENT = (
    "adv", "cax_adjusted_previous_close", "country_of_issue", "currency", "easy_to_borrow", "id",
    "instrument_type", "is_fractionable", "is_liquidation_only", "is_marginable", "is_ptp",
    "is_short_prohibited", "is_threshold_security", "is_tradable", "long_margin_rate", "name",
    "notional_adv", "previous_close", "short_margin_rate", "symbol", "venue",
)  # fmt: skip
INSTRUMENT_NULLABLE = (
    "adv", "cax_adjusted_previous_close", "instrument_type", "long_margin_rate", "name",
    "notional_adv", "previous_close", "short_margin_rate",
)  # fmt: skip

FIELDS: dict[str, tuple[str, ...]] = {
    "Version": ("version",),
    "ClockDetail": ("clock",),
    "MarketHoursDetail": (
        "current_time", "date", "market", "market_name", "next_sessions", "status", "timezone",
        "today_sessions",
    ),
    "TradingSessions": ("after_hours", "pre_market", "regular"),
    "SessionSchedule": ("close", "open", "time_until_close", "time_until_open"),
    "MarketStatus": ("current_session", "day_type", "is_open"),
    "Account": ACCOUNT,
    "AccountWithPersonalDetails": (
        *ACCOUNT, "country_of_tax_residency", "date_of_birth", "mailing_address", "phone_number",
    ),
    "Address": ("city", "country", "line1", "line2", "postal_code", "state"),
    "AccountSettings": ("risk",),
    "RiskSettings": ("max_notional",),
    "AccountBalances": (
        "account_id", "buying_power", "currency", "daily_change", "daily_pnl",
        "daily_realized_pnl", "daily_total_pnl", "daily_unrealized_pnl", "equity",
        "long_market_value", "margin_details", "margin_type", "multiplier",
        "open_order_adjustment", "settled_cash", "short_market_value", "sod", "trade_cash",
        "unrealized_pnl", "unsettled_credits", "unsettled_debits", "withdrawable_cash",
    ),
    "AccountBalancesSod": (
        "asof", "buying_power", "day_trade_buying_power", "equity", "long_market_value",
        "maintenance_margin_excess", "maintenance_margin_requirement", "short_market_value",
        "trade_cash",
    ),
    "MarginDetails": (
        "day_trade_buying_power_usage", "day_trade_count", "initial_margin_excess",
        "initial_margin_requirement", "intraday_details", "maintenance_margin_excess",
        "maintenance_margin_requirement", "overnight_details", "overnight_margin_excess",
        "overnight_margin_requirement", "pattern_day_trader", "top_contributors", "usage",
    ),
    "MarginSessionDetails": ("buying_power", "multiplier"),
    "MarginDetailsUsage": ("total", "used"),
    "MarginTopContributor": (
        "day_trade_buying_power_usage", "initial_margin_requirement",
        "maintenance_margin_requirement", "market_value", "overnight_margin_requirement",
        "underlying_instrument_id",
    ),
    "PortfolioHistoryResponse": ("segments",),
    "PortfolioHistorySegment": (
        "bought_notional", "date", "day_pnl", "eod_equity", "net_pnl", "position_pnl",
        "realized_pnl", "sod_equity", "sold_notional", "unrealized_pnl",
    ),
    "InstrumentCore": INSTRUMENT,
    "Instrument": (*INSTRUMENT, "options_contract_expiry_dates", "options_expiry_dates"),
    "OptionExpiryDate": ("date", "has_settles_on_close", "has_settles_on_open"),
    "OptionsContract": (
        "contract_type", "currency", "exchange", "exercise_style", "expiry", "id",
        "is_liquidation_only", "is_marginable", "is_settle_on_open", "is_tradable",
        "last_trade_cutoff", "listing_type", "multiplier", "open_interest", "strike_price",
        "symbol", "underlying_instrument_id",
    ),
    "MarketDataSnapshot": (
        "cumulative_volume", "greeks", "instrument_id", "last_quote", "last_trade", "name",
        "session", "symbol",
    ),
    "SnapshotQuote": ("ask", "ask_size", "bid", "bid_size", "midpoint"),
    "SnapshotLastTrade": ("price", "size"),
    "SnapshotSession": (
        "change", "change_percent", "ohlv_applicable", "previous_close",
        "previous_close_unadjusted",
    ),
    "SnapshotGreeks": ("delta", "gamma", "iv", "rho", "theo_price", "theta", "timestamp", "vega"),
    "DailySummary": (
        "high", "instrument_id", "low", "not_applicable", "open", "open_interest", "symbol",
        "trade_date", "volume",
    ),
    "Order": (
        "account_id", "average_fill_price", "client_order_id", "created_at", "details",
        "expires_at", "extended_hours", "filled_quantity", "id", "instrument_id",
        "instrument_type", "leaves_quantity", "limit_offset", "limit_price", "order_type",
        "quantity", "queue_state", "releases_at", "side", "status", "stop_price", "symbol",
        "time_in_force", "trailing_limit_px", "trailing_offset", "trailing_offset_type",
        "trailing_stop_px", "trailing_watermark_px", "trailing_watermark_ts",
        "underlying_instrument_id", "updated_at", "venue",
    ),
    "Execution": (
        "id", "instrument_id", "order_id", "price", "quantity", "side", "symbol",
        "transaction_time", "underlying_instrument_id", "venue",
    ),
    "Position": (
        "account_id", "available_quantity", "avg_price", "closing_price", "closing_price_date",
        "cost_basis", "daily_realized_pnl", "daily_unrealized_pnl", "daily_unrealized_pnl_pct",
        "instrument_id", "instrument_price", "instrument_type", "market_value", "position_type",
        "quantity", "symbol", "underlying_instrument_id", "unrealized_pnl", "unrealized_pnl_pct",
    ),
    "PositionInstruction": (
        "accepted_quantity", "account_id", "client_instruction_id", "created_at", "id",
        "instruction_id",
        "instruction_type", "instrument_id", "quantity", "rejection_reason", "status", "symbol",
        "updated_at",
    ),
}  # fmt: skip

NULLABLE: dict[str, tuple[str, ...]] = {
    "Account": ("close_date",),
    "AccountWithPersonalDetails": (
        "close_date", "country_of_tax_residency", "date_of_birth", "mailing_address",
        "phone_number",
    ),
    "Address": ("line2", "state"),
    "AccountSettings": ("risk",),
    "RiskSettings": ("max_notional",),
    "AccountBalances": ("margin_details", "multiplier", "short_market_value"),
    "AccountBalancesSod": (
        "asof", "maintenance_margin_excess", "maintenance_margin_requirement", "trade_cash",
    ),
    "MarginDetails": ("usage",),
    "MarginSessionDetails": ("multiplier",),
    "PortfolioHistorySegment": (
        "bought_notional", "day_pnl", "net_pnl", "position_pnl", "sold_notional",
    ),
    "InstrumentCore": INSTRUMENT_NULLABLE,
    "Instrument": (*INSTRUMENT_NULLABLE, "options_contract_expiry_dates", "options_expiry_dates"),
    "OptionsContract": (
        "is_settle_on_open", "last_trade_cutoff", "open_interest", "underlying_instrument_id",
    ),
    "MarketDataSnapshot": (
        "cumulative_volume", "greeks", "last_quote", "last_trade", "name", "session",
    ),
    "SnapshotQuote": ("ask", "ask_size", "bid", "bid_size", "midpoint"),
    "SnapshotSession": ("previous_close_unadjusted",),
    "DailySummary": ("high", "low", "open", "open_interest", "symbol", "trade_date", "volume"),
    "Order": (
        "average_fill_price", "expires_at", "extended_hours", "instrument_id", "instrument_type",
        "limit_offset", "limit_price", "queue_state", "releases_at", "stop_price", "symbol",
        "trailing_limit_px", "trailing_offset", "trailing_offset_type", "trailing_stop_px",
        "trailing_watermark_px", "trailing_watermark_ts", "underlying_instrument_id",
    ),
    "Execution": ("instrument_id", "price", "symbol", "underlying_instrument_id", "venue"),
    "Position": (
        "avg_price", "closing_price", "closing_price_date", "cost_basis", "daily_realized_pnl",
        "daily_unrealized_pnl", "daily_unrealized_pnl_pct", "instrument_price",
        "underlying_instrument_id", "unrealized_pnl", "unrealized_pnl_pct",
    ),
    "PositionInstruction": ("accepted_quantity", "created_at", "rejection_reason", "updated_at"),
    "TradingSessions": ("after_hours", "pre_market", "regular"),
    "MarketStatus": ("current_session",),
    "SessionSchedule": ("time_until_close", "time_until_open"),
}  # fmt: skip

# Fields the official SDKs require that the document does not define: the Python SDK's (0.11:
# an account's holder kind, an instruction's `client_instruction_id`, a snapshot session's
# `ohlv_applicable`, the overnight margin figures) and the newer TypeScript SDK's (0.91, the
# day-trading balance fields).
SDK_FIELDS: dict[str, tuple[str, ...]] = {
    "Account": ("account_holder_entity_kind",),
    "AccountWithPersonalDetails": ("account_holder_entity_kind",),
    "PositionInstruction": ("client_instruction_id",),
    "SnapshotSession": ("ohlv_applicable",),
    "AccountBalances": ("daily_total_pnl",),
    "AccountBalancesSod": ("day_trade_buying_power",),
    "MarginDetails": (
        "day_trade_buying_power_usage", "day_trade_count", "overnight_margin_excess",
        "overnight_margin_requirement", "pattern_day_trader",
    ),
    "MarginTopContributor": ("day_trade_buying_power_usage", "overnight_margin_requirement"),
}  # fmt: skip

# Fields the document says come only when the request asks for them.
ON_REQUEST: dict[str, tuple[str, ...]] = {
    "MarginDetails": ("top_contributors",),  # top_margin_contributors_limit
    "Instrument": ("options_contract_expiry_dates", "options_expiry_dates"),
}

NESTED: dict[str, dict[str, str]] = {
    "MarketHoursDetail": {
        "next_sessions": "TradingSessions", "status": "MarketStatus",
        "today_sessions": "TradingSessions",
    },
    "TradingSessions": {
        "after_hours": "SessionSchedule", "pre_market": "SessionSchedule",
        "regular": "SessionSchedule",
    },
    "AccountWithPersonalDetails": {"mailing_address": "Address"},
    "AccountSettings": {"risk": "RiskSettings"},
    "AccountBalances": {"margin_details": "MarginDetails", "sod": "AccountBalancesSod"},
    "MarginDetails": {
        "intraday_details": "MarginSessionDetails", "overnight_details": "MarginSessionDetails",
        "top_contributors": "MarginTopContributor", "usage": "MarginDetailsUsage",
    },
    "PortfolioHistoryResponse": {"segments": "PortfolioHistorySegment"},
    "Instrument": {"options_contract_expiry_dates": "OptionExpiryDate"},
    "MarketDataSnapshot": {
        "greeks": "SnapshotGreeks", "last_quote": "SnapshotQuote",
        "last_trade": "SnapshotLastTrade", "session": "SnapshotSession",
    },
}  # fmt: skip

# What each in-scope operation's 2xx `data` is: (method, path) -> object name.
OPERATIONS: dict[tuple[str, str], str] = {
    ("GET", "/v1/version"): "Version",
    ("GET", "/v1/clock"): "ClockDetail",
    ("GET", "/v1/calendars/market-hours"): "MarketHoursDetail",
    ("GET", "/v1/accounts"): "Account",
    ("GET", "/v1/accounts/{account_id}"): "AccountWithPersonalDetails",
    ("PATCH", "/v1/accounts/{account_id}"): "AccountSettings",
    ("GET", "/v1/accounts/{account_id}/balances"): "AccountBalances",
    ("GET", "/v1/accounts/{account_id}/portfolio-history"): "PortfolioHistoryResponse",
    ("GET", "/v1/instruments"): "InstrumentCore",
    ("GET", "/v1/instruments/{instrument_id}"): "Instrument",
    ("GET", "/v1/instruments/search"): "InstrumentCore",
    ("GET", "/v1/instruments/options/contracts"): "OptionsContract",
    ("GET", "/v1/market-data/snapshot"): "MarketDataSnapshot",
    ("GET", "/v1/market-data/daily-summary"): "DailySummary",
    ("GET", "/v1/accounts/{account_id}/orders"): "Order",
    ("POST", "/v1/accounts/{account_id}/orders"): "Order",
    ("DELETE", "/v1/accounts/{account_id}/orders"): "Order",
    ("GET", "/v1/accounts/{account_id}/orders/{order_id}"): "Order",
    ("PATCH", "/v1/accounts/{account_id}/orders/{order_id}"): "Order",
    ("DELETE", "/v1/accounts/{account_id}/orders/{order_id}"): "Order",
    ("GET", "/v1/accounts/{account_id}/executions"): "Execution",
    ("GET", "/v1/accounts/{account_id}/positions"): "Position",
    ("DELETE", "/v1/accounts/{account_id}/positions"): "Order",
    ("DELETE", "/v1/accounts/{account_id}/positions/{instrument_id}"): "Order",
    ("GET", "/v1/accounts/{account_id}/positions/instructions"): "PositionInstruction",
    ("POST", "/v1/accounts/{account_id}/positions/instructions"): "PositionInstruction",
    ("DELETE", "/v1/accounts/{account_id}/positions/instructions/{instruction_id}"): (
        "PositionInstruction"
    ),
}


def missing_fields(name: str, value: Any, where: str = "") -> list[str]:
    """Every field of object `name` that `value` (an object or a list of them) lacks, or holds
    null where null is not allowed, nested objects included; `where` prefixes each path."""
    if isinstance(value, list):
        return [
            p for i, item in enumerate(value) for p in missing_fields(name, item, f"{where}[{i}]")
        ]
    if not isinstance(value, dict):
        return [f"{where or name}: not an object"]
    problems = []
    nullable = NULLABLE.get(name, ())
    optional = ON_REQUEST.get(name, ())
    for field in FIELDS[name]:
        path = f"{where}.{field}" if where else f"{name}.{field}"
        if field not in value:
            if field not in optional:
                problems.append(f"{path}: missing")
            continue
        if value[field] is None:
            if field not in nullable:
                problems.append(f"{path}: null, which the document does not allow")
            continue
        inner = NESTED.get(name, {}).get(field)
        if inner is not None:
            problems.extend(missing_fields(inner, value[field], path))
    return problems


def assert_complete(method: str, path: str, data: Any) -> str:
    """Fail naming every missing field of an operation's `data`; returns the object's name."""
    name = OPERATIONS[(method.upper(), path)]
    problems = missing_fields(name, data)
    assert not problems, "\n".join(problems[:20])
    return name


def assert_sdk_finds_every_field(parsed: Any, body: Any) -> None:
    """The official SDK's model of a response, loaded with validation, misses no required field.

    Other validation errors are not this check's: the SDK (0.11) predates the seeds' enums.
    """
    try:
        type(parsed).model_validate(body)
    except pydantic.ValidationError as error:
        missing = [e for e in error.errors() if e["type"] == "missing"]
        assert not missing, missing[:10]
