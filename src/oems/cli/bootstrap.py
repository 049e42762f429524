"""The sandbox world an empty database starts with, and the credentials file describing it."""

from __future__ import annotations

import json
import os
from typing import Any

from oems.api.admin import new_secret
from oems.cli.credentials import credentials_path
from oems.domain.accounts import digest_secret
from oems.engine import commands as cmd
from oems.engine.sandbox import SANDBOX_ACCOUNTS, SANDBOX_USER
from oems.runtime import Runtime

ADMIN_USER = "admin"


async def bootstrap(runtime: Runtime, api_key: str | None, admin_key: str | None) -> dict[str, Any]:
    """Create the sandbox (users, accounts, keys) and write the credentials file (mode 0600)."""
    engine = runtime.engine
    margin, cash, other = [await engine.execute(spec) for spec in SANDBOX_ACCOUNTS]
    user_secret = api_key or new_secret()
    admin_secret = admin_key or new_secret()
    await engine.execute(cmd.IssueApiKey(SANDBOX_USER, digest_secret(user_secret)))
    await engine.execute(cmd.IssueApiKey(ADMIN_USER, digest_secret(admin_secret), admin=True))
    credentials = {
        "base_url": f"http://{runtime.config.host}:{runtime.config.port}",
        "api_key": user_secret,
        "admin_key": admin_secret,
        "accounts": {
            "margin": margin.id,
            "cash": cash.id,
            "other_user_account": other.id,
        },
    }
    path = credentials_path(runtime.config.db_path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(credentials, handle, indent=2)
    os.chmod(path, 0o600)
    return credentials
