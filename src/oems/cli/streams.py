"""Writing command output so that a reader that goes away (`| head -1`) ends it quietly."""

from __future__ import annotations

import os
from typing import TextIO


def write_out(stream: TextIO, text: str) -> None:
    """Write `text` (a newline added if missing) and flush; a closed pipe ends the output quietly."""
    if not text:
        return
    try:
        stream.write(text if text.endswith("\n") else text + "\n")
        stream.flush()
    except BrokenPipeError:
        # The reader has gone: what is left is not wanted. Point the stream at /dev/null so the
        # interpreter's last flush at exit does not report the broken pipe again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
