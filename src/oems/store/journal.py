"""The event journal: an append-only SQLite table written in batches, one fsync per batch.

The same database holds the newest state snapshots; a snapshot at `seq` includes every event up
to and including `seq`, so a restart loads it and replays only the events after it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import msgspec

from oems.domain.events import Event, decode_event, encode_event
from oems.store import history
from oems.store.history import History, HistoryRows
from oems.store.lock import PRIVATE, create_private
from oems.store.snapshots import format_version

log = logging.getLogger("oems.store")
KEEP_SNAPSHOTS = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS activity (
    account_id INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    journal_seq INTEGER NOT NULL,
    ts_ns INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (account_id, sequence)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS activity_by_time ON activity (account_id, ts_ns);
CREATE TABLE IF NOT EXISTS snapshots (
    seq INTEGER PRIMARY KEY,
    created_ns INTEGER NOT NULL,
    version TEXT NOT NULL,
    blob BLOB NOT NULL
);
"""


Row = tuple[int, bytes]  # (ts_ns, encoded event): one journal row


class ActivityRow(NamedTuple):
    """One account activity message, stored in the transaction of the events that caused it."""

    account_id: int
    sequence: int  # per account, from 1, without gaps
    journal_seq: int  # the journal event that caused it
    ts_ns: int
    payload: bytes  # the message as sent to subscribers


def encode_rows(events: list[Event]) -> list[Row]:
    """The journal rows of `events`; raises (msgspec.EncodeError, OverflowError) for unencodable ones."""
    return [(e.ts_ns, encode_event(e)) for e in events]


class JournalError(Exception):
    """A database that cannot be used as a journal; the message names it, the cause and the way out."""


def _unusable(path: Path, exc: Exception) -> JournalError:
    return JournalError(
        f"{path} is not an oems database, or it is damaged ({exc}). Nothing was changed: restore "
        f"it from a backup, or start with another --db (`sqlite3 {path} .recover` may salvage "
        "what a damaged file still holds)"
    )


