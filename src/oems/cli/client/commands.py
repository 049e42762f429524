"""The command table of `clear-street`, read off the official `clearstreet` SDK.

One source of truth: the SDK's resource tree gives every command (`v1:<resource> <method>`), the
HTTP route it calls, its parameters with their typed signatures (TypedDicts for objects, Literals
for enums) and the help texts of its docstrings. `IN_SCOPE` restricts the table to the operations
of the server's scope; nothing here describes a single command by hand.

The one addition is the multi-leg order of the submit-orders reference page, which SDK 0.11.0
predates: `--order` accepts it beside the SDK's `NewOrderRequestParam`.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import inspect
import itertools
import re
import sys
import types
import typing
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal, Required, TypedDict

import typing_extensions
from clearstreet import NotGiven, Omit
from clearstreet._resource import SyncAPIResource
from clearstreet._utils import PropertyInfo
from clearstreet.resources.v1 import V1Resource
from clearstreet.types.v1.new_order_request_param import NewOrderRequestParam
from clearstreet.types.v1.request_position_effect import RequestPositionEffect
from clearstreet.types.v1.request_time_in_force import RequestTimeInForce

# The in-scope operations (method, path) of ../shared/spec/SCOPE.md; WebSocket streaming has no
# SDK method and so no command.
IN_SCOPE: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/v1/version"),
        ("GET", "/v1/clock"),
        ("GET", "/v1/calendars/market-hours"),
        ("GET", "/v1/accounts"),
        ("GET", "/v1/accounts/{account_id}"),
        ("PATCH", "/v1/accounts/{account_id}"),
        ("GET", "/v1/accounts/{account_id}/balances"),
        ("GET", "/v1/accounts/{account_id}/portfolio-history"),
        ("GET", "/v1/instruments"),
        ("GET", "/v1/instruments/{instrument_id}"),
        ("GET", "/v1/instruments/search"),
        ("GET", "/v1/instruments/options/contracts"),
        ("GET", "/v1/market-data/snapshot"),
        ("GET", "/v1/market-data/daily-summary"),
        ("POST", "/v1/accounts/{account_id}/orders"),
        ("GET", "/v1/accounts/{account_id}/orders"),
        ("DELETE", "/v1/accounts/{account_id}/orders"),
        ("GET", "/v1/accounts/{account_id}/orders/{order_id}"),
        ("PATCH", "/v1/accounts/{account_id}/orders/{order_id}"),
        ("DELETE", "/v1/accounts/{account_id}/orders/{order_id}"),
        ("GET", "/v1/accounts/{account_id}/executions"),
        ("GET", "/v1/accounts/{account_id}/positions"),
        ("DELETE", "/v1/accounts/{account_id}/positions"),
        ("DELETE", "/v1/accounts/{account_id}/positions/{instrument_id}"),
        ("POST", "/v1/accounts/{account_id}/positions/instructions"),
        ("GET", "/v1/accounts/{account_id}/positions/instructions"),
        ("DELETE", "/v1/accounts/{account_id}/positions/instructions/{instruction_id}"),
    }
)

# Path parameters the SDK's docstrings leave undescribed.
PATH_PARAM_HELP = {
    "account_id": "Account identifier",
    "order_id": "Order id, or the client_order_id while the order is open",
    "instruction_id": "Server-assigned id of the position instruction",
    "instrument_id": "Instrument id (UUID) or symbol (equity ticker or OSI option symbol)",
}


class OrderLeg(TypedDict, total=False):
    """One leg of a multi-leg order."""

    security: Required[str]
    """Instrument UUID or symbol (equity ticker or OSI option symbol) of the leg."""

    side: Required[Literal["BUY", "SELL", "SELL_SHORT"]]
    """Side of the leg."""

    ratio: Required[str]
    """Positive integer ratio of the leg, as a string; multiplied by the strategy quantity."""

    instrument_type: Literal["COMMON_STOCK", "OPTION"]
    """Type of the leg's instrument."""

    id: str
    """Optional reference of the leg."""

    position_effect: RequestPositionEffect
    """Whether the leg opens or closes a position."""


