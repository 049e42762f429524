"""Position instruction endpoints: submit (batch semantics), list, cancel.

The request's idempotency key is `instruction_id`, as the vendor document names it; the
official SDK (0.11.0) sends it as `client_instruction_id`, which is accepted as the same key.
Responses carry the document's fields, every one of them always (null when it does not apply),
as the reference page's cancel example shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

from oems.api.access import granted_account
from oems.api.jsonbody import decode_body
from oems.api.params import Query
from oems.api.values import MAX_ID_LENGTH, wire_decimal, wire_text
from oems.api.wire import USER, Call, Reply, Routes
from oems.domain import instructions as pi
from oems.domain.decimals import QUANTITY, plain
from oems.domain.errors import InvalidRequest, NotFound
from oems.domain.instructions import InstructionRequest, PositionInstruction, RowOutcome
from oems.domain.instruments import normalize_osi
from oems.domain.timefmt import format_ns
from oems.engine import commands as cmd

routes = Routes()

MAX_INSTRUCTIONS_PER_REQUEST = 1000


class InstructionBody(msgspec.Struct):
    """The contract's `PositionInstructionSubmissionRequest`."""

    instruction_type: Literal["EXERCISE", "DO_NOT_EXERCISE", "CONTRARY_EXERCISE"]
    instrument_id: str
    quantity: str
    instruction_id: str | None = None
    client_instruction_id: str | None = None  # the SDK's name for `instruction_id`


def render_instruction(instruction: PositionInstruction) -> dict[str, Any]:
    """The contract's `PositionInstruction`, every field present."""
    accepted = instruction.accepted_quantity
    return {
        "id": str(instruction.id),
        "account_id": instruction.account_id,
        "instruction_id": instruction.instruction_id,
        "client_instruction_id": instruction.instruction_id,  # the official SDK's name for it
        "instruction_type": instruction.instruction_type,
        "instrument_id": str(instruction.instrument_id),
        "quantity": plain(instruction.quantity),
        "status": instruction.status,
        "symbol": instruction.symbol,
        "accepted_quantity": plain(accepted) if accepted is not None else None,
        "created_at": format_ns(instruction.created_ns)
        if instruction.created_ns is not None
        else None,
        "rejection_reason": instruction.rejection_reason,
        "updated_at": format_ns(instruction.updated_ns)
        if instruction.updated_ns is not None
        else None,
    }


def _row(call: Call, raw: bytes, index: int, body: InstructionBody) -> InstructionRequest:
    """Translate one wire row (422 for a malformed quantity)."""
    quantity = wire_decimal(body.quantity, QUANTITY, (index, "quantity"), raw)
    key = body.instruction_id
    if body.client_instruction_id is not None:
        if key is not None and key != body.client_instruction_id:
            raise InvalidRequest(
                f"[{index}].instruction_id: differs from client_instruction_id; give one of them"
            )
        key = body.client_instruction_id
    if key is not None and not key.strip():
        raise InvalidRequest(f"[{index}].instruction_id: must not be empty")
    if key is not None:
        wire_text(key, f"[{index}].instruction_id", MAX_ID_LENGTH)
    instrument = call.runtime.instruments.resolve(body.instrument_id)
    return InstructionRequest(
        instruction_type=body.instruction_type,
        instrument_ref=body.instrument_id,
        quantity=quantity,
        instruction_id=key,
        instrument_id=instrument.id if instrument is not None else None,
    )


@routes.post(USER, "/v1/accounts/{account_id}/positions/instructions")
async def submit_instructions(call: Call) -> Any:
    """Submit instructions: 200 all SENT, 207 some ENGINE_REJECTED, 4xx/5xx by cause when all are."""
    account = granted_account(call)
    raw = await call.body()
    bodies = decode_body(raw, list[InstructionBody])
    if not bodies:
        raise InvalidRequest("At least one instruction is required")
    if len(bodies) > MAX_INSTRUCTIONS_PER_REQUEST:
        raise InvalidRequest(f"At most {MAX_INSTRUCTIONS_PER_REQUEST} instructions per request")
    rows = tuple(_row(call, raw, index, body) for index, body in enumerate(bodies))
    outcomes: list[RowOutcome] = await call.runtime.engine.execute(
        cmd.SubmitInstructions(account.id, rows)
    )
    status, error = pi.batch_result(outcomes)
    return Reply(
        [render_instruction(outcome.instruction) for outcome in outcomes],
        status=status,
        error={"code": error[0], "message": error[1]} if error is not None else None,
    )


def _filter(
    call: Call, name: str, underlier: bool, stored: list[PositionInstruction]
) -> Callable[[PositionInstruction], bool] | None:
    """A predicate for the `instrument_id` / `underlying_instrument_id` query parameter; 404 if unknown.

    A contract the instrument master no longer lists (an expired one after a restart) is still
    known by the account's instructions on it, by UUID or OSI symbol.
    """
    text = Query(call.query).string(name)
    if text is None:
        return None
    instrument = call.runtime.instruments.resolve(text)
    if instrument is not None:
        if underlier:
            target = instrument.option.underlying_id if instrument.option else instrument.id
            return lambda instruction: instruction.underlying_instrument_id == target
        return lambda instruction: instruction.instrument_id == instrument.id
    if not underlier:
        osi = normalize_osi(text)
        for instruction in stored:
            if str(instruction.instrument_id) == text.strip().lower() or instruction.symbol == osi:
                known = instruction.instrument_id
                return lambda instruction: instruction.instrument_id == known
    raise NotFound(f"Instrument {text} not found")


@routes.get(USER, "/v1/accounts/{account_id}/positions/instructions")
async def get_instructions(call: Call) -> Any:
    """The account's stored instructions, oldest first; optionally one contract or underlier."""
    account = granted_account(call)
    instructions = list(call.runtime.state.instructions_by_account.get(account.id, []))
    predicates = [
        predicate
        for predicate in (
            _filter(call, "instrument_id", False, instructions),
            _filter(call, "underlying_instrument_id", True, instructions),
        )
        if predicate is not None
    ]
    return [
        render_instruction(instruction)
        for instruction in instructions
        if all(predicate(instruction) for predicate in predicates)
    ]


@routes.delete(USER, "/v1/accounts/{account_id}/positions/instructions/{instruction_id}")
async def cancel_instruction(call: Call) -> Any:
    """Request a cancel: the instruction in CANCEL_REQUESTED (409 terminal, 404 unknown)."""
    account = granted_account(call)
    instruction = await call.runtime.engine.execute(
        cmd.CancelInstruction(account.id, call.path_param("instruction_id"))
    )
    return render_instruction(instruction)
