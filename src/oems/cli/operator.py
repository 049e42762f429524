"""The `oems` operator commands: a running server's sandbox, through its admin surface `/admin/v1`.

`oems accounts|keys|clock|quotes|faults|replay ...` call the server over HTTP with the admin key:
`--admin-key`, else `OEMS_ADMIN_KEY`, else the credentials file the server wrote beside its
database (`--db`, default `oems.db`). Output is a table for people, or the answer's data as JSON
with `--json`. Exit status: 0 on success, 1 when the server answers an error or cannot be reached,
2 on a usage error.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from oems.cli import sandbox
from oems.cli.credentials import credentials_path
from oems.cli.streams import write_out
from oems.cli.tables import render_table

DEFAULT_BASE_URL = "http://127.0.0.1:5001"
REPLAY_CHUNK_ROWS = 1000
OK, API_ERROR, USAGE_ERROR = 0, 1, 2

OPERATOR_COMMANDS = (
    "accounts",
    "keys",
    "clock",
    "quotes",
    "faults",
    "replay",
    *sandbox.SANDBOX_COMMANDS,
)

OPERATOR_EPILOG = f"""\
operator commands talk to a running server's admin surface. They find it and its admin key
through --base-url / $OEMS_BASE_URL and --admin-key / $OEMS_ADMIN_KEY, else through the
credentials file `oems serve` wrote beside its database (--db / $OEMS_DB, default oems.db),
else at {DEFAULT_BASE_URL}. Each prints a table, or the data as JSON with --json.

examples:
  oems clock set simulated --now 2025-10-15T13:30:00Z --speed 0
  oems clock advance 2h                       (or 90s, 15m, 1d; or --to ISO)
  oems quotes set AAPL --bid 199.98 --ask 200.02 --last 200.00
  oems accounts create --owner desk --name "Desk 2" --subtype MARGIN --cash 50000
  oems accounts fund 100004 -2500
  oems keys create --user desk --account 100004
  oems faults set --reject-next 1 --reject-reason "venue down"
  oems replay quotes.csv
  oems reset --clock simulated --now 2025-10-15T13:30:00Z --speed 0
  oems scenarios add reject --symbol TSLA --reason "no TSLA today" --times 1
  oems replay --clear AAPL                    (forget replayed rows; no symbol: all)
  oems keys list
  oems accounts status 100004 INACTIVE

exit status: 0 success, 1 the server answered an error or could not be reached, 2 usage error

