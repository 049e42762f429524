"""The ASGI application: every resource module's routes, and contract-shaped 404/405 bodies."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oems.api import (
    accounts,
    admin,
    admin_market,
    admin_openapi,
    console,
    executions,
    instructions,
    instruments,
    market_data,
    meta,
    ops,
    orders,
    positions,
    stream,
)
from oems.api.activity import AccessLog
from oems.api.errors import MethodNotAllowed
from oems.api.limits import BodyLimit
from oems.api.ratelimit import RateLimiter
from oems.api.wire import error_response, internal_error_response, new_request_id
from oems.domain.errors import NotFound, OemsError
from oems.runtime import Runtime

log = logging.getLogger("oems.api")


async def _http_exception(request: Request, exc: Exception) -> Response:
    request_id = new_request_id()
    status = getattr(exc, "status_code", 500)
    if status == 404:
        return error_response(
            NotFound(f"No route for {request.method} {request.url.path}"), request_id
        )
    if status == 405:
        response = error_response(
            MethodNotAllowed(f"Method {request.method} is not allowed for {request.url.path}"),
            request_id,
        )
        response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response
    error = OemsError(str(getattr(exc, "detail", "")) or "Request failed")
    error.code = status
    return error_response(error, request_id)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of the application takes on the request's path."""
    path = request.url.path
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods and route.path_regex.match(path):
            methods |= route.methods
    return sorted(methods)


async def _unhandled(request: Request, exc: Exception) -> Response:
    request_id = new_request_id()
    log.error(
        "unhandled error for %s %s (request_id=%s)",
        request.method,
        request.url.path,
        request_id,
        exc_info=exc,
    )
    return internal_error_response(request_id)


def build_app(runtime: Runtime) -> Starlette:
    """The application serving `runtime`; its lifespan starts and stops the runtime."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The stream records activity from the first command the runtime runs.
        streaming = stream.StreamService(runtime, runtime.config.stream)
        streaming.attach()
        app.state.stream = streaming
        await runtime.start()
        streaming.quotes.start()
        try:
            yield
        finally:
            await streaming.quotes.stop()
            await runtime.stop()

    app = Starlette(
        routes=[
            *meta.routes,
            *accounts.routes,
            *orders.routes,
            *executions.routes,
            *instructions.routes,  # before positions: `/positions/instructions` is no instrument
            *positions.routes,
            *instruments.routes,
            *market_data.routes,
            *admin.routes,
            *admin_market.routes,
            *admin_openapi.routes,
            *ops.routes,
            *stream.routes,
            *console.routes,
        ],
        exception_handlers={HTTPException: _http_exception, Exception: _unhandled},
        middleware=[Middleware(AccessLog), Middleware(BodyLimit)],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    rate = runtime.config.rate_limit
    app.state.rate_limiter = RateLimiter(rate) if rate is not None else None
    return app
