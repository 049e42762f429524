"""The engine in-process: commands become journaled events, and replay rebuilds the same state."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.trading_engine import manual_market, run

from oems.domain.errors import InvalidRequest, NotFound
from oems.domain.state import TradingState
from oems.domain.timefmt import parse_iso
from oems.engine import commands as cmd
from oems.engine.engine import Engine
from oems.market.calendar import TradingCalendar
from oems.market.clock import SIMULATED, Clock
from oems.store.journal import Journal

CALENDAR = TradingCalendar()
START = parse_iso("2025-10-15T14:30:00Z")


def make_engine(path: Path, start_ns: int = START) -> Engine:
    """An engine on a journal at `path` with a frozen simulated clock."""
    return Engine.open(
        Journal(path), Clock(SIMULATED, start_ns, 0), CALENDAR, manual_market, seed=7
    )


def contents(state: TradingState) -> dict[str, Any]:
    """The comparable content of a state."""
    return {
        "users": {u.id: u.name for u in state.users.values()},
        "accounts": {
            a.id: (
                a.full_name,
                a.subtype,
                a.options_level,
                a.trade_cash,
                a.settled_cash,
                a.max_notional,
                a.sod,
            )
            for a in state.accounts.values()
        },
        "keys": {
            k.id: (k.user_id, k.digest, k.admin, k.account_ids, k.revoked)
            for k in state.api_keys.values()
        },
        "clock": state.clock_setting,
        "day": state.trading_day,
    }


def test_cash_moves_are_journaled_and_replayed(tmp_path: Path) -> None:
    db = tmp_path / "j.db"

    async def body(engine: Engine) -> int:
        account = await engine.execute(
            cmd.OpenAccount("ann", "Ann", "MARGIN", 4, Decimal("1000.50"))
        )
        await engine.execute(cmd.AdjustCash(account.id, Decimal("-0.50")))
        await engine.execute(cmd.UpdateRiskSettings(account.id, Decimal("5000")))
        with pytest.raises(InvalidRequest, match="exceeds available cash"):
            await engine.execute(cmd.AdjustCash(account.id, Decimal("-1000.01")))
        with pytest.raises(NotFound):
            await engine.execute(cmd.AdjustCash(999, Decimal(1)))
        return int(account.id)

    engine = make_engine(db)
    account_id = run(engine, body)
    assert engine.state.accounts[account_id].trade_cash == Decimal("1000.00")
    replayed = make_engine(db)
    assert contents(replayed.state) == contents(engine.state)
    assert replayed.state.accounts[account_id].max_notional == Decimal(5000)


def test_refused_command_changes_nothing(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        account = await engine.execute(cmd.OpenAccount("ann", "Ann", "CASH", 1, Decimal(10)))
        before = engine.journal.count()
        with pytest.raises(InvalidRequest):
            await engine.execute(cmd.AdjustCash(account.id, Decimal(-11)))
        with pytest.raises(InvalidRequest):
            await engine.execute(cmd.OpenAccount("bob", "Bob", "FUTURES", 1, Decimal(10)))
        assert engine.journal.count() == before
        assert "bob" not in engine.state.users_by_name

    run(make_engine(tmp_path / "j.db"), body)


def test_advancing_the_clock_starts_each_trading_day_in_order(tmp_path: Path) -> None:
    async def body(engine: Engine) -> list[Any]:
        await engine.execute(cmd.RunDue())
        await engine.execute(cmd.AdvanceClock(parse_iso("2025-10-21T15:00:00Z")))
        return [
            e.date.isoformat()
            for e in engine.journal.replay()
            if type(e).__name__ == "TradingDayStarted"
        ]

    days = run(make_engine(tmp_path / "j.db"), body)
    # Wednesday 15th, then Thu, Fri, (weekend skipped) Mon, Tue.
    assert days == ["2025-10-15", "2025-10-16", "2025-10-17", "2025-10-20", "2025-10-21"]


def test_clock_only_moves_forward(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        with pytest.raises(InvalidRequest, match="forward"):
            await engine.execute(cmd.AdvanceClock(START - 1))

    run(make_engine(tmp_path / "j.db"), body)


def test_two_runs_with_the_same_inputs_write_identical_journals(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        account = await engine.execute(cmd.OpenAccount("ann", "Ann", "MARGIN", 4, Decimal(100)))
        await engine.execute(cmd.IssueApiKey("ann", b"d" * 32, (account.id,)))
        await engine.execute(cmd.AdvanceClock(START + 86_400 * 10**9))

    for name in ("a.db", "b.db"):
        run(make_engine(tmp_path / name), body)
    rows = [
        list(Journal(tmp_path / n)._conn.execute("SELECT ts_ns, payload FROM journal"))
        for n in ("a.db", "b.db")
    ]
    assert rows[0] == rows[1]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(min_value=-5000, max_value=5000).filter(bool), max_size=30))
def test_cash_never_goes_negative_and_replay_matches(
    tmp_path_factory: pytest.TempPathFactory, moves: list[int]
) -> None:
    db = tmp_path_factory.mktemp("prop") / "j.db"

    async def body(engine: Engine) -> Decimal:
        account = await engine.execute(cmd.OpenAccount("ann", "Ann", "CASH", 1, Decimal(1000)))
        expected = Decimal(1000)
        for cents in moves:
            amount = Decimal(cents) / 100
            try:
                await engine.execute(cmd.AdjustCash(account.id, amount))
                expected += amount
            except InvalidRequest:
                assert expected + amount < 0
            assert account.trade_cash == expected >= 0
        return expected

    engine = make_engine(db)
    expected = run(engine, body)
    assert contents(make_engine(db).state) == contents(engine.state)
    assert next(iter(engine.state.accounts.values())).settled_cash == expected
