"""The trading state the engine owns (`TradingState`) and how each journal event changes it,
one module per aggregate."""

from oems.domain.state.simulator import PinnedQuote
from oems.domain.state.trading_state import FIRST_ACCOUNT_ID, TradingState

__all__ = ["FIRST_ACCOUNT_ID", "PinnedQuote", "TradingState"]
