"""What one request may weigh, over a real socket: bodies, nesting, URLs and headers are refused
in the envelope, change nothing, and never keep the server from answering others."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.support.contract import assert_error
from tests.support.servers import ServerProcess, start_server

from oems.api.limits import BODY_LIMIT, HEADERS_LIMIT, URL_LIMIT

pytestmark = pytest.mark.slow

ORDER = {
    "instrument_id": "AAPL",
    "side": "BUY",
    "quantity": "100",
    "order_type": "LIMIT",
    "limit_price": "150.25",
    "time_in_force": "DAY",
}


@pytest.fixture(scope="module")
def quiet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of this module's own, with no market data: its journal moves only when asked."""
    proc = start_server(tmp_path_factory.mktemp("limits") / "oems.db", "--market-data", "manual")
    yield proc
    proc.stop()


@pytest.fixture
def http(quiet_server: ServerProcess) -> Iterator[httpx.Client]:
    """A client of the quiet server with the sandbox user's key."""
    with quiet_server.client() as client:
        yield client


def journal_events(server: ServerProcess) -> int:
    """How many events the server has journaled."""
    return int(httpx.get(f"{server.base_url}/healthz").json()["data"]["events"])


def orders_path(server: ServerProcess) -> str:
    return f"/v1/accounts/{server.credentials['accounts']['margin']}/orders"


def raw_exchange(server: ServerProcess, request: bytes) -> tuple[int, dict[str, str], dict]:
    """Send raw bytes, read the answer to the end: (status, headers, JSON body)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


def assert_raw_error(answer: tuple[int, dict[str, str], dict], code: int, message: str) -> None:
    """The raw answer is the contract's error envelope with `code` and `message`."""
    status, headers, body = answer
    assert status == code
    assert headers["content-type"] == "application/json"
    assert body["error"] == {"code": code, "message": message}
    assert body["metadata"]["request_id"] == headers["x-request-id"]


def test_body_declared_over_the_limit_is_413_before_it_is_read(
    quiet_server: ServerProcess, http: httpx.Client
) -> None:
    before = journal_events(quiet_server)
    body = json.dumps([ORDER] * 40_000).encode()  # about 5.5 MB of well-formed orders
    assert len(body) > BODY_LIMIT
    response = http.post(
        orders_path(quiet_server), content=body, headers={"content-type": "application/json"}
    )
    assert_error(
        response,
        413,
        f"Failed to buffer the request body: length limit exceeded (at most {BODY_LIMIT} bytes)",
    )
    assert journal_events(quiet_server) == before


def test_streamed_body_over_the_limit_is_413_once_it_passes_the_limit(
    quiet_server: ServerProcess, http: httpx.Client
) -> None:
    before = journal_events(quiet_server)
    sent = 0

    def chunks() -> Iterator[bytes]:  # no Content-Length: httpx sends it chunked
        nonlocal sent
        yield b"["
        for _ in range(10_000):
            sent += 1000
            yield b'"' + b"x" * 998 + b'",'
        yield b'""]'

    response = http.post(orders_path(quiet_server), content=chunks())
    assert_error(response, 413)
    assert journal_events(quiet_server) == before


def test_large_malformed_body_is_refused_while_the_server_keeps_answering(
    quiet_server: ServerProcess, http: httpx.Client
) -> None:
    before = journal_events(quiet_server)
    # Just under the limit, well-formed up to a missing comma at its very end.
    orders = json.dumps([ORDER] * 12_500, indent=2)
    body = (orders[:-2] + ' "x"]').encode()
    assert len(body) < BODY_LIMIT
    clock_answers: list[tuple[int, float]] = []
    polling, done = threading.Event(), threading.Event()

    def poll_clock() -> None:
        with quiet_server.client() as other:
            while not done.is_set():
                started = time.perf_counter()
                status = other.get("/v1/clock").status_code
                clock_answers.append((status, time.perf_counter() - started))
                polling.set()

    poller = threading.Thread(target=poll_clock)
    poller.start()
    assert polling.wait(30)
    try:
        started = time.perf_counter()
        response = http.post(
            orders_path(quiet_server), content=body, headers={"content-type": "application/json"}
        )
        refused_in = time.perf_counter() - started
    finally:
        done.set()
        poller.join()
    error = assert_error(response, 400)
    assert error["message"].startswith("Failed to parse the request body as JSON: expected `,`")
    assert clock_answers and all(status == 200 for status, _ in clock_answers)
    slowest = max(seconds for _, seconds in clock_answers)
    print(
        f"{len(body)} malformed bytes refused in {refused_in * 1000:.1f} ms; "
        f"slowest of {len(clock_answers)} clock reads meanwhile {slowest * 1000:.1f} ms"
    )
    assert journal_events(quiet_server) == before


