"""Position instructions: submit, cancel, and the clearing service that processes them.

The clearing service is simulated on the market clock, deterministically:

- A submitted row is checked at once; a row that passes is `SENT` and stored, one that fails is
  `ENGINE_REJECTED` in the response only (see `oems.domain.instructions`). The checks, in order: the
  `instruction_id` is not already used in the account nor earlier in the batch (409); the
  instrument resolves (404); it is an option contract, the quantity a positive whole number,
  the contract not expired, DO_NOT_EXERCISE / CONTRARY_EXERCISE only on its expiration date,
  and the long position, less what open closing orders and the account's other live
  instructions on the contract already cover, at least the quantity (400); the clearing
  service is available (503, a fault the admin surface switches on).
- The clearing service processes a SENT instruction `PROCESSING_DELAY_NS` (60 s) after it was
  sent, or at the regular close when that comes first (the day's cutoff), and makes it
  `ACCEPTED` with `accepted_quantity` equal to its quantity, or `REJECTED` when by then the
  contract has expired, the position no longer covers it, or (EXERCISE) the account cannot take
  the shares: a call needs the buying power for strike x 100 x contracts, a put in a cash
  account the shares to deliver.
- A cancel answers `CANCEL_REQUESTED`; the clearing service answers it `CANCEL_DELAY_NS` (30 s)
  later with `CANCELLED`, unless it processed the instruction first (at the same instant,
  processing wins): then an accepted instruction is `CANCEL_FAILED` and stays in force, a
  rejected one is `REJECTED`. Cancelling a terminal instruction is a 409, one already
  `CANCEL_REQUESTED` answers it as it stands.
- Accepted EXERCISE instructions take effect at the next regular close; DO_NOT_EXERCISE and
  CONTRARY_EXERCISE at the close of the expiration date (`oems.engine.expiration`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from decimal import Decimal

from oems.domain import events as ev
from oems.domain import instructions as pi
from oems.domain.accounts import Account
from oems.domain.decimals import money, plain
from oems.domain.errors import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from oems.domain.instructions import InstructionRequest, PositionInstruction, RowOutcome
from oems.domain.instruments import Instrument
from oems.engine import commands as cmd
from oems.engine.context import Context
from oems.market.calendar import REGULAR

PROCESSING_DELAY_NS = 60_000_000_000  # market-clock time the clearing service takes to process
CANCEL_DELAY_NS = 30_000_000_000  # market-clock time it takes to answer a cancel
ALREADY_PROCESSED = "Instruction already accepted by the clearing service"


def instruction_copy(instruction: PositionInstruction) -> PositionInstruction:
    """A copy of the instruction as it stands now, safe to render after the engine moves on."""
    return dataclasses.replace(instruction)


# ---- checks -----------------------------------------------------------------------------


def _expired(ctx: Context, instrument: Instrument, now: int) -> bool:
    """True once the contract's expiration has been processed (its expiration date's close)."""
    assert instrument.option is not None
    expiry = instrument.option.expiry
    today = ctx.calendar.market_date(now)
    return expiry < today or (expiry == today and ctx.state.closed_day == today)


def committed(
    ctx: Context, account_id: int, instrument_id: uuid.UUID, exclude: uuid.UUID | None = None
) -> Decimal:
    """Contracts the account's live instructions on `instrument_id` already cover."""
    total = Decimal(0)
    for instruction in ctx.state.live_instructions.values():
        if (
            instruction.account_id == account_id
            and instruction.instrument_id == instrument_id
            and instruction.id != exclude
        ):
            total += (
                instruction.accepted_quantity
                if instruction.accepted_quantity is not None
                else instruction.quantity
            )
    return total


def _uncovered(ctx: Context, account_id: int, instrument_id: uuid.UUID) -> Decimal:
    """The long contracts not held by open closing orders."""
    position = ctx.state.positions.get(account_id, {}).get(instrument_id)
    if position is None or position.quantity <= 0:
        return Decimal(0)
    return position.available_quantity


