"""Where a database's sandbox credentials live (a light module: operator commands import it)."""

from __future__ import annotations

from pathlib import Path


def credentials_path(db_path: Path) -> Path:
    """Where the credentials of a database's sandbox are written: `<db>.credentials.json`."""
    return db_path.with_name(db_path.name + ".credentials.json")
