"""The body decoder's serde-style messages: what is wrong, at which path, at which line and column."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from oems.api import jsonbody
from oems.api.errors import Unprocessable
from oems.api.jsonbody import decode_body, render_path
from oems.domain.errors import InvalidRequest


class _Order(msgspec.Struct, forbid_unknown_fields=True):
    order_type: str
    quantity: str


def _message(body: bytes, target: type = list[_Order]) -> tuple[int, str]:
    with pytest.raises((InvalidRequest, Unprocessable)) as info:
        decode_body(body, target)
    return info.value.code, info.value.message


def test_valid_body_decodes() -> None:
    orders = decode_body(b'[{"order_type": "LIMIT", "quantity": "5"}]', list[_Order])
    assert orders == [_Order("LIMIT", "5")]


def test_missing_field_names_index_and_position_of_object_end() -> None:
    body = b'[\n  {\n    "quantity": "25"\n  }\n]'
    assert _message(body) == (
        422,
        "Failed to deserialize the JSON body into the target type: [0]: missing field `order_type` at line 4 column 3",
    )


def test_wrong_type_names_the_field_path() -> None:
    body = b'[{"order_type": "LIMIT",\n "quantity": 25}]'
    code, message = _message(body)
    assert code == 422
    assert message == (
        "Failed to deserialize the JSON body into the target type: "
        "[0].quantity: invalid type: integer `25`, expected a string at line 2 column 15"
    )


def test_unknown_field_points_after_the_key() -> None:
    code, message = _message(b'[{"order_type": "L", "quantity": "1", "zz": 1}]')
    assert code == 422
    assert message.endswith("[0]: unknown field `zz` at line 1 column 42")


def test_missing_comma_inside_array_element_reports_unknown_key_path() -> None:
    body = b'[\n  {\n    "order_type": "LIMIT"\n    "quantity": "1"\n  }\n]'
    assert _message(body) == (
        400,
        "Failed to parse the request body as JSON: [0].?: expected `,` or `}` at line 4 column 5",
    )


def test_missing_colon_at_top_level_has_no_path() -> None:
    body = b'{\n  "cancel_orders" true\n}'
    assert _message(body, dict) == (
        400,
        "Failed to parse the request body as JSON: expected `:` at line 2 column 19",
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "EOF while parsing a value at line 1 column 0"),
        (b"[1,]", "trailing comma at line 1 column 4"),
        (b'{"a": 1,}', "trailing comma at line 1 column 9"),
        (b"{} x", "trailing characters at line 1 column 4"),
        (b'{\n  "a": 1,\n', "EOF while parsing an object at line 3 column 0"),
    ],
)
def test_syntax_errors_use_serde_wording(body: bytes, expected: str) -> None:
    code, message = _message(body, dict)
    assert code == 400
    assert message == f"Failed to parse the request body as JSON: {expected}"


def test_syntax_error_wins_over_early_type_error() -> None:
    code, message = _message(b'{"a" 1}', list[_Order])
    assert code == 400
    assert "expected `:`" in message


def test_render_path() -> None:
    assert render_path((0, "quantity")) == "[0].quantity"
    assert render_path(("risk", "max_notional")) == "risk.max_notional"
    assert render_path(()) == ""


def test_nesting_past_serde_limit_is_a_syntax_error_not_a_recursion() -> None:
    for depth in (128, 100_000):
        body = b"[" * depth + b"]" * depth
        code, message = _message(body, list[list[int]])
        assert code == 400
        assert message == (
            "Failed to parse the request body as JSON: "
            + "[0]" * 127
            + ": recursion limit exceeded at line 1 column 128"
        )
    assert decode_body(b"[" * 127 + b"]" * 127, object) is not None


def test_invalid_utf8_in_a_string_is_a_syntax_error_after_the_string() -> None:
    body = b'[{"order_type": "LI\xffMIT", "quantity": "1"}]'
    assert _message(body) == (
        400,
        "Failed to parse the request body as JSON: [0].order_type: invalid unicode code point at line 1 column 24",
    )


def _orders(count: int, indent: int | None = 2) -> str:
    return json.dumps([{"order_type": "LIMIT", "quantity": "5"}] * count, indent=indent)


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The furthest offset each scan of the body decoder read to."""
    furthest: list[int] = []

    class Spy(jsonbody._Scanner):
        def open_value(self, *args: Any) -> Any:
            if not furthest or self.pos > furthest[-1]:
                furthest.append(self.pos)
            return super().open_value(*args)

    monkeypatch.setattr(jsonbody, "_Scanner", Spy)
    return furthest


def test_large_malformed_body_is_scanned_only_within_the_budget(
    scanned: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _orders(20_000)
    body = (text[:-2] + ' "x"]').encode()  # a missing comma at the very end
    assert len(body) > 20 * jsonbody.SCAN_LIMIT
    code, message = _message(body)
    assert max(scanned) <= jsonbody.SCAN_LIMIT + 64
    lines = body.count(b"\n") + 1
    assert (code, message) == (
        400,
        f"Failed to parse the request body as JSON: expected `,` or `]` at line {lines} column 5",
    )
    # msgspec located it where a full scan does.
    monkeypatch.setattr(jsonbody, "SCAN_LIMIT", len(body))
    assert _message(body) == (code, message)


def test_large_body_with_an_early_error_keeps_the_exact_message(scanned: list[int]) -> None:
    text = _orders(20_000)
    body = text.replace('"quantity": "5"', '"quantity": 5', 3).replace(
        '"quantity": 5', '"quantity": "5"', 2
    )
    code, message = _message(body.encode())
    assert code == 422
    assert message == (
        "Failed to deserialize the JSON body into the target type: "
        "[2].quantity: invalid type: integer `5`, expected a string at line 12 column 17"
    )
    assert max(scanned) <= jsonbody.SCAN_LIMIT + 64


def test_large_body_with_a_late_shape_error_names_path_without_position(
    scanned: list[int],
) -> None:
    text = _orders(20_000)
    cut = text.rindex('"5"')
    body = text[:cut] + "5" + text[cut + 3 :]
    assert json.loads(body)[-1]["quantity"] == 5
    code, message = _message(body.encode())
    assert max(scanned) <= jsonbody.SCAN_LIMIT + 64
    assert (code, message) == (
        422,
        "Failed to deserialize the JSON body into the target type: "
        "[19999].quantity: invalid type: integer, expected a string",
    )
