"""The clearing service: it processes position instructions and answers their cancels later."""

from __future__ import annotations

import heapq
import itertools
import uuid

from oems.domain import events as ev
from oems.domain import instructions as pi
from oems.domain.instructions import PositionInstruction
from oems.engine.context import Context
from oems.engine.instructions import ALREADY_PROCESSED, clearing_refusal

# Timer kinds, in the order they run when due at the same instant.
PROCESS = 0
CANCEL = 1


class Clearing:
    """The clearing service's timers: processing and cancel answers, rebuilt from the state."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._timers: list[tuple[int, int, int, uuid.UUID]] = []
        self._seq = itertools.count()
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
        for due, kind in ((instruction.due_ns, PROCESS), (instruction.cancel_due_ns, CANCEL)):
            if due is not None:
                heapq.heappush(self._timers, (due, kind, next(self._seq), instruction.id))

    def next_timer_ns(self) -> int | None:
        """The instant of the earliest pending timer."""
        timers = self._timers
        while timers:
            due, kind, _, instruction_id = timers[0]
            if self._live(kind, due, instruction_id):
                return due
            heapq.heappop(timers)
        return None

    def _live(self, kind: int, due: int, instruction_id: uuid.UUID) -> bool:
        instruction = self.ctx.state.instructions.get(instruction_id)
        if instruction is None:
            return False
        if kind == PROCESS:
            return instruction.due_ns == due and instruction.status in pi.AWAITING_CLEARING
        return instruction.cancel_due_ns == due and instruction.status == pi.CANCEL_REQUESTED

    def run_timers(self, now_ns: int) -> None:
        """Run every live timer due at or before `now_ns`, in (instant, kind) order."""
        timers = self._timers
        while timers and timers[0][0] <= now_ns:
            due, kind, _, instruction_id = heapq.heappop(timers)
            if not self._live(kind, due, instruction_id):
                continue
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
