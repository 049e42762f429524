"""The envelope every response wears, the `endpoint` decorator that applies it to a handler, and
`Routes`, the table of a module's endpoints that each handler's decorator declares.

A handler receives a `Call` (the request, its id, the runtime, and the authenticated key) and
returns a `Reply` or plain data. Any `OemsError` it raises becomes the contract's error body with
the HTTP status equal to its code; anything else becomes a 500 that leaks nothing and logs the
request id.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oems.api.errors import FORBIDDEN_MESSAGE, Forbidden, RateLimited, Unauthenticated
from oems.domain.errors import OemsError
from oems.telemetry import metrics

if TYPE_CHECKING:
    from oems.domain.accounts import ApiKey
    from oems.runtime import Runtime

log = logging.getLogger("oems.api")

USER = "user"
ADMIN = "admin"
PUBLIC = "public"
# Where an endpoint leaves the id of the key it authenticated, for the access log to read.
KEY_ID_SCOPE = "oems.key_id"


@dataclass(slots=True)
class Reply:
    """What a handler answers: the `data`, extra `metadata` (pagination) and the HTTP status.

    `error` is the envelope's error beside the data (a 207 or all-rejected batch), else null.
    """

    data: Any
    metadata: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    error: dict[str, Any] | None = None


@dataclass(slots=True)
class Call:
    """One request as a handler sees it."""

    request: Request
    request_id: str
    runtime: Runtime
    key: ApiKey | None

    @property
    def query(self) -> Any:
        """The query parameters (a multi-dict)."""
        return self.request.query_params

    def path_param(self, name: str) -> str:
        """A raw path parameter."""
        return str(self.request.path_params[name])

    async def body(self) -> bytes:
        """The raw request body."""
        return await self.request.body()


def new_request_id() -> str:
    """A fresh request id (UUIDv4, as the vendor's examples show)."""
    return str(uuid.uuid4())


# Answers a retry cannot change: the official SDKs retry 409 (and 5xx) unless told not to.
NOT_RETRYABLE = frozenset({400, 401, 403, 404, 409, 422})
RETRY_LATER = frozenset({429, 503})
DEFAULT_RETRY_AFTER_SECONDS = 1


def retry_headers(status: int, retry_after: int | None = None) -> dict[str, str]:
    """The headers that tell a client whether to retry: `x-should-retry: false` on 400, 401,
    403, 404, 409 and 422; `Retry-After` in whole seconds (`retry_after`, else 1) on 429 and 503."""
    if status in NOT_RETRYABLE:
        return {"x-should-retry": "false"}
    if status in RETRY_LATER:
        seconds = DEFAULT_RETRY_AFTER_SECONDS if retry_after is None else max(retry_after, 0)
        return {"Retry-After": str(seconds)}
    return {}


def json_response(
    payload: dict[str, Any], status: int, request_id: str, retry_after: int | None = None
) -> Response:
    """Serialise an envelope with orjson, tag it with `X-Request-Id` and the retry headers."""
    return Response(
        orjson.dumps(payload),
        status_code=status,
        media_type="application/json",
        headers={"X-Request-Id": request_id, **retry_headers(status, retry_after)},
    )


def error_response(error: OemsError, request_id: str, retry_after: int | None = None) -> Response:
    """The contract's error body: `{error: {code, message, details?}, metadata: {request_id}}`,
    with the retry headers of its status (`retry_after` seconds on a 429 or 503)."""
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details:
        body["details"] = error.details
    return json_response(
        {"error": body, "metadata": {"request_id": request_id}},
        error.code,
        request_id,
        retry_after,
    )


def internal_error_response(request_id: str) -> Response:
    """A 500 that names nothing of the server's internals."""
    return error_response(OemsError("Internal server error"), request_id)


def _authenticate(request: Request, runtime: Runtime) -> ApiKey:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("Missing or invalid bearer token")
    key = runtime.find_key(secret.strip())
    if key is None:
        raise Unauthenticated("Missing or invalid bearer token")
    return key


Handler = Callable[[Call], Awaitable[Any]]
AsgiHandler = Callable[[Request], Awaitable[Response]]


def endpoint(access: str, route: str) -> Callable[[Handler], AsgiHandler]:
    """Wrap a handler with request id, authentication (`user`, `admin`, `public`), envelope, metrics."""

    def wrap(handler: Handler) -> AsgiHandler:
        async def asgi_endpoint(request: Request) -> Response:
            started = time.perf_counter()
            request_id = new_request_id()
            runtime: Runtime = request.app.state.runtime
            limits: dict[str, str] = {}  # the rate-limit headers of a limited key's answer
            try:
                # Never read a change whose batch is still being written: it could yet be lost.
                await runtime.engine.readable()
                key = None
                if access != PUBLIC:
                    key = _authenticate(request, runtime)
                    request.scope[KEY_ID_SCOPE] = key.id
                    if (access == ADMIN) != key.admin:
                        raise Forbidden(FORBIDDEN_MESSAGE)
                    limiter = getattr(request.app.state, "rate_limiter", None)
                    if limiter is not None and not key.admin:
                        limits = limiter.take(key.id)
                result = await handler(Call(request, request_id, runtime, key))
                reply = result if isinstance(result, Reply) else Reply(result)
                metadata = {"request_id": request_id, **reply.metadata}
                response = json_response(
                    {"data": reply.data, "error": reply.error, "metadata": metadata},
                    reply.status,
                    request_id,
                )
            except RateLimited as exc:
                limits = exc.headers
                response = error_response(exc, request_id)
            except OemsError as exc:
                response = error_response(exc, request_id)
            except Exception:
                log.exception(
                    "unhandled error in %s %s (request_id=%s)", request.method, route, request_id
                )
                response = internal_error_response(request_id)
            response.headers.update(limits)
            metrics.observe_request(
                request.method, route, response.status_code, time.perf_counter() - started
            )
            return response

        asgi_endpoint.__name__ = handler.__name__
        asgi_endpoint.__doc__ = handler.__doc__
        return asgi_endpoint

    return wrap


class Routes:
    """One module's routes, in the order its handlers declare them: `@routes.get(USER, path)`
    wraps the handler with `endpoint` and adds the route, so a path is written once. Iterating
    yields the Starlette routes; the application lists the modules in the order that matters."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)

    def get(self, access: str, path: str) -> Callable[[Handler], AsgiHandler]:
        """Declare a GET endpoint (see `endpoint` for `access`)."""
        return self._declare("GET", access, path)

    def post(self, access: str, path: str) -> Callable[[Handler], AsgiHandler]:
        """Declare a POST endpoint."""
        return self._declare("POST", access, path)

    def put(self, access: str, path: str) -> Callable[[Handler], AsgiHandler]:
        """Declare a PUT endpoint."""
        return self._declare("PUT", access, path)

    def patch(self, access: str, path: str) -> Callable[[Handler], AsgiHandler]:
        """Declare a PATCH endpoint."""
        return self._declare("PATCH", access, path)

    def delete(self, access: str, path: str) -> Callable[[Handler], AsgiHandler]:
        """Declare a DELETE endpoint."""
        return self._declare("DELETE", access, path)

    def plain(self, method: str, path: str) -> Callable[[AsgiHandler], AsgiHandler]:
        """Declare a Starlette handler as it is: no envelope, no key (`/metrics`)."""

        def register(handler: AsgiHandler) -> AsgiHandler:
            self._routes.append(Route(path, handler, methods=[method]))
            return handler

        return register

    def _declare(self, method: str, access: str, path: str) -> Callable[[Handler], AsgiHandler]:
        def register(handler: Handler) -> AsgiHandler:
            return self.plain(method, path)(endpoint(access, path)(handler))

        return register
