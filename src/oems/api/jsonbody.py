"""Request bodies: fast typed decoding, and on failure the contract's serde-style error messages.

Success costs one msgspec decode. Only a failing body is scanned again, by a small position-tracking
JSON reader, to say what is wrong, where (`line L column C`, in bytes as serde_json counts) and at
which path (`[0].quantity`). The reader is iterative (nesting past serde_json's limit is a 400, not
a recursion) and reads at most SCAN_LIMIT bytes, so a refusal costs a few milliseconds whatever the
body's size: past the budget, msgspec's own error (C speed) gives the wording and position.
"""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

from oems.api.errors import Unprocessable
from oems.domain.errors import InvalidRequest

T = TypeVar("T")
Path = tuple[int | str, ...]

PARSE_PREFIX = "Failed to parse the request body as JSON: "
SHAPE_PREFIX = "Failed to deserialize the JSON body into the target type: "


_WS = re.compile(rb"[ \t\r\n]*")
# Bytes of a string that need no attention but the UTF-8 check at its end.
_PLAIN = re.compile(rb'[^"\\\x00-\x1f]*')
_NUMBER = re.compile(rb"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_ESCAPES = frozenset(b'"\\/bfnrtu')
_WORDS = (b"true", b"false", b"null")

# serde_json's nesting limit: the 128th open bracket is refused.
MAX_DEPTH = 127
# Bodies up to this size get the exact message of a full scan (a few milliseconds at most);
# past it, what msgspec reports, or a scan that stops where the bad value is, within this budget.
SCAN_LIMIT = 16 * 1024


class JsonSyntaxError(Exception):
    """A JSON syntax error with serde_json's wording and the offset where it was found."""

    def __init__(self, message: str, offset: int, path: Path) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.path = path


class _OverBudget(Exception):
    """The scan went past its budget before it found what it was looking for."""


class _Found(Exception):
    """The scan recorded the span it was looking for."""


class _Container:
    """An array or object being read: its path, where it opened, and the next element's index."""

    __slots__ = ("index", "is_object", "path", "start")

    def __init__(self, is_object: bool, path: Path, start: int) -> None:
        self.is_object = is_object
        self.path = path
        self.start = start
        self.index = 0

    @property
    def inner(self) -> Path:
        """The path serde names for an error between an object's members: `obj.?`."""
        return (*self.path, "?") if self.path else self.path


class _Scanner:
    """Reads JSON bytes recording the span (byte offsets) of every value and key by path.

    Iterative, so any nesting costs no recursion; `limit` bounds how far it reads (`_OverBudget`
    past it) and `target` stops it (`_Found`) once that path's value has been read.
    """

    def __init__(self, data: bytes, limit: int | None = None, target: Path | None = None) -> None:
        self.data = data
        self.pos = 0
        self.limit = len(data) if limit is None else limit
        self.target = target
        self.value_spans: dict[Path, tuple[int, int]] = {}
        self.key_spans: dict[Path, tuple[int, int]] = {}

    def fail(self, message: str, path: Path) -> JsonSyntaxError:
        offset = len(self.data) if self.pos >= len(self.data) else self.pos + 1
        return JsonSyntaxError(message, offset, path)

    def skip_ws(self) -> None:
        self.pos = _WS.match(self.data, self.pos).end()  # type: ignore[union-attr]

    def at(self) -> int | None:
        """The byte at the current position, or None at the end of the input."""
        return self.data[self.pos] if self.pos < len(self.data) else None

    def document(self) -> None:
        self.skip_ws()
        self.value(())
        self.skip_ws()
        if self.pos < len(self.data):
            raise self.fail("trailing characters", ())

    def record(self, path: Path, start: int) -> None:
        self.value_spans[path] = (start, self.pos)
        if path == self.target:
            raise _Found

    def value(self, path: Path) -> None:
        """Read one value at `path`, containers included, with an explicit stack."""
        stack: list[_Container] = []
        following: Path | None = path
        while following is not None:
            if self.pos > self.limit:
                raise _OverBudget
            following = self.open_value(following, stack)
            while following is None and stack:
                following = self.next_member(stack)

    def open_value(self, path: Path, stack: list[_Container]) -> Path | None:
        """Start the value at `path`: the path of its first member, or None once it is read whole."""
        self.skip_ws()
        char = self.at()
        if char is None:
            raise self.fail("EOF while parsing a value", path)
        start = self.pos
        if char in b"{[":
            if len(stack) >= MAX_DEPTH:
                raise self.fail("recursion limit exceeded", path)
            container = _Container(char == ord("{"), path, start)
            self.pos += 1
            self.skip_ws()
            if self.at() == (ord("}") if container.is_object else ord("]")):
                self.pos += 1
                self.record(path, start)
                return None
            stack.append(container)
            if container.is_object:
                return self.key(container)
            if self.at() is None:
                raise self.fail("EOF while parsing a list", path)
            return (*path, 0)
        if char == ord('"'):
            self.string(path)
        elif char == ord("-") or 0x30 <= char <= 0x39:
            self.number(path)
        else:
            self.word(path)
        self.record(path, start)
        return None

    def next_member(self, stack: list[_Container]) -> Path | None:
        """After a member of the innermost container: the next member's path, or None at its end."""
        container = stack[-1]
        self.skip_ws()
        char = self.at()
        if container.is_object:
            if char is None:
                raise self.fail("EOF while parsing an object", container.inner)
            self.pos += 1
            if char == ord("}"):
                stack.pop()
                self.record(container.path, container.start)
                return None
            if char != ord(","):
                self.pos -= 1
                raise self.fail("expected `,` or `}`", container.inner)
            return self.key(container)
        if char is None:
            raise self.fail("EOF while parsing a list", container.path)
        self.pos += 1
        if char == ord("]"):
            stack.pop()
            self.record(container.path, container.start)
            return None
        if char != ord(","):
            self.pos -= 1
            raise self.fail("expected `,` or `]`", container.path)
        container.index += 1
        self.skip_ws()
        if self.at() == ord("]"):
            raise self.fail("trailing comma", container.path)
        if self.at() is None:
            raise self.fail("EOF while parsing a list", container.path)
        return (*container.path, container.index)

    def key(self, container: _Container) -> Path:
        """Read `"key":` in an object: the path of the member's value."""
        inner = container.inner
        self.skip_ws()
        char = self.at()
        if char is None:
            raise self.fail("EOF while parsing an object", inner)
        if char != ord('"'):
            raise self.fail("trailing comma" if char == ord("}") else "key must be a string", inner)
        key_start = self.pos
        self.string(inner)
        key = self.data[key_start + 1 : self.pos - 1].decode()
        child = (*container.path, key)
        self.key_spans[child] = (key_start, self.pos)
        self.skip_ws()
        char = self.at()
        if char is None:
            raise self.fail("EOF while parsing an object", inner)
        if char != ord(":"):
            raise self.fail("expected `:`", inner)
        self.pos += 1
        return child

    def string(self, path: Path) -> None:
        data = self.data
        start = self.pos + 1
        self.pos = start
        while True:
            self.pos = _PLAIN.match(data, self.pos).end()  # type: ignore[union-attr]
            char = self.at()
            if char is None:
                raise self.fail("EOF while parsing a string", path)
            if char == ord('"'):
                break
            if char == ord("\\"):
                self.pos += 1
                if self.at() is None:
                    raise self.fail("EOF while parsing a string", path)
                if data[self.pos] not in _ESCAPES:
                    raise self.fail("invalid escape", path)
            else:
                raise self.fail(
                    "control character (\\u0000-\\u001F) found while parsing a string", path
                )
            self.pos += 1
        try:
            data[start : self.pos].decode()
        except UnicodeDecodeError:
            # serde_json checks a string's UTF-8 once it has read it: the error is after the quote.
            raise self.fail("invalid unicode code point", path) from None
        self.pos += 1

    def number(self, path: Path) -> None:
        match = _NUMBER.match(self.data, self.pos)
        if match is None or match.end() == self.pos:
            raise self.fail("invalid number", path)
        self.pos = match.end()

    def word(self, path: Path) -> None:
        data = self.data
        for word in _WORDS:
            if data.startswith(word, self.pos):
                self.pos += len(word)
                return
        if data[self.pos : self.pos + 1].isalpha():
            while self.pos < len(data) and data[self.pos : self.pos + 1].isalpha():
                self.pos += 1
            self.pos -= 1
            raise self.fail("expected ident", path)
        raise self.fail("expected value", path)


def render_path(path: Path) -> str:
    """A path as the contract writes it: `[0].quantity`, `risk.max_notional`, `[0].?`."""
    out = ""
    for segment in path:
        if isinstance(segment, int):
            out += f"[{segment}]"
        else:
            out += f".{segment}" if out else segment
    return out


def line_column(data: bytes, offset: int) -> tuple[int, int]:
    """serde_json's position: 1-based line and the count of bytes consumed on that line."""
    line = data.count(b"\n", 0, offset) + 1
    line_start = data.rfind(b"\n", 0, offset) + 1
    return line, offset - line_start


def _message(prefix: str, path: Path, detail: str, data: bytes, offset: int | None) -> str:
    """`prefix` `path: ` `detail` ` at line L column C` (the position left out when unknown)."""
    where = render_path(path)
    text = f"{prefix}{where}: {detail}" if where else f"{prefix}{detail}"
    if offset is None:
        return text
    line, column = line_column(data, offset)
    return f"{text} at line {line} column {column}"


# msgspec's words for a syntax error, in serde_json's (the fallback for bodies past SCAN_LIMIT).
_MSGSPEC_SYNTAX = {
    "expected ',' or ']'": "expected `,` or `]`",
    "expected ',' or '}'": "expected `,` or `}`",
    "expected ':'": "expected `:`",
    "trailing comma in array": "trailing comma",
    "trailing comma in object": "trailing comma",
    "object keys must be strings": "key must be a string",
    "invalid character": "expected value",
    "invalid escape character in string": "invalid escape",
}
_MSGSPEC_OFFSET = re.compile(r"^JSON is malformed: (.*) \(byte (\d+)\)$")


def _syntax_fallback(body: bytes) -> InvalidRequest | None:
    """The syntax error of a body too large to scan, as msgspec (C speed) locates it."""
    try:
        body.decode()
    except UnicodeDecodeError as exc:
        end = body.find(b'"', exc.start)
        offset = len(body) if end < 0 else end + 1
        return InvalidRequest(
            _message(PARSE_PREFIX, (), "invalid unicode code point", body, offset)
        )
    try:
        msgspec.json.decode(body, type=msgspec.Raw)
    except RecursionError:
        return InvalidRequest(_message(PARSE_PREFIX, (), "recursion limit exceeded", body, None))
    except msgspec.DecodeError as exc:
        match = _MSGSPEC_OFFSET.match(str(exc))
        if match is None:  # "Input data was truncated"
            return InvalidRequest(_message(PARSE_PREFIX, (), "EOF while parsing", body, len(body)))
        words, byte = match.groups()
        offset = min(int(byte) + 1, len(body))
        return InvalidRequest(
            _message(PARSE_PREFIX, (), _MSGSPEC_SYNTAX.get(words, words), body, offset)
        )
    return None


def _syntax_error(body: bytes) -> InvalidRequest | None:
    """The body's first syntax error in serde_json's words, or None when it is valid JSON."""
    try:
        _Scanner(body, limit=SCAN_LIMIT).document()
    except JsonSyntaxError as exc:
        return InvalidRequest(_message(PARSE_PREFIX, exc.path, exc.message, body, exc.offset))
    except _OverBudget:
        return _syntax_fallback(body)
    return None


def _spans(body: bytes, path: Path) -> _Scanner | None:
    """A scan of a valid body up to the end of the value at `path`; None past the budget."""
    scanner = _Scanner(body, limit=SCAN_LIMIT, target=path)
    try:
        scanner.document()
    except _Found:
        pass
    except (_OverBudget, JsonSyntaxError):
        return None
    return scanner


def _value_end(scanner: _Scanner | None, path: Path) -> int | None:
    """Where serde_json points for the value at `path`: its end (None: not found in budget)."""
    if scanner is None:
        return None
    return scanner.value_spans.get(path, (0, len(scanner.data)))[1]


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
_GOT_WORDS = {
    "str": "string",
    "int": "integer",
    "float": "floating point",
    "bool": "boolean",
    "object": "map",
    "array": "sequence",
    "null": "null",
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


def _shape_error(body: bytes, error: msgspec.ValidationError) -> InvalidRequest | Unprocessable:
    # msgspec checks types as it reads; a syntax error further on still wins.
    syntax = _syntax_error(body)
    if syntax is not None:
        return syntax
    message = str(error)
    location = ""
    if " - at `" in message:
        message, location = message.rsplit(" - at `", 1)
        location = location.rstrip("`")
    path = _parse_msgspec_path(location[1:]) if location.startswith("$") else ()
    scanner = _spans(body, path)
    offset = _value_end(scanner, path)
    if match := re.match(r"Object missing required field `(.+)`", message):
        detail = f"missing field `{match.group(1)}`"
    elif match := re.match(r"Object contains unknown field `(.+)`", message):
        detail = f"unknown field `{match.group(1)}`"
        key_span = scanner.key_spans.get((*path, match.group(1))) if scanner else None
        offset = key_span[1] if key_span else offset
    elif match := re.match(r"Expected `(.+?)`, got `(.+?)`", message):
        wanted = match.group(1).replace(" | null", "")
        wanted_words = _TYPE_WORDS.get(wanted, wanted)
        span = scanner.value_spans.get(path) if scanner else None
        got = (
            _GOT_WORDS.get(match.group(2), match.group(2))
            if span is None
            else _describe_value(body[span[0] : span[1]].decode(errors="replace"))
        )
        detail = f"invalid type: {got}, expected {wanted_words}"
    elif match := re.match(r"Invalid enum value (.+)", message):
        detail = f"unknown variant `{match.group(1).strip(chr(39))}`"
    else:
        detail = message[:1].lower() + message[1:]
    return Unprocessable(_message(SHAPE_PREFIX, path, detail, body, offset))


def decode_body(body: bytes, target: type[T]) -> T:
    """Decode a request body into `target`: 400 on malformed JSON, 422 on the wrong shape.

    The error's text costs at most a scan of SCAN_LIMIT bytes, whatever the body's size.
    """
    try:
        return msgspec.json.decode(body, type=target)
    except msgspec.ValidationError as exc:
        raise _shape_error(body, exc) from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        # msgspec raises UnicodeDecodeError for invalid UTF-8 in a string, RecursionError when
        # an ignored field nests past the interpreter's limit.
        raise _syntax_error(body) or InvalidRequest(f"{PARSE_PREFIX}invalid JSON") from None


def value_error(path: Path, message: str, body: bytes) -> Unprocessable:
    """A 422 for a value that decoded but is not acceptable (e.g. a malformed decimal string)."""
    offset = _value_end(_spans(body, path), path)
    return Unprocessable(_message(SHAPE_PREFIX, path, message, body, offset))