def _row_refusal(
    ctx: Context,
    account: Account,
    row: InstructionRequest,
    instrument: Instrument,
    now: int,
    in_batch: Decimal,
) -> str | None:
    """Why a row cannot be accepted (a 400 cause), or None."""
    terms = instrument.option
    if terms is None:
        return f"{instrument.symbol} is not an option contract"
    if row.quantity <= 0 or row.quantity != row.quantity.to_integral_value():
        return "quantity must be a positive whole number of contracts"
    if _expired(ctx, instrument, now):
        return f"Option contract {instrument.symbol} expired on {terms.expiry.isoformat()}"
    if row.instruction_type in pi.EXPIRY_DAY_ONLY and (
        ctx.calendar.market_date(now) != terms.expiry
    ):
        return f"{row.instruction_type} must be submitted on the contract's expiration date"
    available = (
        _uncovered(ctx, account.id, instrument.id)
        - committed(ctx, account.id, instrument.id)
        - in_batch
    )
    if row.quantity > available:
        return (
            f"Insufficient position: available {plain(max(available, Decimal(0)))}, "
            f"requested {plain(row.quantity)}"
        )
    return None


def clearing_refusal(ctx: Context, instruction: PositionInstruction, now: int) -> str | None:
    """Why the clearing service rejects an instruction when it processes it, or None."""
    instrument = ctx.instruments.get(instruction.instrument_id)
    if instrument is None or instrument.option is None:
        return f"Unknown option contract {instruction.symbol}"
    if _expired(ctx, instrument, now):
        return f"Option contract {instrument.symbol} expired on {instrument.option.expiry}"
    available = _uncovered(ctx, instruction.account_id, instrument.id) - committed(
        ctx, instruction.account_id, instrument.id, exclude=instruction.id
    )
    if instruction.quantity > available:
        return (
            f"Insufficient position: available {plain(max(available, Decimal(0)))}, "
            f"requested {plain(instruction.quantity)}"
        )
    if instruction.instruction_type != pi.EXERCISE:
        return None
    account = ctx.state.accounts[instruction.account_id]
    terms = instrument.option
    shares = instruction.quantity * terms.multiplier
    if terms.contract_type == "CALL":
        required = shares * terms.strike
        buying_power = ctx.valuation.account_value(account.id, now).buying_power
        if required > buying_power:
            return (
                f"Insufficient buying power to exercise: available {money(buying_power)}, "
                f"required {money(required)}"
            )
    elif not account.is_margin:
        held = _uncovered(ctx, account.id, terms.underlying_id)
        if held < shares:
            return (
                f"Insufficient shares to deliver on exercise: available {plain(held)}, "
                f"required {plain(shares)}"
            )
    return None


def processing_due(ctx: Context, now: int) -> int:
    """When the clearing service processes an instruction sent at `now` (the close at the latest)."""
    due = now + PROCESSING_DELAY_NS
    today = ctx.calendar.market_date(now)
    day = ctx.calendar.day(today)
    if day.is_trading_day and ctx.state.closed_day != today:
        close = day.sessions[REGULAR][1]
        if now <= close:
            due = min(due, close)
    return due


# ---- command handlers --------------------------------------------------------------------


