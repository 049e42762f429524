"""Both command lines refuse what a typo makes, end quietly on a closed pipe, and the operator
commands cover keys, account status, the next session and forgetting replayed rows."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.cli import OEMS, answer, oems
from tests.support.servers import ServerProcess, start_server

pytestmark = pytest.mark.slow
CLEAR_STREET = str(Path(sys.executable).with_name("clear-street"))
ORDER = "{symbol: AAPL, side: BUY, quantity: 1, order_type: LIMIT, limit_price: 1.00, time_in_force: DAY"


@pytest.fixture(scope="module")
def operated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A manual-market server of this module's own."""
    proc = start_server(tmp_path_factory.mktemp("strict") / "oems.db", "--market-data", "manual")
    yield proc
    proc.stop()


def clear_street(
    *args: str, base_url: str = "http://127.0.0.1:9"
) -> subprocess.CompletedProcess[str]:
    """Run `clear-street ARGS` against a server that is not there (usage errors send nothing)."""
    env = {**os.environ, "CLEAR_STREET_API_KEY": "oems_x", "CLEAR_STREET_BASE_URL": base_url}
    return subprocess.run(
        [CLEAR_STREET, *args], capture_output=True, text=True, env=env, timeout=60
    )


def assert_usage_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 2, nothing on stdout, and the message names `words`; no traceback."""
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_an_unknown_flag_is_named_with_the_nearest_before_missing_required_ones() -> None:
    result = clear_street("v1:orders", "get-orders", "--acount-id", "100001")
    assert_usage_error(result, "unknown option --acount-id (did you mean --account-id?)")
    assert "required" not in result.stderr


@pytest.mark.parametrize(
    ("flag", "nearest"), [("--account", "--account-id"), ("--statu", "--status")]
)
def test_an_abbreviated_flag_is_an_error_naming_it(flag: str, nearest: str) -> None:
    result = clear_street("v1:orders", "get-orders", "--account-id", "100001", flag, "1")
    assert_usage_error(result, f"unknown option {flag} (did you mean {nearest}?)")


def test_an_unknown_field_inside_an_object_flag_is_an_error_with_a_caret() -> None:
    written = ORDER + ", bogus_field: 3}"
    result = clear_street(
        "v1:orders", "submit-orders", "--account-id", "100001", "--order", written
    )
    assert_usage_error(result, "unknown field `bogus_field`")
    lines = result.stderr.splitlines()
    caret = lines.index(f"    {written}") + 1
    assert lines[caret].index("^") == 4 + written.index("bogus_field")


def test_a_misspelt_optional_field_suggests_the_real_one() -> None:
    result = clear_street(
        "v1:orders", "submit-orders", "--account-id", "1", "--order", ORDER + ", limit_prise: 2}"
    )
    assert_usage_error(result, "unknown field `limit_prise`; did you mean `limit_price`?")


def test_oems_refuses_unknown_and_abbreviated_flags() -> None:
    assert_usage_error(
        oems(None, "accounts", "list", "--jsn"), "unknown option --jsn (did you mean --json?)"
    )
    assert_usage_error(
        oems(None, "serve", "--prot", "5"), "unknown option --prot (did you mean --port?)"
    )
    assert_usage_error(oems(None, "serve", "--po", "5"), "unknown option --po")


def test_a_closed_pipe_ends_the_output_quietly(operated: ServerProcess) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OEMS_")}
    for command in (
        f"{OEMS} accounts list --json | head -1",
        f"{OEMS} keys list --json | head -c 1",
    ):
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            capture_output=True,
            text=True,
            cwd=operated.db_path.parent,
            env=env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""


def test_keys_list_shows_every_key_without_a_secret(operated: ServerProcess) -> None:
    created = answer(
        oems(operated, "keys", "create", "--user", "desk", "--account", "100001", "--json")
    )
    listed = answer(oems(operated, "keys", "list", "--json"))
    assert [k["user"] for k in listed][:2] == ["sandbox", "admin"]
    mine = next(k for k in listed if k["id"] == created["id"])
    assert mine == {key: value for key, value in created.items() if key != "api_key"}
    assert set(mine) == {
        "id",
        "user",
        "admin",
        "account_ids",
        "created_at",
        "expires_at",
        "revoked",
    }
    text = operated.log_path.read_text() + str(listed)
    assert created["api_key"] not in text
    table = oems(operated, "keys", "list")
    assert table.returncode == 0 and created["id"] in table.stdout


def test_accounts_status_sets_and_shows_the_status(operated: ServerProcess) -> None:
    changed = answer(oems(operated, "accounts", "status", "100002", "INACTIVE", "--json"))
    assert changed == {"account_id": 100002, "status": "INACTIVE", "close_date": None}
    listed = answer(oems(operated, "accounts", "list", "--json"))
    assert next(a for a in listed if a["id"] == 100002)["status"] == "INACTIVE"
    answer(oems(operated, "accounts", "status", "100002", "ACTIVE", "--json"))
    assert_usage_error(oems(operated, "accounts", "status", "100002", "PAUSED"), "invalid choice")


def test_clock_show_gives_the_next_session_when_the_market_is_closed(tmp_path: Path) -> None:
    # Saturday 2025-10-18: closed; the next session is Monday's pre-market at 04:00 US/Eastern.
    server = start_server(
        tmp_path / "oems.db",
        "--clock",
        "simulated",
        "--clock-start",
        "2025-10-18T15:00:00Z",
        "--clock-speed",
        "0",
    )
    try:
        shown = answer(oems(server, "clock", "show", "--json"))
    finally:
        server.stop()
    assert shown["session"] is None
    assert shown["next_session"] == "pre_market"
    assert shown["next_session_starts_at"].startswith("2025-10-20T08:00:00")
    assert shown["next_session_ends_at"].startswith("2025-10-20T13:30:00")


def test_replay_clear_forgets_replayed_rows_durably(
    operated: ServerProcess, tmp_path: Path
) -> None:
    csv = tmp_path / "rows.csv"
    csv.write_text(
        "ts,symbol,bid,ask,bid_size,ask_size,last,last_size\n"
        "2025-10-15T14:00:00Z,AAPL,249.00,250.00,100,100,,\n"
        "2025-10-15T14:00:00Z,MSFT,509.00,510.00,100,100,,\n"
    )
    assert oems(operated, "replay", str(csv)).returncode == 0
    log = operated.db_path.with_name("oems.db.replay.csv")
    cleared = answer(oems(operated, "replay", "--clear", "aapl", "--json"))
    assert cleared == {"rows": 1, "symbols": ["AAPL"]}
    assert "AAPL" not in log.read_text() and "MSFT" in log.read_text()
    with operated.client() as client:
        quoted = client.get(
            "/v1/market-data/snapshot", params={"instrument_ids": "AAPL,MSFT"}
        ).json()["data"]
    by_symbol = {row["symbol"]: row for row in quoted}
    assert by_symbol["MSFT"]["last_quote"]["ask"] == "510.00"
    assert by_symbol["AAPL"]["last_quote"] is None  # a manual market: no data but replayed rows
    with operated.admin() as admin:
        empty = admin.delete("/admin/v1/market-data/replay", params={"symbols": ""})
        assert empty.status_code == 400 and "symbols" in empty.json()["error"]["message"]
        unknown = admin.delete("/admin/v1/market-data/replay", params={"symbols": "NOPE1"})
        assert unknown.status_code == 404
    assert answer(oems(operated, "replay", "--clear", "--json")) == {"rows": 1, "symbols": ["MSFT"]}
    assert not log.exists()
    assert_usage_error(oems(operated, "replay"), "give a FILE", "--clear")


def test_a_replay_row_with_the_wrong_number_of_fields_is_refused_naming_the_line(
    operated: ServerProcess, tmp_path: Path
) -> None:
    csv = tmp_path / "short.csv"
    csv.write_text(
        "ts,symbol,bid,ask,bid_size,ask_size,last,last_size\n"
        "2025-10-15T14:00:00Z,AAPL,249.00,250.00,100,100,,\n"
        "2026-12-01T19:00:00Z,AAPL,249.00,250.00,100\n"
    )
    result = oems(operated, "replay", str(csv))
    assert_usage_error(result, f"{csv}:3: 5 fields, but the header has 8")
    log = operated.db_path.with_name("oems.db.replay.csv")
    assert not log.exists() or "2026-12-01" not in log.read_text()  # nothing was sent
