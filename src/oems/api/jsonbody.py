"""Request bodies: fast typed decoding, and on failure the contract's serde-style error messages.

Success costs one msgspec decode. Only a failing body is scanned again, by a small position-tracking
JSON reader, to say what is wrong, where (`line L column C`) and at which path (`[0].quantity`).
"""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

from oems.domain.errors import InvalidRequest, Unprocessable

T = TypeVar("T")
Path = tuple[int | str, ...]

PARSE_PREFIX = "Failed to parse the request body as JSON: "
SHAPE_PREFIX = "Failed to deserialize the JSON body into the target type: "


_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")


class JsonSyntaxError(Exception):
    """A JSON syntax error with serde_json's wording and the offset where it was found."""

    def __init__(self, message: str, offset: int, path: Path) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.path = path


class _Scanner:
    """Reads JSON text recording the span of every value and key by path."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.value_spans: dict[Path, tuple[int, int]] = {}
        self.key_spans: dict[Path, tuple[int, int]] = {}

    def fail(self, message: str, path: Path, consumed: bool = True) -> JsonSyntaxError:
        at_eof = self.pos >= len(self.text)
        offset = len(self.text) if at_eof else self.pos + (1 if consumed else 0)
        return JsonSyntaxError(message, offset, path)

    def skip_ws(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        self.pos = pos

    def document(self) -> None:
        self.skip_ws()
        self.value(())
        self.skip_ws()
        if self.pos < len(self.text):
            raise self.fail("trailing characters", ())

    def value(self, path: Path) -> None:
        self.skip_ws()
        if self.pos >= len(self.text):
            raise self.fail("EOF while parsing a value", path)
        start = self.pos
        char = self.text[start]
        if char == "{":
            self.obj(path)
        elif char == "[":
            self.array(path)
        elif char == '"':
            self.string(path)
        elif char == "-" or char.isdigit():
            self.number(path)
        else:
            for word in ("true", "false", "null"):
                if self.text.startswith(word, start):
                    self.pos += len(word)
                    break
            else:
                if char.isalpha():
                    while self.pos < len(self.text) and self.text[self.pos].isalpha():
                        self.pos += 1
                    self.pos -= 1
                    raise self.fail("expected ident", path)
                raise self.fail("expected value", path)
        self.value_spans[path] = (start, self.pos)

    def string(self, path: Path) -> None:
        text = self.text
        self.pos += 1
        while True:
            if self.pos >= len(text):
                raise self.fail("EOF while parsing a string", path)
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return
            if char == "\\":
                self.pos += 1
                if self.pos >= len(text):
                    raise self.fail("EOF while parsing a string", path)
                if text[self.pos] not in '"\\/bfnrtu':
                    raise self.fail("invalid escape", path)
            elif ord(char) < 0x20:
                raise self.fail(
                    "control character (\\u0000-\\u001F) found while parsing a string", path
                )
            self.pos += 1

    def number(self, path: Path) -> None:
        match = _NUMBER.match(self.text, self.pos)
        if match is None or match.end() == self.pos:
            raise self.fail("invalid number", path)
        self.pos = match.end()

    def obj(self, path: Path) -> None:
        self.pos += 1
        self.skip_ws()
        if self.pos < len(self.text) and self.text[self.pos] == "}":
            self.pos += 1
            return
        inner = (*path, "?") if path else path
        while True:
            self.skip_ws()
            if self.pos >= len(self.text):
                raise self.fail("EOF while parsing an object", inner)
            if self.text[self.pos] != '"':
                message = "trailing comma" if self.text[self.pos] == "}" else "key must be a string"
                raise self.fail(message, inner)
            key_start = self.pos
            self.string(inner)
            key = self.text[key_start + 1 : self.pos - 1]
            child = (*path, key)
            self.key_spans[child] = (key_start, self.pos)
            self.skip_ws()
            if self.pos >= len(self.text):
                raise self.fail("EOF while parsing an object", inner)
            if self.text[self.pos] != ":":
                raise self.fail("expected `:`", inner)
            self.pos += 1
            self.value(child)
            self.skip_ws()
            if self.pos >= len(self.text):
                raise self.fail("EOF while parsing an object", inner)
            char = self.text[self.pos]
            self.pos += 1
            if char == "}":
                return
            if char != ",":
                self.pos -= 1
                raise self.fail("expected `,` or `}`", inner)

    def array(self, path: Path) -> None:
        self.pos += 1
        self.skip_ws()
        if self.pos < len(self.text) and self.text[self.pos] == "]":
            self.pos += 1
            return
        index = 0
        while True:
            self.skip_ws()
            if self.pos < len(self.text) and self.text[self.pos] == "]" and index:
                raise self.fail("trailing comma", path)
            if self.pos >= len(self.text):
                raise self.fail("EOF while parsing a list", path)
            self.value((*path, index))
            self.skip_ws()
            if self.pos >= len(self.text):
                raise self.fail("EOF while parsing a list", path)
            char = self.text[self.pos]
            self.pos += 1
            if char == "]":
                return
            if char != ",":
                self.pos -= 1
                raise self.fail("expected `,` or `]`", path)
            index += 1


def render_path(path: Path) -> str:
    """A path as the contract writes it: `[0].quantity`, `risk.max_notional`, `[0].?`."""
    out = ""
    for segment in path:
        if isinstance(segment, int):
            out += f"[{segment}]"
        else:
            out += f".{segment}" if out else segment
    return out


def line_column(text: str, offset: int) -> tuple[int, int]:
    """serde_json's position: 1-based line and the count of characters consumed on that line."""
    line = text.count("\n", 0, offset) + 1
    line_start = text.rfind("\n", 0, offset) + 1
    return line, offset - line_start


