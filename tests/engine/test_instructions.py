"""Position instructions, exercise, assignment and expiration, in-process on the simulated clock.

The engine starts frozen on Wednesday 2025-10-15 at 10:30 US/Eastern; the AAPL contracts used
here expire on Friday 2025-10-17 (a monthly) or 2025-10-24 (a weekly). Quotes are pinned by hand
(manual market data), so every fill and every closing mark is known: the figures below are
computed by hand to the cent.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.support.trading_engine import MASTER, Desk, every_order, make_engine, request, run

from oems.domain import instructions as pi
from oems.domain import orders as o
from oems.domain.errors import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from oems.domain.instructions import InstructionRequest, PositionInstruction, RowOutcome
from oems.domain.positions import Position
from oems.engine import commands as cmd
from oems.engine.engine import Engine
from oems.engine.instructions import CANCEL_DELAY_NS, PROCESSING_DELAY_NS

D = Decimal
START_CASH = D("1000000")
AAPL = "AAPL"
C250 = "AAPL  251017C00250000"  # expires Friday 2025-10-17
C255 = "AAPL  251017C00255000"
C265 = "AAPL  251017C00265000"
C270 = "AAPL  251017C00270000"
P250 = "AAPL  251017P00250000"
P255 = "AAPL  251017P00255000"
P265 = "AAPL  251017P00265000"
P270 = "AAPL  251017P00270000"
WEEKLY_C250 = "AAPL  251024C00250000"  # expires Friday 2025-10-24
EXPIRY_MORNING = "2025-10-17T14:00:00Z"  # 10:00 ET on the expiration date
EXPIRY_CLOSE = "2025-10-17T20:00:00Z"  # 16:00 ET
NEXT_DAY_STARTED = "2025-10-20T08:05:00Z"  # Monday 04:05 ET: Friday's trades have settled


def row(
    symbol: str, kind: str = pi.EXERCISE, quantity: str = "1", key: str | None = None
) -> InstructionRequest:
    """One submit row for `symbol` (an unknown symbol leaves the instrument unresolved)."""
    instrument = MASTER.resolve(symbol)
    return InstructionRequest(
        instruction_type=kind,
        instrument_ref=symbol,
        quantity=D(quantity),
        instruction_id=key,
        instrument_id=instrument.id if instrument is not None else None,
    )


async def submit(engine: Engine, account: int, *rows: InstructionRequest) -> list[RowOutcome]:
    outcomes: list[RowOutcome] = await engine.execute(cmd.SubmitInstructions(account, rows))
    return outcomes


def stored(engine: Engine, outcome: RowOutcome) -> PositionInstruction:
    """The live stored instruction behind an accepted row."""
    assert outcome.accepted, outcome
    return engine.state.instructions[outcome.instruction.id]


def position(engine: Engine, account: int, symbol: str) -> Position | None:
    instrument = MASTER.resolve(symbol)
    assert instrument is not None
    found = engine.state.positions.get(account, {}).get(instrument.id)
    return found if found is not None and found.quantity else None


async def buy(desk: Desk, account: int, symbol: str, quantity: str, bid: str, ask: str) -> None:
    """Pin a quote and buy at its ask."""
    await desk.quote(symbol, bid, ask)
    (order,) = await desk.submit(account, request(symbol, o.BUY, quantity))
    assert order.status == o.FILLED, order


async def short(desk: Desk, account: int, symbol: str, quantity: str, bid: str, ask: str) -> None:
    """Pin a quote and sell (to open a short option) at its bid."""
    await desk.quote(symbol, bid, ask)
    (order,) = await desk.submit(account, request(symbol, o.SELL, quantity))
    assert order.status == o.FILLED, order


def cash(engine: Engine, account: int) -> tuple[Decimal, Decimal]:
    """(trade cash, settled cash)."""
    acct = engine.state.accounts[account]
    return acct.trade_cash, acct.settled_cash


# ---- lifecycle --------------------------------------------------------------------------


def test_exercise_is_sent_accepted_after_the_processing_delay_and_carried_out_at_the_close(
    tmp_path: Path,
) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await buy(desk, account, C250, "2", "10.90", "11.00")  # 2 x 11.00 x 100 = 2,200.00
        await desk.quote(AAPL, "259.99", "260.01")
        sent_at = engine.now_ns()
        (outcome,) = await submit(engine, account, row(C250, quantity="1", key="ex-1"))
        instruction = stored(engine, outcome)
        assert outcome.instruction.status == pi.SENT
        assert instruction.instruction_id == "ex-1"
        assert instruction.created_ns == instruction.updated_ns == sent_at
        assert instruction.due_ns == sent_at + PROCESSING_DELAY_NS
        await desk.advance(59)
        assert instruction.status == pi.SENT and instruction.accepted_quantity is None
        await desk.advance(1)
        assert instruction.status == pi.ACCEPTED
        assert instruction.accepted_quantity == 1
        assert instruction.updated_ns == sent_at + PROCESSING_DELAY_NS
        # Accepted is not exercised yet: that happens after the close.
        assert position(engine, account, C250).quantity == 2  # type: ignore[union-attr]
        await desk.advance_to("2025-10-15T19:59:59Z")
        assert position(engine, account, AAPL) is None
        await desk.advance_to("2025-10-15T20:00:00Z")
        option = position(engine, account, C250)
        stock = position(engine, account, AAPL)
        assert option is not None and option.quantity == 1 and option.cost == D("1100.00")
        # 100 shares at the strike 250, the exercised contract's premium in their cost.
        assert stock is not None and stock.quantity == 100
        assert stock.cost == D("25000") + D("1100.00")
        assert stock.avg_price == D("261")
        assert cash(engine, account) == (START_CASH - D("2200.00") - D("25000"), START_CASH)
        assert instruction.status == pi.ACCEPTED  # terminal; used up
        assert instruction.id not in engine.state.live_instructions
        await desk.advance_to("2025-10-16T08:05:00Z")  # T+1: the exercise's cash settles
        assert cash(engine, account) == (START_CASH - D("27200.00"),) * 2
        # The other contract is not exercised at the next close without an instruction.
        await desk.advance_to("2025-10-16T20:00:00Z")
        assert position(engine, account, C250).quantity == 1  # type: ignore[union-attr]

    run(make_engine(tmp_path / "j.db"), body)


def test_server_made_instruction_id_and_idempotency_key(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await buy(desk, account, C250, "3", "10.90", "11.00")
        (made,) = await submit(engine, account, row(C250))
        assert made.accepted and made.instruction.instruction_id == str(made.instruction.id)
        # The same key again: refused as a duplicate naming the stored instruction, not stored.
        (keyed,) = await submit(engine, account, row(C250, key="k-1"))
        (again,) = await submit(engine, account, row(C250, key="k-1"))
        assert again.code == pi.DUPLICATE
        assert again.instruction.status == pi.ENGINE_REJECTED
        assert again.instruction.id == pi.NIL_ID
        assert again.instruction.rejection_reason == (
            f"Duplicate exercise instruction; existing_id={keyed.instruction.id}"
        )
        assert again.instruction.created_ns is None
        assert len(engine.state.instructions) == 2
        # The key is per account: another account may use it.
        other = await desk.account()
        await buy(desk, other, C250, "1", "10.90", "11.00")
        (elsewhere,) = await submit(engine, other, row(C250, key="k-1"))
        assert elsewhere.accepted

    run(make_engine(tmp_path / "j.db"), body)


# ---- batch statuses ---------------------------------------------------------------------


def test_every_batch_status(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await buy(desk, account, C250, "2", "10.90", "11.00")
        await buy(desk, account, WEEKLY_C250, "1", "11.90", "12.00")

        # 200: every row SENT.
        outcomes = await submit(engine, account, row(C250, key="a"))
        assert pi.batch_result(outcomes) == (200, None)

        # 207: one accepted, one a duplicate of it within the batch.
        outcomes = await submit(engine, account, row(C250, key="b"), row(C250, key="b"))
        assert [r.instruction.status for r in outcomes] == [pi.SENT, pi.ENGINE_REJECTED]
        assert outcomes[1].instruction.rejection_reason == "Duplicate exercise instruction"
        assert pi.batch_result(outcomes) == (207, (409, "Duplicate exercise instruction"))

        # 409: every row a duplicate of a stored instruction.
        outcomes = await submit(engine, account, row(C250, key="a"), row(C250, key="b"))
        assert pi.batch_result(outcomes) == (409, (409, "Duplicate exercise instruction"))

        # 400: DO_NOT_EXERCISE away from the expiration date; CONTRARY_EXERCISE likewise.
        outcomes = await submit(engine, account, row(WEEKLY_C250, pi.DO_NOT_EXERCISE))
        message = "DO_NOT_EXERCISE must be submitted on the contract's expiration date"
        assert outcomes[0].instruction.rejection_reason == message
        assert pi.batch_result(outcomes) == (400, (400, message))
        (cea,) = await submit(engine, account, row(WEEKLY_C250, pi.CONTRARY_EXERCISE))
        assert cea.instruction.rejection_reason == (
            "CONTRARY_EXERCISE must be submitted on the contract's expiration date"
        )

        # 400: more contracts than the position has left (2 held, both covered by a and b).
        outcomes = await submit(engine, account, row(C250, key="c"))
        reason = "Insufficient position: available 0, requested 1"
        assert outcomes[0].instruction.rejection_reason == reason
        assert pi.batch_result(outcomes) == (
            400,
            (400, "Insufficient position: available 0, requested 1"),
        )
        (too_many,) = await submit(engine, account, row(WEEKLY_C250, quantity="2"))
        assert too_many.instruction.rejection_reason == (
            "Insufficient position: available 1, requested 2"
        )
        (fraction,) = await submit(engine, account, row(WEEKLY_C250, quantity="0.5"))
        assert fraction.instruction.rejection_reason == (
            "quantity must be a positive whole number of contracts"
        )
        (not_option,) = await submit(engine, account, row(AAPL))
        assert not_option.instruction.rejection_reason == "AAPL is not an option contract"

        # 404: an instrument that does not resolve.
        unknown = str(uuid.UUID(int=7))
        outcomes = await submit(engine, account, row(unknown))
        assert outcomes[0].instruction.rejection_reason == f"Instrument {unknown} not found"
        assert pi.batch_result(outcomes) == (404, (404, f"Instrument {unknown} not found"))

        # 503: the clearing service is down; rows that would have passed are refused.
        assert await engine.execute(cmd.SetClearingAvailability(False)) is False
        outcomes = await submit(engine, account, row(WEEKLY_C250, key="d"))
        assert pi.batch_result(outcomes) == (503, (503, "Clearing service unavailable"))
        await engine.execute(cmd.SetClearingAvailability(True))

        # Mixed causes, none accepted: 400, with a count as the message.
        outcomes = await submit(engine, account, row(C250, key="a"), row(unknown))
        assert pi.batch_result(outcomes) == (
            400,
            (400, "2 of 2 position instructions were rejected"),
        )

        # Nothing refused was stored: a and b only, then d now that clearing is back.
        (d,) = await submit(engine, account, row(WEEKLY_C250, key="d"))
        assert d.accepted
        keys = [i.instruction_id for i in engine.state.instructions_by_account[account]]
        assert keys == ["a", "b", "d"]

        with pytest.raises(InvalidRequest):
            await submit(engine, account)

    run(make_engine(tmp_path / "j.db"), body)


def test_clearing_rejects_when_the_position_is_gone_by_processing_time(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await buy(desk, account, C250, "1", "10.90", "11.00")
        (outcome,) = await submit(engine, account, row(C250))
        instruction = stored(engine, outcome)
        await desk.quote(C250, "11.50", "11.60")
        (sale,) = await desk.submit(account, request(C250, o.SELL, "1"))
        assert sale.status == o.FILLED
        await desk.advance(60)
        assert instruction.status == pi.REJECTED
        assert instruction.rejection_reason == "Insufficient position: available 0, requested 1"
        assert instruction.accepted_quantity is None

    run(make_engine(tmp_path / "j.db"), body)


def test_clearing_rejects_a_call_exercise_the_account_cannot_pay_for(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account(subtype="CASH", cash="10000", level=2)
        await buy(desk, account, C250, "1", "10.90", "11.00")
        (outcome,) = await submit(engine, account, row(C250))
        await desk.advance(60)
        instruction = stored(engine, outcome)
        assert instruction.status == pi.REJECTED
        assert instruction.rejection_reason == (
            "Insufficient buying power to exercise: available 8900.00, required 25000.00"
        )

    run(make_engine(tmp_path / "j.db"), body)


# ---- cancel -----------------------------------------------------------------------------


def test_cancel_before_processing_is_cancelled(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await buy(desk, account, C250, "1", "10.90", "11.00")
        (outcome,) = await submit(engine, account, row(C250, key="ui-1"))
        requested = await engine.execute(
            cmd.CancelInstruction(account, str(outcome.instruction.id))
        )
        assert requested.status == pi.CANCEL_REQUESTED
        instruction = stored(engine, outcome)
        assert instruction.cancel_due_ns == engine.now_ns() + CANCEL_DELAY_NS
        # A second cancel answers the instruction as it stands; by the caller's key works too.
        again = await engine.execute(cmd.CancelInstruction(account, "ui-1"))
        assert again.status == pi.CANCEL_REQUESTED
        await desk.advance(29)
        assert instruction.status == pi.CANCEL_REQUESTED
        await desk.advance(1)
        assert instruction.status == pi.CANCELLED
        assert instruction.accepted_quantity is None and instruction.rejection_reason is None
        await desk.advance(60)  # nothing is processed any more
        assert instruction.status == pi.CANCELLED
        with pytest.raises(Conflict, match="is CANCELLED and can no longer be cancelled"):
            await engine.execute(cmd.CancelInstruction(account, str(instruction.id)))
        with pytest.raises(NotFound):
            await engine.execute(cmd.CancelInstruction(account, str(uuid.UUID(int=9))))
        other = await desk.account()
        with pytest.raises(NotFound):
            await engine.execute(cmd.CancelInstruction(other, str(instruction.id)))
        # The contract is free again for a new instruction.
        (fresh,) = await submit(engine, account, row(C250))
        assert fresh.accepted

    run(make_engine(tmp_path / "j.db"), body)


def test_cancel_reaching_clearing_after_processing_fails_and_the_exercise_stands(
    tmp_path: Path,
) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await buy(desk, account, C250, "1", "10.90", "11.00")
        (outcome,) = await submit(engine, account, row(C250))
        instruction = stored(engine, outcome)
        await desk.advance(45)  # the cancel would be answered at 75 s, after processing at 60 s
        requested = await engine.execute(cmd.CancelInstruction(account, str(instruction.id)))
        assert requested.status == pi.CANCEL_REQUESTED
        await desk.advance(15)
        assert instruction.status == pi.CANCEL_FAILED
        assert (
            instruction.rejection_reason == "Instruction already accepted by the clearing service"
        )
        assert instruction.accepted_quantity == 1
        with pytest.raises(Conflict):
            await engine.execute(cmd.CancelInstruction(account, str(instruction.id)))
        await desk.advance_to("2025-10-15T20:00:00Z")
        assert position(engine, account, C250) is None
        assert position(engine, account, AAPL).quantity == 100  # type: ignore[union-attr]

    run(make_engine(tmp_path / "j.db"), body)


def test_cancel_while_the_clearing_service_is_down_is_503(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await buy(desk, account, C250, "1", "10.90", "11.00")
        (outcome,) = await submit(engine, account, row(C250))
        await engine.execute(cmd.SetClearingAvailability(False))
        with pytest.raises(ServiceUnavailable):
            await engine.execute(cmd.CancelInstruction(account, str(outcome.instruction.id)))
        await desk.advance(60)  # processing goes on: the fault refuses new traffic only
        assert stored(engine, outcome).status == pi.ACCEPTED

    run(make_engine(tmp_path / "j.db"), body)


def test_an_instruction_sent_just_before_the_close_is_processed_at_the_close(
    tmp_path: Path,
) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await buy(desk, account, C250, "1", "10.90", "11.00")
        await desk.advance_to("2025-10-15T19:59:30Z")
        (outcome,) = await submit(engine, account, row(C250))
        instruction = stored(engine, outcome)
        assert (
            instruction.due_ns
            == engine.calendar.day(engine.calendar.market_date(engine.now_ns())).sessions[
                "regular"
            ][1]
        )
        await desk.advance_to("2025-10-15T20:00:00Z")
        assert instruction.status == pi.ACCEPTED
        assert position(engine, account, AAPL).quantity == 100  # type: ignore[union-attr]

    run(make_engine(tmp_path / "j.db"), body)


# ---- expiration -------------------------------------------------------------------------


async def _expiration_day(engine: Engine) -> dict[str, Any]:
    """Accounts each holding one 2025-10-17 position, AAPL closing at 260.00 that Friday."""
    desk = Desk(engine)
    accounts: dict[str, int] = {}

    async def opened(name: str) -> int:
        accounts[name] = await desk.account()
        return accounts[name]

    await buy(desk, await opened("long_itm_call"), C250, "1", "10.90", "11.00")
    await buy(desk, await opened("long_otm_call"), C270, "1", "0.95", "1.00")
    await buy(desk, await opened("long_itm_put"), P270, "1", "10.90", "11.00")
    await buy(desk, await opened("long_otm_put"), P250, "1", "0.95", "1.00")
    await short(desk, await opened("short_itm_call"), C255, "1", "7.00", "7.10")
    await short(desk, await opened("short_otm_call"), C265, "1", "3.00", "3.10")
    await short(desk, await opened("short_itm_put"), P265, "1", "6.00", "6.10")
    await short(desk, await opened("short_otm_put"), P255, "1", "2.00", "2.10")
    # A protective put: 100 shares and an in-the-money put that sells them.
    protective = await opened("protective_put")
    await buy(desk, protective, AAPL, "100", "254.99", "255.01")
    await buy(desk, protective, P270, "1", "10.90", "11.00")
    # Do-not-exercise on one of two in-the-money calls, contrary exercise of an out-of-the-money one.
    dne = await opened("dne")
    await buy(desk, dne, C250, "2", "10.90", "11.00")
    cea = await opened("cea")
    await buy(desk, cea, C270, "1", "0.95", "1.00")
    # A GTC order working on an expiring contract.
    gtc = await opened("gtc")
    await buy(desk, gtc, C270, "1", "0.95", "1.00")
    (resting,) = await desk.submit(
        gtc, request(C270, o.SELL, "1", o.LIMIT, limit_price="5.00", time_in_force=o.GTC)
    )
    assert resting.status == o.NEW
    # The underlier marks 260.00 (the midpoint) from here to the expiration close.
    await desk.quote(AAPL, "259.99", "260.01")
    await desk.advance_to(EXPIRY_MORNING)
    (dne_row,) = await submit(engine, dne, row(C250, pi.DO_NOT_EXERCISE, "1"))
    (cea_row,) = await submit(engine, cea, row(C270, pi.CONTRARY_EXERCISE, "1"))
    await desk.advance(60)
    assert stored(engine, dne_row).status == pi.ACCEPTED
    assert stored(engine, cea_row).status == pi.ACCEPTED
    await desk.advance_to(EXPIRY_CLOSE)
    return {"accounts": accounts, "resting": resting, "desk": desk}


def test_expiration_day_exercises_assigns_and_expires_to_the_cent(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        picture = await _expiration_day(engine)
        accounts: dict[str, int] = picture["accounts"]

        def shares(name: str) -> tuple[Decimal, Decimal] | None:
            stock = position(engine, accounts[name], AAPL)
            return (stock.quantity, stock.cost) if stock is not None else None

        def options_left(name: str) -> list[str]:
            book = engine.state.positions.get(accounts[name], {})
            return [p.symbol for p in book.values() if p.quantity and p.instrument_type == "OPTION"]

        for name in accounts:
            assert options_left(name) == [], name
        # Long call in the money: 100 shares bought at 250; the 1,100.00 premium is in their cost.
        assert shares("long_itm_call") == (100, D("26100.00"))
        assert cash(engine, accounts["long_itm_call"])[0] == START_CASH - D("1100.00") - D("25000")
        # Long out of the money: expires worthless; the premium paid is gone.
        assert shares("long_otm_call") is None and shares("long_otm_put") is None
        assert cash(engine, accounts["long_otm_call"])[0] == START_CASH - D("100.00")
        assert cash(engine, accounts["long_otm_put"])[0] == START_CASH - D("100.00")
        # Long put in the money without shares: sells 100 short at 270, proceeds less premium.
        assert shares("long_itm_put") == (-100, D("-25900.00"))
        assert cash(engine, accounts["long_itm_put"])[0] == START_CASH - D("1100.00") + D("27000")
        # Short call in the money: assigned, delivers 100 shares at 255 (opening a short).
        assert shares("short_itm_call") == (-100, D("-26200.00"))
        assert cash(engine, accounts["short_itm_call"])[0] == START_CASH + D("700.00") + D("25500")
        # Short put in the money: assigned, receives 100 shares at 265 less the premium kept.
        assert shares("short_itm_put") == (100, D("25900.00"))
        assert cash(engine, accounts["short_itm_put"])[0] == START_CASH + D("600.00") - D("26500")
        # Short out of the money: expire, the premium is kept.
        assert shares("short_otm_call") is None and shares("short_otm_put") is None
        assert cash(engine, accounts["short_otm_call"])[0] == START_CASH + D("300.00")
        assert cash(engine, accounts["short_otm_put"])[0] == START_CASH + D("200.00")
        # Protective put: the shares bought at 255.01 are sold at 270 less the 1,100.00 premium.
        assert shares("protective_put") is None
        assert cash(engine, accounts["protective_put"])[0] == (
            START_CASH - D("25501.00") - D("1100.00") + D("27000")
        )
        # Do-not-exercise covers one of the two calls: one exercised, one expired.
        assert shares("dne") == (100, D("26100.00"))
        assert cash(engine, accounts["dne"])[0] == START_CASH - D("2200.00") - D("25000")
        # Contrary exercise of the out-of-the-money call: 100 shares at 270 plus the 100.00 paid.
        assert shares("cea") == (100, D("27100.00"))
        assert cash(engine, accounts["cea"])[0] == START_CASH - D("100.00") - D("27000")
        # The GTC order on the expiring contract expired before the position did.
        resting = picture["resting"]
        assert resting.status == o.EXPIRED
        assert resting.details[-1] == "Option contract expired"
        assert not engine.state.open_orders[accounts["gtc"]]
        assert not engine.venue.has_working_orders
        # Every instruction was used up.
        assert not engine.state.live_instructions
        # Cash settles T+1 (Monday's start); the positions of expired options are gone.
        await picture["desk"].advance_to(NEXT_DAY_STARTED)
        for name, account in accounts.items():
            trade, settled = cash(engine, account)
            assert trade == settled, name
            book = engine.state.positions.get(account, {})
            assert all(p.instrument_type != "OPTION" for p in book.values()), name

    run(make_engine(tmp_path / "j.db"), body)


def test_expiration_day_realized_pnl_and_portfolio_history(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        picture = await _expiration_day(engine)
        accounts: dict[str, int] = picture["accounts"]
        # The day's figures count from Thursday's close (the pinned midpoints).
        long_otm = engine.state.positions[accounts["long_otm_call"]]
        (expired,) = long_otm.values()
        assert expired.quantity == 0
        assert expired.realized_today == D("-97.50")  # 1 x 100 x the 0.975 close, lost
        short_otm = engine.state.positions[accounts["short_otm_put"]]
        (kept,) = short_otm.values()
        assert kept.realized_today == D("205.00")  # 1 x 100 x the 2.05 close, kept
        # Protective put: the shares (Thursday's close 260.00) and the put (10.95) turn into
        # 27,000.00 of proceeds: 27,000 - 26,000 - 1,095 = -95.00 realized today.
        protective = engine.state.positions[accounts["protective_put"]]
        assert sum((p.realized_today for p in protective.values()), D(0)) == D("-95.00")
        await picture["desk"].advance_to(NEXT_DAY_STARTED)
        account = engine.state.accounts[accounts["long_otm_call"]]
        friday = account.history[-1]
        assert friday.date.isoformat() == "2025-10-17"
        assert friday.sod_equity == START_CASH - D("100.00") + D("97.50")
        assert friday.eod_equity == START_CASH - D("100.00")
        assert friday.realized_pnl == D("-97.50")
        itm = engine.state.accounts[accounts["long_itm_call"]].history[-1]
        # 998,900 cash + the call at 10.95 -> 973,900 cash + 100 shares at 260.00
        assert (itm.sod_equity, itm.eod_equity) == (D("1000000.00") - D("5.00"), D("999900.00"))
        assert itm.realized_pnl == 0

    run(make_engine(tmp_path / "j.db"), body)


def test_at_the_money_by_less_than_a_cent_expires(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await buy(desk, account, C250, "1", "10.90", "11.00")
        await desk.quote(AAPL, "250.00", "250.01")  # midpoint 250.005: in the money by 0.005
        await desk.advance_to(EXPIRY_CLOSE)
        assert position(engine, account, C250) is None
        assert position(engine, account, AAPL) is None
        assert cash(engine, account)[0] == START_CASH - D("1100.00")

    run(make_engine(tmp_path / "j.db"), body)


def test_instructions_on_an_expired_contract_are_refused(tmp_path: Path) -> None:
    async def body(engine: Engine) -> None:
        desk = Desk(engine)
        account = await desk.account()
        await buy(desk, account, C270, "1", "0.95", "1.00")
        await desk.quote(AAPL, "259.99", "260.01")
        await desk.advance_to("2025-10-17T20:30:00Z")
        (late,) = await submit(engine, account, row(C270))
        assert late.code == pi.INVALID
        assert late.instruction.rejection_reason == (
            "Option contract AAPL  251017C00270000 expired on 2025-10-17"
        )

    run(make_engine(tmp_path / "j.db"), body)


def test_replay_rebuilds_instructions_and_their_pending_timers(tmp_path: Path) -> None:
    db = tmp_path / "j.db"

    async def before(engine: Engine) -> dict[str, Any]:
        desk = Desk(engine)
        account = await desk.account()
        await buy(desk, account, C250, "2", "10.90", "11.00")
        await desk.quote(AAPL, "259.99", "260.01")
        (first,) = await submit(engine, account, row(C250, key="processed"))
        await desk.advance(60)
        (second,) = await submit(engine, account, row(C250, key="pending"))
        return {
            "account": account,
            "instructions": {
                k: (i.status, i.accepted_quantity, i.due_ns)
                for k, i in engine.state.instruction_keys.items()
            },
            "ids": (first.instruction.id, second.instruction.id),
        }

    seen = run(make_engine(db), before)

    async def after(engine: Engine) -> dict[str, Any]:
        now = {
            k: (i.status, i.accepted_quantity, i.due_ns)
            for k, i in engine.state.instruction_keys.items()
        }
        desk = Desk(engine)
        await desk.advance(60)  # the pending one is processed after the restart
        pending = engine.state.instructions[seen["ids"][1]]
        fresh = await submit(engine, seen["account"], row(C250, key="processed"))
        return {"now": now, "pending": pending.status, "dup": fresh[0].code}

    result = run(make_engine(db), after)
    assert result["now"] == seen["instructions"]
    assert result["pending"] == pi.ACCEPTED
    assert result["dup"] == pi.DUPLICATE


def _state_picture(engine: Engine) -> dict[str, Any]:
    """The comparable content of positions, cash, orders and instructions."""
    state = engine.state
    return {
        "positions": {
            a: {
                str(i): (p.quantity, p.cost, p.day_cost, p.realized_today, p.held)
                for i, p in book.items()
            }
            for a, book in state.positions.items()
        },
        "cash": {
            a.id: (a.trade_cash, a.settled_cash, a.open_order_hold, list(a.unsettled))
            for a in state.accounts.values()
        },
        "orders": {str(k): v.status for k, v in every_order(engine).items()},
        "instructions": {
            str(k): (i.status, i.accepted_quantity, i.rejection_reason)
            for k, i in state.instructions.items()
        },
        "live": sorted(str(k) for k in state.live_instructions),
    }


def test_replay_after_an_expiration_day_reproduces_the_state(tmp_path: Path) -> None:
    db = tmp_path / "j.db"

    async def before(engine: Engine) -> dict[str, Any]:
        await _expiration_day(engine)
        return _state_picture(engine)

    async def after(engine: Engine) -> dict[str, Any]:
        return _state_picture(engine)

    seen = run(make_engine(db), before)
    assert run(make_engine(db), after) == seen
