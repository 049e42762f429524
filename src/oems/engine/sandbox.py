"""The sandbox a fresh bootstrap creates, and resetting a running one back to it."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from oems.domain import events as ev
from oems.domain.errors import InvalidRequest
from oems.engine import commands as cmd
from oems.market.clock import MAX_CLOCK_SPEED, SIMULATED, WALL, Clock

if TYPE_CHECKING:
    from oems.engine.engine import Engine

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


def reset_sandbox(engine: Engine, c: cmd.ResetSandbox) -> None:
    """Everything traded goes; users and API keys stay; then either the bootstrap's accounts are
    opened again or (`keep_accounts`) every account is as it was opened. One command, so one
    journal batch: a crash leaves the old sandbox or the new one, never a mix."""
    clock = c.clock
    if clock is not None:
        if clock.mode not in (WALL, SIMULATED):
            raise InvalidRequest("clock.mode must be `wall` or `simulated`")
        if not 0 <= clock.speed <= MAX_CLOCK_SPEED:
            raise InvalidRequest(f"clock.speed must be between 0 and {MAX_CLOCK_SPEED:g}")
        if clock.now_ns is not None and not engine.calendar.covers(clock.now_ns):
            raise InvalidRequest("clock.now is outside the trading calendar")
        if clock.mode == WALL and clock.now_ns is not None:
            raise InvalidRequest("clock.now is for a simulated clock; the wall clock shows now")
    if clock is None:
        at = engine.now_ns()
    elif clock.mode == WALL:
        at = Clock(WALL).now_ns()
    else:
        at = clock.now_ns if clock.now_ns is not None else engine.now_ns()
    # A reset may set the clock back: the new sandbox starts its own trading day at `at`.
    engine.emit(
        ev.SandboxReset(ts_ns=at, keep_accounts=c.keep_accounts, restart_day=clock is not None)
    )
    if clock is not None:
        engine.emit(ev.ClockSet(ts_ns=at, mode=clock.mode, now_ns=at, speed=clock.speed))
    if not c.keep_accounts:
        for spec in c.accounts:
            engine.handle_nested(spec)
    engine.reindex()
    engine.run_due(at)
