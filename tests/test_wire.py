"""The envelope decorator in-process: an unexpected fault is a 500 that leaks nothing."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from oems.api.wire import PUBLIC, Call, endpoint


@endpoint(PUBLIC, "/boom")
async def boom(call: Call) -> None:
    """Fails the way a bug would."""
    raise RuntimeError("secret internal detail /etc/passwd")


def test_unexpected_fault_is_500_without_internals_and_logs_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Starlette(routes=[Route("/boom", boom)])
    app.state.runtime = SimpleNamespace()
    with caplog.at_level(logging.ERROR, logger="oems.api"), TestClient(app) as http:
        response = http.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == {"code": 500, "message": "Internal server error"}
    assert "secret" not in response.text
    request_id = body["metadata"]["request_id"]
    assert response.headers["x-request-id"] == request_id
    assert any(request_id in record.getMessage() for record in caplog.records)
