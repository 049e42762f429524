"""The sandbox a fresh bootstrap creates, and resetting a running one back to it."""

from __future__ import annotations

from decimal import Decimal

from oems.domain import events as ev
from oems.domain import scenarios as sc
from oems.domain.errors import InvalidRequest, NotFound
from oems.domain.scenarios import ScenarioRule
from oems.engine import accounts
from oems.engine import commands as cmd
from oems.engine.context import Context
from oems.engine.venue import Venue
from oems.market.clock import MAX_CLOCK_SPEED, SIMULATED, WALL, Clock

SANDBOX_USER = "sandbox"
OTHER_USER = "someone-else"

SANDBOX_ACCOUNTS = (
    cmd.OpenAccount(
        SANDBOX_USER, "Sandbox Margin Account", "MARGIN", 4, Decimal(1_000_000), "SANDBOX-MARGIN"
    ),
    cmd.OpenAccount(
        SANDBOX_USER, "Sandbox Cash Account", "CASH", 1, Decimal(100_000), "SANDBOX-CASH"
    ),
    cmd.OpenAccount(
        OTHER_USER, "Someone Else's Account", "MARGIN", 2, Decimal(250_000), "OTHER-MARGIN"
    ),
)
"""The bootstrap's accounts, in the order they are opened: margin, cash, another user's."""


def reset_sandbox(ctx: Context, command: cmd.ResetSandbox) -> int:
    """Everything traded goes; users and API keys stay; then either the bootstrap's accounts are
    opened again or (`keep_accounts`) every account is as it was opened. One command, so one
    journal batch: a crash leaves the old sandbox or the new one, never a mix. Returns the
    instant the new sandbox starts at (the caller runs what is due by then)."""
    clock = command.clock
    if clock is not None:
        if clock.mode not in (WALL, SIMULATED):
            raise InvalidRequest("clock.mode must be `wall` or `simulated`")
        if not 0 <= clock.speed <= MAX_CLOCK_SPEED:
            raise InvalidRequest(f"clock.speed must be between 0 and {MAX_CLOCK_SPEED:g}")
        if clock.now_ns is not None and not ctx.calendar.covers(clock.now_ns):
            raise InvalidRequest("clock.now is outside the trading calendar")
        if clock.mode == WALL and clock.now_ns is not None:
            raise InvalidRequest("clock.now is for a simulated clock; the wall clock shows now")
    if clock is None:
        at = ctx.now_ns()
    elif clock.mode == WALL:
        at = Clock(WALL).now_ns()
    else:
        at = clock.now_ns if clock.now_ns is not None else ctx.now_ns()
    # A reset may set the clock back: the new sandbox starts its own trading day at `at`.
    ctx.emit(
        ev.SandboxReset(
            ts_ns=at, keep_accounts=command.keep_accounts, restart_day=clock is not None
        )
    )
    if clock is not None:
        ctx.emit(ev.ClockSet(ts_ns=at, mode=clock.mode, now_ns=at, speed=clock.speed))
    if not command.keep_accounts:
        for spec in command.accounts:
            accounts.open_account(ctx, spec)
    return at


def add_scenario(ctx: Context, command: cmd.AddScenario) -> ScenarioRule:
    """Check and journal a scenario rule; it decides the venue's answer from now on."""
    terms = command.terms
    sc.check_terms(terms)
    if terms.account_id is not None:
        ctx.account(terms.account_id)
    rule_id = ctx.state.last_scenario_id + 1
    ctx.emit(ev.ScenarioAdded(ts_ns=ctx.now_ns(), rule_id=rule_id, terms=terms))
    return ctx.state.scenarios[rule_id]


def clear_scenarios(ctx: Context, command: cmd.ClearScenarios) -> list[ScenarioRule]:
    """Remove one rule (404 when unknown) or all of them; returns the rules removed."""
    rules = ctx.state.scenarios
    if command.rule_id is not None and command.rule_id not in rules:
        raise NotFound(f"Scenario rule {command.rule_id} not found")
    removed = [rules[command.rule_id]] if command.rule_id is not None else list(rules.values())
    if removed:
        ctx.emit(ev.ScenariosCleared(ts_ns=ctx.now_ns(), rule_ids=[rule.id for rule in removed]))
    return removed


def pin_quote(ctx: Context, venue: Venue, command: cmd.PinQuote) -> None:
    """Set a symbol's quote by hand; working orders see it at once."""
    if command.bid is not None and command.ask is not None and command.bid > command.ask:
        raise InvalidRequest("bid must not be above ask")
    for name, value in (("bid", command.bid), ("ask", command.ask), ("last", command.last)):
        if value is not None and value <= 0:
            raise InvalidRequest(f"{name} must be greater than zero")
    if command.bid_size < 0 or command.ask_size < 0:
        raise InvalidRequest("sizes must not be negative")
    ctx.emit(
        ev.QuotePinned(
            ts_ns=ctx.now_ns(),
            symbol=command.symbol,
            bid=command.bid,
            ask=command.ask,
            bid_size=command.bid_size,
            ask_size=command.ask_size,
            last=command.last,
        )
    )
    venue.evaluate_all(ctx.now_ns())


def release_quote(ctx: Context, command: cmd.ReleaseQuote) -> None:
    """Give a pinned symbol back to the market data source; 404 when none is pinned."""
    if command.symbol not in ctx.state.pinned_quotes:
        raise NotFound(f"No quote is pinned for {command.symbol}")
    ctx.emit(ev.QuoteReleased(ts_ns=ctx.now_ns(), symbol=command.symbol))
