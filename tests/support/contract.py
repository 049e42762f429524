"""Assertions on the wire contract's envelopes, shared by the API tests."""

from __future__ import annotations

import re

import httpx

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def assert_error(response: httpx.Response, code: int, message: str | None = None) -> dict:
    """The response is the contract's error envelope with `code` (and `message`, when given)."""
    assert response.status_code == code, response.text
    body = response.json()
    assert set(body) == {"error", "metadata"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if message is not None:
        assert body["error"]["message"] == message
    request_id = body["metadata"]["request_id"]
    assert UUID_RE.match(request_id)
    assert response.headers["x-request-id"] == request_id
    return dict(body["error"])
