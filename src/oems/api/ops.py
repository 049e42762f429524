"""Operational endpoints: liveness and Prometheus metrics (no authentication)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from oems.api.wire import PUBLIC, Call, Routes
from oems.domain.errors import ServiceUnavailable
from oems.telemetry import metrics

routes = Routes()


@routes.get(PUBLIC, "/healthz")
async def healthz(call: Call) -> dict[str, object]:
    """Liveness: the server answers and its journal takes writes (503 with the reason otherwise)."""
    failure = call.runtime.engine.journal_failure
    if failure is not None:
        raise ServiceUnavailable(failure)
    state = call.runtime.state
    return {"status": "ok", "events": state.events_applied}


@routes.plain("GET", "/metrics")
async def prometheus(request: Request) -> Response:
    """Metrics in the Prometheus text exposition format."""
    return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")
