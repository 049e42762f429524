"""Pre-trade risk: checks an order against the account's live state before it is accepted.

Each failure renders as the contract's two-part detail (a `{description, subject, type}` entry and
a `{domain, metadata, reason}` entry) under `400 Risk check failed`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from oems.domain.decimals import plain
from oems.domain.errors import InvalidRequest

RISK_DOMAIN = "com.clearstreet.oems.risk"
RISK_MESSAGE = "Risk check failed"

BUYING_POWER = "BUYING_POWER"
SELF_MATCH = "SELF_MATCH"
SHORT_SALE = "SHORT_SALE"
HARD_TO_BORROW = "HARD_TO_BORROW"
SHORT_PROHIBITED = "SHORT_PROHIBITED"
LIQUIDATION_ONLY = "LIQUIDATION_ONLY"
NOT_TRADABLE = "NOT_TRADABLE"
MAX_NOTIONAL = "MAX_NOTIONAL"
ACCOUNT_NOT_ACTIVE = "ACCOUNT_NOT_ACTIVE"
OPTIONS_LEVEL = "OPTIONS_LEVEL"
POSITION = "POSITION"
PATTERN_DAY_TRADER = "PATTERN_DAY_TRADER"

DESCRIPTIONS = {
    BUYING_POWER: "Buying Power: required > available",
    SELF_MATCH: "Self-Match: would cross own orders",
    SHORT_SALE: "Short Sale: not permitted in this account",
    HARD_TO_BORROW: "Short Sale: security is not easy to borrow",
    SHORT_PROHIBITED: "Short Sale: security is short-sale prohibited",
    LIQUIDATION_ONLY: "Liquidation Only: security may only be sold or covered",
    NOT_TRADABLE: "Tradability: security is not tradable",
    MAX_NOTIONAL: "Max Notional: order notional > limit",
    ACCOUNT_NOT_ACTIVE: "Account Status: account is not active",
    OPTIONS_LEVEL: "Options Level: strategy not permitted at the account's options level",
    POSITION: "Position: quantity > available position",
    PATTERN_DAY_TRADER: "Pattern Day Trader: equity < $25,000 minimum for day trading",
}


@dataclass(frozen=True, slots=True)
class RiskFailure:
    """One failed check for one order."""

    reason: str
    order_id: uuid.UUID
    metadata: dict[str, str] = field(default_factory=dict)


def wire_side(side: str) -> str:
    """The side as risk metadata spells it (`Buy`, `Sell`, `SellShort`)."""
    return {"BUY": "Buy", "SELL": "Sell", "SELL_SHORT": "SellShort"}.get(side, side.title())


def dollars(price: Decimal | None) -> str:
    """A price as risk metadata spells it (`$200`)."""
    return "MKT" if price is None else f"${plain(price)}"


def risk_error(failures: list[RiskFailure]) -> InvalidRequest:
    """The 400 `Risk check failed` with every failure's two detail entries."""
    details: list[dict[str, Any]] = []
    for failure in failures:
        subject = f"order:{failure.order_id}"
        details.append(
            {
                "description": DESCRIPTIONS[failure.reason],
                "subject": subject,
                "type": failure.reason,
            }
        )
        details.append(
            {"domain": RISK_DOMAIN, "metadata": failure.metadata, "reason": failure.reason}
        )
    return InvalidRequest(RISK_MESSAGE, details)
