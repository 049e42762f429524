"""The writer's activity hook: rows land in the events' own transaction, or not at all."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tests.support.trading_engine import Desk, make_engine, run

from oems.domain import events as ev
from oems.domain.errors import InvalidRequest, ServiceUnavailable
from oems.engine import commands as cmd
from oems.engine import writer as writer_module
from oems.engine.engine import Engine
from oems.store.journal import ActivityRow, Journal


class CashRecorder:
    """Records one row per cash adjustment; keeps what the writer told it."""

    def __init__(self, heads: dict[int, int]) -> None:
        self.heads = dict(heads)
        self.pending: list[ActivityRow] = []
        self.delivered: list[ActivityRow] = []
        self.discarded: list[ActivityRow] = []

    def applied(self, event: ev.Event, journal_seq: int) -> None:
        if isinstance(event, ev.CashAdjusted):
            account = event.account_id
            sequence = (
                self.heads.get(account, 0) + 1 + sum(r.account_id == account for r in self.pending)
            )
            self.pending.append(
                ActivityRow(account, sequence, journal_seq, event.ts_ns, str(event.amount).encode())
            )

    def mark(self) -> int:
        return len(self.pending)

    def undo(self, mark: int) -> None:
        del self.pending[mark:]

    def take_rows(self) -> list[ActivityRow]:
        rows, self.pending = self.pending, []
        return rows

    def durable(self, rows: list[ActivityRow]) -> None:
        for row in rows:
            self.heads[row.account_id] = row.sequence
        self.delivered += rows

    def discard(self, rows: list[ActivityRow]) -> None:
        self.discarded += rows


def test_activity_rows_are_written_with_their_events_and_a_refused_command_leaves_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(engine: Engine) -> None:
        recorder = CashRecorder(engine.journal.activity_heads())
        engine.recorder = recorder
        account = await Desk(engine).account()
        await engine.execute(cmd.AdjustCash(account, Decimal("10"), "in"))
        with pytest.raises(InvalidRequest):
            await engine.execute(cmd.AdjustCash(account, Decimal("-1e12"), "too much"))

        def unencodable(events: list[ev.Event]) -> list[object]:
            raise OverflowError("injected")

        with monkeypatch.context() as patch:  # fails after the command emitted its event
            patch.setattr(writer_module, "encode_rows", unencodable)
            with pytest.raises(OverflowError):
                await engine.execute(cmd.AdjustCash(account, Decimal("7"), "undone"))
        await engine.execute(cmd.AdjustCash(account, Decimal("-5"), "out"))
        stored = engine.journal.read_activity(account, 0)
        assert [(r.sequence, r.payload) for r in stored] == [(1, b"10"), (2, b"-5")]
        assert stored == recorder.delivered
        kinds = {seq: type(e).__name__ for seq, e in enumerate(engine.journal.replay(), 1)}
        assert all(kinds[r.journal_seq] == "CashAdjusted" for r in stored)
        assert engine.journal.read_activity(account, 1) == stored[1:]

    run(make_engine(tmp_path / "j.db"), body)
    reopened = Journal(tmp_path / "j.db")
    try:
        assert list(reopened.activity_heads().values()) == [2]
    finally:
        reopened.close()


def test_a_refused_journal_write_discards_the_batch_activity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(engine: Engine) -> None:
        recorder = CashRecorder({})
        engine.recorder = recorder
        account = await Desk(engine).account()

        def refuse(*args: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(engine.journal, "append", refuse)
        with pytest.raises(ServiceUnavailable):
            await engine.execute(cmd.AdjustCash(account, Decimal("10"), "in"))
        assert [r.payload for r in recorder.discarded] == [b"10"]
        assert recorder.delivered == []
        monkeypatch.undo()
        assert engine.journal.read_activity(account, 0) == []

    run(make_engine(tmp_path / "j.db"), body)
