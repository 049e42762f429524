"""`oems reset` and `oems scenarios add|list|clear|remove`: sandbox controls for test suites, through
the admin surface (`/admin/v1/reset`, `/admin/v1/scenarios`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

SANDBOX_COMMANDS = ("reset", "scenarios")

Call = Callable[..., Any]  # operator._call(client, method, path, body)


def add_sandbox_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `reset` and `scenarios` to the `oems` sub-parsers (`common`: server options)."""
    reset = sub.add_parser(
        "reset",
        help="reset the sandbox: nothing traded, fresh accounts, the same API keys",
        description="Reset the sandbox to what a fresh bootstrap creates (one journal batch); "
        "API keys and the admin key stay.",
        parents=[common],
    )
    reset.add_argument(
        "--keep-accounts",
        action="store_true",
        help="keep every account, at its opening cash (default: the bootstrap's accounts)",
    )
    reset.add_argument("--clock", choices=("wall", "simulated"), help="set the clock as well")
    reset.add_argument("--now", metavar="ISO", help="where a simulated clock starts")
    reset.add_argument("--speed", type=float, help="simulated seconds per second (default 1)")

    text = "rules that force the venue's answer to matching orders"
    scenarios = sub.add_parser("scenarios", help=text, description=text)
    actions = scenarios.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add", help="add a rule", description="Add a scenario rule", parents=[common]
    )
    match = add.add_argument_group("match (every one given must hold)")
    match.add_argument("--account", type=int, dest="account_id", metavar="ACCOUNT_ID")
    match.add_argument("--symbol", metavar="SYMBOL")
    match.add_argument("--side", choices=("BUY", "SELL", "SELL_SHORT"))
    match.add_argument("--order-type", metavar="TYPE", help="MARKET, LIMIT, STOP, ...")
    match.add_argument("--min-quantity", metavar="Q")
    match.add_argument("--max-quantity", metavar="Q")
    match.add_argument("--client-id-prefix", metavar="PREFIX")
    do = add.add_argument_group("action")
    do.add_argument(
        "action_name",
        metavar="ACTION",
        choices=(
            "reject",
            "fill_fraction",
            "fill_at_price",
            "delay_ack",
            "delay_fill",
            "refuse_cancel",
            "refuse_replace",
            "expire",
        ),
        help="reject | fill_fraction | fill_at_price | delay_ack | delay_fill | refuse_cancel | "
        "refuse_replace | expire",
    )
    do.add_argument("--reason", metavar="TEXT", help="reject / refuse_*: the reason shown")
    do.add_argument("--fraction", metavar="F", help="fill_fraction: the part filled, in (0, 1)")
    do.add_argument("--price", metavar="PRICE", help="fill_at_price: the fill price")
    do.add_argument("--delay-ms", type=int, metavar="MS", help="delay_*: market-time span")
    do.add_argument("--times", type=int, metavar="N", help="only the next N matches")
    actions.add_parser("list", help="the rules in force", parents=[common])
    actions.add_parser("clear", help="remove every rule", parents=[common])
    remove = actions.add_parser("remove", help="remove one rule", parents=[common])
    remove.add_argument("rule_id", type=int, metavar="RULE_ID")


def dispatch(client: Any, args: argparse.Namespace, call: Call) -> Any:
    """Carry out `reset` or `scenarios ...` with `call` (the operator's admin request)."""
    if args.command == "reset":
        body: dict[str, Any] = {"keep_accounts": args.keep_accounts}
        if args.clock is not None:
            clock = {"mode": args.clock, "now": args.now, "speed": args.speed}
            body["clock"] = {k: v for k, v in clock.items() if v is not None}
        return call(client, "POST", "/admin/v1/reset", body)
    if args.action == "list":
        return call(client, "GET", "/admin/v1/scenarios")
    if args.action == "clear":
        return call(client, "DELETE", "/admin/v1/scenarios")
    if args.action == "remove":
        return call(client, "DELETE", f"/admin/v1/scenarios/{args.rule_id}")
    rule = {
        "account_id": args.account_id,
        "symbol": args.symbol,
        "side": args.side,
        "order_type": args.order_type,
        "min_quantity": args.min_quantity,
        "max_quantity": args.max_quantity,
        "client_id_prefix": args.client_id_prefix,
        "action": args.action_name,
        "reason": args.reason,
        "fraction": args.fraction,
        "price": args.price,
        "delay_ms": args.delay_ms,
        "times": args.times,
    }
    return call(client, "POST", "/admin/v1/scenarios", rule)
