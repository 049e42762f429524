"""The single writer: commands in batches, all-or-nothing each, one journal append per batch."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from typing import Any

from oems.domain import events as ev
from oems.domain.errors import OemsError, ServiceUnavailable
from oems.domain.state import TradingState
from oems.engine.recorder import ActivityRecorder
from oems.market.clock import Clock
from oems.store.history import HistoryRows, history_rows
from oems.store.journal import ActivityRow, Journal, Row, encode_rows
from oems.store.snapshots import ChildDump, dump_state

log = logging.getLogger("oems.engine")
MAX_BATCH = 512

ClockReading = tuple[str, int, float]
Outcome = tuple["asyncio.Future[Any] | None", BaseException | None, Any]


class Writer:
    """Owns the queue, the batch in hand and the journal; the engine gives it what to run.

    `dispatch` carries out one command (its events go through `emit`); `apply` applies one live
    event to the state and what is derived from it; `restore(kept, clock)` makes the state the
    journal's plus the events `kept`, with the clock `clock`; `due` says whether timers are due,
    and `run_due` is the command that runs them.
    """

    def __init__(
        self,
        state: TradingState,
        journal: Journal,
        clock: Clock,
        dispatch: Callable[[Any], Any],
        apply: Callable[[ev.Event], None],
        restore: Callable[[list[ev.Event], ClockReading], None],
        due: Callable[[], bool],
        run_due: Any,
        on_commit: Callable[[list[ev.Event], float], None] | None = None,
    ) -> None:
        self.state = state
        self.journal = journal
        self.clock = clock
        self._dispatch = dispatch
        self._apply = apply
        self._restore = restore
        self._due = due
        self._run_due = run_due
        self._on_commit = on_commit
        self.recorder: ActivityRecorder | None = None  # set by whoever serves the activity stream
        self._queue: asyncio.Queue[tuple[Any, asyncio.Future[Any] | None]] | None = None
        self._io = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="journal")
        # Waits for a snapshot's forked child, so the journal thread stays free for commits.
        self._snapshots = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="snapshot")
        self._snapshot_task: asyncio.Task[None] | None = None
        self._dump: ChildDump | None = None  # the snapshot child running, if one is
        # Called before each snapshot's fork (the runtime freezes the heap out of the collector).
        self.before_snapshot: Callable[[], None] | None = None
        self._pending: list[ev.Event] = []  # the events of the batch being handled, applied
        self._rows: list[Row] = []  # the same events encoded, ready for the journal
        self._durable: asyncio.Event | None = None  # set while state == journal on disk
        self._broken = False  # the state could not be brought back to the journal: reads fail
        self.journal_failure: str | None = None  # why the journal refused a batch: writes get 503

    async def execute(self, command: Any) -> Any:
        """Queue a command, wait until its events are durable, and return its result."""
        if self._queue is None:
            raise RuntimeError("engine is not running")
        if self.journal_failure is not None:
            raise ServiceUnavailable(self.journal_failure)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((command, future))
        return await future

    def emit(self, event: ev.Event) -> None:
        """Record an event of the command being handled: applied now, journaled with its batch."""
        self._pending.append(event)
        self._apply(event)
        if self.recorder is not None:
            self.recorder.applied(event, self.state.events_applied)

    def handle(self, command: Any) -> Any:
        """Run one command: all its events are applied and encoded, or none (the state unchanged)."""
        if self.journal_failure is not None:
            raise ServiceUnavailable(self.journal_failure)
        mark = len(self._pending)
        recorded = self.recorder.mark() if self.recorder is not None else 0
        clock = self.clock.reading()
        try:
            result = self._dispatch(command)
            self._rows.extend(encode_rows(self._pending[mark:]))
        except BaseException:
            if self.recorder is not None:
                self.recorder.undo(recorded)
            if len(self._pending) != mark:
                log.error(
                    "command %s failed after emitting %d events; they are undone",
                    type(command).__name__,
                    len(self._pending) - mark,
                )
                self._roll_back(mark, clock)
            raise
        return result

    def state_blob(self) -> tuple[int, bytes]:
        """(seq, blob) of the state as of the last journaled event; only between batches."""
        return self._boundary(), dump_state(self.state)

    def start_snapshot(self) -> tuple[int, ChildDump]:
        """(seq, dump): the state as of the last journaled event, pickled by a forked child;
        only between batches. The caller stalls for the fork, not for the pickling."""
        return self._boundary(), ChildDump(self.state)

    def _boundary(self) -> int:
        """The journal's last seq, which the state is at between batches; RuntimeError inside one."""
        if self._pending or self.state.events_applied != self.journal.last_seq:
            raise RuntimeError("the state is not at a batch boundary")
        return self.journal.last_seq

    async def readable(self) -> None:
        """Wait until the state holds nothing the journal has not made durable yet."""
        if self._durable is not None and not self._durable.is_set():
            await self._durable.wait()
        if self._broken:
            raise ServiceUnavailable(self.journal_failure or "The server's state is unavailable")

    async def run(self, snapshot_every: int = 0) -> None:
        """Process commands in batches until cancelled; snapshot every `snapshot_every` events."""
        self._queue = asyncio.Queue()
        self._durable = asyncio.Event()
        self._durable.set()
        snapshot_seq = self.journal.snapshot_seq  # the last snapshot written or attempted
        try:
            await self._run_batches(snapshot_every, snapshot_seq)
        finally:
            self._abandon_snapshot()

    def _abandon_snapshot(self) -> None:
        """Stop the snapshot in progress: kill its child; nothing is written."""
        if self._dump is not None:
            self._dump.abandon()
        if self._snapshot_task is not None and not self._snapshot_task.done():
            self._snapshot_task.cancel()

    async def _run_batches(self, snapshot_every: int, snapshot_seq: int) -> None:
        assert self._queue is not None and self._durable is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            batch_clock = self.clock.reading()
            outcomes = [self._outcome(command, future) for command, future in batch]
            if self._due() and self.journal_failure is None:
                # The venue answers now when its latency is zero: in this batch, one commit.
                try:
                    self.handle(self._run_due)
                except Exception:
                    log.exception("running due timers failed")
            committed = await self._commit(batch_clock, outcomes)
            for future, error, result in outcomes:
                if future is None or future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)
            if committed:
                self._durable.set()
                # Let the readers that waited for this commit run before the next batch changes
                # the state again: they read exactly what is on disk.
                await asyncio.sleep(0)
            if (
                snapshot_every
                and self.journal.last_seq - snapshot_seq >= snapshot_every
                and (self._snapshot_task is None or self._snapshot_task.done())
            ):
                snapshot_seq = self.journal.last_seq
                self._start_background_snapshot()

    def close(self) -> None:
        """Release the journal writer and snapshot threads (a snapshot in progress is dropped)."""
        self._abandon_snapshot()
        self._snapshots.shutdown(wait=True)
        self._io.shutdown(wait=True)

    def _outcome(self, command: Any, future: asyncio.Future[Any] | None) -> Outcome:
        """Handle one command of the batch: (future, error, result)."""
        try:
            return future, None, self.handle(command)
        except OemsError as exc:
            return future, exc, None
        except Exception as exc:  # a bug: refuse this command, keep the engine alive
            log.exception("command %s failed", type(command).__name__)
            return future, exc, None

    def take_batch(self) -> tuple[list[ev.Event], list[Row]]:
        """The events handled since the last batch ended, and their journal rows; starts anew."""
        events, self._pending = self._pending, []
        rows, self._rows = self._rows, []
        return events, rows

    async def _commit(self, clock: ClockReading, outcomes: list[Outcome]) -> bool:
        """Append the batch's events and activity as one transaction; True when there were any."""
        events, rows = self.take_batch()
        if not rows:
            return False
        assert self._durable is not None
        self._durable.clear()
        activity: list[ActivityRow] = []
        try:
            if self.recorder is not None:
                activity = self.recorder.take_rows()
            closed = self._closed_rows(len(rows))
        except Exception as exc:
            # Committing without the batch's messages or history rows would leave a silent gap.
            log.exception("the batch's activity or history rows failed: the batch is undone")
            if self.recorder is not None:
                self.recorder.discard(activity)
            self._undo_batch(exc, events, rows, clock, outcomes)
            return True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._io, self.journal.append, rows, activity, closed)
        except Exception as exc:
            if self.recorder is not None:
                self.recorder.discard(activity)
            self._refuse_writes(exc, events, rows, clock, outcomes)
        else:
            try:
                if self.recorder is not None:
                    self.recorder.durable(activity)
                if self._on_commit is not None:
                    self._on_commit(events, self.journal.last_commit_seconds)
            except Exception:
                # The batch is durable: a stream or metrics failure must not stop the writer.
                log.exception("after a commit, delivering its activity or metrics failed")
            # Before `_durable` is set: no read sees an order that is in neither place.
            self.state.retire()
            self.journal.history.retired(closed)
        return True

    def _closed_rows(self, batch_size: int) -> HistoryRows:
        """The history rows of the orders the batch closed and the executions it booked."""
        state = self.state
        return history_rows(
            state.closed_orders,
            state.new_executions(),
            state.history_reset,
            self.journal.last_seq + batch_size,
        )

    def _start_background_snapshot(self) -> None:
        """Fork here, where state == journal; the batches go on while the child pickles."""
        try:
            if self.before_snapshot is not None:
                self.before_snapshot()
            seq, self._dump = self.start_snapshot()
        except Exception:
            log.exception("snapshot failed; a restart replays more of the journal")
            return
        self._snapshot_task = asyncio.create_task(self._save_snapshot(seq, self._dump))

    async def _save_snapshot(self, seq: int, dump: ChildDump) -> None:
        """A thread waits for the child's blob; the journal thread writes it between two commits."""
        try:
            loop = asyncio.get_running_loop()
            blob = await loop.run_in_executor(self._snapshots, dump.result)
            self._dump = None
            await loop.run_in_executor(self._io, self.journal.save_snapshot, seq, blob)
        except Exception:
            log.exception("snapshot failed; a restart replays more of the journal")
        finally:
            self._dump = None

    async def snapshot_written(self) -> None:
        """Wait until the snapshot in progress, if any, is written (or has failed)."""
        if self._snapshot_task is not None:
            await asyncio.shield(self._snapshot_task)

    def _roll_back(self, keep: int, clock: ClockReading) -> None:
        """Make the state the journal's plus the batch's first `keep` events; the clock `clock`.

        The way out when a command fails after it emitted events, or the journal refuses a batch:
        nothing of the failed part stays in memory. It costs a reload (the latest snapshot and the
        journal after it), so the use cases validate before they emit and this stays rare.
        """
        kept, kept_rows = self._pending[:keep], self._rows[:keep]
        self._pending, self._rows = [], []
        try:
            self._restore(kept, clock)
        except BaseException:
            self._broken = True
            log.critical("the state could not be rebuilt from the journal", exc_info=True)
            raise
        self._pending, self._rows = kept, kept_rows

    def _refuse_writes(
        self,
        exc: Exception,
        events: list[ev.Event],
        rows: list[Row],
        clock: ClockReading,
        outcomes: list[Outcome],
    ) -> None:
        """The journal refused a batch: undo it in memory, fail its commands, refuse later writes."""
        self.journal_failure = (
            f"The journal at {self.journal.path} refused a write ({type(exc).__name__}: {exc}); "
            "no change is accepted until the server is restarted with a working disk. "
            "Every acknowledged change is on disk; reads keep working."
        )
        log.critical("journal append failed: writes are refused from now on", exc_info=exc)
        self._undo_batch(ServiceUnavailable(self.journal_failure), events, rows, clock, outcomes)

    def _undo_batch(
        self,
        refusal: BaseException,
        events: list[ev.Event],
        rows: list[Row],
        clock: ClockReading,
        outcomes: list[Outcome],
    ) -> None:
        """Take the whole batch back out of memory and answer each of its commands `refusal`."""
        self._pending, self._rows = events, rows
        try:
            self._roll_back(0, clock)
        except BaseException:
            log.critical("reads are refused too: the state is ahead of the journal")
        for i, (future, error, _) in enumerate(outcomes):
            if error is None:
                outcomes[i] = (future, refusal, None)
