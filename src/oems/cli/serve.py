"""`oems serve`: build the runtime from the command line and run the HTTP server.

Start-up order matters: the database's lock first (one server per database), then the listening
socket (a taken port fails before anything is read or journaled), then recovery, then serving,
and the sandbox bootstrap last. Every start-up failure is one message naming the path or port,
the cause and the way out (`--debug` adds the traceback); Ctrl-C at any moment ends with 130.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import socket
import sys
from decimal import Decimal
from pathlib import Path

import uvicorn
import uvloop

from oems.api.app import build_app
from oems.api.limits import LimitedHttpToolsProtocol
from oems.api.stream.protocol import MAX_MESSAGE_BYTES
from oems.cli.bootstrap import bootstrap, connectable_url, finish_credentials, needs_bootstrap
from oems.cli.credentials import credentials_path
from oems.cli.logs import configure_logging
from oems.cli.main import env_setting
from oems.cli.startup import EXIT_USAGE, StartupError, describe_path_error
from oems.domain.timefmt import parse_iso
from oems.engine.settings import MAX_DEPTH, VenueSettings
from oems.runtime import Config, Runtime
from oems.settings import Rate, StreamSettings
from oems.store.journal import JournalError
from oems.store.lock import DatabaseLock

log = logging.getLogger("oems")


def config_from(args: argparse.Namespace) -> Config:
    """The runtime configuration an `oems serve` command line describes (ValueError if invalid)."""
    try:
        start = parse_iso(args.clock_start) if args.clock_start else None
    except ValueError:
        raise ValueError(
            f"--clock-start must be an ISO-8601 instant, e.g. 2025-10-15T13:30:00Z, got {args.clock_start!r}"
        ) from None
    if args.snapshot_every < 0:
        raise ValueError("--snapshot-every must not be negative")
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {args.port}")
    return Config(
        db_path=Path(args.db).resolve(),
        host=args.host,
        port=args.port,
        clock_mode=args.clock,
        clock_start_ns=start,
        clock_speed=args.clock_speed,
        market_data=args.market_data,
        seed=args.seed,
        snapshot_every=args.snapshot_every,
        venue=_venue_settings(args),
        rate_limit=Rate.parse(args.rate_limit) if args.rate_limit else None,
        tune_gc=True,  # one runtime for the life of the process
        stream=_stream_settings(args),
    )


def _stream_settings(args: argparse.Namespace) -> StreamSettings:
    if not (args.ws_auth_timeout > 0 and args.ws_heartbeat > 0):
        raise ValueError("--ws-auth-timeout and --ws-heartbeat must be greater than 0")
    if args.ws_queue < 1 or args.ws_connections_per_key < 1:
        raise ValueError("--ws-queue and --ws-connections-per-key must be at least 1")
    return StreamSettings(
        auth_timeout_s=args.ws_auth_timeout,
        heartbeat_s=args.ws_heartbeat,
        queue=args.ws_queue,
        connections_per_key=args.ws_connections_per_key,
    )


def _venue_settings(args: argparse.Namespace) -> VenueSettings:
    try:
        slippage = Decimal(str(args.venue_slippage_bps))
        participation = Decimal(str(args.venue_participation))
    except ArithmeticError:
        raise ValueError("--venue-slippage-bps and --venue-participation take decimals") from None
    if args.venue_latency_ms < 0 or slippage < 0 or not 0 < participation <= 1:
        raise ValueError("venue latency and slippage must be >= 0, participation in (0, 1]")
    if args.venue_refresh_ms < 0:
        raise ValueError("--venue-refresh-ms must not be negative")
    if not 0 <= args.venue_depth <= MAX_DEPTH:
        raise ValueError(f"--venue-depth must be between 0 and {MAX_DEPTH}")
    return VenueSettings(
        args.venue_latency_ms * 1_000_000,
        slippage,
        participation,
        refresh_ns=args.venue_refresh_ms * 1_000_000,
        depth=args.venue_depth,
        queue=args.venue_queue == "on",
        seed=args.seed,
    )


async def serve(config: Config, sock: socket.socket) -> None:
    """Recover the database, serve on the bound socket until SIGINT or SIGTERM, bootstrapping the
    sandbox if it is new (or was cut short)."""
    try:
        runtime = Runtime(config)
    except OSError as exc:
        raise StartupError(describe_path_error(config.db_path, exc)) from exc
    except JournalError as exc:
        raise StartupError(str(exc)) from exc
    app = build_app(runtime)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_config=None,  # our logging setup stays in force
            access_log=False,  # the app logs each request itself (request id, key id, route)
            lifespan="on",
            http=LimitedHttpToolsProtocol,  # URL and header limits answered in the envelope
            ws_max_size=MAX_MESSAGE_BYTES,  # a larger client frame closes the stream (1009)
            ws_per_message_deflate=False,  # compressing each message per subscriber costs the loop
        )
    )
    # uvicorn handles SIGINT/SIGTERM: it stops accepting, finishes requests, runs the lifespan's
    # shutdown (engine and journal), then re-raises the signal.
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.02)
    if server.started:
        path = credentials_path(config.db_path)
        if needs_bootstrap(runtime.state):
            credentials = await bootstrap(runtime, env_setting("API_KEY"), env_setting("ADMIN_KEY"))
            _print_welcome(config, credentials)
        else:
            finish_credentials(path)  # a start cut short after the keys were issued
            where = f"credentials in {path}" if path.exists() else f"no credentials file at {path}"
            print(
                f"oems: serving at {_url(config)}, resumed {runtime.recovered_events} journaled "
                f"events from {config.db_path}; {where}",
                flush=True,
            )
    await serving


def _url(config: Config) -> str:
    return connectable_url(config.host, config.port)


def _print_welcome(config: Config, credentials: dict[str, object]) -> None:
    # The keys themselves stay in the owner-only credentials file: secrets never reach a log.
    accounts = credentials["accounts"]
    assert isinstance(accounts, dict)
    base = credentials["base_url"]
    path = credentials_path(config.db_path)
    bin_dir = Path(sys.executable).parent
    print(
        f"""
