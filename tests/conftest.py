"""Test fixtures: real `oems serve` processes on free loopback ports, and HTTP clients for them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.schema_check import skipped_comparisons, with_seed_enums

API_KEY = "oems_test_user_key_0123456789abcdef"
ADMIN_KEY = "oems_test_admin_key_0123456789abcdef"
# A Wednesday, 10:30 US/Eastern: the regular session is open.
CLOCK_START = "2025-10-15T14:30:00Z"
SPEC_PATH = (
    Path(__file__).resolve().parents[1].parent / "shared" / "spec" / "clear-street-trading-api.json"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A running `oems serve` process and how to reach it."""

    process: subprocess.Popen[bytes]
    base_url: str
    db_path: Path
    port: int
    log_path: Path

    @property
    def credentials(self) -> dict[str, Any]:
        """The bootstrap credentials file the server wrote."""
        return json.loads(
            self.db_path.with_name(self.db_path.name + ".credentials.json").read_text()
        )

    def client(self, key: str | None = API_KEY) -> httpx.Client:
        """An HTTP client for the server, authenticated with `key` (None: no header)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def admin(self) -> httpx.Client:
        """An HTTP client holding the admin key."""
        return self.client(ADMIN_KEY)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send `sig` and wait for the process to end; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=30)


def start_server(db_path: Path, *extra: str, env: dict[str, str] | None = None) -> ServerProcess:
    """Start `oems serve` on a free port and wait until it answers `/healthz`."""
    port = free_port()
    log_path = db_path.with_suffix(".log")
    environment = {
        **os.environ,
        "OEMS_API_KEY": API_KEY,
        "OEMS_ADMIN_KEY": ADMIN_KEY,
        **(env or {}),
    }
    args = [
        sys.executable,
        "-m",
        "oems.cli.main",
        "serve",
        "--db",
        str(db_path),
        "--port",
        str(port),
    ]
    if not any(a.startswith("--clock") for a in extra):
        args += ["--clock", "simulated", "--clock-start", CLOCK_START, "--clock-speed", "0"]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*args, *extra], stdout=log, stderr=subprocess.STDOUT, env=environment
        )
    server = ServerProcess(process, f"http://127.0.0.1:{port}", db_path, port, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200 and (
                db_path.with_name(db_path.name + ".credentials.json").exists()
            ):
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.05)  # polling for the process to come up, not waiting on the market
    process.kill()
    raise RuntimeError(f"server did not start:\n{log_path.read_text()}")


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
