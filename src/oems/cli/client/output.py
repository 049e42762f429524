"""What `clear-street` prints: `--transform` paths into the response, and the output formats.

Path syntax (`--transform`), applied to the whole response envelope `{data, error, metadata}`:
names separated by dots pick fields (`metadata.request_id`); a number, or `[N]`, picks a list
item, negative from the end (`data.0.id`, `data[0].id`, `data[-1]`); `[]` applies the rest of the
path to every item (`data[].symbol`). A field or item that is not there gives null. Without
`--transform` the path is `data`.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

import yaml

from oems.cli.tables import render_table

FORMATS = ("json", "jsonl", "yaml", "table", "raw")
DEFAULT_PATH = "data"

Step = str | int | None  # a field name, a list index, or None for "every item"

_STEP = re.compile(r"\.?(?P<name>[^.\[\]]+)|\[(?P<index>-?\d+)?\]")


def parse_path(text: str) -> tuple[Step, ...]:
    """Parse a `--transform` path; raises `ArgumentTypeError` on one that is malformed."""
    steps: list[Step] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None or (position == 0 and text.startswith(".")):
            raise argparse.ArgumentTypeError(
                f"cannot read the path {text!r} at character {position + 1}: "
                "use names and indexes like data.0.id, data[0].id or data[].symbol"
            )
        if match.group("name") is not None:
            name = match.group("name")
            steps.append(int(name) if re.fullmatch(r"-?\d+", name) else name)
        else:
            index = match.group("index")
            steps.append(int(index) if index is not None else None)
        position = match.end()
    if not steps:
        raise argparse.ArgumentTypeError("the path is empty: give one like data.0.id")
    return tuple(steps)


def select(value: Any, steps: tuple[Step, ...]) -> Any:
    """The part of `value` a parsed path picks (null where it leads nowhere)."""
    for i, step in enumerate(steps):
        if step is None:
            if not isinstance(value, list):
                return None
            return [select(item, steps[i + 1 :]) for item in value]
        if isinstance(step, int) and isinstance(value, list):
            value = value[step] if -len(value) <= step < len(value) else None
        elif isinstance(value, dict):
            value = value.get(str(step))
        else:
            return None
    return value


def render(value: Any, fmt: str) -> str:
    """`value` in a format: pretty `json`, `jsonl` (one line per list item), `yaml` or `table`."""
    if fmt == "json":
        return json.dumps(value, indent=2, ensure_ascii=False)
    if fmt == "jsonl":
        items = value if isinstance(value, list) else [value]
        return "\n".join(json.dumps(item, ensure_ascii=False) for item in items)
    if fmt == "yaml":
        text = yaml.safe_dump(value, sort_keys=False, allow_unicode=True)
        return text.removesuffix("...\n").rstrip("\n")  # a bare scalar ends its document
    return render_table(value)