shell completion: eval "$(oems --print-completion bash)"     (or zsh, tcsh)
"""


class OperatorError(Exception):
    """A failure to report on stderr with the exit status it ends the command with."""

    def __init__(self, message: str, status: int = API_ERROR) -> None:
        super().__init__(message)
        self.status = status


def add_operator_commands(sub: Any) -> None:
    """Add `accounts`, `keys`, `clock`, `quotes`, `faults` and `replay` to the `oems` sub-parsers."""
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("server")
    where.add_argument(
        "--base-url",
        metavar="URL",
        help="the server (default: $OEMS_BASE_URL, else the credentials file's, else "
        f"{DEFAULT_BASE_URL})",
    )
    where.add_argument(
        "--admin-key",
        metavar="KEY",
        help="admin key (default: $OEMS_ADMIN_KEY, else the credentials file's)",
    )
    where.add_argument(
        "--db",
        metavar="PATH",
        help="the server's database, to find <db>.credentials.json (default: $OEMS_DB, else oems.db)",
    )
    where.add_argument("--json", action="store_true", help="print the answer's data as JSON")

    def group(name: str, help_text: str) -> Any:
        parser = sub.add_parser(name, help=help_text, description=help_text)
        return parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(actions: Any, name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(
            name, help=help_text, description=help_text, parents=[common]
        )
        return parser

    accounts = group("accounts", "list, open and fund accounts")
    action(accounts, "list", "list every account with its owner and cash")
    create = action(accounts, "create", "open an account for a user (created if new)")
    create.add_argument("--owner", required=True, help="user name owning the account")
    create.add_argument("--name", required=True, help="the account's full name")
    create.add_argument("--subtype", choices=("CASH", "MARGIN"), required=True)
    create.add_argument("--options-level", type=int, default=0, help="0-4 (default 0)")
    create.add_argument("--cash", default="0", help="starting cash, a decimal (default 0)")
    create.add_argument("--short-name", help="short name (default: none)")
    fund = action(accounts, "fund", "deposit (positive) or withdraw (negative) cash")
    fund.add_argument("account_id", type=int, metavar="ACCOUNT_ID")
    fund.add_argument("amount", metavar="AMOUNT", help="a decimal, e.g. 2500 or -2500.00")
    fund.add_argument("--memo", default="", help="a note journaled with the movement")
    status = action(accounts, "status", "set an account ACTIVE, INACTIVE (no new orders) or CLOSED")
    status.add_argument("account_id", type=int, metavar="ACCOUNT_ID")
    status.add_argument(
        "status",
        choices=("ACTIVE", "INACTIVE", "CLOSED"),
        help="CLOSED is for flat accounts only, and for good",
    )

    keys = group("keys", "list, issue and revoke API keys")
    action(
        keys, "list", "every key: id, user, accounts, created, expires, revoked (never a secret)"
    )
    issue = action(keys, "create", "issue an API key; its secret is shown this once")
    issue.add_argument("--user", required=True, help="the user the key acts for")
    issue.add_argument(
        "--account",
        type=int,
        action="append",
        dest="account_ids",
        metavar="ACCOUNT_ID",
        help="an account the key may use; repeat per account (default: all the user's)",
    )
    issue.add_argument("--expires-at", metavar="ISO", help="expiry instant (default: never)")
    revoke = action(keys, "revoke", "revoke an API key at once")
    revoke.add_argument("key_id", metavar="KEY_ID")

    clock = group("clock", "show, set and move the market clock")
    action(clock, "show", "the clock's mode, instant, speed and session")
    set_clock = action(clock, "set", "switch to the wall clock, or a simulated one")
    set_clock.add_argument("mode", choices=("wall", "simulated"))
    set_clock.add_argument("--now", metavar="ISO", help="where a simulated clock starts")
    set_clock.add_argument(
        "--speed", type=float, help="simulated seconds per second; 0 freezes it (default 1)"
    )
    advance = action(clock, "advance", "move a simulated clock forward, running what falls due")
    advance.add_argument(
        "duration",
        nargs="?",
        metavar="DURATION",
        help="how far: seconds, or with a unit: 90s, 15m, 2h, 1d",
    )
    advance.add_argument("--to", metavar="ISO", help="move to this instant instead")

    quotes = group("quotes", "pin and release quotes")
    pin = action(quotes, "set", "pin a quote on an instrument until released")
    pin.add_argument("symbol", metavar="SYMBOL", help="ticker, OSI option symbol or instrument id")
    pin.add_argument("--bid", help="bid price")
    pin.add_argument("--ask", help="ask price")
    pin.add_argument("--bid-size", type=int, help="bid size (default 100)")
    pin.add_argument("--ask-size", type=int, help="ask size (default 100)")
    pin.add_argument("--last", help="last trade price")
    release = action(quotes, "release", "release a pinned quote: back to the market data source")
    release.add_argument("symbol", metavar="SYMBOL")

    faults = group("faults", "inject venue faults: rejections and acknowledgement delays")
    action(faults, "show", "the faults in force")
    set_faults = action(faults, "set", "set faults (the ones not given are left as they are)")
    set_faults.add_argument("--reject-next", type=int, metavar="N", help="reject the next N orders")
    set_faults.add_argument("--reject-reason", metavar="TEXT", help="the rejection's reason")
    set_faults.add_argument(
        "--ack-delay-ms", type=int, metavar="MS", help="delay every acknowledgement by MS"
    )
    set_faults.add_argument(
        "--clearing",
        choices=("available", "unavailable"),
        help="the clearing service: unavailable refuses position instructions (503)",
    )
    action(faults, "clear", "clear every fault")

    replay = sub.add_parser(
        "replay",
        help="load a market data CSV into the running server",
        description="Check a market data CSV (ts,symbol,bid,ask,bid_size,ask_size,last,last_size;"
        " see the README) and load it into the running server, with a progress bar.",
        parents=[common],
    )
    sandbox.add_sandbox_commands(sub, common)
    replay.add_argument("file", type=Path, nargs="?", metavar="FILE")
    replay.add_argument(
        "--clear",
        nargs="*",
        metavar="SYMBOL",
        help="instead of loading: forget the replayed rows of these symbols (none given: all)",
    )
    replay.add_argument(
        "--chunk-rows",
        type=int,
        default=REPLAY_CHUNK_ROWS,
        help=f"rows per request (default {REPLAY_CHUNK_ROWS})",
    )


def run(args: argparse.Namespace) -> int:
    """Carry out one operator command; returns the exit status."""
    try:
        with _admin_client(args) as client:
            data = _dispatch(client, args)
    except OperatorError as exc:
        print(f"oems: {exc}", file=sys.stderr)
        return exc.status
    except httpx.HTTPError as exc:
        print(
            f"oems: cannot reach the server: {exc}\n"
            "  Is `oems serve` running? Point at it with --base-url or OEMS_BASE_URL.",
            file=sys.stderr,
        )
        return API_ERROR
    write_out(
        sys.stdout,
        json.dumps(data, indent=2, ensure_ascii=False) if args.json else render_table(data),
    )
    return OK


AdminRequest = tuple[str, str, dict[str, Any] | None]
"""(method, path, body) of one admin request."""


def _faults_body(args: argparse.Namespace) -> dict[str, Any]:
    body = {
        "reject_next": args.reject_next,
        "reject_reason": args.reject_reason,
        "ack_delay_ms": args.ack_delay_ms,
        "clearing_unavailable": None if args.clearing is None else args.clearing == "unavailable",
    }
    if all(value is None for value in body.values()):
        raise OperatorError(
            "faults set: give at least one of --reject-next, --reject-reason, --ack-delay-ms,"
            " --clearing",
            USAGE_ERROR,
        )
    return body


# "<command> <action>" -> the admin request that carries it out.
_REQUESTS: dict[str, Callable[[argparse.Namespace], AdminRequest]] = {
    "accounts list": lambda args: ("GET", "/admin/v1/accounts", None),
    "accounts create": lambda args: (
        "POST",
        "/admin/v1/accounts",
        {
            "owner": args.owner,
            "full_name": args.name,
            "subtype": args.subtype,
            "options_level": args.options_level,
            "cash": args.cash,
            "short_name": args.short_name,
        },
    ),
    "accounts fund": lambda args: (
        "POST",
        f"/admin/v1/accounts/{args.account_id}/cash",
        {"amount": args.amount, "memo": args.memo},
    ),
    "accounts status": lambda args: (
        "POST",
        f"/admin/v1/accounts/{args.account_id}/status",
        {"status": args.status},
    ),
    "keys list": lambda args: ("GET", "/admin/v1/api-keys", None),
    "keys create": lambda args: (
        "POST",
        "/admin/v1/api-keys",
        {"user": args.user, "account_ids": args.account_ids, "expires_at": args.expires_at},
    ),
    "keys revoke": lambda args: ("DELETE", f"/admin/v1/api-keys/{args.key_id}", None),
    "clock show": lambda args: ("GET", "/admin/v1/clock", None),
    "clock set": lambda args: (
        "POST",
        "/admin/v1/clock",
        {"mode": args.mode, "now": args.now, "speed": args.speed},
    ),
    "clock advance": lambda args: ("POST", "/admin/v1/clock/advance", _advance_body(args)),
    "quotes set": lambda args: (
        "PUT",
        f"/admin/v1/quotes/{args.symbol}",
        {
            "bid": args.bid,
            "ask": args.ask,
            "bid_size": args.bid_size,
            "ask_size": args.ask_size,
            "last": args.last,
        },
    ),
    "quotes release": lambda args: ("DELETE", f"/admin/v1/quotes/{args.symbol}", None),
    "faults show": lambda args: ("GET", "/admin/v1/faults", None),
    "faults set": lambda args: ("POST", "/admin/v1/faults", _faults_body(args)),
    "faults clear": lambda args: ("DELETE", "/admin/v1/faults", None),
}


def _dispatch(client: httpx.Client, args: argparse.Namespace) -> Any:
    if args.command in sandbox.SANDBOX_COMMANDS:
        return sandbox.dispatch(client, args, _call)
    if args.command == "replay":
        return _replay(client, args)
    method, path, body = _REQUESTS[f"{args.command} {args.action}"](args)
    return _call(client, method, path, body)


def _replay(client: httpx.Client, args: argparse.Namespace) -> Any:
    if (args.file is None) == (args.clear is None):
        raise OperatorError("replay: give a FILE to load, or --clear [SYMBOL ...]", USAGE_ERROR)
    if args.clear is not None:
        path = "/admin/v1/market-data/replay"
        if args.clear:
            path += "?symbols=" + ",".join(args.clear)
        return _call(client, "DELETE", path)
    return replay(client, args.file, args.chunk_rows)


def _call(client: httpx.Client, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One admin request; the answer's `data`, or `OperatorError` with the server's message."""
    payload = None if body is None else {k: v for k, v in body.items() if v is not None}
    response = client.request(method, path, json=payload)
    try:
        envelope = response.json()
    except ValueError:
        envelope = None
    if response.is_success and isinstance(envelope, dict):
        return envelope.get("data")
    error = envelope.get("error") if isinstance(envelope, dict) else None
    message = error.get("message") if isinstance(error, dict) else response.text
    text = f"{method} {path}: {response.status_code} {message}"
    if response.status_code in (404, 405) and str(message).startswith(("No route", "Method")):
        text += "\n  This server has no such admin endpoint."
    raise OperatorError(text)


