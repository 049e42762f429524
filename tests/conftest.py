"""Test fixtures: real `oems serve` processes on free loopback ports, and HTTP clients for them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.schema_check import skipped_comparisons, with_seed_enums
from tests.support.servers import (
    SPEC_PATH,
    ServerProcess,
    start_server,
)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One shared server on a frozen simulated clock; tests must not move its clock."""
    proc = start_server(tmp_path_factory.mktemp("shared") / "oems.db")
    yield proc
    proc.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of the test's own, free to move its clock or be killed."""
    proc = start_server(tmp_path / "oems.db")
    yield proc
    if proc.process.poll() is None:
        proc.stop()


@pytest.fixture
def manual_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of the test's own with no market data but the quotes the test pins."""
    proc = start_server(tmp_path / "oems.db", "--market-data", "manual")
    yield proc
    if proc.process.poll() is None:
        proc.stop()


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    """A client of the shared server with the sandbox user's key."""
    with server.client() as http:
        yield http


@pytest.fixture
def admin(server: ServerProcess) -> Iterator[httpx.Client]:
    """A client of the shared server with the admin key."""
    with server.admin() as http:
        yield http


@pytest.fixture
def accounts(server: ServerProcess) -> dict[str, int]:
    """The sandbox's account ids: `margin`, `cash`, `other_user_account`."""
    return dict(server.credentials["accounts"])


@pytest.fixture(scope="session")
def vendor_spec() -> dict[str, Any]:
    """The vendor OpenAPI document from ../shared/spec with the seeds' newer enum values (the
    seed wins where they differ). Where a fresh clone lacks it this is `{}`: the tests still run
    every behaviour assertion and only their comparisons with the document are skipped
    (`assert_matches_schema` counts them; the run's summary says so once)."""
    if not SPEC_PATH.exists():
        return {}
    return with_seed_enums(json.loads(SPEC_PATH.read_text()))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say once how many comparisons with the vendor document a fresh clone skipped."""
    if skipped_comparisons():
        terminalreporter.write_line(
            f"vendor document not found at {SPEC_PATH}: {skipped_comparisons()} comparisons "
            "with it were skipped; every behaviour assertion ran"
        )
