"""Log setup of `oems serve`: one line per record on stderr, as text or as JSON.

Records may carry structured fields in `extra` (request id, key id, account, route, status...);
the text format shows the message (which already reads well), the JSON format adds the fields.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from typing import Any

# The attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the `extra` fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a compact JSON line."""
        line: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and name != "color_message":
                line[name] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`2026-12-01T21:40:00.123Z INFO oems.api message`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's time in UTC, milliseconds, ISO-8601."""
        return _utc(record.created)


def _utc(created: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        + f".{int(created % 1 * 1000):03d}Z"
    )


def configure_logging(level: str, fmt: str) -> None:
    """Send every logger's records at `level` and above to stderr in `fmt` (`text` or `json`)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.error").addFilter(_not_an_interruption)


def _not_an_interruption(record: logging.LogRecord) -> bool:
    """Drop uvicorn's report of its start-up being cancelled by Ctrl-C: not an error, and the
    command says `interrupted` itself."""
    text = record.getMessage()
    if text.startswith("Traceback") and ("CancelledError" in text or "KeyboardInterrupt" in text):
        return False  # the start-up failure Starlette reports as text when Ctrl-C cancels it
    error = record.exc_info[1] if record.exc_info else None
    while error is not None:  # the interruption may be the cause or context of what is logged
        if isinstance(error, asyncio.CancelledError | KeyboardInterrupt):
            return False
        error = error.__cause__ or error.__context__
    return True
