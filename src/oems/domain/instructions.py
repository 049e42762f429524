"""Position instructions (exercise, do-not-exercise, contrary exercise): values and their lifecycle.

An instruction the service accepts is `SENT` to the clearing service, which later makes it
`ACCEPTED` (with `accepted_quantity`) or `REJECTED`. A cancel makes it `CANCEL_REQUESTED`; the
clearing service then makes it `CANCELLED`, or `CANCEL_FAILED` when it had already processed the
instruction (which then stays in force). Every status change goes through `TRANSITIONS`.

Rows refused before acceptance (duplicates, DO_NOT_EXERCISE / CONTRARY_EXERCISE away from the
expiration date, too small a position, an unknown instrument, the clearing service unavailable)
are `ENGINE_REJECTED` (the seeds' status for a refusal raised before the instruction reached the
clearing venue; `REJECTED` is the venue's own) and never stored: they exist only in the submit
response, with the nil id.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

# Instruction types (the contract's PositionInstructionType).
EXERCISE = "EXERCISE"
DO_NOT_EXERCISE = "DO_NOT_EXERCISE"
CONTRARY_EXERCISE = "CONTRARY_EXERCISE"
INSTRUCTION_TYPES = (EXERCISE, DO_NOT_EXERCISE, CONTRARY_EXERCISE)
EXPIRY_DAY_ONLY = (DO_NOT_EXERCISE, CONTRARY_EXERCISE)

# Statuses (the contract's PositionInstructionStatus).
SENT = "SENT"
ACCEPTED = "ACCEPTED"
REJECTED = "REJECTED"  # by the clearing venue
ENGINE_REJECTED = "ENGINE_REJECTED"  # by the service, before the clearing venue saw it
CANCEL_REQUESTED = "CANCEL_REQUESTED"
CANCELLED = "CANCELLED"
CANCEL_FAILED = "CANCEL_FAILED"
UNKNOWN = "UNKNOWN"
STATUSES = (
    SENT,
    ACCEPTED,
    REJECTED,
    ENGINE_REJECTED,
    CANCEL_REQUESTED,
    CANCELLED,
    CANCEL_FAILED,
    UNKNOWN,
)
TERMINAL = frozenset({ACCEPTED, REJECTED, ENGINE_REJECTED, CANCELLED, CANCEL_FAILED})
AWAITING_CLEARING = frozenset({SENT, CANCEL_REQUESTED})

# What happens to an instruction; with its status, it decides the next status.
ACCEPT = "accept"
REJECT = "reject"
CANCEL_REQUEST = "cancel_request"
CANCEL = "cancel"
CANCEL_FAIL = "cancel_fail"

TRANSITIONS: dict[tuple[str, str], str] = {
    (SENT, ACCEPT): ACCEPTED,
    (SENT, REJECT): REJECTED,
    (SENT, CANCEL_REQUEST): CANCEL_REQUESTED,
    (CANCEL_REQUESTED, CANCEL): CANCELLED,
    (CANCEL_REQUESTED, CANCEL_FAIL): CANCEL_FAILED,
    (CANCEL_REQUESTED, REJECT): REJECTED,
}
"""(status, what happened) -> next status. A pair that is not here is a bug, never a state."""

NIL_ID = uuid.UUID(int=0)  # the id of a row refused before acceptance, as the contract shows

# Row refusal causes, as HTTP-equivalent codes (the batch status is derived from them).
DUPLICATE = 409
INVALID = 400
UNKNOWN_INSTRUMENT = 404
UNAVAILABLE = 503

DUPLICATE_MESSAGE = "Duplicate exercise instruction"
UNAVAILABLE_MESSAGE = "Clearing service unavailable"


class IllegalInstructionTransition(RuntimeError):
    """An instruction change the transition table does not allow (an engine bug)."""


def next_status(status: str, happening: str) -> str:
    """The status after `happening`, per the table; IllegalInstructionTransition if not allowed."""
    target = TRANSITIONS.get((status, happening))
    if target is None:
        raise IllegalInstructionTransition(f"{happening} is not allowed in status {status}")
    return target


@dataclass(slots=True)
class PositionInstruction:
    """One instruction and its live state; stored ones change only through the state's appliers."""

    id: uuid.UUID
    account_id: int
    instruction_id: str  # the caller's idempotency key (or the server-made one)
    instruction_type: str
    instrument_id: uuid.UUID
    symbol: str
    quantity: Decimal
    status: str = SENT
    underlying_instrument_id: uuid.UUID | None = None
    expiry: dt.date | None = None
    created_ns: int | None = None
    updated_ns: int | None = None
    accepted_quantity: Decimal | None = None
    rejection_reason: str | None = None
    due_ns: int | None = None  # when the clearing service processes it
    cancel_due_ns: int | None = None  # when the clearing service answers a cancel

    @property
    def is_terminal(self) -> bool:
        """True once nothing more can happen to the instruction's status."""
        return self.status in TERMINAL

    @property
    def in_force(self) -> bool:
        """True when the clearing service accepted it (a failed cancel leaves it in force)."""
        return self.accepted_quantity is not None and self.status in (ACCEPTED, CANCEL_FAILED)


