"""`oems serve` start-up: one server per database, a failed start changes nothing, files are
owner-only, and every start-up failure is one clear message with a non-zero status."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.servers import ADMIN_KEY, API_KEY, CLOCK_START, ServerProcess, start_server

from oems.cli.bootstrap import bootstrap
from oems.market.clock import SIMULATED
from oems.runtime import Config, Runtime

pytestmark = pytest.mark.slow


def oems_serve(
    db: Path, *extra: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `oems serve` to its end (it is expected to fail) and capture what it says."""
    environment = {
        **os.environ,
        "OEMS_API_KEY": API_KEY,
        "OEMS_ADMIN_KEY": ADMIN_KEY,
        **(env or {}),
    }
    args = [sys.executable, "-m", "oems.cli.main", "serve", "--db", str(db), *extra]
    if "--port" not in extra:
        args += ["--port", "0"]
    return subprocess.run(args, capture_output=True, text=True, env=environment, timeout=timeout)


def journal_count(db: Path) -> int:
    """How many events the database's journal holds (0 when it has none or no journal)."""
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def assert_one_clear_message(
    result: subprocess.CompletedProcess[str], status: int, *words: str
) -> None:
    """The command ended with `status` and one short message holding `words`, no traceback."""
    assert result.returncode == status, result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    message = result.stderr.strip()
    assert message.startswith("oems: "), message
    assert len(message.splitlines()) <= 2, message
    for word in words:
        assert word in message, message


def wait_for_output(server: ServerProcess, text: str) -> None:
    """Poll the server's log until `text` appears (the bootstrap prints its banner last)."""
    deadline = time.monotonic() + 30
    while text not in server.log_path.read_text():
        assert time.monotonic() < deadline, server.log_path.read_text()
        time.sleep(0.05)  # polling a process's output, not waiting on the market


def assert_credentials_work(server: ServerProcess) -> dict[str, Any]:
    """The credentials file's keys reach the user's accounts and the admin surface."""
    # The banner of a bootstrap, or the line of a start that resumed a completed one.
    wait_for_output(server, "serving")
    credentials = server.credentials
    with (
        server.client(credentials["api_key"]) as user,
        server.client(credentials["admin_key"]) as admin,
    ):
        assert user.get("/v1/accounts").status_code == 200
        listed = admin.get("/admin/v1/accounts")
        assert listed.status_code == 200, listed.text
    assert sorted(credentials["accounts"].values()) == [100001, 100002, 100003]
    assert [a["id"] for a in listed.json()["data"]] == [100001, 100002, 100003]
    return credentials


def test_a_second_server_on_a_database_in_use_exits_at_once_and_changes_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "oems.db"
    first = start_server(db)
    try:
        wait_for_output(first, "oems is serving")
        before = journal_count(db)
        # The first server holds the lock for as long as it runs: a second that waited for it
        # would never end, and `oems_serve` would time out. Ending at all is ending at once.
        second = oems_serve(db, timeout=30)
        assert_one_clear_message(
            second, 1, str(db), f"pid {first.process.pid}", f"port {first.port}"
        )
        assert journal_count(db) == before
        with first.client() as http:
            assert http.get("/v1/accounts").status_code == 200
        assert first.process.poll() is None
    finally:
        first.stop()


def test_a_start_on_a_taken_port_fails_cleanly_and_the_next_start_bootstraps(
    tmp_path: Path,
) -> None:
    db = tmp_path / "oems.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        failed = oems_serve(db, "--port", str(port))
    assert_one_clear_message(failed, 1, f"port {port}", "in use", "--port")
    assert journal_count(db) == 0
    assert not (tmp_path / "oems.db.credentials.json").exists()
    server = start_server(db)
    try:
        assert_credentials_work(server)
        banner = server.log_path.read_text()
        tools = Path(sys.executable).parent
        assert f"{tools}/clear-street v1:accounts get-accounts" in banner  # runnable as printed
        assert f"export CLEAR_STREET_BASE_URL={server.base_url}" in banner
        assert f"{tools}/python -c" in banner and "ClearStreet()" in banner
        assert server.credentials["api_key"] not in banner  # keys stay in the credentials file
    finally:
        server.stop()


def test_gitignore_covers_every_file_the_server_writes_beside_the_database(tmp_path: Path) -> None:
    server = start_server(tmp_path / "oems.db")
    try:
        row = {"ts": CLOCK_START, "symbol": "AAPL", "bid": "250.00", "ask": "250.02"}
        with server.admin() as admin:
            assert (
                admin.post("/admin/v1/market-data/replay", json={"rows": [row]}).status_code == 200
            )
        written = {p.name for p in tmp_path.iterdir()} - {"oems.log"}  # the test's own log
    finally:
        server.stop()
    gitignore = Path(__file__).resolve().parents[2] / ".gitignore"
    patterns = [
        line for line in gitignore.read_text().splitlines() if line and not line.startswith("#")
    ]
    assert {
        "oems.db",
        "oems.db-wal",
        "oems.db.lock",
        "oems.db.credentials.json",
        "oems.db.replay.csv",
    } <= written
    assert [
        name for name in sorted(written) if not any(fnmatch.fnmatch(name, p) for p in patterns)
    ] == []


