"""The `oems` command: `oems serve` runs the server; the operator commands (`oems accounts`, `keys`,
`clock`, `quotes`, `faults`, `replay`) administer a running one."""

from __future__ import annotations

import argparse
import faulthandler
import os
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oems.cli.strict import StrictParser

# Only the standard library loads before `main` runs, so Ctrl-C at any moment ends as `main` says.

MIN_CHOSEN_KEY_LENGTH = 24
SERVE_DESCRIPTION = """\
Run the Clear Street Trading API v1 server on one database. A new database gets a sandbox
(accounts, a user key and an admin key, written to <db>.credentials.json, mode 0600). Every
option also reads the OEMS_* environment variable shown with it; the option wins."""


def env_setting(name: str, default: str | None = None) -> str | None:
    """The `OEMS_<name>` environment variable, or `default`."""
    return os.environ.get(f"OEMS_{name}", default)


@dataclass(frozen=True, slots=True)
class ServeOption:
    """One `oems serve` option: its flag, value name, default (as text), meaning and value type."""

    flag: str
    metavar: str | None
    default: str | None
    meaning: str
    kind: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None

    @property
    def env(self) -> str:
        """The environment variable the option falls back to: `OEMS_<FLAG>`."""
        return "OEMS_" + self.flag.removeprefix("--").replace("-", "_").upper()


SERVE_OPTIONS = (
    ServeOption("--host", "HOST", "127.0.0.1", "interface to listen on (0.0.0.0: every one)"),
    ServeOption("--port", "N", "5001", "port (the vendor document's local server port)", int),
    ServeOption("--db", "PATH", "oems.db", "SQLite database file (the journal); one server each"),
    ServeOption("--clock", None, "wall", "market clock mode", choices=("wall", "simulated")),
    ServeOption("--clock-start", "ISO", None, "where a simulated clock starts (default: now)"),
    ServeOption(
        "--clock-speed", "X", "1", "simulated seconds per second; 0 = frozen until moved", float
    ),
    ServeOption("--market-data", "SRC", "synthetic", "synthetic, manual or replay:FILE"),
    ServeOption("--seed", "N", "0", "seed of the synthetic market and of ids", int),
    ServeOption(
        "--snapshot-every",
        "N",
        "1000000",
        "journaled events between state snapshots (one is also taken on a clean stop); "
        "0 disables them",
        int,
    ),
    ServeOption(
        "--venue-latency-ms",
        "N",
        "0",
        "market-clock time the venue takes to acknowledge, cancel or replace",
        int,
    ),
    ServeOption(
        "--venue-slippage-bps",
        "X",
        "0",
        "adverse slippage of marketable fills, in basis points (rounded to the tick)",
    ),
    ServeOption(
        "--venue-participation",
        "X",
        "1",
        "fraction (0-1] of a quote's displayed size the venue fills",
    ),
    ServeOption(
        "--venue-refresh-ms",
        "N",
        "1000",
        "market time after which a quote that has not changed offers its displayed size again; "
        "0 never",
        int,
    ),
    ServeOption(
        "--venue-depth",
        "N",
        "0",
        "price levels shown beyond the touch, which large orders walk; 0 none",
        int,
    ),
    ServeOption(
        "--venue-queue",
        None,
        "off",
        "a resting limit waits behind the displayed size it joined",
        choices=("on", "off"),
    ),
    ServeOption(
        "--rate-limit",
        "N/s",
        None,
        "requests per second (N/s) or minute (N/m) per user API key, answered 429 beyond "
        "(default: no limit)",
    ),
    ServeOption(
        "--ws-auth-timeout",
        "SECONDS",
        "30",
        "/v1/ws: a connection without a valid API key by then is sent 401 and closed",
        float,
    ),
    ServeOption(
        "--ws-heartbeat",
        "SECONDS",
        "15",
        "/v1/ws: a heartbeat after this long without traffic either way",
        float,
    ),
    ServeOption(
        "--ws-queue",
        "N",
        "10000",
        "/v1/ws: messages that may wait for one connection; beyond, it is sent 429 and closed",
        int,
    ),
    ServeOption(
        "--ws-connections-per-key",
        "N",
        "32",
        "/v1/ws: open connections one API key may hold",
        int,
    ),
    ServeOption(
        "--log-level",
        None,
        "info",
        "info: a line per request, order event and fill; warning: problems only; debug: more",
        str.lower,
        ("debug", "info", "warning", "error"),
    ),
    ServeOption(
        "--log-format",
        None,
        "text",
        "text lines, or one JSON object per line",
        choices=("text", "json"),
    ),
)


