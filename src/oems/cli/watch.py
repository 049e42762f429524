"""`oems watch`: a running server's `/v1/ws` stream as readable lines, or raw with `--json`.

It subscribes to the accounts' activity (and the `--quotes`), prints what arrives live, and when
the connection drops (a restart, a crash, a slow-consumer cut-off) reconnects and resumes after
the last sequence it printed, so nothing is missed or shown twice. The key comes from
`--api-key`, `$OEMS_API_KEY`, `$CLEAR_STREET_API_KEY`, or the credentials file beside `--db`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from oems.cli.credentials import credentials_path
from oems.cli.streams import write_out

DEFAULT_BASE_URL = "http://127.0.0.1:5001"
RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)  # waits between reconnection attempts, the last repeated
OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130


class WatchError(Exception):
    """A failure that ends the command, with its exit status."""

    def __init__(self, message: str, status: int = FAILED) -> None:
        super().__init__(message)
        self.status = status


def add_watch_command(sub: Any) -> None:
    """Add `oems watch` to the `oems` sub-parsers."""
    text = "print an account's activity and quotes live from /v1/ws, resuming after a restart"
    watch = sub.add_parser("watch", help=text, description=text + ".")
    watch.add_argument(
        "--account",
        type=int,
        action="append",
        dest="accounts",
        metavar="ACCOUNT_ID",
        help="an account to watch; repeat for more",
    )
    watch.add_argument(
        "--quotes", metavar="SYMBOLS", help="comma-separated tickers, OSI symbols or instrument ids"
    )
    watch.add_argument(
        "--since",
        type=int,
        metavar="SEQUENCE",
        help="first print the activity after this sequence (default: from now on)",
    )
    watch.add_argument(
        "--today", action="store_true", help="first print the trading day's activity so far"
    )
    watch.add_argument("--json", action="store_true", help="print the raw messages, one a line")
    watch.add_argument(
        "--base-url",
        metavar="URL",
        help="the server (default: $OEMS_BASE_URL, $CLEAR_STREET_BASE_URL, the credentials "
        f"file's, else {DEFAULT_BASE_URL})",
    )
    watch.add_argument(
        "--api-key",
        metavar="KEY",
        help="a user API key (default: $OEMS_API_KEY, $CLEAR_STREET_API_KEY, the credentials "
        "file's)",
    )
    watch.add_argument(
        "--db",
        metavar="PATH",
        help="the server's database, to find <db>.credentials.json (default: $OEMS_DB, else oems.db)",
    )


def run_watch(args: argparse.Namespace) -> int:
    """Run `oems watch` until interrupted; returns the exit status."""
    try:
        if not args.accounts and not args.quotes:
            raise WatchError("watch: give --account ACCOUNT_ID and/or --quotes SYMBOLS", USAGE)
        if args.since is not None and args.today:
            raise WatchError("watch: --since and --today are alternatives", USAGE)
        url, key = _server(args)
        watcher = Watcher(url, key, args)
        asyncio.run(watcher.run())
    except WatchError as exc:
        print(f"oems: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return INTERRUPTED
    return OK


def _server(args: argparse.Namespace) -> tuple[str, str]:
    """The stream's ws:// URL and the key to present."""
    db = Path(args.db or os.environ.get("OEMS_DB") or "oems.db")
    path = credentials_path(db.resolve())
    try:
        credentials = json.loads(path.read_text())
    except FileNotFoundError:
        credentials = {}
    except (OSError, ValueError) as exc:
        raise WatchError(f"cannot read {path}: {exc}", USAGE) from None
    if not isinstance(credentials, dict):
        credentials = {}
    key = (
        args.api_key
        or os.environ.get("OEMS_API_KEY")
        or os.environ.get("CLEAR_STREET_API_KEY")
        or credentials.get("api_key")
    )
    if not key:
        raise WatchError(
            "no API key: pass --api-key KEY, set OEMS_API_KEY, or point --db at the server's "
            f"database so its credentials file is found (looked for {path})",
            USAGE,
        )
    base = str(
        args.base_url
        or os.environ.get("OEMS_BASE_URL")
        or os.environ.get("CLEAR_STREET_BASE_URL")
        or credentials.get("base_url")
        or DEFAULT_BASE_URL
    ).rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + "/v1/ws", str(key)
    return "ws://" + base.removeprefix("http://") + "/v1/ws", str(key)


