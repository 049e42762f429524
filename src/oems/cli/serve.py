"""`oems serve`: build the runtime from the command line and run the HTTP server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
from decimal import Decimal
from pathlib import Path

import uvicorn
import uvloop

from oems.api.app import build_app
from oems.api.ratelimit import Rate
from oems.cli.bootstrap import bootstrap
from oems.cli.credentials import credentials_path
from oems.cli.main import env_setting
from oems.domain.timefmt import parse_iso
from oems.engine.venue import MAX_DEPTH, VenueSettings
from oems.runtime import Config, Runtime

log = logging.getLogger("oems")


def config_from(args: argparse.Namespace) -> Config:
    """The runtime configuration an `oems serve` command line describes."""
    start = parse_iso(args.clock_start) if args.clock_start else None
    if args.snapshot_every < 0:
        raise ValueError("--snapshot-every must not be negative")
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


async def serve(config: Config, log_level: str) -> None:
    """Run the server until SIGINT or SIGTERM, bootstrapping the sandbox on an empty database."""
    runtime = Runtime(config)
    # The recovered state lives as long as the process: keep the cyclic collector off it, and
    # collect young objects less often (each full pass over a large state pauses the server).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    app = build_app(runtime)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level=log_level,
            access_log=False,
            lifespan="on",
        )
    )
    # uvicorn handles SIGINT/SIGTERM: it stops accepting, finishes requests, runs the lifespan's
    # shutdown (engine and journal), then re-raises the signal.
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.02)
    if server.started:
        if runtime.is_new:
            credentials = await bootstrap(runtime, env_setting("API_KEY"), env_setting("ADMIN_KEY"))
            _print_welcome(config, credentials)
        else:
            print(
                f"oems: resumed {runtime.recovered_events} journaled events from {config.db_path}; "
                f"credentials in {credentials_path(config.db_path)}",
                flush=True,
            )
    await serving


def _print_welcome(config: Config, credentials: dict[str, object]) -> None:
    # The keys themselves stay in the owner-only credentials file: secrets never reach a log.
    accounts = credentials["accounts"]
    assert isinstance(accounts, dict)
    base = credentials["base_url"]
    path = credentials_path(config.db_path)
    print(
        f"""
oems is serving the Clear Street Trading API v1 at {base}
  Margin account (Reg T, options level 4, $1,000,000): {accounts["margin"]}
  Cash account (options level 1, $100,000):            {accounts["cash"]}
  Another user's account (answers 403 to your key):    {accounts["other_user_account"]}
  The user API key and the admin key are in {path} (readable by you only).

Try:
  KEY=$(python3 -c "import json; print(json.load(open('{path}'))['api_key'])")
  curl -s -H "Authorization: Bearer $KEY" {base}/v1/accounts
  python3 -c "from clearstreet import ClearStreet; print(ClearStreet(api_key='$KEY', base_url='{base}').v1.accounts.get_accounts())"
""",
        flush=True,
    )


def run_server(args: argparse.Namespace) -> None:
    """Run `oems serve` as parsed: log setup, configuration, then serve until a signal."""
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        config = config_from(args)
    except ValueError as exc:
        sys.exit(f"oems: {exc}")
    # uvicorn re-raises SIGINT/SIGTERM once it has shut down cleanly; end with status 0 then.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(config, args.log_level))


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)