def _advance_body(args: argparse.Namespace) -> dict[str, Any]:
    if (args.duration is None) == (args.to is None):
        raise OperatorError("clock advance: give a DURATION (e.g. 15m) or --to ISO", USAGE_ERROR)
    if args.to is not None:
        return {"to": args.to}
    return {"seconds": parse_duration(args.duration)}


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `2h`, `1d` as seconds; `OperatorError` (usage) otherwise."""
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise OperatorError(
            f"clock advance: cannot read the duration {text!r}: use seconds or 90s, 15m, 2h, 1d",
            USAGE_ERROR,
        )
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _admin_client(args: argparse.Namespace) -> httpx.Client:
    db = Path(args.db or os.environ.get("OEMS_DB") or "oems.db")
    credentials = _credentials(db)
    key = args.admin_key or os.environ.get("OEMS_ADMIN_KEY") or credentials.get("admin_key")
    if not key:
        raise OperatorError(
            "no admin key: pass --admin-key KEY, set OEMS_ADMIN_KEY, or point --db at the "
            f"server's database so its credentials file is found (looked for {credentials_path(db)})",
            USAGE_ERROR,
        )
    base_url = (
        args.base_url
        or os.environ.get("OEMS_BASE_URL")
        or credentials.get("base_url")
        or DEFAULT_BASE_URL
    )
    return httpx.Client(
        base_url=str(base_url), headers={"Authorization": f"Bearer {key}"}, timeout=60
    )


def _credentials(db: Path) -> dict[str, Any]:
    path = credentials_path(db.resolve())
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise OperatorError(f"cannot read {path}: {exc}", USAGE_ERROR) from None
    return loaded if isinstance(loaded, dict) else {}


def replay(client: httpx.Client, path: Path, chunk_rows: int) -> dict[str, Any]:
    """Check a market data CSV as the server's replay source reads it, then send it in chunks
    to `POST /admin/v1/market-data/replay` with a progress bar."""
    from oems.market.replay import ReplaySource  # numpy and pricing: only this command needs them

    if chunk_rows < 1:
        raise OperatorError("replay: --chunk-rows must be at least 1", USAGE_ERROR)
    try:
        ReplaySource(path)
    except (OSError, ValueError) as exc:
        raise OperatorError(f"replay: {exc}", USAGE_ERROR) from None
    total = sum(1 for _ in replay_rows(path))
    symbols: set[str] = set()
    with tqdm(total=total, unit="row", desc=f"replay {path.name}", file=sys.stderr) as bar:
        chunk: list[dict[str, Any]] = []
        for row in replay_rows(path):
            chunk.append(row)
            symbols.add(row["symbol"])
            if len(chunk) == chunk_rows:
                _send_rows(client, chunk)
                bar.update(len(chunk))
                chunk = []
        if chunk:
            _send_rows(client, chunk)
            bar.update(len(chunk))
    return {"file": str(path), "rows": total, "symbols": len(symbols)}


def _send_rows(client: httpx.Client, rows: list[dict[str, Any]]) -> None:
    try:
        _call(client, "POST", "/admin/v1/market-data/replay", {"rows": rows})
    except OperatorError as exc:
        if "no such admin endpoint" in str(exc):
            raise OperatorError(
                f"{exc}\n  To play this file, start the server with "
                "`oems serve --market-data replay:FILE`."
            ) from None
        raise


REPLAY_SIZES = ("bid_size", "ask_size", "last_size")


def replay_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a replay CSV as the endpoint takes them: the eight columns, prices as decimal
    strings, sizes as integers, empty fields as null."""
    from oems.market.replay import REPLAY_COLUMNS

    with path.open(newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            fields = {
                str(k).strip().lower(): (v or "").strip()
                for k, v in record.items()
                if k is not None
            }
            if not any(fields.values()):
                continue
            row: dict[str, Any] = {}
            for column in REPLAY_COLUMNS:
                text = fields.get(column, "")
                row[column] = (int(text) if column in REPLAY_SIZES else text) if text else None
            yield row