def submit_instructions(ctx: Context, command: cmd.SubmitInstructions) -> list[RowOutcome]:
    """Accept each row that passes (SENT, stored) and refuse the others (ENGINE_REJECTED, not
    stored)."""
    state = ctx.state
    account = ctx.account(command.account_id)
    if not command.rows:
        raise InvalidRequest("At least one instruction is required")
    now = ctx.now_ns()
    outcomes: list[RowOutcome | None] = []
    keys: set[str] = set()
    in_batch: dict[uuid.UUID, Decimal] = {}
    sending: list[tuple[int, uuid.UUID, str, InstructionRequest, Instrument]] = []
    for row in command.rows:
        server_id = ctx.ids.uuid7(now)
        key = row.instruction_id if row.instruction_id is not None else str(server_id)
        instrument = ctx.instruments.get(row.instrument_id) if row.instrument_id else None
        symbol = instrument.symbol if instrument is not None else ""
        existing = state.instruction_keys.get((account.id, key))
        code: int | None = None
        reason = ""
        if existing is not None:
            code, reason = pi.DUPLICATE, f"{pi.DUPLICATE_MESSAGE}; existing_id={existing.id}"
        elif key in keys:
            code, reason = pi.DUPLICATE, pi.DUPLICATE_MESSAGE
        elif instrument is None:
            code, reason = pi.UNKNOWN_INSTRUMENT, f"Instrument {row.instrument_ref} not found"
        else:
            refusal = _row_refusal(
                ctx, account, row, instrument, now, in_batch.get(instrument.id, Decimal(0))
            )
            if refusal is not None:
                code, reason = pi.INVALID, refusal
            elif not state.clearing_available:
                code, reason = pi.UNAVAILABLE, pi.UNAVAILABLE_MESSAGE
        if code is not None:
            outcomes.append(pi.refused(row, account.id, key, symbol, code, reason))
            continue
        assert instrument is not None
        keys.add(key)
        in_batch[instrument.id] = in_batch.get(instrument.id, Decimal(0)) + row.quantity
        sending.append((len(outcomes), server_id, key, row, instrument))
        outcomes.append(None)  # the stored instruction, once sent below
    due = processing_due(ctx, now)
    for index, server_id, key, row, instrument in sending:
        terms = instrument.option
        assert terms is not None
        ctx.emit(
            ev.InstructionSent(
                ts_ns=now,
                instruction_id=server_id,
                account_id=account.id,
                client_instruction_id=key,
                instruction_type=row.instruction_type,
                instrument_id=instrument.id,
                symbol=instrument.symbol,
                quantity=row.quantity,
                due_ns=due,
                underlying_instrument_id=terms.underlying_id,
                expiry=terms.expiry,
            )
        )
        instruction = state.instructions[server_id]
        outcomes[index] = RowOutcome(instruction_copy(instruction))
    return [outcome for outcome in outcomes if outcome is not None]


def find_instruction(ctx: Context, account_id: int, reference: str) -> PositionInstruction:
    """The account's instruction by server id or by the caller's `instruction_id`; else 404."""
    state = ctx.state
    instruction = None
    with contextlib.suppress(ValueError):
        instruction = state.instructions.get(uuid.UUID(reference))
    if instruction is None or instruction.account_id != account_id:
        instruction = state.instruction_keys.get((account_id, reference))
    if instruction is None:
        raise NotFound(f"Instruction {reference} not found for account {account_id}")
    return instruction


def cancel_instruction(ctx: Context, command: cmd.CancelInstruction) -> PositionInstruction:
    """Request a cancel: the instruction goes CANCEL_REQUESTED; the clearing service answers later."""
    ctx.account(command.account_id)
    instruction = find_instruction(ctx, command.account_id, command.reference)
    if instruction.status == pi.CANCEL_REQUESTED:
        return instruction_copy(instruction)
    if instruction.is_terminal:
        raise Conflict(
            f"Instruction {instruction.id} is {instruction.status} and can no longer be cancelled"
        )
    if not ctx.state.clearing_available:
        raise ServiceUnavailable(pi.UNAVAILABLE_MESSAGE)
    now = ctx.now_ns()
    ctx.emit(
        ev.InstructionCancelRequested(
            ts_ns=now, instruction_id=instruction.id, cancel_due_ns=now + CANCEL_DELAY_NS
        )
    )
    return instruction_copy(instruction)


def set_clearing_availability(ctx: Context, command: cmd.SetClearingAvailability) -> bool:
    """Switch the clearing service fault; returns whether the service is available."""
    if command.available != ctx.state.clearing_available:
        ctx.emit(ev.ClearingAvailabilitySet(ts_ns=ctx.now_ns(), available=command.available))
    return ctx.state.clearing_available
