"""The light first steps of `oems serve`, before the server's heavy imports: the database's lock
and the listening socket, so a second server or a taken port is refused at once. Every failure is
a StartupError: one message naming the path or port, the cause and the way out."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from oems.store.lock import DatabaseInUse, DatabaseLock

EXIT_STARTUP, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class StartupError(Exception):
    """A start-up failure to report as one message, with the exit status it ends the command with."""

    def __init__(self, message: str, status: int = EXIT_STARTUP) -> None:
        super().__init__(message)
        self.status = status


def lock_database(db_path: Path) -> DatabaseLock:
    """The database's exclusive lock, or StartupError naming the server that holds it."""
    try:
        return DatabaseLock(db_path)
    except DatabaseInUse as exc:
        raise StartupError(str(exc)) from exc
    except OSError as exc:
        raise StartupError(describe_path_error(db_path, exc)) from exc


def bind_socket(host: str, port: int) -> socket.socket:
    """A socket bound (not yet listening) to host:port; StartupError saying why it cannot be."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise StartupError(
            f"cannot listen on --host {host}: {exc.strerror}; give an address of this machine "
            "(127.0.0.1, 0.0.0.0 for every interface)",
            EXIT_USAGE,
        ) from exc
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise StartupError(_bind_failure(host, port, exc)) from exc
    sock.set_inheritable(True)
    return sock


def _bind_failure(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use by another program; stop it, or start "
            "with another --port (or OEMS_PORT). Nothing was changed"
        )
    if exc.errno == errno.EACCES:
        return f"no permission to listen on port {port} (ports below 1024 need privileges); choose another --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine; use 127.0.0.1 or 0.0.0.0 as --host"
    return f"cannot listen on {host}:{port}: {exc.strerror}"


def describe_path_error(db_path: Path, exc: OSError) -> str:
    """What an OSError on the database (or a file beside it) means, and the way out."""
    path = Path(exc.filename) if exc.filename else db_path
    if isinstance(exc, IsADirectoryError) or db_path.is_dir():
        return f"--db {db_path} is a directory; give a file path, e.g. --db {db_path / 'oems.db'}"
    if isinstance(exc, FileNotFoundError):
        return (
            f"cannot create --db {db_path}: the directory {db_path.parent} does not exist; "
            "create it, or choose another --db"
        )
    if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
        cause = "it is read-only" if exc.errno == errno.EROFS else "permission denied"
        return (
            f"cannot write {path} ({cause}); the server writes its database and the files beside "
            f"it (-wal, -shm, .lock, .credentials.json) in {db_path.parent}: use a directory "
            "you can write, or fix the permissions"
        )
    return f"cannot use --db {db_path}: {path}: {exc.strerror or exc}"
