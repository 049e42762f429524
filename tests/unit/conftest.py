"""Keeps the unit tier pure: while its tests run, sockets, event loops and SQLite files refuse.

Every test here is marked `unit`, so `pytest -m unit` (or `pytest tests/unit`) runs only this tier.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test collected under tests/unit as `unit`."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.unit)


def _refuse(what: str) -> Any:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a unit test may not use {what}")

    return refused


def _memory_only(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
    if str(database) != ":memory:":
        raise AssertionError(f"a unit test may open only ':memory:' databases, not {database}")
    connection: sqlite3.Connection = _CONNECT(database, *args, **kwargs)
    return connection


_CONNECT = sqlite3.connect


@pytest.fixture(autouse=True, scope="package")
def _pure() -> Iterator[None]:
    """No network, no event loop, no database file for the duration of the unit tier."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "socket", _refuse("a socket"))
        patch.setattr(asyncio, "new_event_loop", _refuse("an event loop"))
        patch.setattr(asyncio, "run", _refuse("an event loop"))
        patch.setattr(sqlite3, "connect", _memory_only)
        yield
