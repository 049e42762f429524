"""The clearing service: it processes position instructions and answers their cancels later."""

from __future__ import annotations

import uuid

from oems.domain import events as ev
from oems.domain import instructions as pi
from oems.domain.instructions import PositionInstruction
from oems.engine.context import Context
from oems.engine.instructions import ALREADY_PROCESSED, clearing_refusal
from oems.engine.timers import Timers

# Timer kinds, in the order they run when due at the same instant.
PROCESS = 0
CANCEL = 1


class Clearing:
    """The clearing service's timers: processing and cancel answers, rebuilt from the state."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._timers = Timers(self._live)
        self.rebuild()

    def rebuild(self) -> None:
        """Recreate the timers of the instructions still waiting for the clearing service."""
        self._timers.clear()
        for instruction in self.ctx.state.live_instructions.values():
            self._schedule(instruction)

    def applied(self, event: ev.Event) -> None:
        """Follow an applied event: a sent or cancel-requested instruction gets its timers."""
        if isinstance(event, (ev.InstructionSent, ev.InstructionCancelRequested)):
            self._schedule(self.ctx.state.instructions[event.instruction_id])

    def _schedule(self, instruction: PositionInstruction) -> None:
        self._timers.add(instruction.due_ns, PROCESS, instruction.id)
        self._timers.add(instruction.cancel_due_ns, CANCEL, instruction.id)

    def next_timer_ns(self) -> int | None:
        """The instant of the earliest pending timer."""
        return self._timers.next_ns()

    def _live(self, kind: int, due: int, instruction_id: uuid.UUID) -> bool:
        instruction = self.ctx.state.instructions.get(instruction_id)
        if instruction is None:
            return False
        if kind == PROCESS:
            return instruction.due_ns == due and instruction.status in pi.AWAITING_CLEARING
        return instruction.cancel_due_ns == due and instruction.status == pi.CANCEL_REQUESTED

    def run_timers(self, now_ns: int) -> None:
        """Run every live timer due at or before `now_ns`, in (instant, kind) order."""
        for due, kind, instruction_id in self._timers.due(now_ns):
            instruction = self.ctx.state.instructions[instruction_id]
            if kind == PROCESS:
                self._process(instruction, due)
            else:
                self.ctx.emit(ev.InstructionCancelled(ts_ns=due, instruction_id=instruction.id))

    def _process(self, instruction: PositionInstruction, now: int) -> None:
        """The clearing service's verdict on an instruction."""
        emit = self.ctx.emit
        reason = clearing_refusal(self.ctx, instruction, now)
        if reason is not None:
            emit(ev.InstructionRejected(ts_ns=now, instruction_id=instruction.id, reason=reason))
        elif instruction.status == pi.SENT:
            emit(
                ev.InstructionAccepted(
                    ts_ns=now, instruction_id=instruction.id, accepted_quantity=instruction.quantity
                )
            )
        else:
            emit(
                ev.InstructionCancelFailed(
                    ts_ns=now,
                    instruction_id=instruction.id,
                    reason=ALREADY_PROCESSED,
                    accepted_quantity=instruction.quantity,
                )
            )
