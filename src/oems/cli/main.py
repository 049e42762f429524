"""The `oems` command: `oems serve` runs the server; the operator commands (`oems accounts`, `keys`,
`clock`, `quotes`, `faults`, `replay`) administer a running one."""

from __future__ import annotations

import argparse
import os
import sys

from oems.cli.completion import add_completion_flag
from oems.cli.operator import OPERATOR_COMMANDS, OPERATOR_EPILOG, add_operator_commands, run


def env_setting(name: str, default: str | None = None) -> str | None:
    """The `OEMS_<name>` environment variable, or `default`."""
    return os.environ.get(f"OEMS_{name}", default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; every option falls back to its `OEMS_*` environment variable."""
    parser = argparse.ArgumentParser(
        prog="oems",
        description="Clear Street Trading API v1 compatible OEMS",
        epilog=OPERATOR_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default=env_setting("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(env_setting("PORT", "5001") or 5001))
    serve.add_argument(
        "--db", default=env_setting("DB", "oems.db"), help="SQLite database file (default oems.db)"
    )
    serve.add_argument(
        "--clock", choices=["wall", "simulated"], default=env_setting("CLOCK", "wall")
    )
    serve.add_argument(
        "--clock-start",
        default=env_setting("CLOCK_START"),
        help="ISO-8601 start of a simulated clock",
    )
    serve.add_argument(
        "--clock-speed", type=float, default=float(env_setting("CLOCK_SPEED", "1") or 1)
    )
    serve.add_argument(
        "--market-data",
        default=env_setting("MARKET_DATA", "synthetic"),
        help="synthetic | manual | replay:FILE",
    )
    serve.add_argument("--seed", type=int, default=int(env_setting("SEED", "0") or 0))
    serve.add_argument(
        "--snapshot-every",
        type=int,
        default=int(env_setting("SNAPSHOT_EVERY", "1000000") or 1000000),
        help="journaled events between state snapshots (also taken on a clean stop); 0 disables them (default 1000000)",
    )
    serve.add_argument(
        "--venue-latency-ms",
        type=int,
        default=int(env_setting("VENUE_LATENCY_MS", "0") or 0),
        help="market-clock delay before the venue acknowledges, cancels or replaces (default 0)",
    )
    serve.add_argument(
        "--venue-slippage-bps",
        default=env_setting("VENUE_SLIPPAGE_BPS", "0"),
        help="adverse slippage of marketable fills, in basis points (default 0)",
    )
    serve.add_argument(
        "--venue-participation",
        default=env_setting("VENUE_PARTICIPATION", "1"),
        help="fraction (0-1] of the displayed size one quote can fill (default 1)",
    )
    serve.add_argument(
        "--venue-refresh-ms",
        type=int,
        default=int(env_setting("VENUE_REFRESH_MS", "1000") or 1000),
        help="market time after which a quote that has not changed offers its displayed size "
        "again; 0 never (default 1000)",
    )
    serve.add_argument(
        "--venue-depth",
        type=int,
        default=int(env_setting("VENUE_DEPTH", "0") or 0),
        help="price levels shown beyond the touch, which large orders walk (default 0: none)",
    )
    serve.add_argument(
        "--venue-queue",
        choices=("on", "off"),
        default=env_setting("VENUE_QUEUE", "off"),
        help="a resting limit waits behind the displayed size it joined (default off)",
    )
    serve.add_argument(
        "--rate-limit",
        metavar="N/s",
        default=env_setting("RATE_LIMIT"),
        help="requests per second (N/s) or minute (N/m) per user API key, answered 429 beyond; "
        "default: no limit",
    )
    serve.add_argument("--log-level", default=env_setting("LOG_LEVEL", "info"))
    add_operator_commands(sub)
    add_completion_flag(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `oems` console command."""
    args = parse_args(argv)
    if args.command in OPERATOR_COMMANDS:
        sys.exit(run(args))
    # The server's imports (uvicorn, the app, the engine) load only for `oems serve`, so the
    # operator commands start fast.
    from oems.cli.serve import run_server

    run_server(args)


if __name__ == "__main__":
    main()
