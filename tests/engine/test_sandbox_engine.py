"""Sandbox reset in-process: one journal batch, so a crash while writing it leaves the old
sandbox, and a written one replays to the new sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.support.trading_engine import Desk, make_engine, picture, request, run

from oems.domain import orders as o
from oems.domain.errors import ServiceUnavailable
from oems.domain.events import decode_event
from oems.engine import commands as cmd
from oems.engine.engine import Engine
from oems.engine.sandbox import SANDBOX_ACCOUNTS


async def _trade(engine: Engine) -> dict[str, object]:
    desk = Desk(engine)
    for spec in SANDBOX_ACCOUNTS:
        await engine.execute(spec)
    await desk.quote("AAPL", "100.00", "100.02", size=50)
    await desk.submit(100001, request("AAPL", o.BUY, "50"))
    await desk.submit(
        100001, request("AAPL", o.SELL, "20", o.LIMIT, limit_price="120.00", time_in_force=o.GTC)
    )
    return picture(engine)


def test_a_reset_is_one_journal_batch_and_replays_to_the_new_sandbox(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    run(make_engine(db), _trade)
    batches: list[list[Any]] = []

    async def reset(engine: Engine) -> dict[str, object]:
        append = engine.journal.append
        engine.journal.append = lambda rows, activity=(), closed=None: (
            batches.append(list(rows)),
            append(rows, activity, closed),
        )[1]  # type: ignore[method-assign]
        await engine.execute(cmd.ResetSandbox(SANDBOX_ACCOUNTS))
        return picture(engine)

    after = run(make_engine(db), reset)
    (batch,) = batches
    assert [type(decode_event(payload)).__name__ for _, payload in batch][:4] == [
        "SandboxReset",
        "AccountOpened",
        "AccountOpened",
        "AccountOpened",
    ]
    assert after["orders"] == {} and after["positions"] == {}
    assert run(make_engine(db), _picture) == after


async def _picture(engine: Engine) -> dict[str, object]:
    return picture(engine)


def test_a_crash_while_writing_the_reset_leaves_the_old_sandbox(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    before = run(make_engine(db), _trade)

    def refuse(*args: Any) -> None:
        raise OSError("disk gone")

    async def reset(engine: Engine) -> None:
        engine.journal.append = refuse  # type: ignore[method-assign]
        with pytest.raises(ServiceUnavailable, match="refused a write"):
            await engine.execute(cmd.ResetSandbox(SANDBOX_ACCOUNTS))

    run(make_engine(db), reset)
    assert run(make_engine(db), _picture) == before