@pytest.mark.parametrize("cut_after", [1, 3, 4])
def test_a_bootstrap_cut_short_is_completed_by_the_next_start(
    tmp_path: Path, cut_after: int
) -> None:
    db = tmp_path / "oems.db"
    config = Config(
        db_path=db, clock_mode=SIMULATED, clock_start_ns=None, clock_speed=0, market_data="manual"
    )

    async def interrupted_bootstrap() -> None:
        runtime = Runtime(config)
        await runtime.start()
        execute, done = runtime.engine.execute, []

        async def cut(command: object) -> object:
            if len(done) == cut_after:
                raise InterruptedError("the start was cut short here")
            done.append(command)
            return await execute(command)

        runtime.engine.execute = cut  # type: ignore[method-assign]
        with pytest.raises(InterruptedError):
            await bootstrap(runtime, API_KEY, ADMIN_KEY)
        await runtime.stop()

    asyncio.run(interrupted_bootstrap())
    server = start_server(db)
    try:
        credentials = assert_credentials_work(server)
        assert credentials["api_key"] == API_KEY
    finally:
        server.stop()


def test_database_wal_lock_credentials_and_replay_files_are_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "oems.db"
    server = start_server(db)
    try:
        row = {
            "ts": CLOCK_START,
            "symbol": "AAPL",
            "bid": "250.00",
            "ask": "250.02",
            "bid_size": 100,
            "ask_size": 100,
        }
        with server.admin() as admin:
            assert (
                admin.post("/admin/v1/market-data/replay", json={"rows": [row]}).status_code == 200
            )
        names = [
            "oems.db",
            "oems.db-wal",
            "oems.db-shm",
            "oems.db.lock",
            "oems.db.credentials.json",
            "oems.db.replay.csv",
        ]
        modes = {name: stat.S_IMODE((tmp_path / name).stat().st_mode) for name in names}
        assert modes == dict.fromkeys(names, 0o600)
    finally:
        server.stop()


def test_an_existing_world_readable_database_is_made_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "oems.db"
    sqlite3.connect(db).close()
    db.chmod(0o644)
    server = start_server(db)
    try:
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
    finally:
        server.stop()


@pytest.mark.parametrize("variable", ["OEMS_API_KEY", "OEMS_ADMIN_KEY"])
def test_a_chosen_key_shorter_than_24_characters_is_refused(tmp_path: Path, variable: str) -> None:
    db = tmp_path / "oems.db"
    result = oems_serve(db, env={variable: "x" * 23})
    assert_one_clear_message(result, 2, variable, "23 characters", "at least 24")
    assert not db.exists()


def test_sigint_at_any_moment_of_start_up_exits_130_and_leaves_a_usable_database(
    tmp_path: Path,
) -> None:
    db = tmp_path / "oems.db"
    env = {**os.environ, "OEMS_API_KEY": API_KEY, "OEMS_ADMIN_KEY": ADMIN_KEY}
    for delay in (0.5, 1.0, 2.0, 3.0):
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "oems"),  # as a user runs it
                *("serve", "--db", str(db), "--port", "0", "--market-data", "manual"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        time.sleep(delay)  # interrupting the process at different moments of its start-up
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGUSR1)  # its threads' stacks, to see where it hangs
            time.sleep(1)
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"no exit 60 s after SIGINT at {delay} s:\n{err}")
        assert process.returncode == 130, err
        assert "Traceback" not in out + err
        assert err.strip().endswith("oems: interrupted")
    server = start_server(db)
    try:
        assert_credentials_work(server)
    finally:
        server.stop()


def test_a_directory_as_database_is_named_with_the_way_out(tmp_path: Path) -> None:
    result = oems_serve(tmp_path)
    assert_one_clear_message(result, 1, f"--db {tmp_path} is a directory", "give a file path")


def test_a_database_in_a_missing_directory_is_named_with_the_way_out(tmp_path: Path) -> None:
    result = oems_serve(tmp_path / "missing" / "oems.db")
    assert_one_clear_message(result, 1, f"{tmp_path / 'missing'} does not exist", "create it")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_database_in_a_read_only_directory_is_named_with_the_way_out(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    result = oems_serve(folder / "oems.db")
    assert_one_clear_message(result, 1, "permission denied", str(folder))


def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "notes.db"
    content = b"these are my notes, not a database\n" * 10
    db.write_bytes(content)
    result = oems_serve(db)
    assert_one_clear_message(result, 1, str(db), "not an oems database", "backup", "another --db")
    assert db.read_bytes() == content


def _stopped_server_database(tmp_path: Path) -> Path:
    db = tmp_path / "oems.db"
    server = start_server(db, "--snapshot-every", "0")
    server.stop()
    return db


def test_a_truncated_database_is_refused_with_the_way_out(tmp_path: Path) -> None:
    db = _stopped_server_database(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    result = oems_serve(db)
    assert_one_clear_message(result, 1, str(db), "damaged", "backup")


def test_an_undecodable_event_is_named_with_what_is_intact(tmp_path: Path) -> None:
    db = _stopped_server_database(tmp_path)
    with sqlite3.connect(db) as conn:
        total = conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0]
        conn.execute(
            "UPDATE journal SET payload = ? WHERE seq = 3",
            (b'{"type":"UserCreated","ts_ns":1,"user_id":"x","name":1}',),
        )
    result = oems_serve(db)
    assert_one_clear_message(result, 1, str(db), f"event 3 of {total}", "Events 1-2 are intact")


def test_debug_shows_the_traceback_of_a_start_up_failure(tmp_path: Path) -> None:
    result = oems_serve(tmp_path, "--debug")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("oems: --db")


def test_an_unusable_option_value_is_a_usage_error(tmp_path: Path) -> None:
    db = tmp_path / "oems.db"
    result = oems_serve(db, "--clock-start", "yesterday")
    assert_one_clear_message(result, 2, "--clock-start", "ISO-8601")
    assert journal_count(db) == 0


def test_the_credentials_base_url_is_connectable_when_listening_on_every_interface(
    tmp_path: Path,
) -> None:
    db = tmp_path / "oems.db"
    server = start_server(db, "--host", "0.0.0.0")
    try:
        base = server.credentials["base_url"]
        assert base == f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{base}/healthz").status_code == 200
    finally:
        server.stop()