@dataclass(frozen=True, slots=True)
class InstructionRequest:
    """One row of a submit as the caller sent it, its instrument resolved when possible."""

    instruction_type: str
    instrument_ref: str  # what the caller wrote (a UUID or an OSI symbol)
    quantity: Decimal
    instruction_id: str | None = None
    instrument_id: uuid.UUID | None = None  # None: the reference does not resolve


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """A submitted row's fate: the instruction as stored (code None) or refused with a cause."""

    instruction: PositionInstruction
    code: int | None = None

    @property
    def accepted(self) -> bool:
        """True when the row was accepted (it is stored, in SENT)."""
        return self.code is None


def refused(
    request: InstructionRequest,
    account_id: int,
    instruction_id: str,
    symbol: str,
    code: int,
    reason: str,
) -> RowOutcome:
    """A row refused before acceptance: ENGINE_REJECTED with the nil id, never stored.

    An instrument that did not resolve is echoed as given: a UUID as the id, anything else as
    the symbol.
    """
    instrument_id = request.instrument_id
    if instrument_id is None:
        try:
            instrument_id = uuid.UUID(request.instrument_ref.strip())
        except ValueError:
            instrument_id, symbol = NIL_ID, symbol or request.instrument_ref
    return RowOutcome(
        PositionInstruction(
            id=NIL_ID,
            account_id=account_id,
            instruction_id=instruction_id,
            instruction_type=request.instruction_type,
            instrument_id=instrument_id,
            symbol=symbol,
            quantity=request.quantity,
            status=ENGINE_REJECTED,
            rejection_reason=reason,
        ),
        code,
    )


def summary(reason: str) -> str:
    """The batch-level message for a row reason (`"…; existing_id=…"` loses its parameters)."""
    return reason.split("; ", 1)[0]


def batch_result(outcomes: list[RowOutcome]) -> tuple[int, tuple[int, str] | None]:
    """(HTTP status, top-level (code, message) or None) of a submitted batch.

    All accepted: 200. Some accepted: 207, the error naming the refused rows' cause. None
    accepted: the refused rows' common code (409 all duplicates, 400 validation, 404 unknown
    instruments, 503 clearing unavailable), 400 when their causes differ.
    """
    refused_rows = [r for r in outcomes if not r.accepted]
    if not refused_rows:
        return 200, None
    codes = {r.code for r in refused_rows}
    code = refused_rows[0].code if len(codes) == 1 else INVALID
    assert code is not None
    messages = {summary(r.instruction.rejection_reason or "") for r in refused_rows}
    if len(messages) == 1:
        message = messages.pop()
    else:
        message = f"{len(refused_rows)} of {len(outcomes)} position instructions were rejected"
    status = 207 if len(refused_rows) < len(outcomes) else code
    return status, (code, message)