oems is serving the Clear Street Trading API v1 at {base}
  Margin account (Reg T, options level 4, $1,000,000): {accounts["margin"]}
  Cash account (options level 1, $100,000):            {accounts["cash"]}
  Another user's account (answers 403 to your key):    {accounts["other_user_account"]}
  The user API key and the admin key are in {path} (readable by you only).

Try, in another terminal:
  export CLEAR_STREET_API_KEY=$({bin_dir}/python -c "import json; print(json.load(open('{path}'))['api_key'])")
  export CLEAR_STREET_BASE_URL={base}
  curl -s -H "Authorization: Bearer $CLEAR_STREET_API_KEY" $CLEAR_STREET_BASE_URL/v1/accounts
  {bin_dir}/clear-street v1:accounts get-accounts --format table
  {bin_dir}/python -c "from clearstreet import ClearStreet; print(ClearStreet().v1.accounts.get_accounts())"
""",
        flush=True,
    )


def run_server(args: argparse.Namespace, lock: DatabaseLock, sock: socket.socket) -> int:
    """Run `oems serve` as parsed, holding the database's lock and the bound socket, until a
    signal; returns the exit status (StartupError when it cannot start)."""
    configure_logging(args.log_level, args.log_format)
    try:
        config = config_from(args)
    except ValueError as exc:
        raise StartupError(str(exc), EXIT_USAGE) from exc
    config = dataclasses.replace(config, port=sock.getsockname()[1])  # --port 0: the one given
    # uvicorn re-raises SIGINT/SIGTERM once it has shut down cleanly: SIGTERM ends with 0,
    # SIGINT (Ctrl-C) with KeyboardInterrupt, 130.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvloop.run(serve(config, sock))
    return 0


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)
