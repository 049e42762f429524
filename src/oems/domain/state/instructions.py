"""Position instructions (exercise, do-not-exercise...): sent, accepted, rejected, cancelled,
through their transition table; the clearing service's availability; exercise cycles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oems.domain import events as ev
from oems.domain.instructions import (
    ACCEPT,
    AWAITING_CLEARING,
    CANCEL,
    CANCEL_FAIL,
    CANCEL_REQUEST,
    REJECT,
    PositionInstruction,
    next_status,
)

if TYPE_CHECKING:
    from oems.domain.state.trading_state import Appliers, TradingState


def _instruction_sent(state: TradingState, e: ev.InstructionSent) -> None:
    instruction = PositionInstruction(
        id=e.instruction_id,
        account_id=e.account_id,
        instruction_id=e.client_instruction_id,
        instruction_type=e.instruction_type,
        instrument_id=e.instrument_id,
        symbol=e.symbol,
        quantity=e.quantity,
        underlying_instrument_id=e.underlying_instrument_id,
        expiry=e.expiry,
        created_ns=e.ts_ns,
        updated_ns=e.ts_ns,
        due_ns=e.due_ns,
    )
    state.instructions[instruction.id] = instruction
    state.instructions_by_account.setdefault(e.account_id, []).append(instruction)
    state.instruction_keys[(e.account_id, e.client_instruction_id)] = instruction
    state.live_instructions[instruction.id] = instruction


def _move_instruction(
    state: TradingState, instruction_id: Any, happening: str, ts_ns: int
) -> PositionInstruction:
    """Change an instruction's status through its transition table."""
    instruction = state.instructions[instruction_id]
    instruction.status = next_status(instruction.status, happening)
    instruction.updated_ns = ts_ns
    if instruction.status not in AWAITING_CLEARING:
        instruction.due_ns = None
        instruction.cancel_due_ns = None
    if instruction.is_terminal and not instruction.in_force:
        state.live_instructions.pop(instruction.id, None)
    return instruction


def _instruction_accepted(state: TradingState, e: ev.InstructionAccepted) -> None:
    instruction = state.instructions[e.instruction_id]
    instruction.accepted_quantity = e.accepted_quantity
    _move_instruction(state, e.instruction_id, ACCEPT, e.ts_ns)


def _instruction_rejected(state: TradingState, e: ev.InstructionRejected) -> None:
    _move_instruction(state, e.instruction_id, REJECT, e.ts_ns).rejection_reason = e.reason


def _instruction_cancel_requested(state: TradingState, e: ev.InstructionCancelRequested) -> None:
    _move_instruction(state, e.instruction_id, CANCEL_REQUEST, e.ts_ns)
    state.instructions[e.instruction_id].cancel_due_ns = e.cancel_due_ns


def _instruction_cancelled(state: TradingState, e: ev.InstructionCancelled) -> None:
    _move_instruction(state, e.instruction_id, CANCEL, e.ts_ns)


def _instruction_cancel_failed(state: TradingState, e: ev.InstructionCancelFailed) -> None:
    instruction = state.instructions[e.instruction_id]
    instruction.accepted_quantity = e.accepted_quantity
    instruction.rejection_reason = e.reason
    _move_instruction(state, e.instruction_id, CANCEL_FAIL, e.ts_ns)


def _clearing_availability_set(state: TradingState, e: ev.ClearingAvailabilitySet) -> None:
    state.clearing_available = e.available


def _exercise_cycle_completed(state: TradingState, e: ev.ExerciseCycleCompleted) -> None:
    for instruction_id in e.consumed:
        state.live_instructions.pop(instruction_id, None)


APPLIERS: Appliers = {
    ev.InstructionSent: _instruction_sent,
    ev.InstructionAccepted: _instruction_accepted,
    ev.InstructionRejected: _instruction_rejected,
    ev.InstructionCancelRequested: _instruction_cancel_requested,
    ev.InstructionCancelled: _instruction_cancelled,
    ev.InstructionCancelFailed: _instruction_cancel_failed,
    ev.ClearingAvailabilitySet: _clearing_availability_set,
    ev.ExerciseCycleCompleted: _exercise_cycle_completed,
}
