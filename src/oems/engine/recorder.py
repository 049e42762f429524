"""What the writer tells an activity recorder: each event as it is applied, and its batch's fate.

The recorder turns events into the account activity messages of the stream. Their rows are
written in the same journal transaction as the events, so a message exists exactly when the
change it reports is durable, and the sequence of each account survives any crash.
"""

from __future__ import annotations

from typing import Protocol

from oems.domain.events import Event
from oems.store.journal import ActivityRow


class ActivityRecorder(Protocol):
    """The writer's side of the activity stream; every method runs on the writer's loop."""

    def applied(self, event: Event, journal_seq: int) -> None:
        """`event` was just applied as journal event `journal_seq` (the state shows it)."""

    def mark(self) -> int:
        """A point in the batch's pending messages that `undo` can return to."""

    def undo(self, mark: int) -> None:
        """Forget the messages recorded since `mark`: their command failed and was undone."""

    def take_rows(self) -> list[ActivityRow]:
        """The batch's rows, for the journal transaction; once per batch, the state as after it."""

    def durable(self, rows: list[ActivityRow]) -> None:
        """`rows` (from `take_rows`) are on disk with their events: deliver them."""

    def discard(self, rows: list[ActivityRow]) -> None:
        """The journal refused the batch of `rows`: they never happened."""