class MultiLegOrderRequest(TypedDict, total=False):
    """A multi-leg strategy order (2 to 4 legs) of the submit-orders reference page."""

    legs: Required[list[OrderLeg]]
    """The strategy's legs, 2 to 4."""

    order_type: Required[Literal["MARKET", "LIMIT"]]
    """Type of order."""

    time_in_force: Required[RequestTimeInForce]
    """Time in force."""

    quantity: str
    """Strategy quantity, multiplying every leg's ratio (default 1)."""

    limit_price: str
    """Net price of the strategy (required for LIMIT)."""

    id: str
    """Optional client order id, unique per account."""


# Object shapes the server accepts beyond the SDK's typed parameter.
EXTRA_VARIANTS: dict[Any, tuple[Any, ...]] = {NewOrderRequestParam: (MultiLegOrderRequest,)}


@dataclass(frozen=True)
class Field:
    """One field of an object value."""

    name: str
    type: ValueType
    required: bool
    description: str


@dataclass(frozen=True)
class ValueType:
    """What a parameter or field holds: a scalar kind, an enum, an array or an object."""

    kind: str  # string | integer | number | boolean | date | date-time | enum | array | object
    choices: tuple[str, ...] = ()
    item: ValueType | None = None
    fields: tuple[Field, ...] = ()
    variants: tuple[ValueType, ...] = ()  # an object of one of several shapes
    title: str = ""  # the object's name, e.g. NewOrderRequest

    def describe(self) -> str:
        """A short human description: `integer`, `enum BUY | SELL`, `array of string`, ..."""
        if self.kind == "enum":
            return "enum " + " | ".join(self.choices)
        if self.kind == "array" and self.item is not None:
            return "array of " + self.item.describe()
        if self.kind == "object":
            key = self.discriminator()
            if key:
                tags = [t.type.choices[0] for v in self.variants if (t := v.field(key))]
                return f"object by {key}: " + " | ".join(tags)
            names = [v.title for v in self.variants] if self.variants else [self.title]
            return "object " + " or ".join(n for n in names if n) if any(names) else "object"
        return self.kind

    def field(self, name: str) -> Field | None:
        """The object's field called `name`."""
        return next((f for f in self.fields if f.name == name), None)

    def discriminator(self) -> str | None:
        """The field whose single enum value tells this object's variants apart (`type`)."""
        if not self.variants:
            return None
        for candidate in self.variants[0].fields:
            tags = [variant.field(candidate.name) for variant in self.variants]
            if all(t is not None and len(t.type.choices) == 1 for t in tags):
                return candidate.name
        return None


@dataclass(frozen=True)
class Param:
    """One parameter of a command, named as on the wire (`from`, not the SDK's `from_`)."""

    sdk_name: str
    name: str
    type: ValueType
    required: bool
    description: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Command:
    """One `clear-street v1:<resource> <method>` command and the SDK method it calls."""

    resource: str
    name: str
    sdk_path: tuple[str, ...]
    sdk_method: str
    http_method: str
    route: str
    summary: str
    description: str
    params: tuple[Param, ...] = field(default=())

    @property
    def title(self) -> str:
        """`v1:orders submit-orders`."""
        return f"{self.resource} {self.name}"


@dataclass(frozen=True)
class Resource:
    """A group of commands, one SDK resource (`v1:orders`)."""

    name: str
    description: str
    commands: tuple[Command, ...]


_HTTP_METHODS = {"_get", "_post", "_put", "_patch", "_delete"}
_SDK_ONLY = {"self", "extra_headers", "extra_query", "extra_body", "timeout"}


def kebab(name: str) -> str:
    """`submit_orders` -> `submit-orders`."""
    return name.strip("_").replace("_", "-")


def wire_name(sdk_name: str) -> str:
    """The parameter's wire name: the SDK appends `_` to Python keywords (`from_`)."""
    return sdk_name.rstrip("_")