@pytest.mark.parametrize("depth", [128, 600, 100_000])
def test_nesting_past_the_limit_is_400_and_changes_nothing(
    quiet_server: ServerProcess, http: httpx.Client, depth: int
) -> None:
    before = journal_events(quiet_server)
    headers = {"content-type": "application/json"}
    nested = b"[" * depth + b"]" * depth
    error = assert_error(http.post(orders_path(quiet_server), content=nested, headers=headers), 400)
    assert error["message"].endswith("recursion limit exceeded at line 1 column 128")
    account = orders_path(quiet_server).removesuffix("/orders")
    settings = b'{"risk":' * depth + b"1" + b"}" * depth
    error = assert_error(http.patch(account, content=settings, headers=headers), 400)
    assert "recursion limit exceeded" in error["message"]
    assert journal_events(quiet_server) == before


def test_nesting_past_the_interpreters_limit_in_an_ignored_field_is_400(
    quiet_server: ServerProcess, http: httpx.Client
) -> None:
    before = journal_events(quiet_server)
    # msgspec skips a field the orders do not know, until the nesting exhausts the stack.
    hidden = b'[{"note": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]"
    response = http.post(
        orders_path(quiet_server), content=hidden, headers={"content-type": "application/json"}
    )
    assert_error(
        response,
        400,
        "Failed to parse the request body as JSON: [0].note"
        + "[0]" * 125
        + ": recursion limit exceeded at line 1 column 136",
    )
    assert journal_events(quiet_server) == before


def test_invalid_utf8_inside_a_string_is_400_and_changes_nothing(
    quiet_server: ServerProcess, http: httpx.Client
) -> None:
    before = journal_events(quiet_server)
    body = json.dumps([{**ORDER, "id": "AB"}]).encode().replace(b"AB", b"a\xff\xfeb")
    response = http.post(
        orders_path(quiet_server), content=body, headers={"content-type": "application/json"}
    )
    column = body.index(b'a\xff\xfeb"') + 5
    assert_error(
        response,
        400,
        f"Failed to parse the request body as JSON: [0].id: invalid unicode code point at line 1 column {column}",
    )
    assert journal_events(quiet_server) == before


@pytest.mark.parametrize("length", [URL_LIMIT + 1, 100_000])
def test_url_over_the_limit_is_414_in_the_envelope(
    quiet_server: ServerProcess, length: int
) -> None:
    before = journal_events(quiet_server)
    target = b"/v1/clock?pad=" + b"a" * (length - 14)
    answer = raw_exchange(quiet_server, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_raw_error(answer, 414, f"The request URL is longer than {URL_LIMIT} bytes")
    assert answer[1]["connection"] == "close"
    assert journal_events(quiet_server) == before


@pytest.mark.parametrize(
    "fields",
    [
        b"X-Big: " + b"a" * 200_000 + b"\r\n",  # one field, held by the parser until complete
        b"X-Many: b\r\n" * 5_000,  # many small fields
    ],
)
def test_header_fields_over_the_limit_are_431_in_the_envelope(
    quiet_server: ServerProcess, fields: bytes
) -> None:
    before = journal_events(quiet_server)
    answer = raw_exchange(quiet_server, b"GET /v1/clock HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert_raw_error(
        answer, 431, f"The request's header fields are larger than {HEADERS_LIMIT} bytes"
    )
    assert journal_events(quiet_server) == before


def test_url_and_headers_under_the_limits_are_served(quiet_server: ServerProcess) -> None:
    with quiet_server.client() as http:
        response = http.get(
            "/v1/clock", params={"pad": "a" * 15_000}, headers={"X-Pad": "b" * 20_000}
        )
    assert response.status_code == 200


def test_request_the_parser_refuses_is_400_in_the_envelope(quiet_server: ServerProcess) -> None:
    answer = raw_exchange(quiet_server, b"NOT HTTP AT ALL\r\n\r\n")
    assert_raw_error(answer, 400, "Invalid HTTP request received")


def test_405_names_the_methods_the_path_takes_in_allow(
    quiet_server: ServerProcess, http: httpx.Client
) -> None:
    response = http.put(orders_path(quiet_server), json=[ORDER])
    assert_error(response, 405)
    assert response.headers["allow"] == "DELETE, GET, HEAD, POST"
    response = http.post("/v1/version")
    assert_error(response, 405)
    assert response.headers["allow"] == "GET, HEAD"
