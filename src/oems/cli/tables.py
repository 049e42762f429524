"""Plain-text tables for people, shared by `clear-street --format table` and the `oems` commands."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

MAX_CELL = 48


def cell(value: Any) -> str:
    """One value as table text: empty for null, compact JSON for nested values, cut to fit."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, Mapping | list):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns aligned under their header, separated by two spaces, the header underlined."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = [
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in [list(header), ["-" * width for width in widths], *rows]
    ]
    return "\n".join(lines)


def render_table(value: Any) -> str:
    """A list of objects as rows (columns that are null throughout left out), an object as
    field/value pairs, a list of scalars as one column, a scalar as itself."""
    if isinstance(value, Mapping):
        return grid(["field", "value"], [[str(k), cell(v)] for k, v in value.items()])
    if isinstance(value, list):
        if not value:
            return "(no items)"
        if all(isinstance(item, Mapping) for item in value):
            columns: dict[str, None] = {}
            for item in value:
                columns.update((k, None) for k, v in item.items() if v is not None)
            return grid(list(columns), [[cell(item.get(c)) for c in columns] for item in value])
        return grid(["value"], [[cell(item)] for item in value])
    return "" if value is None else cell(value) if isinstance(value, bool) else str(value)
