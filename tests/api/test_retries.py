"""Retries the official SDKs understand: answers a retry cannot change say `x-should-retry: false`,
429 and 503 say when to come back (`Retry-After`)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from clearstreet import DEFAULT_MAX_RETRIES, ClearStreet, ConflictError
from starlette.responses import Response
from tests.support.servers import API_KEY, ServerProcess

from oems.api.errors import Forbidden, Unauthenticated, Unprocessable
from oems.api.wire import error_response, json_response, retry_headers
from oems.domain.errors import Conflict, InvalidRequest, NotFound, OemsError, ServiceUnavailable

ORDER = {
    "symbol": "AAPL",
    "side": "BUY",
    "quantity": "1",
    "order_type": "LIMIT",
    "limit_price": "1.00",
    "time_in_force": "DAY",
}


@pytest.mark.parametrize(
    "error", [InvalidRequest, Unauthenticated, Forbidden, NotFound, Conflict, Unprocessable]
)
def test_answers_a_retry_cannot_change_say_do_not_retry(error: type[OemsError]) -> None:
    response = error_response(error("no"), "rid")
    assert response.headers["x-should-retry"] == "false"
    assert "retry-after" not in response.headers


def test_busy_answers_say_when_to_come_back() -> None:
    unavailable = error_response(ServiceUnavailable("later"), "rid")
    assert unavailable.headers["retry-after"] == "1"
    assert "x-should-retry" not in unavailable.headers
    limited = OemsError("slow down")
    limited.code = 429
    assert error_response(limited, "rid", retry_after=7).headers["retry-after"] == "7"
    # A 503 answered as data beside an error (a batch the clearing service refused) too.
    batch: Response = json_response({"data": []}, 503, "rid")
    assert batch.headers["retry-after"] == "1"


def test_success_and_server_faults_carry_no_retry_advice() -> None:
    assert retry_headers(200) == {} and retry_headers(207) == {}
    assert retry_headers(500) == {}  # a fault may be transient: the SDK's own policy applies


@pytest.fixture
def counted_sdk(server: ServerProcess) -> Iterator[tuple[ClearStreet, list[httpx.Request]]]:
    """The SDK at its default retry settings, with every request it sends recorded."""
    sent: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [sent.append]})
    client = ClearStreet(api_key=API_KEY, base_url=server.base_url, http_client=http)
    assert client.max_retries == DEFAULT_MAX_RETRIES == 2
    yield client, sent
    client.close()


def test_sdk_sends_a_duplicate_order_id_once(
    counted_sdk: tuple[ClearStreet, list[httpx.Request]], accounts: dict[str, int]
) -> None:
    sdk, sent = counted_sdk
    order = {**ORDER, "id": "retry-duplicate-1"}
    sdk.v1.orders.submit_orders(account_id=accounts["margin"], orders=[order])
    del sent[:]
    with pytest.raises(ConflictError) as raised:
        sdk.v1.orders.submit_orders(account_id=accounts["margin"], orders=[order])
    assert raised.value.status_code == 409
    assert raised.value.response.headers["x-should-retry"] == "false"
    assert len(sent) == 1  # no retry: one request, answered once


def test_sdk_does_not_retry_a_missing_order(
    counted_sdk: tuple[ClearStreet, list[httpx.Request]], accounts: dict[str, int]
) -> None:
    sdk, sent = counted_sdk
    with pytest.raises(Exception) as raised:
        sdk.v1.orders.get_order_by_id("no-such-order", account_id=accounts["margin"])
    assert getattr(raised.value, "status_code", None) == 404
    assert len(sent) == 1
