"""A trading desk for SDK tests: the official `clearstreet` SDK for the user API, an httpx client
for the admin surface (pinned quotes, the simulated clock, faults), every 2xx body checked
against the vendor document's schema, and Decimal helpers for figures computed by hand."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import httpx
from clearstreet import ClearStreet
from tests.support.conformance import OPERATIONS, assert_complete, assert_sdk_finds_every_field
from tests.support.schema_check import assert_matches_schema
from tests.support.servers import API_KEY, ServerProcess

D = Decimal
CENT = Decimal("0.01")


def cents(value: Decimal) -> str:
    """Money as the API renders it: exactly two decimals, rounded half-even."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_EVEN))


def order_request(client_id: str, spec: str, **terms: str) -> dict[str, Any]:
    """A NewOrderRequest from `"SYMBOL SIDE QUANTITY ORDER_TYPE TIME_IN_FORCE"` and extra terms."""
    symbol, side, quantity, order_type, time_in_force = spec.split()
    return {
        "id": client_id,
        "symbol": symbol,
        "side": side,
        "quantity": quantity,
        "order_type": order_type,
        "time_in_force": time_in_force,
        **terms,
    }


def num(text: str | None) -> Decimal | None:
    """A wire decimal string as a Decimal (None stays None)."""
    return None if text is None else Decimal(text)


def desk_on(server: ServerProcess, spec: dict[str, Any], account_id: int) -> Iterator[Desk]:
    """A desk for a fixture to yield; afterwards the server's log must hold no traceback or 500."""
    desk = Desk(server, spec, account_id)
    yield desk
    desk.close()
    log = server.log_path.read_text()
    assert "Traceback" not in log and " 500 " not in log, log[-4000:]


