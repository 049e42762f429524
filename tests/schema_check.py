"""Validation of response bodies against the vendor document's schema for an operation."""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@cache
def _validator(spec_id: int, method: str, path: str, status: str) -> Draft202012Validator:
    spec = _SPECS[spec_id]
    ref = _pointer(
        "paths", path, method.lower(), "responses", status, "content", "application/json", "schema"
    )
    # The document is the root resource, so its `#/components/...` references resolve.
    return Draft202012Validator({**spec, "$ref": ref})


_SPECS: dict[int, dict[str, Any]] = {}


def assert_matches_schema(
    spec: dict[str, Any], method: str, path: str, body: Any, status: int = 200
) -> None:
    """Fail with every violation when `body` does not validate against the operation's schema."""
    _SPECS[id(spec)] = spec
    validator = _validator(id(spec), method, path, str(status))
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
