"""Validation of response bodies against the vendor document's schema for an operation."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

# Enum values the reference pages (../shared/seeds) list and the document does not: where they
# differ the seed wins (spec/SCOPE.md). The conformance test checks the seeds still list them.
SEED_ENUMS: dict[str, tuple[str, ...]] = {
    "TimeInForce": ("GOOD_TILL_CROSSING", "GOOD_THROUGH_CROSSING", "AT_CROSSING"),
    "RequestTimeInForce": ("GOOD_TILL_CROSSING", "GOOD_THROUGH_CROSSING", "AT_CROSSING"),
    "SecurityType": ("PREFERRED_STOCK", "OTHER"),
    "PositionInstructionStatus": ("ENGINE_REJECTED",),
}


def with_seed_enums(spec: dict[str, Any]) -> dict[str, Any]:
    """The document with the seeds' newer enum values added (a copy; `spec` is unchanged)."""
    merged = copy.deepcopy(spec)
    schemas = merged["components"]["schemas"]
    for name, values in SEED_ENUMS.items():
        enum = schemas[name]["enum"]
        enum.extend(v for v in values if v not in enum)
    return merged


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
_SKIPPED = [0]  # comparisons skipped for want of the document


def skipped_comparisons() -> int:
    """How many schema comparisons this run skipped because the vendor document is absent."""
    return _SKIPPED[0]


def assert_matches_schema(
    spec: dict[str, Any], method: str, path: str, body: Any, status: int = 200
) -> None:
    """Fail with every violation when `body` does not validate against the operation's schema;
    without the document (`spec` is `{}`), count the comparison as skipped instead."""
    if not spec:
        _SKIPPED[0] += 1
        return
    _SPECS[id(spec)] = spec
    validator = _validator(id(spec), method, path, str(status))
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
