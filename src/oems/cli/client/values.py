"""Command-line values: scalars, and objects written as JSON or YAML flow syntax.

`--order '{symbol: AAPL, side: BUY, quantity: 1, order_type: LIMIT, limit_price: 1.00,
time_in_force: DAY}'` reads as the reference page writes it. Scalars keep the text typed: YAML's
implicit numbers, dates and `yes`/`no`/`on`/`off` booleans are switched off, so `1.00` stays the
string `"1.00"` the contract wants for quantities and prices, `ON` stays a ticker and a bare UUID
stays a string. Only `true`/`false` and `null`/`~` are recognised; the command table's types then
turn a field's text into the integer or boolean the SDK declares. Known fields are checked for
their type; which fields are required, and which enum values are valid, the server judges.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
from collections.abc import Callable
from typing import Any

import yaml

from oems.cli.client.commands import ValueType

EXAMPLE_ORDER = (
    "{symbol: AAPL, side: BUY, quantity: 1, order_type: LIMIT, limit_price: 1.00, "
    "time_in_force: DAY}"
)


class FlowLoader(yaml.SafeLoader):
    """A YAML loader that resolves only `true`/`false` and `null`; every other scalar is text."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML's class-level table


FlowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
FlowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


class ValueProblem(ValueError):
    """A value that does not fit its type; the message says where and what was expected."""


def parse_structured(text: str) -> Any:
    """Parse JSON or YAML flow syntax; numbers stay the text they were written as."""
    try:
        return json.loads(text, parse_int=str, parse_float=str)
    except ValueError:
        pass
    try:
        return yaml.load(text, Loader=FlowLoader)
    except yaml.YAMLError as exc:
        raise ValueProblem(_yaml_problem(text, exc)) from None


def _yaml_problem(text: str, exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    if mark is None or "\n" in text:
        return f"not valid JSON or YAML flow syntax: {problem}"
    return (
        f"not valid JSON or YAML flow syntax: {problem} at column {mark.column + 1}\n"
        f"    {text}\n    {' ' * mark.column}^"
    )


def coerce(value: Any, kind: ValueType, where: str = "") -> Any:
    """`value` shaped by `kind`: text turned into integers and booleans where the type says so."""
    if value is None:
        return None
    if kind.kind == "object":
        return _coerce_object(value, kind, where)
    if kind.kind == "array":
        if not isinstance(value, list):
            raise ValueProblem(f"{_at(where)}expected an array [...], got {_shown(value)}")
        assert kind.item is not None
        return [coerce(item, kind.item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict | list):
        raise ValueProblem(f"{_at(where)}expected {kind.describe()}, got {_shown(value)}")
    return _coerce_scalar(value, kind, where)


def _coerce_scalar(value: Any, kind: ValueType, where: str) -> Any:
    if kind.kind in _NUMBERS:
        parse, named = _NUMBERS[kind.kind]
        try:
            return parse(str(value))
        except ValueError:
            raise ValueProblem(f"{_at(where)}expected {named}, got {_shown(value)}") from None
    if kind.kind == "boolean":
        if isinstance(value, bool):
            return value
        raise ValueProblem(f"{_at(where)}expected true or false, got {_shown(value)}")
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


_NUMBERS: dict[str, tuple[Any, str]] = {
    "integer": (int, "an integer"),
    "number": (float, "a number"),
}


def _coerce_object(value: Any, kind: ValueType, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueProblem(
            f"{_at(where)}expected an object {{field: value, ...}}, got {_shown(value)}"
        )
    shape = _variant_for(value, kind)
    out = {}
    for key, item in value.items():
        name = str(key)
        known = shape.field(name)
        path = f"{where}.{name}" if where else name
        if known is None:
            raise UnknownField(path, name, [f.name for f in shape.fields])
        out[name] = coerce(item, known.type, path)
    return out


class UnknownField(ValueProblem):
    """A field the object's type does not have (a misspelt optional field would go unnoticed)."""

    def __init__(self, path: str, name: str, known: list[str]) -> None:
        nearest = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean `{nearest[0]}`?" if nearest else f"; its fields: {', '.join(known)}"
        super().__init__(f"{path}: unknown field `{name}`{hint}")
        self.name = name

    def pointing_into(self, text: str) -> str:
        """The message with the written value and a caret under the unknown field's name."""
        at = re.search(rf"(?<![\w-]){re.escape(self.name)}(?![\w-])", text)
        if at is None or "\n" in text:
            return str(self)
        return f"{self}\n    {text}\n    {' ' * at.start()}^"


def _variant_for(value: dict[Any, Any], kind: ValueType) -> ValueType:
    """The shape a value is written in: by discriminator, else the first whose fields cover it."""
    if not kind.variants:
        return kind
    key = kind.discriminator()
    for variant in kind.variants:
        tag = variant.field(key) if key else None
        if tag is not None:
            if value.get(key) in tag.type.choices:
                return variant
        elif all(variant.field(str(name)) for name in value):
            return variant
    # None covers every field: the one that knows most of them, so the error names the strays.
    return max(kind.variants, key=lambda v: sum(v.field(str(name)) is not None for name in value))


def _at(where: str) -> str:
    return f"{where}: " if where else ""


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def converter(kind: ValueType, flag: str) -> Callable[[str], Any]:
    """The argparse `type=` of a flag of this type; raises `ArgumentTypeError` on a bad value.

    An array's flag takes one item per use; an array of objects also takes a whole `[...]`.
    """
    item = kind.item if kind.kind == "array" and kind.item is not None else kind

    def convert(text: str) -> Any:
        try:
            if item.kind not in ("object", "array"):
                return coerce(text, item)
            value = parse_structured(text)
            if kind.kind == "array" and isinstance(value, list):
                return [coerce(v, item, f"[{i}]") for i, v in enumerate(value)]
            converted = coerce(value, item)
            return [converted] if kind.kind == "array" else converted
        except ValueProblem as exc:
            if isinstance(exc, UnknownField):
                raise argparse.ArgumentTypeError(exc.pointing_into(text)) from None
            hint = (
                f"\n  write an object as JSON or YAML flow syntax, e.g. {flag} '{EXAMPLE_ORDER}'"
                if flag == "--order"
                else "\n  write it as JSON or YAML flow syntax; see --help for its fields"
                if item.kind == "object"
                else ""
            )
            raise argparse.ArgumentTypeError(f"{exc}{hint}") from None

    return convert
