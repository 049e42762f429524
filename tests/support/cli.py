"""Running the `oems` command the way an operator beside the server would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.servers import ServerProcess

OEMS = str(Path(sys.executable).with_name("oems"))


def oems(
    server: ServerProcess | None, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `oems ARGS` the way an operator beside the server would: from its database's folder,
    the admin key and address read from the credentials file `oems serve` wrote there."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OEMS_")}
    environment.update(env or {})
    cwd = server.db_path.parent if server is not None else Path.cwd()
    return subprocess.run(
        [OEMS, *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def answer(result: subprocess.CompletedProcess[str]) -> Any:
    """The JSON data a successful `--json` run printed."""
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
