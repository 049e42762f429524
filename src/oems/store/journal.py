"""The event journal: an append-only SQLite table written in batches, one fsync per batch."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from oems.domain.events import Event, decode_event, encode_event

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    payload BLOB NOT NULL
);
"""


class Journal:
    """Durable, ordered storage of events. `append` returns only once the batch is on disk."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        # WAL with synchronous=FULL: every commit fsyncs the log, so a returned append survives
        # kill -9 and power loss alike.
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self.last_batch_size = 0
        self.last_commit_seconds = 0.0

    def append(self, events: list[Event]) -> None:
        """Write the events as one transaction and wait until it is durable."""
        rows = [(e.ts_ns, encode_event(e)) for e in events]
        started = time.perf_counter()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT INTO journal (ts_ns, payload) VALUES (?, ?)", rows)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        self.last_batch_size = len(rows)
        self.last_commit_seconds = time.perf_counter() - started

    def replay(self) -> Iterator[Event]:
        """Every journaled event, oldest first."""
        cursor = self._conn.execute("SELECT payload FROM journal ORDER BY seq")
        for (payload,) in cursor:
            yield decode_event(payload)

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
