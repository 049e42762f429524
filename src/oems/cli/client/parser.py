"""The `clear-street` argument parser, built from the command table, and its man-page-like help."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from oems.cli.client.commands import Command, Param, Resource, ValueType
from oems.cli.client.output import DEFAULT_PATH, FORMATS, parse_path
from oems.cli.client.values import EXAMPLE_ORDER, converter
from oems.cli.completion import add_completion_flag
from oems.cli.strict import StrictParser

PROG = "clear-street"
DEFAULT_BASE_URL = "http://127.0.0.1:5001"
WIDTH = 100

DESCRIPTION = f"""\
The Clear Street Trading API v1 from the command line, against an oems server or any server
speaking the contract.

Every operation is a command `{PROG} v1:<resource> <method> [flags]` whose flags are the
operation's parameters in --kebab-case. `{PROG} v1:<resource> --help` lists a resource's
methods; `{PROG} v1:<resource> <method> --help` lists a method's flags with their types, enum
values and which are required. Global flags go before or after the command."""

EPILOG = f"""\
examples:
  list the accounts your key may use:
    {PROG} v1:accounts get-accounts --format table
  list the positions of account 100001:
    {PROG} v1:positions get-positions --account-id 100001 --format table
  buy 1 AAPL at a limit of 1.00:
    {PROG} v1:orders submit-orders --account-id 100001 \\
      --order '{EXAMPLE_ORDER}'
  the id of the newest order, bare, for a shell variable:
    {PROG} v1:orders get-orders --account-id 100001 --transform data.0.id --format table

values:
  arrays   repeat the flag once per item: --order '{{...}}' --order '{{...}}';
           --instrument-id AAPL --instrument-id SPY (or one comma-separated value)
  objects  JSON, or YAML flow syntax as in '{{symbol: AAPL, side: BUY}}'; unquoted numbers stay
           text ("1.00"), as the contract types quantities and prices; true/false and null are
           recognised

output (--format):
  json     the response's data, pretty-printed (the default)
  jsonl    one compact JSON line per item of a list
  yaml     the data as YAML
  table    for people: one row per item (columns null throughout are left out), or field/value
           pairs for one object; a single value prints bare
  raw      the whole response envelope {{data, error, metadata}} as the server sent it
  --transform PATH prints part of the response envelope instead of its data: names separated by
           dots pick fields (metadata.next_page_token); a number or [N] picks a list item,
           negative from the end (data.0.id, data[-1]); [] applies the rest to every item
           (data[].symbol); a path that leads nowhere gives null

environment:
  CLEAR_STREET_API_KEY   the API key when --api-key is not given
  CLEAR_STREET_BASE_URL  the server when --base-url is not given (else {DEFAULT_BASE_URL})

exit status:
  0  success
  1  the server answered an error (its error envelope goes to stderr; a partly rejected batch,
     status 207, prints its data and exits 1 too), or the server could not be reached
  2  usage error: a missing or malformed flag; nothing was sent

shell completion:
  eval "$({PROG} --print-completion bash)"     (or zsh, tcsh)
