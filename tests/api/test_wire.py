"""The envelope decorator in-process: an unexpected fault is a 500 that leaks nothing; a route
table lists what its handlers declare, in their order."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from oems.api.wire import PUBLIC, USER, Call, Routes

routes = Routes()


@routes.get(PUBLIC, "/boom")
async def boom(call: Call) -> None:
    """Fails the way a bug would."""
    raise RuntimeError("secret internal detail /etc/passwd")


def test_unexpected_fault_is_500_without_internals_and_logs_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Starlette(routes=list(routes))
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


def test_a_route_table_lists_each_declared_handler_once_in_declaration_order() -> None:
    table = Routes()

    @table.delete(USER, "/things/{thing_id}")
    async def drop(call: Call) -> None:
        """Drops a thing."""

    @table.get(USER, "/things/{thing_id}")
    async def show(call: Call) -> None:
        """Shows a thing."""

    @table.plain("GET", "/raw")
    async def raw(request: object) -> None:
        """Answers as it is."""

    listed = [(route.path, sorted(route.methods or ()), route.name) for route in table]
    assert listed == [
        ("/things/{thing_id}", ["DELETE"], "drop"),
        ("/things/{thing_id}", ["GET", "HEAD"], "show"),
        ("/raw", ["GET", "HEAD"], "raw"),
    ]
    assert [route.endpoint.__doc__ for route in table][:2] == ["Drops a thing.", "Shows a thing."]