@functools.cache
def resources() -> tuple[Resource, ...]:
    """Every in-scope command of the SDK, grouped by resource, in a stable order."""
    groups: dict[str, tuple[str, list[Command]]] = {}
    for path, resource_cls in [(("v1",), V1Resource), *_walk(V1Resource, ("v1",))]:
        name = ":".join([path[0], *(kebab(part) for part in path[1:])])
        routes = _routes(resource_cls)
        for method_name, method in sorted(vars(resource_cls).items()):
            if method_name.startswith("_") or not inspect.isfunction(method):
                continue
            route = routes.get(method_name)
            if route is None or route not in IN_SCOPE:
                continue
            groups.setdefault(name, (_first_paragraph(resource_cls.__doc__), []))[1].append(
                _command(name, path, method_name, method, route)
            )
    return tuple(
        Resource(name, description, tuple(commands))
        for name, (description, commands) in sorted(groups.items())
    )


def commands() -> Iterator[Command]:
    """Every command of the table."""
    for resource in resources():
        yield from resource.commands


def _walk(cls: type, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], type]]:
    for name, attr in sorted(vars(cls).items()):
        if not isinstance(attr, cached_property):
            continue
        returned = typing.get_type_hints(attr.func).get("return")
        if isinstance(returned, type) and issubclass(returned, SyncAPIResource):
            yield (*path, name), returned
            yield from _walk(returned, (*path, name))


def _routes(cls: type) -> dict[str, tuple[str, str]]:
    """Each method's (HTTP method, path), read off its `self._get("/v1/...")` style call."""
    source = _module_source(cls.__module__)
    if not any(f'"{path}"' in source for _, path in IN_SCOPE):
        return {}  # no need to parse what names no in-scope path
    routes = {}
    for node in _class_node(cls).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for call in ast.walk(node):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in _HTTP_METHODS
                and call.args
            ):
                path = call.args[0]
                if isinstance(path, ast.Call) and path.args:  # path_template("...", ...)
                    path = path.args[0]
                if isinstance(path, ast.Constant) and isinstance(path.value, str):
                    routes[node.name] = (call.func.attr.lstrip("_").upper(), path.value)
                    break
    return routes


@functools.cache
def _module_source(module: str) -> str:
    return inspect.getsource(sys.modules[module])


@functools.cache
def _module_tree(module: str) -> ast.Module:
    return ast.parse(_module_source(module))


def _class_node(cls: type) -> ast.ClassDef:
    """The syntax tree of a class, found in its module's source."""
    tree = _module_tree(cls.__module__)
    return next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__
    )


def _command(
    resource: str, path: tuple[str, ...], method_name: str, method: Any, route: tuple[str, str]
) -> Command:
    doc = inspect.cleandoc(method.__doc__ or "")
    text, _, args_section = doc.partition("\nArgs:\n")
    arg_help = _args_help(args_section)
    hints = typing.get_type_hints(method, include_extras=True)
    params = []
    for p in inspect.signature(method).parameters.values():
        if p.name in _SDK_ONLY:
            continue
        params.append(
            Param(
                sdk_name=p.name,
                name=wire_name(p.name),
                type=value_type(hints[p.name]),
                required=p.default is inspect.Parameter.empty,
                description=arg_help.get(p.name) or PATH_PARAM_HELP.get(p.name, ""),
            )
        )
    text = text.strip()
    names = {p.name for p in params}
    params = [replace(p, flags=_flags(p, names)) for p in params]
    return Command(
        resource=resource,
        name=kebab(method_name),
        sdk_path=path,
        sdk_method=method_name,
        http_method=route[0],
        route=route[1],
        summary=_first_sentence(text),
        description=text,
        params=tuple(params),
    )


def _flags(param: Param, names: set[str]) -> tuple[str, ...]:
    """`--kebab-case`; an array's flag is repeated once per item, so it is singular first
    (`--order`, `--instrument-id`) with the plural kept as an alias."""
    flag = "--" + kebab(param.name)
    singular = re.sub(r"(?<![su])s$", "", param.name)
    if param.type.kind != "array" or singular == param.name or singular in names:
        return (flag,)
    return ("--" + kebab(singular), flag)


