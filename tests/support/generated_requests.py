"""Requests generated from the vendor document (schemathesis), sent with the sandbox user's key to
a real server, each checked: no 5xx, every error in the envelope, and no journal change on a 4xx.

`tests/api/test_generated_requests.py` runs a bounded number in CI; `python -m tests.support.generated_requests
N` runs N and reports every distinct failure instead of stopping at the first.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from tests.support.servers import API_KEY, SPEC_PATH, ServerProcess, start_server

from oems.cli.client.commands import IN_SCOPE

# Fields whose generated values are, half of the time, replaced by ones that reach further than
# the document's bare `string` would: instruments the sandbox knows, numbers of every magnitude
# and notation, instants from year 1 to 9999.
SYMBOLS = ["AAPL", "MSFT", "SPY", "AAPL  251017C00250000"]
SYMBOL_FIELDS = {"instrument_id", "symbol", "security"}
NUMBER_FIELDS = {
    "quantity",
    "limit_price",
    "stop_price",
    "trailing_offset",
    "limit_offset",
    "ratio",
    "max_notional",
}
TIME_FIELDS = {"expires_at"}
NUMBERS = st.one_of(
    st.sampled_from(["1", "2", "10", "0.5", "1.00", "150.00"]),  # orders the engine takes
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e400", "1e-400", "1e999999999", "1_0", " 1", "0", "-0", "0.001"]),
)
INSTANTS = st.datetimes().map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def aim(value: Any, data: st.DataObject) -> Any:
    """`value` with some of its known fields replaced by values drawn to reach further."""
    if isinstance(value, list):
        return [aim(item, data) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        replace = key in SYMBOL_FIELDS | NUMBER_FIELDS | TIME_FIELDS and data.draw(st.booleans())
        if not replace:
            out[key] = aim(item, data)
        elif key in SYMBOL_FIELDS:
            out[key] = data.draw(st.sampled_from(SYMBOLS))
        elif key in NUMBER_FIELDS:
            out[key] = data.draw(NUMBERS)
        else:
            out[key] = data.draw(INSTANTS)
    return out


@dataclass
class Failure:
    """A generated request that broke a rule, and how to send it again."""

    rule: str
    status: int
    curl: str
    answer: str

    def __str__(self) -> str:
        return f"{self.rule} (HTTP {self.status})\n  {self.curl}\n  -> {self.answer[:500]}"


def strategy(known: dict[str, list[Any]]) -> st.SearchStrategy[Case]:
    """Cases of every in-scope operation, valid and invalid: with path parameters generated, or
    taken from `known` (the user's accounts, their orders, instruments the sandbox has)."""
    schema = schemathesis.openapi.from_path(SPEC_PATH)
    choices = []
    for method, path in sorted(IN_SCOPE):  # a fixed order: the cases are derandomized
        operation = schema[path][method]
        names = [name for name in known if "{" + name + "}" in path]
        combos = [
            {name: values[i % len(values)] for name, values in known.items() if name in names}
            for i in range(max((len(known[name]) for name in names), default=0))
        ]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            choices.append(operation.as_strategy(mode))
            choices += [operation.as_strategy(mode, path_parameters=combo) for combo in combos]
    return st.one_of(choices)


def place_orders(http: httpx.Client, accounts: list[int]) -> list[str]:
    """One resting limit order in each account, for the order operations to find."""
    ids = []
    for account in accounts:
        order = {
            "symbol": "AAPL",
            "side": "BUY",
            "quantity": "1",
            "order_type": "LIMIT",
            "limit_price": "1.00",
            "time_in_force": "DAY",
        }
        response = http.post(f"/v1/accounts/{account}/orders", json=[order])
        response.raise_for_status()
        ids.append(response.json()["data"][0]["id"])
    return ids


def journal_events(http: httpx.Client) -> int:
    """How many events the server has journaled."""
    return int(http.get("/healthz").json()["data"]["events"])


def check(http: httpx.Client, case: Case, data: st.DataObject) -> tuple[int, Failure | None]:
    """Send `case` (aimed) with the user's key: the status, and the rule it broke or None."""
    kwargs = case.as_transport_kwargs(base_url=str(http.base_url).rstrip("/"))
    kwargs["headers"]["Authorization"] = f"Bearer {API_KEY}"
    kwargs.pop("cookies", None)
    if "json" in kwargs:
        case.body = aim(kwargs.pop("json"), data)
        kwargs["content"] = json.dumps(case.body).encode()
    elif isinstance(kwargs.get("data"), str | bytes):  # a body of another media type
        kwargs["content"] = kwargs.pop("data")
    before = journal_events(http)
    response = http.request(**kwargs)
    status = response.status_code

    def failure(rule: str) -> Failure:
        return Failure(rule, status, case.as_curl_command(), response.text)

    if status >= 500:
        return status, failure("a 5xx")
    if status < 400:
        return status, None
    try:
        envelope = response.json()
    except ValueError:
        return status, failure("an error outside the envelope")
    error = envelope.get("error") if isinstance(envelope, dict) else None
    # An all-rejected batch keeps its rejected items in `data` beside the error.
    if (
        not {"error", "metadata"} <= set(envelope) <= {"data", "error", "metadata"}
        or not isinstance(error, dict)
        or error.get("code") != status
        or not isinstance(error.get("message"), str)
        or envelope["metadata"].get("request_id") != response.headers.get("x-request-id")
    ):
        return status, failure("an error outside the envelope")
    if journal_events(http) != before:
        return status, failure("a 4xx that changed the journal")
    return status, None


def run(
    server: ServerProcess, examples: int, on_failure: Callable[[Failure], None]
) -> Counter[tuple[str, int]]:
    """Send `examples` generated requests to `server`; each failure goes to `on_failure`.

    Returns how many answers each (operation, status) had.
    """
    answers: Counter[tuple[str, int]] = Counter()
    accounts = server.credentials["accounts"]
    own = [accounts["margin"], accounts["cash"]]
    with server.client() as http:
        known = {"account_id": own, "order_id": place_orders(http, own), "instrument_id": SYMBOLS}

        @settings(
            max_examples=examples,
            database=None,
            derandomize=True,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy(known), st.data())
        def send(case: Case, data: st.DataObject) -> None:
            status, found = check(http, case, data)
            answers[(f"{case.method} {case.path}", status)] += 1
            if found is not None:
                on_failure(found)

        send()
    return answers


def main(argv: list[str]) -> None:
    """Run N generated requests against a fresh server and print every distinct failure."""
    examples = int(argv[0]) if argv else 2000
    seen: dict[tuple[str, str], Failure] = {}

    def note(failure: Failure) -> None:
        key = (failure.rule, failure.curl.split(" -d ")[0].split("?")[0])
        seen.setdefault(key, failure)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "oems.db", "--market-data", "manual")
        try:
            answers = run(server, examples, note)
        finally:
            server.stop()
    for (operation, status), count in sorted(answers.items()):
        print(f"{count:6d} {status} {operation}")
    seconds = time.perf_counter() - started
    print(f"{sum(answers.values())} requests in {seconds:.0f} s, {len(seen)} distinct failures")
    for failure in seen.values():
        print(failure)


if __name__ == "__main__":
    main(sys.argv[1:])
