"""The simulator's controls: quotes pinned by hand, injected faults and scenario rules."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from oems.domain import events as ev
from oems.domain.scenarios import ON_NEW, ScenarioRule

if TYPE_CHECKING:
    from oems.domain.state.trading_state import Appliers, TradingState


@dataclass(slots=True)
class PinnedQuote:
    """A quote set by hand; it overrides the market data source until released."""

    bid: Decimal | None
    ask: Decimal | None
    bid_size: int
    ask_size: int
    last: Decimal | None
    ts_ns: int


def _quote_pinned(state: TradingState, e: ev.QuotePinned) -> None:
    # A quote set by hand shows its whole size again.
    state.liquidity_used.pop((e.symbol, True), None)
    state.liquidity_used.pop((e.symbol, False), None)
    state.pinned_quotes[e.symbol] = PinnedQuote(
        e.bid, e.ask, e.bid_size, e.ask_size, e.last, e.ts_ns
    )


def _quote_released(state: TradingState, e: ev.QuoteReleased) -> None:
    state.pinned_quotes.pop(e.symbol, None)


def _faults_set(state: TradingState, e: ev.FaultsSet) -> None:
    state.faults = e


def _scenario_added(state: TradingState, e: ev.ScenarioAdded) -> None:
    state.scenarios[e.rule_id] = ScenarioRule(
        e.rule_id, e.terms, created_ns=e.ts_ns, remaining=e.terms.times
    )
    state.last_scenario_id = max(state.last_scenario_id, e.rule_id)


def _scenario_matched(state: TradingState, e: ev.ScenarioMatched) -> None:
    rule = state.scenarios[e.rule_id]
    rule.matched += 1
    if rule.remaining is not None:
        rule.remaining -= 1
        if rule.remaining <= 0:
            del state.scenarios[rule.id]
    if rule.terms.action in ON_NEW:
        state.orders[e.order_id].scenario_rule = rule.id


def _scenarios_cleared(state: TradingState, e: ev.ScenariosCleared) -> None:
    for rule_id in e.rule_ids:
        state.scenarios.pop(rule_id, None)


APPLIERS: Appliers = {
    ev.QuotePinned: _quote_pinned,
    ev.QuoteReleased: _quote_released,
    ev.FaultsSet: _faults_set,
    ev.ScenarioAdded: _scenario_added,
    ev.ScenarioMatched: _scenario_matched,
    ev.ScenariosCleared: _scenarios_cleared,
}