def _args_help(section: str) -> dict[str, str]:
    """The `name: text` entries of a Google-style `Args:` section, each joined into one line."""
    entries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in section.splitlines():
        match = re.match(r"^  (\w+): (.*)$", line)
        if match:
            current = entries.setdefault(match.group(1), [])
            current.append(match.group(2).strip())
        elif line.strip() and current is not None:
            current.append(line.strip())
    return {name: " ".join(parts) for name, parts in entries.items()}


def _first_paragraph(doc: str | None) -> str:
    return " ".join(inspect.cleandoc(doc or "").split("\n\n")[0].split())


def _first_sentence(text: str) -> str:
    paragraph = " ".join(text.split("\n\n")[0].split())
    head, dot, _ = paragraph.partition(". ")
    return head + ("." if dot and not head.endswith(".") else "")


_SCALARS: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dt.date: "date",
    dt.datetime: "date-time",
}


@functools.cache
def value_type(hint: Any) -> ValueType:
    """The `ValueType` of an SDK type hint."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (
        typing.Annotated,
        Required,
        typing.NotRequired,
        typing_extensions.Required,
        typing_extensions.NotRequired,
    ):
        return value_type(args[0])
    if origin in (typing.Union, types.UnionType):
        return _union(args)
    if origin is Literal:
        return ValueType("enum", choices=tuple(str(a) for a in args))
    if origin in (list, Sequence, Iterable, typing.Iterable):
        return ValueType("array", item=value_type(args[0]))
    if typing_extensions.is_typeddict(hint):
        shapes = (hint, *EXTRA_VARIANTS.get(hint, ()))
        if len(shapes) > 1:
            return ValueType("object", variants=tuple(_object(shape) for shape in shapes))
        return _object(hint)
    if hint in _SCALARS:
        return ValueType(_SCALARS[hint])
    return ValueType("string")


def _union(args: tuple[Any, ...]) -> ValueType:
    """A union's type, `Omit` and `None` dropped: an optional value is given or left out."""
    members = [
        a
        for a in args
        if a is not type(None) and not (isinstance(a, type) and issubclass(a, (Omit, NotGiven)))
    ]
    if str in members:
        # `str | date` is a date given as text; `str | IO | PathLike` (page tokens) is a string.
        kinds = [_SCALARS[m] for m in members if m in (dt.date, dt.datetime)]
        return ValueType(kinds[0] if kinds else "string")
    resolved = [value_type(m) for m in members]
    if len(resolved) == 1:
        return resolved[0]
    if all(r.kind == "enum" for r in resolved):
        return ValueType("enum", choices=tuple(c for r in resolved for c in r.choices))
    if all(r.kind == "object" for r in resolved):
        return ValueType("object", variants=tuple(resolved))
    return ValueType("string")


def _object(typed_dict: Any) -> ValueType:
    hints = typing.get_type_hints(typed_dict, include_extras=True)
    docs = _attribute_docs(typed_dict)
    fields = []
    for name, hint in hints.items():
        alias = next(
            (
                meta.alias
                for meta in getattr(hint, "__metadata__", ())
                if isinstance(meta, PropertyInfo) and meta.alias
            ),
            name,
        )
        # The SDK's modules postpone annotations, which hides `Required[...]` from the class's
        # `__required_keys__`; the resolved hint still carries it.
        marker = typing.get_origin(hint)
        required = marker in (Required, typing_extensions.Required) or (
            typed_dict.__total__
            and marker not in (typing.NotRequired, typing_extensions.NotRequired)
        )
        fields.append(Field(alias, value_type(hint), required, docs.get(name, "")))
    title = typed_dict.__name__.removesuffix("Param")
    return ValueType("object", fields=tuple(fields), title=title)


def _attribute_docs(cls: type) -> dict[str, str]:
    """The docstrings written under a class's annotated attributes, first paragraph each."""
    body = _class_node(cls).body
    docs = {}
    for node, following in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = _first_paragraph(following.value.value)
    return docs