class Watcher:
    """One watch: the subscriptions, the last sequence printed per account, the reconnections."""

    def __init__(self, url: str, key: str, args: argparse.Namespace) -> None:
        self.url = url
        self.key = key
        self.raw = bool(args.json)
        self.symbols = [s.strip() for s in (args.quotes or "").split(",") if s.strip()]
        # account -> the last sequence printed (None: none yet; subscribe from the day's start).
        self.last: dict[int, int | None] = {a: args.since for a in args.accounts or []}
        self.from_now = args.since is None and not args.today  # skip what came before the watch

    async def run(self) -> None:
        """Watch until interrupted, reconnecting whenever the connection ends."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidURI, WebSocketException

        attempt = 0
        while True:
            try:
                async with connect(
                    self.url, additional_headers={"Authorization": f"Bearer {self.key}"}
                ) as ws:
                    attempt = 0
                    await self._subscribe(ws)
                    async for raw in ws:
                        self._show(str(raw))
            except InvalidURI as exc:
                raise WatchError(f"watch: {exc}", USAGE) from None
            except (OSError, InvalidHandshake, WebSocketException, TimeoutError) as exc:
                wait = RETRY_S[min(attempt, len(RETRY_S) - 1)]
                attempt += 1
                self._note(
                    f"connection to {self.url} lost ({exc or type(exc).__name__}); "
                    f"reconnecting in {wait:g} s{self._resume_text()}"
                )
                await asyncio.sleep(wait)
                continue
            # The server closed cleanly (a restart): resume at once.
            self._note(f"the server closed the stream; reconnecting{self._resume_text()}")

    def _resume_text(self) -> str:
        known = {a: s for a, s in self.last.items() if s is not None}
        if not known:
            return ""
        return "; resuming after " + ", ".join(f"sequence {s} of {a}" for a, s in known.items())

    async def _subscribe(self, ws: Any) -> None:
        for account, since in self.last.items():
            message: dict[str, Any] = {"type": "subscribe-activity", "account_id": account}
            if since is not None:
                message["since_sequence"] = since
            await ws.send(json.dumps(message))
        if self.symbols:
            await ws.send(json.dumps({"type": "market-data-l1-subscribe", "symbols": self.symbols}))

    def _show(self, raw: str) -> None:
        message = json.loads(raw)
        kind = message.get("type")
        if kind in ("subscribe-activity-ack", "replay-complete"):
            # What precedes the ack is skipped (from now on); all of the replay has been shown.
            if self.last.get(message["account_id"]) is None and (
                self.from_now or kind == "replay-complete"
            ):
                self.last[message["account_id"]] = message["sequence"]
        elif kind == "activity":
            last = self.last.get(message["account_id"])
            if last is not None and message["sequence"] <= last:
                return  # the day before the watch began, or printed before a reconnection
            self.last[message["account_id"]] = message["sequence"]
        if self.raw:
            write_out(sys.stdout, raw)
        else:
            line = describe(message)
            if line:
                write_out(sys.stderr if kind in _NOTES else sys.stdout, line)
        if kind == "error-notice" and message.get("code") in (401, 403):
            raise WatchError(f"watch: {message.get('code')} {message.get('message')}")

    def _note(self, text: str) -> None:
        if not self.raw:
            write_out(sys.stderr, f"oems watch: {text}")


_NOTES = (
    "subscribe-activity-ack",
    "replay-complete",
    "market-data-l1-subscribe-ack",
    "error-notice",
)


def describe(message: dict[str, Any]) -> str | None:
    """A stream message as one readable line (None for heartbeats)."""
    kind = message.get("type")
    if kind == "activity":
        data = message["data"]
        head = f"{message['timestamp'][11:23]} #{message['sequence']} {message['account_id']} "
        return head + _ACTIVITY.get(message["event"], _other)(data)
    if kind == "market-data-l1":
        return _quote(message["data"])
    if kind == "subscribe-activity-ack":
        return f"watching account {message['account_id']} (latest sequence {message['sequence']})"
    if kind == "replay-complete":
        return f"account {message['account_id']} is live from sequence {message['sequence']}"
    if kind == "market-data-l1-subscribe-ack":
        return "watching quotes of " + ", ".join(message["symbols"])
    if kind == "error-notice":
        return f"refused ({message.get('code')}): {message.get('message')}"
    return None


def _order(d: dict[str, Any]) -> str:
    what = d.get("symbol") or "strategy"
    price = f" limit {d['limit_price']}" if d.get("limit_price") else ""
    price += f" stop {d['stop_price']}" if d.get("stop_price") else ""
    filled = (
        f" filled {d['filled_quantity']} @ {d['average_fill_price']}"
        if d.get("average_fill_price")
        else ""
    )
    return (
        f"order      {d['status']:<16} {d['side']} {d['quantity']} {what} {d['order_type']}"
        f"{price} {d['time_in_force']}{filled}  id={d['id']}"
    )


def _execution(d: dict[str, Any]) -> str:
    return f"execution  {d['side']} {d['quantity']} {d['symbol']} @ {d['price']}  order={d['order_id']}"


def _position(d: dict[str, Any]) -> str:
    return (
        f"position   {d['symbol']} {d['quantity']} avg {d['avg_price']} "
        f"value {d['market_value']} unrealized {d['unrealized_pnl']}"
    )


def _balance(d: dict[str, Any]) -> str:
    return (
        f"balance    cash {d['trade_cash']} buying power {d['buying_power']} equity {d['equity']}"
    )


def _instruction(d: dict[str, Any]) -> str:
    return (
        f"instruction {d['status']} {d['instruction_type']} {d['quantity']} {d['symbol']}  "
        f"id={d['id']}"
    )


def _other(d: dict[str, Any]) -> str:
    return json.dumps(d)


_ACTIVITY = {
    "order": _order,
    "execution": _execution,
    "position": _position,
    "balance": _balance,
    "instruction": _instruction,
}


def _quote(d: dict[str, Any]) -> str:
    quote = d.get("last_quote") or {}
    trade = d.get("last_trade") or {}
    text = f"quote      {d['symbol']}"
    if quote:
        text += (
            f" bid {quote.get('bid')} x {quote.get('bid_size')}"
            f"  ask {quote.get('ask')} x {quote.get('ask_size')}"
        )
    if trade:
        text += f"  last {trade.get('price')} x {trade.get('size')}"
    return text if quote or trade else text + " no quote"
