"""One writer per database: an exclusive lock on `<db>.lock`, held for the server's whole life.

The lock is `flock(2)` on a side file (not on the database: closing any other descriptor of the
database would drop SQLite's own POSIX locks). The file holds the owner's pid, host and port, so a
second server can say who holds the database. The file stays after the owner exits: the lock,
not the file's existence, is what counts (removing it would let two servers lock two inodes).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

PRIVATE = 0o600  # every file the server writes holds secrets or trading state: owner-only


class DatabaseInUse(Exception):
    """Another live process holds the database's lock."""


def lock_path(db_path: Path) -> Path:
    """The lock file of a database: `<db>.lock`."""
    return db_path.with_name(db_path.name + ".lock")


class DatabaseLock:
    """An exclusive, non-blocking lock on a database, released when the process ends or `release`."""

    def __init__(self, db_path: Path) -> None:
        """Take the lock now, or raise DatabaseInUse naming the holder (pid, port)."""
        self.path = lock_path(db_path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise DatabaseInUse(
                f"{db_path} is in use by another oems server ({describe_holder(holder)}); "
                "stop that server first, or start this one with another --db"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd
        self.record()

    def record(self, **facts: object) -> None:
        """Write who holds the lock (this pid, and `facts` such as host and port) for others to read."""
        assert self._fd is not None
        content = json.dumps({"pid": os.getpid(), **facts}).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, content, 0)

    def release(self) -> None:
        """Give the lock up (the process's end does the same)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _holder(fd: int) -> dict[str, Any]:
    try:
        loaded = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def describe_holder(holder: dict[str, Any]) -> str:
    """`pid 123, port 5001` from a lock file's content (parts it lacks are `unknown`)."""
    return f"pid {holder.get('pid', 'unknown')}, port {holder.get('port', 'unknown')}"


def create_private(path: Path) -> None:
    """Create `path` empty and owner-only if it is missing; make an existing one owner-only."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE))
    os.chmod(path, PRIVATE)
