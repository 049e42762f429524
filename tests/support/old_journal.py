"""A journal written by older code, and a summary of the state it must recover to.

`python -m tests.support.old_journal` writes a new fixture with the code of the day; the suite only reads it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.support.trading_engine import Desk, every_execution, every_order, make_engine, request

from oems.domain import orders as o
from oems.domain.instructions import InstructionRequest
from oems.engine import commands as cmd
from oems.engine.engine import Engine

FIXTURE = Path(__file__).parent / "fixtures" / "journal-2026-12-02.db"
SUMMARY = FIXTURE.with_suffix(".summary.json")
CALL = "AAPL  251017C00250000"


def summarize(engine: Engine) -> dict[str, Any]:
    """What a user can see of the state, in plain JSON: accounts, orders, fills, positions, keys."""
    state = engine.state
    return {
        "events": state.events_applied,
        "last_event_ns": state.last_event_ns,
        "trading_day": str(state.trading_day),
        "accounts": {
            str(a.id): [a.status, str(a.settled_cash), str(a.trade_cash), a.options_level]
            for a in state.accounts.values()
        },
        "orders": {
            str(order.id): [
                order.status,
                order.terms.order_type,
                str(order.terms.quantity),
                str(order.filled_quantity),
                str(order.average_fill_price),
                str(order.terms.limit_price),
            ]
            for order in every_order(engine).values()
        },
        "executions": {
            str(order_id): [[str(e.quantity), str(e.price)] for e in fills]
            for order_id, fills in every_execution(engine).items()
        },
        "positions": {
            str(account_id): {
                str(instrument_id): [str(p.quantity), str(p.cost), str(p.realized_today)]
                for instrument_id, p in positions.items()
            }
            for account_id, positions in state.positions.items()
        },
        "instructions": {str(i): x.status for i, x in state.instructions.items()},
        "api_keys": {str(k): key.revoked for k, key in state.api_keys.items()},
        "pinned": sorted(state.pinned_quotes),
    }


async def _scenario(engine: Engine) -> None:
    """Accounts, fills, a resting order replaced and one canceled, an option bought and
    exercised, a key issued and revoked, a day's close and the next day's start."""
    desk = Desk(engine)
    margin = await desk.account()
    cash = await desk.account("CASH", "100000", 1)
    await engine.execute(cmd.AdjustCash(cash, Decimal("2500.50"), "deposit"))
    await desk.quote("AAPL", "249.90", "250.10", 1000, "250.00")
    await desk.quote(CALL, "4.90", "5.10", 100)
    await desk.submit(margin, request("AAPL", o.BUY, "100"))
    await desk.submit(cash, request("AAPL", o.BUY, "3.5"))
    (resting,) = await desk.submit(
        margin, request("AAPL", o.SELL, "40", o.LIMIT, limit_price="260.00")
    )
    await engine.execute(cmd.ReplaceOrder(margin, resting.id, quantity=Decimal(30)))
    (doomed,) = await desk.submit(
        margin, request("AAPL", o.BUY, "10", o.LIMIT, limit_price="240.00")
    )
    await engine.execute(cmd.CancelOrders(margin, (doomed.id,)))
    await desk.submit(
        margin, request("AAPL", o.SELL, "10", o.STOP, stop_price="245.00", time_in_force=o.GTC)
    )
    await desk.submit(margin, request(CALL, o.BUY, "2", o.LIMIT, limit_price="5.20"))
    await desk.settle()
    call = engine.instruments.resolve(CALL)
    assert call is not None
    await engine.execute(
        cmd.SubmitInstructions(
            margin, (InstructionRequest("EXERCISE", CALL, Decimal(1), None, call.id),)
        )
    )
    key = await engine.execute(cmd.IssueApiKey("trader", b"k" * 32, (margin,)))
    await engine.execute(cmd.RevokeApiKey(key.id))
    await desk.quote("AAPL", "244.00", "244.20", 1000, "244.10")
    await desk.advance_to("2025-10-16T14:00:00Z")


def write(path: Path) -> dict[str, Any]:
    """Write the scenario's journal at `path` with today's code; the summary of its state."""

    async def main() -> dict[str, Any]:
        engine = make_engine(path)
        task = asyncio.create_task(engine.run())
        await asyncio.sleep(0)
        try:
            await _scenario(engine)
            return summarize(engine)
        finally:
            task.cancel()
            engine.close()
            engine.journal.close()

    return asyncio.run(main())


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURE
    summary = write(target)
    target.with_suffix(".summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
    print(f"wrote {target} ({summary['events']} events)")