def add_serve_options(serve: argparse.ArgumentParser) -> None:
    """Add every `SERVE_OPTIONS` entry, defaulting to its environment variable, and `--debug`."""
    for option in SERVE_OPTIONS:
        shown = option.default if option.default is not None else "none"
        serve.add_argument(
            option.flag,
            metavar=option.metavar,
            default=_env_default(option),
            type=option.kind,
            choices=option.choices,
            help=f"{option.meaning} (default {shown}; env {option.env})",
        )
    serve.add_argument(
        "--debug",
        action="store_true",
        default=env_setting("DEBUG", "") not in ("", "0"),
        help="show the traceback of a start-up failure (env OEMS_DEBUG=1)",
    )


def _env_default(option: ServeOption) -> Any:
    text = os.environ.get(option.env)
    if text is None:
        return option.kind(option.default) if option.default is not None else None
    try:
        value = option.kind(text)
    except ValueError:
        raise ValueError(f"{option.env}={text!r} is not a valid {option.flag} value") from None
    if option.choices is not None and value not in option.choices:
        raise ValueError(
            f"{option.env}={text!r}: {option.flag} is one of {', '.join(option.choices)}"
        )
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; every option falls back to its `OEMS_*` environment variable."""
    from oems.cli.completion import add_completion_flag
    from oems.cli.operator import OPERATOR_EPILOG, add_operator_commands
    from oems.cli.watch import add_watch_command

    parser = StrictParser(
        prog="oems",
        description="Clear Street Trading API v1 compatible OEMS",
        epilog=OPERATOR_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="run the server",
        description=SERVE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_serve_options(serve)
    add_operator_commands(sub)
    add_watch_command(sub)
    add_completion_flag(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `oems` console command."""
    try:
        try:
            args = parse_args(argv)
        except ValueError as exc:  # an environment variable of the wrong type
            print(f"oems: {exc}", file=sys.stderr)
            sys.exit(2)
        if args.command == "watch":
            from oems.cli.watch import run_watch

            sys.exit(run_watch(args))
        if args.command != "serve":
            from oems.cli.operator import run

            sys.exit(run(args))
    except KeyboardInterrupt:
        print("oems: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(serve_command(args))


def serve_command(args: argparse.Namespace) -> int:
    """Run `oems serve`: a start-up failure is one message and a non-zero status, Ctrl-C 130.

    The database's lock and the socket come first, before the server's heavy imports, so a
    second server on a database, or a taken port, is refused within a fraction of a second.
    """
    from oems.cli.startup import EXIT_INTERRUPTED, StartupError, bind_socket, lock_database

    os.umask(0o077)  # whatever the server writes (database, WAL, lock, replay rows) is owner-only
    # `kill -USR1 <pid>` writes every thread's Python stack to stderr: how a hang is diagnosed.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        lock = None
        try:
            check_chosen_keys()
            lock = lock_database(Path(args.db).resolve())
            sock = bind_socket(args.host, args.port)
            lock.record(host=args.host, port=sock.getsockname()[1])
            from oems.cli.serve import run_server

            return run_server(args, lock, sock)
        except StartupError as exc:
            if args.debug:
                traceback.print_exception(exc)
            print(f"oems: {exc}", file=sys.stderr)
            return exc.status
        finally:
            if lock is not None:
                lock.release()
    except KeyboardInterrupt:
        print("oems: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def check_chosen_keys() -> None:
    """StartupError (usage) when OEMS_API_KEY or OEMS_ADMIN_KEY is too short to be a safe key."""
    from oems.cli.startup import EXIT_USAGE, StartupError

    for name in ("API_KEY", "ADMIN_KEY"):
        secret = env_setting(name)
        if secret is not None and len(secret) < MIN_CHOSEN_KEY_LENGTH:
            raise StartupError(
                f"OEMS_{name} is {len(secret)} characters long; a chosen key needs at least "
                f"{MIN_CHOSEN_KEY_LENGTH} (unset it to have one generated)",
                EXIT_USAGE,
            )


if __name__ == "__main__":
    main()