def _syntax_error(text: str) -> InvalidRequest:
    scanner = _Scanner(text)
    try:
        scanner.document()
    except JsonSyntaxError as exc:
        line, column = line_column(text, exc.offset)
        where = render_path(exc.path)
        prefix = f"{where}: " if where else ""
        return InvalidRequest(f"{PARSE_PREFIX}{prefix}{exc.message} at line {line} column {column}")
    return InvalidRequest(f"{PARSE_PREFIX}invalid JSON")


_MSGSPEC_PATH = re.compile(r"\[(\d+)\]|\.([A-Za-z_][A-Za-z0-9_]*)|\['((?:[^'\\]|\\.)*)'\]")
_TYPE_WORDS = {
    "str": "a string",
    "int": "i64",
    "float": "f64",
    "bool": "a boolean",
    "object": "a map",
    "array": "a sequence",
    "null": "null",
    "decimal": "a decimal string",
}


def _parse_msgspec_path(text: str) -> Path:
    segments: list[int | str] = []
    for index, name, quoted in _MSGSPEC_PATH.findall(text):
        if index:
            segments.append(int(index))
        else:
            segments.append(name or quoted)
    return tuple(segments)


def _describe_value(raw: str) -> str:
    if raw.startswith('"'):
        return f"string {raw}"
    if raw in ("true", "false"):
        return f"boolean `{raw}`"
    if raw == "null":
        return "null"
    if raw.startswith("{"):
        return "map"
    if raw.startswith("["):
        return "sequence"
    if any(c in raw for c in ".eE"):
        return f"floating point `{raw}`"
    return f"integer `{raw}`"


def _shape_error(text: str, error: msgspec.ValidationError) -> InvalidRequest | Unprocessable:
    message = str(error)
    location = ""
    if " - at `" in message:
        message, location = message.rsplit(" - at `", 1)
        location = location.rstrip("`")
    path = _parse_msgspec_path(location[1:]) if location.startswith("$") else ()
    scanner = _Scanner(text)
    try:
        scanner.document()
    except JsonSyntaxError:
        # msgspec checks types as it reads; a syntax error further on still wins.
        return _syntax_error(text)
    span = scanner.value_spans.get(path, (0, len(text)))
    offset = span[1]
    if match := re.match(r"Object missing required field `(.+)`", message):
        detail = f"missing field `{match.group(1)}`"
    elif match := re.match(r"Object contains unknown field `(.+)`", message):
        detail = f"unknown field `{match.group(1)}`"
        key_span = scanner.key_spans.get((*path, match.group(1)))
        offset = key_span[1] if key_span else offset
    elif match := re.match(r"Expected `(.+?)`, got `(.+?)`", message):
        wanted = match.group(1).replace(" | null", "")
        wanted_words = _TYPE_WORDS.get(wanted, wanted)
        detail = (
            f"invalid type: {_describe_value(text[span[0] : span[1]])}, expected {wanted_words}"
        )
    elif match := re.match(r"Invalid enum value (.+)", message):
        detail = f"unknown variant `{match.group(1).strip(chr(39))}`"
    else:
        detail = message[:1].lower() + message[1:]
    line, column = line_column(text, offset)
    where = render_path(path)
    prefix = f"{where}: " if where else ""
    return Unprocessable(f"{SHAPE_PREFIX}{prefix}{detail} at line {line} column {column}")


def decode_body(body: bytes, target: type[T]) -> T:
    """Decode a request body into `target`: 400 on malformed JSON, 422 on the wrong shape."""
    try:
        return msgspec.json.decode(body, type=target)
    except msgspec.ValidationError as exc:
        text = body.decode("utf-8", errors="replace")
        raise _shape_error(text, exc) from None
    except msgspec.DecodeError:
        text = body.decode("utf-8", errors="replace")
        raise _syntax_error(text) from None


def value_error(path: Path, message: str, body: bytes) -> Unprocessable:
    """A 422 for a value that decoded but is not acceptable (e.g. a malformed decimal string)."""
    text = body.decode("utf-8", errors="replace")
    scanner = _Scanner(text)
    scanner.document()
    span = scanner.value_spans.get(path, (0, len(text)))
    line, column = line_column(text, span[1])
    where = render_path(path)
    prefix = f"{where}: " if where else ""
    return Unprocessable(f"{SHAPE_PREFIX}{prefix}{message} at line {line} column {column}")
