"""The `oems` command: `oems serve` runs the server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

import uvicorn

from oems.api.app import build_app
from oems.cli.bootstrap import bootstrap, credentials_path
from oems.domain.timefmt import parse_iso
from oems.runtime import Config, Runtime

log = logging.getLogger("oems")


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"OEMS_{name}", default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; every option falls back to its `OEMS_*` environment variable."""
    parser = argparse.ArgumentParser(
        prog="oems", description="Clear Street Trading API v1 compatible OEMS"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(_env("PORT", "5001") or 5001))
    serve.add_argument(
        "--db", default=_env("DB", "oems.db"), help="SQLite database file (default oems.db)"
    )
    serve.add_argument("--clock", choices=["wall", "simulated"], default=_env("CLOCK", "wall"))
    serve.add_argument(
        "--clock-start", default=_env("CLOCK_START"), help="ISO-8601 start of a simulated clock"
    )
    serve.add_argument("--clock-speed", type=float, default=float(_env("CLOCK_SPEED", "1") or 1))
    serve.add_argument(
        "--market-data",
        default=_env("MARKET_DATA", "synthetic"),
        help="synthetic | manual | replay:FILE",
    )
    serve.add_argument("--seed", type=int, default=int(_env("SEED", "0") or 0))
    serve.add_argument("--log-level", default=_env("LOG_LEVEL", "info"))
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> Config:
    """The runtime configuration an `oems serve` command line describes."""
    start = parse_iso(args.clock_start) if args.clock_start else None
    return Config(
        db_path=Path(args.db).resolve(),
        host=args.host,
        port=args.port,
        clock_mode=args.clock,
        clock_start_ns=start,
        clock_speed=args.clock_speed,
        market_data=args.market_data,
        seed=args.seed,
    )


async def serve(config: Config, log_level: str) -> None:
    """Run the server until SIGINT or SIGTERM, bootstrapping the sandbox on an empty database."""
    runtime = Runtime(config)
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
            credentials = await bootstrap(runtime, _env("API_KEY"), _env("ADMIN_KEY"))
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


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `oems` console command."""
    args = parse_args(argv)
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
        asyncio.run(serve(config, args.log_level))


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    main()
