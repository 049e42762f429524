"""Balance arithmetic for an account: equity, buying power and the Reg T multipliers.

Rules (documented in the README): a cash account's buying power is its settled-or-not trade cash
less what open buy orders hold. A Reg T margin account has 2x its equity overnight and, when its
equity is at least the $25,000 pattern-day-trader minimum, 4x intraday; below it, 2x intraday too.
Until positions exist (next issue) equity equals trade cash.
"""

from __future__ import annotations

from decimal import Decimal

from oems.domain.accounts import Account

PDT_MINIMUM_EQUITY = Decimal(25000)
OVERNIGHT_MULTIPLIER = Decimal(2)
INTRADAY_MULTIPLIER = Decimal(4)


def account_equity(account: Account) -> Decimal:
    """Equity: trade cash plus the market value of positions (none yet)."""
    return account.trade_cash


def overnight_multiplier(account: Account) -> Decimal:
    """Buying-power multiplier held overnight: 2 for Reg T margin, 1 for cash."""
    return OVERNIGHT_MULTIPLIER if account.is_margin else Decimal(1)


def intraday_multiplier(account: Account) -> Decimal:
    """Buying-power multiplier intraday: 4 for Reg T margin at or above the PDT minimum."""
    if not account.is_margin:
        return Decimal(1)
    if account_equity(account) >= PDT_MINIMUM_EQUITY:
        return INTRADAY_MULTIPLIER
    return OVERNIGHT_MULTIPLIER


def buying_power(account: Account, intraday: bool = False) -> Decimal:
    """Buying power: cash for cash accounts, excess equity times the Reg T multiplier for margin."""
    equity = account_equity(account)
    if not account.is_margin:
        return max(account.trade_cash, Decimal(0))
    multiplier = intraday_multiplier(account) if intraday else overnight_multiplier(account)
    return max(equity, Decimal(0)) * multiplier
