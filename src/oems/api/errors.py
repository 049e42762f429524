"""Errors only HTTP has: credentials, grants, methods, body shapes and request sizes.

The business refusals (400, 404, 409, 503) are the domain's (`oems.domain.errors`); these are
raised by the API alone, and render the same way (`OemsError`'s code, message and details).
"""

from __future__ import annotations

from oems.domain.errors import OemsError

FORBIDDEN_MESSAGE = "The caller does not have permission to execute the specified operation"


class Unauthenticated(OemsError):
    """No valid bearer credential (401)."""

    code = 401


class Forbidden(OemsError):
    """The caller has no grant for the resource (403)."""

    code = 403


class MethodNotAllowed(OemsError):
    """The route exists but not with this method (405)."""

    code = 405


class PayloadTooLarge(OemsError):
    """The request body is over its limit (413)."""

    code = 413


class UriTooLong(OemsError):
    """The request URL is over its limit (414)."""

    code = 414


class Unprocessable(OemsError):
    """The body is valid JSON of the wrong shape or types (422)."""

    code = 422


class RateLimited(OemsError):
    """429: the key spent its requests; `headers` say when to come back."""

    code = 429

    def __init__(self, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.headers = headers


class HeadersTooLarge(OemsError):
    """The request's header fields are over their limit (431)."""

    code = 431
