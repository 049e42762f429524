"""Where a server keeps the market data rows replayed into it: `<db>.replay.csv` beside its
database, written durably (fsynced before a request is answered) and repaired at start.

The file holds rows of text fields under a header; what the fields mean is the market's
(`oems.market.replay` parses them), so this module neither knows nor checks them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

log = logging.getLogger("oems")


def replay_log_path(db_path: Path) -> Path:
    """Where a server keeps the replayed rows it accepted: `<db>.replay.csv` beside its database."""
    return db_path.with_name(db_path.name + ".replay.csv")


def append_rows(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Append `rows` to the CSV at `path` (`header` first when the file is empty), then flush and
    fsync it, and its folder when the file is new, so the rows survive a crash. On a failure
    the file is cut back to where it was."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    created = not path.exists()
    # Owner-only, like the database beside it.
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as handle:
        start = handle.tell()
        if start == 0:
            writer.writerow(header)
        writer.writerows(rows)
        try:
            handle.write(buffer.getvalue().encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(handle.fileno(), start)
            raise
    if created:
        _fsync_folder(path)


def rewrite_rows(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Replace the CSV at `path` with `rows` durably (a new file renamed over the old one, then
    the folder fsynced); with no rows the file is removed."""
    if rows:
        temporary = path.with_name(path.name + ".tmp")
        temporary.unlink(missing_ok=True)
        append_rows(temporary, header, rows)
        os.replace(temporary, path)
    else:
        path.unlink(missing_ok=True)
    _fsync_folder(path)


def repair(path: Path) -> bool:
    """Make the file at `path` loadable after a crash; True when it holds rows to load.

    A missing or empty file holds none. A last line without its newline was torn by a crash
    while it was written, so never acknowledged: it is cut off (with a warning).
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    if size == 0:
        return False
    with path.open("rb+") as handle:
        end = size
        while end > 0:
            start = max(0, end - 4096)
            handle.seek(start)
            block = handle.read(end - start)
            cut = block.rfind(b"\n")
            if cut >= 0:
                end = start + cut + 1
                break
            end = start
        if end != size:
            log.warning("%s: cutting off a torn last line (%d bytes)", path, size - end)
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
    return end > 0


def _fsync_folder(path: Path) -> None:
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
