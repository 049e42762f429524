"""Values from request bodies, bounded at the edge.

A value that is not written as its type requires is a 422 like any shape error (`ten`, `1e5`,
`1_0` for a decimal); a well-written one beyond its documented bound is a 400 naming the field.
"""

from __future__ import annotations

from decimal import Decimal

from oems.api.jsonbody import Path, render_path, value_error
from oems.domain.decimals import Bound, OutOfBounds, parse_decimal
from oems.domain.errors import InvalidRequest

INVALID_FIELD = "INVALID_FIELD"
MAX_NAME_LENGTH = 128  # account names, user names, memos
MAX_ID_LENGTH = 64  # client-chosen ids (order `id`, `instruction_id`)


def field_error(subject: str, message: str) -> InvalidRequest:
    """A 400 `subject: message` with the typed detail the order rules use."""
    return InvalidRequest(
        f"{subject}: {message}",
        [{"description": message, "subject": subject, "type": INVALID_FIELD}],
    )


def wire_decimal(text: str, bound: Bound, path: Path, raw: bytes) -> Decimal:
    """The decimal at `path` of the body `raw`: 422 when malformed, 400 when beyond `bound`."""
    try:
        return parse_decimal(text, bound)
    except OutOfBounds as exc:
        raise field_error(render_path(path), str(exc)) from None
    except ValueError as exc:
        raise value_error(path, str(exc), raw) from None


def optional_decimal(text: str | None, bound: Bound, path: Path, raw: bytes) -> Decimal | None:
    """As `wire_decimal`, None when the field is absent."""
    return None if text is None else wire_decimal(text, bound, path, raw)


def wire_text(text: str, subject: str, maximum: int = MAX_NAME_LENGTH) -> str:
    """`text` when it is at most `maximum` characters, or a 400 naming `subject`."""
    if len(text) > maximum:
        raise field_error(subject, f"must be at most {maximum} characters, got {len(text)}")
    return text
