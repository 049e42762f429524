"""Errors raised by the domain and the engine; the API renders each as the contract's error body.

The errors only HTTP has (401, 403, 405, 413, 414, 422, 429, 431) are in `oems.api.errors`.
"""

from __future__ import annotations

from typing import Any


class OemsError(Exception):
    """A refusal with an HTTP-equivalent status code, a message and optional details."""

    code = 500

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(OemsError):
    """The request is well-formed but its values are not acceptable (400)."""

    code = 400


class NotFound(OemsError):
    """The entity does not exist (404)."""

    code = 404


class Conflict(OemsError):
    """The change conflicts with existing state, e.g. a duplicate id (409)."""

    code = 409


class ServiceUnavailable(OemsError):
    """A service the request depends on is unavailable (503)."""

    code = 503
