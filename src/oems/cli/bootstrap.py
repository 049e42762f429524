"""The sandbox world a new database starts with, and the credentials file describing it.

The bootstrap is several commands, so a start can be cut short in its middle (Ctrl-C, a crash).
It is therefore written to converge: each start that finds it incomplete (no admin key yet)
opens only the sandbox accounts that are missing, writes the credentials aside before it issues
the keys they name (the admin key last), then moves them into place. A start after any failed one ends with
the whole sandbox and a credentials file whose keys work.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from oems.api.admin import new_secret
from oems.cli.credentials import credentials_path
from oems.domain.accounts import Account, digest_secret
from oems.domain.state import TradingState
from oems.engine import commands as cmd
from oems.engine.sandbox import SANDBOX_ACCOUNTS, SANDBOX_USER
from oems.runtime import Runtime
from oems.store.lock import PRIVATE

ADMIN_USER = "admin"
ACCOUNT_NAMES = ("margin", "cash", "other_user_account")  # of SANDBOX_ACCOUNTS, in order


def needs_bootstrap(state: TradingState) -> bool:
    """True until a bootstrap has completed: it issues the admin key last."""
    admin = state.users_by_name.get(ADMIN_USER)
    return admin is None or not any(
        key.admin and key.user_id == admin.id for key in state.api_keys.values()
    )


def connectable_url(host: str, port: int) -> str:
    """A URL a client on this machine can connect to: a wildcard host becomes the loopback."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def bootstrap(runtime: Runtime, api_key: str | None, admin_key: str | None) -> dict[str, Any]:
    """Create what the sandbox lacks (users, accounts, keys) and write the credentials file (0600).

    The credentials are written durably to `<db>.credentials.json.tmp` before the keys they name
    are issued, and renamed into place after: the credentials file never names a key that does
    not work yet, and a start cut short in between loses no secret.
    """
    engine = runtime.engine
    state = runtime.state
    path = credentials_path(runtime.config.db_path)
    pending = _pending_path(path)
    earlier = _read_credentials(pending) or _read_credentials(path)  # reuse a cut-short start's
    accounts: dict[str, int] = {}
    for name, spec in zip(ACCOUNT_NAMES, SANDBOX_ACCOUNTS, strict=True):
        account = _sandbox_account(state, spec)
        if account is None:
            account = await engine.execute(spec)
        accounts[name] = account.id
    user_secret = api_key or earlier.get("api_key") or new_secret()
    admin_secret = admin_key or earlier.get("admin_key") or new_secret()
    credentials = {
        "base_url": connectable_url(runtime.config.host, runtime.config.port),
        "api_key": user_secret,
        "admin_key": admin_secret,
        "accounts": accounts,
    }
    _write_private_json(pending, credentials)
    for user, secret, admin in (
        (SANDBOX_USER, user_secret, False),
        (ADMIN_USER, admin_secret, True),
    ):
        if digest_secret(secret) not in state.keys_by_digest:
            await engine.execute(cmd.IssueApiKey(user, digest_secret(secret), admin=admin))
    finish_credentials(path)
    return credentials


def finish_credentials(path: Path) -> None:
    """Move the credentials of a bootstrap whose keys are issued into place, if still pending."""
    pending = _pending_path(path)
    if pending.exists():
        os.replace(pending, path)
        _fsync_folder(path.parent)


def _pending_path(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def _sandbox_account(state: TradingState, spec: cmd.OpenAccount) -> Account | None:
    user = state.users_by_name.get(spec.owner)
    if user is None:
        return None
    return next(
        (
            account
            for account in state.accounts.values()
            if account.owner_id == user.id and account.short_name == spec.short_name
        ),
        None,
    )


def _read_credentials(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _write_private_json(path: Path, content: dict[str, Any]) -> None:
    """Write `content` to `path`, owner-only, durably (file and folder fsynced)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    with os.fdopen(fd, "w") as handle:
        json.dump(content, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, PRIVATE)
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
