"""Real `oems serve` processes on free loopback ports, for the tests that need a server."""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

API_KEY = "oems_test_user_key_0123456789abcdef"
ADMIN_KEY = "oems_test_admin_key_0123456789abcdef"
# A Wednesday, 10:30 US/Eastern: the regular session is open.
CLOCK_START = "2025-10-15T14:30:00Z"
SPEC_PATH = (
    Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "clear-street-trading-api.json"
)


_STARTED: list[subprocess.Popen[bytes]] = []


@atexit.register
def _kill_leftovers() -> None:
    """Servers a failed test left running die with the test run, not after it."""
    for process in _STARTED:
        if process.poll() is None:
            process.kill()


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


def start_server(
    db_path: Path, *extra: str, env: dict[str, str] | None = None, port: int | None = None
) -> ServerProcess:
    """Start `oems serve` on `port` (default: a free one) and wait until it answers `/healthz`."""
    port = port or free_port()
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
    _STARTED.append(process)
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