"""

EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "v1:orders submit-orders": [
        ("buy 1 AAPL at a limit of 1.00", f"--account-id 100001 --order '{EXAMPLE_ORDER}'"),
        (
            "a call butterfly (buy 1, sell 2, buy 1) for a net 0.50",
            "--account-id 100001 --order '{legs: [\n"
            "      {instrument_type: OPTION, ratio: 1, security: AAPL251017C00190000, side: BUY},\n"
            "      {instrument_type: OPTION, ratio: 2, security: AAPL251017C00200000, side: SELL},\n"
            "      {instrument_type: OPTION, ratio: 1, security: AAPL251017C00210000, side: BUY}],\n"
            "      order_type: LIMIT, limit_price: 0.50, time_in_force: DAY}'",
        ),
        ("two orders in one request", "--account-id 100001 --order '{...}' --order '{...}'"),
    ],
    "v1:orders get-orders": [
        (
            "the ids of the open orders, one per line",
            "--account-id 100001 --status NEW --status PARTIALLY_FILLED "
            "--transform 'data[].id' --format jsonl",
        ),
    ],
    "v1:orders replace-order": [
        ("move a limit price", "--account-id 100001 --order-id ORDER_ID --limit-price 1.05"),
    ],
    "v1:positions get-positions": [
        ("the positions of an account, as a table", "--account-id 100001 --format table"),
    ],
    "v1:positions close-position": [
        ("close the AAPL position", "--account-id 100001 --instrument-id AAPL --cancel-orders"),
    ],
    "v1:positions submit-position-instructions": [
        (
            "exercise 1 contract",
            "--account-id 100001 --instruction "
            "'{instruction_type: EXERCISE, instrument_id: AAPL251017C00190000, quantity: 1}'",
        ),
    ],
}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the hand-laid description and epilog; wraps flag help to a readable width."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=WIDTH)


def build_parser(resources: tuple[Resource, ...]) -> argparse.ArgumentParser:
    """The whole `clear-street` parser: global flags, one sub-parser per resource and method."""
    parser = StrictParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
    )
    add_global_flags(parser, top=True)
    parser.set_defaults(help_parser=parser)
    add_completion_flag(parser)
    groups = parser.add_subparsers(
        dest="resource", metavar="RESOURCE", title="resources (each has its own --help)"
    )
    for resource in resources:
        resource_parser = groups.add_parser(
            resource.name,
            help=resource.description,
            description=resource.description,
            formatter_class=_HelpFormatter,
            epilog=f"output formats, --transform paths, exit status: see `{PROG} --help`",
        )
        add_global_flags(resource_parser, top=False)
        resource_parser.set_defaults(help_parser=resource_parser)
        methods = resource_parser.add_subparsers(
            dest="method", metavar="METHOD", title="methods (each has its own --help)"
        )
        for command in resource.commands:
            _add_command(methods, command)
    return parser


def add_global_flags(parser: argparse.ArgumentParser, top: bool) -> None:
    """The flags every level accepts; below the top their defaults stay unset so as not to mask
    a value given before the command."""

    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    flags = parser.add_argument_group("global flags")
    flags.add_argument(
        "--api-key",
        metavar="KEY",
        default=default(None),
        help="API key, sent as a bearer token (default: $CLEAR_STREET_API_KEY)",
    )
    flags.add_argument(
        "--base-url",
        metavar="URL",
        default=default(None),
        help=f"server to call (default: $CLEAR_STREET_BASE_URL, else {DEFAULT_BASE_URL})",
    )
    flags.add_argument(
        "--format",
        choices=FORMATS,
        default=default("json"),
        help="output format: json (default), jsonl, yaml, table, or raw for the whole envelope",
    )
    flags.add_argument(
        "--transform",
        metavar="PATH",
        type=parse_path,
        default=default(None),
        help=f"print this path of the response envelope (default: {DEFAULT_PATH}), e.g. data.0.id",
    )
    flags.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help="print the HTTP exchange to stderr, the API key masked",
    )


def _add_command(methods: Any, command: Command) -> None:
    parser = methods.add_parser(
        command.name,
        help=command.summary,
        description=_description(command),
        epilog=_epilog(command),
        formatter_class=_HelpFormatter,
        usage=_usage(command),
    )
    flags = parser.add_argument_group("flags")
    for param in command.params:
        _add_param(flags, param)
    add_global_flags(parser, top=False)
    parser.set_defaults(command=command)


def _add_param(group: argparse._ArgumentGroup, param: Param) -> None:
    kind = param.type
    options: dict[str, Any] = {
        "dest": f"param:{param.sdk_name}",
        "required": param.required,
        "help": _param_help(param),
    }
    if kind.kind == "boolean":
        options["action"] = argparse.BooleanOptionalAction
        options.pop("required")
    else:
        item = kind.item if kind.kind == "array" and kind.item is not None else kind
        options["metavar"] = _metavar(param)
        options["type"] = converter(kind, param.flags[0])
        if item.kind == "enum":
            options["choices"] = item.choices
        if kind.kind == "array":
            options["action"] = "extend" if item.kind == "object" else "append"
    group.add_argument(*param.flags, **options)


def _metavar(param: Param) -> str:
    return param.flags[0].removeprefix("--").replace("-", "_").upper()


def _param_help(param: Param) -> str:
    kind = param.type
    facts = [kind.describe().replace("%", "%%")]
    if param.required:
        facts.append("required")
    if kind.kind == "array":
        facts.append("repeat the flag once per item")
    text = "; ".join([", ".join(facts[:2]), *facts[2:]]) + "."
    if param.description:
        text += " " + param.description.replace("%", "%%")
    if _object_of(kind) is not None:
        text += f" Fields below, under `fields of {param.flags[0]}`."
    return text


def _usage(command: Command) -> str:
    required = [
        f"{p.flags[0]} {_metavar(p)}" + (f" [{p.flags[0]} ...]" if p.type.kind == "array" else "")
        for p in command.params
        if p.required
    ]
    return " ".join([f"{PROG} {command.title}", *required, "[flags]"])


def _description(command: Command) -> str:
    body = "\n\n".join(
        textwrap.fill(" ".join(paragraph.split()), WIDTH)
        for paragraph in command.description.split("\n\n")
        if paragraph.strip()
    )
    return f"{body}\n\n  {command.http_method} {command.route}"


def _epilog(command: Command) -> str:
    sections = []
    for param in command.params:
        shape = _object_of(param.type)
        if shape is not None:
            sections.append(_fields_section(param, shape))
    examples = EXAMPLES.get(command.title)
    if examples:
        lines = ["examples:"]
        for caption, args in examples:
            lines += [f"  {caption}:", f"    {PROG} {command.title} {args}"]
        sections.append("\n".join(lines))
    sections.append(f"output formats, --transform paths, exit status: see `{PROG} --help`")
    return "\n\n".join(sections)


def _object_of(kind: ValueType) -> ValueType | None:
    item = kind.item if kind.kind == "array" and kind.item is not None else kind
    return item if item.kind == "object" else None


def _fields_section(param: Param, shape: ValueType) -> str:
    lines = [f"fields of {param.flags[0]} (JSON or YAML flow syntax; * = required):"]
    variants = shape.variants or (shape,)
    for variant in variants:
        indent = 2
        if len(variants) > 1:
            lines.append(f"  {variant.title}:")
            indent = 4
        lines += _field_lines(variant, indent, depth=0)
    return "\n".join(lines)


FIELD_COLUMN = 30


def _field_lines(shape: ValueType, indent: int, depth: int) -> list[str]:
    lines = []
    for field in shape.fields:
        label = field.name + ("*" if field.required else "")
        text = field.type.describe() + (f". {field.description}" if field.description else "")
        lines.append(
            textwrap.fill(
                text,
                WIDTH,
                initial_indent=f"{' ' * indent}{label}".ljust(FIELD_COLUMN),
                subsequent_indent=" " * FIELD_COLUMN,
            )
        )
        nested = _object_of(field.type)
        if nested is not None and not nested.variants and depth < 1:
            lines += _field_lines(nested, indent + 2, depth + 1)
    return lines