class Desk:
    """One account on one server, driven through the SDK; admin calls through httpx."""

    def __init__(self, server: ServerProcess, spec: dict[str, Any] | None, account_id: int) -> None:
        self.server = server
        self.spec = spec
        self.account_id = account_id
        self.sdk = ClearStreet(api_key=API_KEY, base_url=server.base_url, max_retries=0)
        self.admin: httpx.Client = server.admin()
        self.checked: dict[str, int] = {}  # objects checked for every field, by name

    def close(self) -> None:
        self.sdk.close()
        self.admin.close()

    def for_account(self, account_id: int) -> Desk:
        """Another account on the same server (shares nothing but the server)."""
        return Desk(self.server, self.spec, account_id)

    # ---- the admin surface ----------------------------------------------------------------

    def pin(
        self,
        symbol: str,
        bid: str,
        ask: str,
        last: str | None = None,
        bid_size: int = 100,
        ask_size: int = 100,
    ) -> None:
        """Pin a fresh quote (its displayed sizes are available again) and run the books on it."""
        body = {"bid": bid, "ask": ask, "bid_size": bid_size, "ask_size": ask_size}
        if last is not None:
            body["last"] = last
        response = self.admin.put(f"/admin/v1/quotes/{symbol}", json=body)
        assert response.status_code == 200, response.text

    def settle(self) -> dict[str, Any]:
        """Advance the clock by zero: run whatever is due and evaluate working orders now."""
        return self._advance({"seconds": 0})

    def advance(self, seconds: float) -> dict[str, Any]:
        return self._advance({"seconds": seconds})

    def advance_to(self, instant: str) -> dict[str, Any]:
        return self._advance({"to": instant})

    def _advance(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.admin.post("/admin/v1/clock/advance", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json()["data"])

    def set_faults(self, **faults: Any) -> None:
        response = self.admin.post("/admin/v1/faults", json=faults)
        assert response.status_code == 200, response.text

    # ---- the user API through the SDK -----------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        operation: Callable[..., Any],
        *args: Any,
        **kw: Any,
    ) -> Any:
        """Call an SDK operation's raw form, check status and schema, parse it, return `data`."""
        return self._call_with_meta(method, path, operation, *args, **kw)[0]

    def _call_with_meta(
        self,
        method: str,
        path: str,
        operation: Callable[..., Any],
        *args: Any,
        **kw: Any,
    ) -> tuple[Any, dict[str, Any]]:
        raw = operation(*args, **kw)
        assert 200 <= raw.status_code < 300, raw.text
        body = raw.json()
        self.check_schema(method, path, body, raw.status_code)
        assert_sdk_finds_every_field(raw.parse(), body)  # the SDK's own models accept the body
        return body["data"], body["metadata"]

    def check_schema(self, method: str, path: str, body: Any, status: int = 200) -> None:
        """The body validates against the vendor schema of the operation (where the document
        is), and a 2xx `data` carries every field its objects define (`tests.conformance`)."""
        if self.spec is not None:
            assert_matches_schema(self.spec, method, path, body, status)
        if 200 <= status < 300 and (method.upper(), path) in OPERATIONS:
            name = assert_complete(method, path, body["data"])
            self.checked[name] = self.checked.get(name, 0) + 1

    @property
    def _orders(self) -> Any:
        return self.sdk.v1.orders.with_raw_response

    @property
    def _positions(self) -> Any:
        return self.sdk.v1.positions.with_raw_response

    def submit(self, *orders: dict[str, Any]) -> list[dict[str, Any]]:
        return list(
            self._call(
                "POST",
                "/v1/accounts/{account_id}/orders",
                self._orders.submit_orders,
                self.account_id,
                orders=list(orders),
            )
        )

    def place(self, client_id: str, spec: str, **terms: str) -> dict[str, Any]:
        """Submit one order (see `order_request`); it is accepted in PENDING_NEW."""
        (placed,) = self.submit(order_request(client_id, spec, **terms))
        assert placed["status"] == "PENDING_NEW", placed
        assert placed["client_order_id"] == client_id
        return placed

    def order(self, reference: str) -> dict[str, Any]:
        return dict(
            self._call(
                "GET",
                "/v1/accounts/{account_id}/orders/{order_id}",
                self._orders.get_order_by_id,
                reference,
                account_id=self.account_id,
            )
        )

    def orders(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self.orders_page(**filters)[0])

    def orders_page(self, **filters: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return self._call_with_meta(
            "GET",
            "/v1/accounts/{account_id}/orders",
            self._orders.get_orders,
            self.account_id,
            **filters,
        )

    def replace(self, reference: str, **changes: Any) -> dict[str, Any]:
        return dict(
            self._call(
                "PATCH",
                "/v1/accounts/{account_id}/orders/{order_id}",
                self._orders.replace_order,
                reference,
                account_id=self.account_id,
                **changes,
            )
        )

    def cancel(self, reference: str) -> dict[str, Any]:
        return dict(
            self._call(
                "DELETE",
                "/v1/accounts/{account_id}/orders/{order_id}",
                self._orders.cancel_open_order,
                reference,
                account_id=self.account_id,
            )
        )

    def cancel_all(self, **filters: Any) -> list[dict[str, Any]]:
        return list(
            self._call(
                "DELETE",
                "/v1/accounts/{account_id}/orders",
                self._orders.cancel_all_open_orders,
                self.account_id,
                **filters,
            )
        )

    def executions(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self.executions_page(**filters)[0])

    def executions_page(self, **filters: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return self._call_with_meta(
            "GET",
            "/v1/accounts/{account_id}/executions",
            self._orders.get_executions,
            self.account_id,
            **filters,
        )

    def positions(self, **filters: Any) -> dict[str, dict[str, Any]]:
        """Open positions by symbol, in the order listed."""
        return {row["symbol"]: row for row in self.positions_page(**filters)[0]}

    def positions_page(self, **filters: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return self._call_with_meta(
            "GET",
            "/v1/accounts/{account_id}/positions",
            self._positions.get_positions,
            self.account_id,
            **filters,
        )

    def balances(self) -> dict[str, Any]:
        return dict(
            self._call(
                "GET",
                "/v1/accounts/{account_id}/balances",
                self.sdk.v1.accounts.with_raw_response.get_account_balances,
                self.account_id,
            )
        )

    def close_position(self, instrument: str, **body: Any) -> list[dict[str, Any]]:
        raw = self._positions.close_position(instrument, account_id=self.account_id, **body)
        return self._closing_orders(
            raw, "DELETE", "/v1/accounts/{account_id}/positions/{instrument_id}"
        )

    def close_positions(self, **body: Any) -> list[dict[str, Any]]:
        raw = self._positions.close_positions(self.account_id, **body)
        return self._closing_orders(raw, "DELETE", "/v1/accounts/{account_id}/positions")

    def _closing_orders(self, raw: Any, method: str, path: str) -> list[dict[str, Any]]:
        """Closing orders: schema-valid, each with a server-made `client_order_id`."""
        assert raw.status_code == 200, raw.text
        body = raw.json()
        self.check_schema(method, path, body, raw.status_code)
        assert all(order["client_order_id"] == order["id"] for order in body["data"])
        assert_sdk_finds_every_field(raw.parse(), body)
        return list(body["data"])