class Journal:
    """Durable, ordered storage of events. `append` returns only once the batch is on disk.

    The database and its WAL and shared-memory files are owner-only: they hold every key's digest.
    Opening raises OSError (the path) or JournalError (the content) when it cannot be used.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            # SQLite creates the -wal and -shm files with the database's mode: make it owner-only.
            create_private(self.path)
            for side in ("-wal", "-shm"):
                side_path = self.path.with_name(self.path.name + side)
                if side_path.exists():
                    os.chmod(side_path, PRIVATE)
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        try:
            # WAL with synchronous=FULL: every commit fsyncs the log, so a returned append
            # survives kill -9 and power loss alike.
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_SCHEMA + history.SCHEMA)
            # The seq of the last appended event, and of the newest snapshot this code can read.
            self.last_seq = int(
                self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0]
            )
            row = self._conn.execute(
                "SELECT MAX(seq) FROM snapshots WHERE version = ?", (format_version(),)
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise _unusable(self.path, exc) from exc
        self.snapshot_seq = int(row[0] or 0)
        self._lock = threading.Lock()
        # A :memory: database has one connection, so its reads share the writer's lock.
        self._reader_lock = self._lock if str(path) == ":memory:" else threading.Lock()
        self._read_conn: sqlite3.Connection | None = None
        self.history = History(self._reader, self._reader_lock)
        self.last_batch_size = 0
        self.last_commit_seconds = 0.0

    def append(
        self,
        rows: list[Row],
        activity: Sequence[ActivityRow] = (),
        closed: HistoryRows | None = None,
    ) -> None:
        """Write the encoded events (see `encode_rows`), the activity they caused and the history
        rows of the orders they closed and executions they made as one transaction; return once
        durable."""
        started = time.perf_counter()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT INTO journal (ts_ns, payload) VALUES (?, ?)", rows)
                if activity:
                    self._conn.executemany(
                        "INSERT INTO activity (account_id, sequence, journal_seq, ts_ns, payload) "
                        "VALUES (?, ?, ?, ?, ?)",
                        activity,
                    )
                last_seq = self._conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                if closed is not None:
                    history.write_history(self._conn, closed, last_seq)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self.last_seq = int(last_seq)
        self.last_batch_size = len(rows)
        self.last_commit_seconds = time.perf_counter() - started

    def replay(self, after_seq: int = 0) -> Iterator[Event]:
        """Every journaled event with a seq above `after_seq`, oldest first.

        JournalError names the first event that cannot be read or decoded.
        """
        seq = after_seq
        try:
            cursor = self._conn.execute(
                "SELECT seq, payload FROM journal WHERE seq > ? ORDER BY seq", (after_seq,)
            )
            for row_seq, payload in cursor:
                seq = row_seq
                yield decode_event(payload)
        except sqlite3.DatabaseError as exc:
            raise _unusable(self.path, exc) from exc
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise JournalError(
                f"{self.path}: event {seq} of {self.last_seq} cannot be decoded ({exc}). "
                f"Events 1-{seq - 1} are intact and nothing was changed. This code cannot read "
                "that event: run the oems version that wrote it, restore a backup, or start with "
                "another --db"
            ) from exc

    def history_through_seq(self) -> int:
        """The journal seq up to which the history tables are complete (0: never written)."""
        with self._lock:
            return history.through_seq(self._conn)

    def rebuild_history(self, closed: HistoryRows, through_seq: int) -> None:
        """Write history rows recovery derived from the journal, in one durable transaction."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                history.write_history(self._conn, closed, through_seq)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        self.history.forget()

    def save_snapshot(self, seq: int, blob: bytes) -> None:
        """Store the state as of event `seq` durably, in one transaction; keep only the newest ones."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT OR REPLACE INTO snapshots (seq, created_ns, version, blob) VALUES (?, ?, ?, ?)",
                    (seq, time.time_ns(), format_version(), blob),
                )
                self._conn.execute(
                    "DELETE FROM snapshots WHERE seq NOT IN "
                    "(SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)",
                    (KEEP_SNAPSHOTS,),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self.snapshot_seq = max(self.snapshot_seq, seq)

    def latest_snapshot(self) -> tuple[int, bytes] | None:
        """(seq, blob) of the newest snapshot, or None when there is none of the current version."""
        row = self._conn.execute(
            "SELECT seq, version, blob FROM snapshots ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        seq, version, blob = row
        if version != format_version():
            log.warning(
                "ignoring the snapshot at seq %d: version %s, this code reads %s",
                seq,
                version,
                format_version(),
            )
            return None
        return int(seq), bytes(blob)

    def _reader(self) -> sqlite3.Connection:
        """A second connection for reads that must not wait for the writer (WAL lets them run)."""
        if self._read_conn is None:
            if str(self.path) == ":memory:":
                return self._conn
            self._read_conn = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, check_same_thread=False
            )
        return self._read_conn

    def activity_heads(self) -> dict[int, int]:
        """The last activity sequence of every account that has any."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT account_id, MAX(sequence) FROM activity GROUP BY account_id"
            ).fetchall()
        return {int(account_id): int(sequence) for account_id, sequence in rows}

    def read_activity(
        self, account_id: int, after_sequence: int, since_ts_ns: int = 0, limit: int = 1000
    ) -> list[ActivityRow]:
        """Up to `limit` of the account's activity rows after `after_sequence` and at or after
        `since_ts_ns`, oldest first (on a reader connection: a commit in progress does not block it)."""
        with self._reader_lock:
            rows = (
                self._reader()
                .execute(
                    "SELECT account_id, sequence, journal_seq, ts_ns, payload FROM activity "
                    "WHERE account_id = ? AND sequence > ? AND ts_ns >= ? ORDER BY sequence LIMIT ?",
                    (account_id, after_sequence, since_ts_ns, limit),
                )
                .fetchall()
            )
        return [ActivityRow(a, s, j, t, bytes(p)) for a, s, j, t, p in rows]

    def first_ts_ns(self) -> int | None:
        """The market-clock instant of the oldest event, or None when the journal is empty."""
        row = self._conn.execute("SELECT ts_ns FROM journal ORDER BY seq LIMIT 1").fetchone()
        return int(row[0]) if row else None

    def count(self) -> int:
        """How many events the journal holds."""
        return int(self._conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0])

    def close(self) -> None:
        """Close the database (every append has already been made durable)."""
        with self._lock:
            self._conn.close()
        with self._reader_lock:
            if self._read_conn is not None:
                self._read_conn.close()
