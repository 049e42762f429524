"""The sandbox world an empty database starts with, and the credentials file describing it."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

from oems.api.admin import new_secret
from oems.cli.credentials import credentials_path
from oems.domain.accounts import digest_secret
from oems.engine import commands as cmd
from oems.runtime import Runtime

SANDBOX_USER = "sandbox"
OTHER_USER = "someone-else"
ADMIN_USER = "admin"


async def bootstrap(runtime: Runtime, api_key: str | None, admin_key: str | None) -> dict[str, Any]:
    """Create the sandbox (users, accounts, keys) and write the credentials file (mode 0600)."""
    engine = runtime.engine
    margin = await engine.execute(
        cmd.OpenAccount(
            SANDBOX_USER,
            "Sandbox Margin Account",
            "MARGIN",
            4,
            Decimal(1_000_000),
            "SANDBOX-MARGIN",
        )
    )
    cash = await engine.execute(
        cmd.OpenAccount(
            SANDBOX_USER, "Sandbox Cash Account", "CASH", 1, Decimal(100_000), "SANDBOX-CASH"
        )
    )
    other = await engine.execute(
        cmd.OpenAccount(
            OTHER_USER, "Someone Else's Account", "MARGIN", 2, Decimal(250_000), "OTHER-MARGIN"
        )
    )
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
