"""Errors raised by the domain and the engine; the API renders each as the contract's error body."""

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


class Unauthenticated(OemsError):
    """No valid bearer credential (401)."""

    code = 401


class Forbidden(OemsError):
    """The caller has no grant for the resource (403)."""

    code = 403


class NotFound(OemsError):
    """The entity does not exist (404)."""

    code = 404


class MethodNotAllowed(OemsError):
    """The route exists but not with this method (405)."""

    code = 405


class Conflict(OemsError):
    """The change conflicts with existing state, e.g. a duplicate id (409)."""

    code = 409


class Unprocessable(OemsError):
    """The body is valid JSON of the wrong shape or types (422)."""

    code = 422


class ServiceUnavailable(OemsError):
    """A service the request depends on is unavailable (503)."""

    code = 503


FORBIDDEN_MESSAGE = "The caller does not have permission to execute the specified operation"
NOT_FOUND_MESSAGE = "Some requested entity was not found"
