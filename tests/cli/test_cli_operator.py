"""The `oems` operator commands, run as subprocesses against a live server's admin surface."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from tests.support.cli import answer, oems
from tests.support.servers import ADMIN_KEY, ServerProcess, start_server

# Every test here runs `oems`, whose start imports the whole server: about 2 s of CPU a run.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of this module's own: its clock, quotes and faults are moved here."""
    proc = start_server(tmp_path_factory.mktemp("cli_operator") / "oems.db")
    yield proc
    proc.stop()


def test_clock_show_set_and_advance(admin_server: ServerProcess) -> None:
    shown = oems(admin_server, "clock", "show")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0].split() == ["field", "value"]
    assert "simulated" in shown.stdout and "2025-10-15T14:30:00" in shown.stdout
    moved = answer(
        oems(
            admin_server,
            *("clock", "set", "simulated", "--now", "2025-10-16T14:30:00Z", "--speed", "0"),
            "--json",
        )
    )
    assert moved["now"].startswith("2025-10-16T14:30:00") and moved["speed"] == 0
    later = answer(oems(admin_server, "clock", "advance", "90m", "--json"))
    assert later["now"].startswith("2025-10-16T16:00")
    closed = answer(
        oems(admin_server, "clock", "advance", "--to", "2025-10-16T21:00:00Z", "--json")
    )
    assert closed["session"] != later["session"]


def test_accounts_create_fund_and_list(admin_server: ServerProcess) -> None:
    created = answer(
        oems(
            admin_server,
            *("accounts", "create", "--owner", "desk", "--name", "Desk 2"),
            *("--subtype", "MARGIN", "--options-level", "2", "--cash", "50000", "--json"),
        )
    )
    assert (created["full_name"], created["subtype"], created["cash"]) == (
        "Desk 2",
        "MARGIN",
        "50000.00",
    )
    withdrawn = oems(admin_server, "accounts", "fund", str(created["id"]), "-2500")
    assert withdrawn.returncode == 0, withdrawn.stderr
    assert any(line.split() == ["trade_cash", "47500.00"] for line in withdrawn.stdout.splitlines())
    listed = answer(oems(admin_server, "accounts", "list", "--json"))
    mine = next(account for account in listed if account["id"] == created["id"])
    assert (mine["owner"], mine["trade_cash"], mine["settled_cash"]) == (
        "desk",
        "47500.00",
        "47500.00",
    )
    table = oems(admin_server, "accounts", "list")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        *("id", "owner", "full_name", "subtype", "status"),
        *("options_level", "trade_cash", "settled_cash"),
    ]
    assert any(line.split()[:2] == [str(created["id"]), "desk"] for line in lines[2:])


def test_keys_create_and_revoke(admin_server: ServerProcess) -> None:
    account = answer(
        oems(
            admin_server,
            *("accounts", "create", "--owner", "quant", "--name", "Quant"),
            *("--subtype", "CASH", "--json"),
        )
    )
    issued = answer(
        oems(
            admin_server,
            *("keys", "create", "--user", "quant", "--account", str(account["id"]), "--json"),
        )
    )
    assert issued["account_ids"] == [account["id"]] and issued["api_key"].startswith("oems_")
    with admin_server.client(issued["api_key"]) as quant:
        assert [a["id"] for a in quant.get("/v1/accounts").json()["data"]] == [account["id"]]
        revoked = answer(oems(admin_server, "keys", "revoke", issued["id"], "--json"))
        assert revoked["revoked"] is True
        assert quant.get("/v1/accounts").status_code == 401


def test_quotes_set_and_release(admin_server: ServerProcess) -> None:
    pinned = answer(
        oems(
            admin_server,
            *("quotes", "set", "MSFT", "--bid", "400.10", "--ask", "400.20"),
            *("--bid-size", "300", "--last", "400.15", "--json"),
        )
    )
    assert (pinned["symbol"], Decimal(pinned["bid"]), pinned["bid_size"], pinned["pinned"]) == (
        "MSFT",
        Decimal("400.10"),
        300,
        True,
    )
    released = oems(admin_server, "quotes", "release", "MSFT")
    assert released.returncode == 0 and "pinned" in released.stdout
    assert "false" in released.stdout


def test_faults_show_set_and_clear(admin_server: ServerProcess) -> None:
    set_ = answer(
        oems(
            admin_server,
            *("faults", "set", "--reject-next", "2", "--reject-reason", "venue down"),
            *("--ack-delay-ms", "5", "--json"),
        )
    )
    assert set_ == {
        "reject_next": 2,
        "reject_reason": "venue down",
        "ack_delay_ms": 5,
        "clearing_unavailable": False,
    }
    assert answer(oems(admin_server, "faults", "show", "--json")) == set_
    down = answer(oems(admin_server, "faults", "set", "--clearing", "unavailable", "--json"))
    assert down == {**set_, "clearing_unavailable": True}
    cleared = answer(oems(admin_server, "faults", "clear", "--json"))
    assert cleared["reject_next"] == 0 and cleared["ack_delay_ms"] == 0
    assert cleared["clearing_unavailable"] is False
    nothing = oems(admin_server, "faults", "set")
    assert nothing.returncode == 2 and "--reject-next" in nothing.stderr


REPLAY_CSV = """ts,symbol,bid,ask,bid_size,ask_size,last,last_size
2025-10-15T14:30:00Z,AAPL,210.10,210.14,300,200,210.12,100
2025-10-15T14:30:01Z,AAPL,,,,,210.13,50
2025-10-15T14:30:02Z,SPY,600.00,600.02,100,100,,
"""


def test_replay_checks_the_file_then_loads_it(admin_server: ServerProcess, tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text(REPLAY_CSV.replace("2025-10-15T14:30:01Z", "yesterday"))
    refused = oems(admin_server, "replay", str(broken))
    assert refused.returncode == 2 and "broken.csv:3: invalid timestamp" in refused.stderr
    good = tmp_path / "quotes.csv"
    good.write_text(REPLAY_CSV)
    loaded = oems(admin_server, "replay", str(good), "--chunk-rows", "2", "--json")
    assert answer(loaded) == {"file": str(good), "rows": 3, "symbols": 2}
    kept = admin_server.db_path.with_name(admin_server.db_path.name + ".replay.csv")
    assert len(kept.read_text().splitlines()) == 4  # the header and the three rows


def test_errors_say_what_went_wrong(admin_server: ServerProcess, tmp_path: Path) -> None:
    unknown = oems(admin_server, "quotes", "set", "NOPE", "--bid", "1")
    assert unknown.returncode == 1 and "Instrument not found" in unknown.stderr
    nowhere = oems(None, "clock", "show", "--db", str(tmp_path / "none.db"))
    assert nowhere.returncode == 2 and "no admin key" in nowhere.stderr
    explicit = oems(
        None,
        *("clock", "show", "--json", "--base-url", admin_server.base_url),
        env={"OEMS_ADMIN_KEY": ADMIN_KEY},
    )
    assert answer(explicit)["mode"] == "simulated"
    down = oems(None, "clock", "show", "--base-url", "http://127.0.0.1:9", "--admin-key", "k")
    assert down.returncode == 1 and "cannot reach the server" in down.stderr


def test_bash_completion_script() -> None:
    script = oems(None, "--print-completion", "bash")
    assert script.returncode == 0
    assert "complete -o bashdefault -F _shtab_oems_colon_words oems" in script.stdout
    assert "_shtab_oems_clock_subparsers=(show set advance)" in script.stdout
